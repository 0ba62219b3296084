"""Every Redis key, queue and channel name Jobdeck uses, built in one place."""

from __future__ import annotations

from app.settings import get_settings


def _p() -> str:
    return get_settings().key_prefix


def queue_name(backend: str) -> str:
    """The RQ queue of a backend."""
    return f"{_p()}:{backend}"


def events_channel() -> str:
    """Pub/sub channel that carries every committed job transition."""
    return f"{_p()}:events"


def api_rate(token_digest: str, window: int) -> str:
    """Request counter of one API token in one fixed rate-limit window."""
    return f"{_p()}:api-rate:{token_digest}:{window}"


def rq_job_id(job_id: str, attempt: int) -> str:
    """RQ's id for one attempt of a Jobdeck job: a retry must not collide with the
    hash an earlier attempt left behind."""
    return f"{job_id}-a{attempt}"


def job_id_from_rq(rq_id: str) -> tuple[str, int]:
    job_id, _, attempt = rq_id.rpartition("-a")
    return job_id, int(attempt)
