"""Every Redis key, queue and channel name Jobdeck uses, built in one place."""

from __future__ import annotations

from app.settings import get_settings


def _p() -> str:
    return get_settings().key_prefix


def queue_name(backend: str) -> str:
    """The RQ queue of a backend."""
    return f"{_p()}:{backend}"


def backend_of_queue(name: str) -> str:
    """The backend whose RQ queue this is (the inverse of queue_name)."""
    prefix = f"{_p()}:"
    return name[len(prefix):] if name.startswith(prefix) else name


def events_channel() -> str:
    """Pub/sub channel that carries every committed job transition."""
    return f"{_p()}:events"


def rate(kind: str, ident: str) -> str:
    """One sliding-window counter of app.ratelimit (a sorted set of tries by time):
    `kind` says what is counted (api, password, ...), `ident` whose (a digest)."""
    return f"{_p()}:rate:{kind}:{ident}"


def rq_job_id(job_id: str, attempt: int) -> str:
    """RQ's id for one attempt of a Jobdeck job: a retry must not collide with the
    hash an earlier attempt left behind."""
    return f"{job_id}-a{attempt}"


def job_id_from_rq(rq_id: str) -> tuple[str, int]:
    job_id, _, attempt = rq_id.rpartition("-a")
    return job_id, int(attempt)


# --- workers, pools and halting --------------------------------------------------


def backends_version() -> str:
    """A token set anew by every change of a backend's settings, after its commit: pools
    and workers read it every tick and read the settings again when it changed."""
    return f"{_p()}:backends:version"


def worker_key(name: str) -> str:
    """Hash of one worker: host, pid, backend, state, current job, counts, last beat."""
    return f"{_p()}:worker:{name}"


def workers_index() -> str:
    """Sorted set of worker names scored by their last heartbeat (Redis server time)."""
    return f"{_p()}:workers"


def worker_slots(backend: str) -> str:
    """Sorted set of the workers that hold a slot of a backend, scored by lease expiry:
    the semaphore that keeps every pool on every host within the backend's maximum."""
    return f"{_p()}:slots:{backend}"


def pool_key(pool_id: str) -> str:
    """Hash of one pool process: host, pid, the backends it serves."""
    return f"{_p()}:pool:{pool_id}"


def pools_index() -> str:
    """Sorted set of pool ids scored by their last heartbeat (Redis server time)."""
    return f"{_p()}:pools"


def halt_key(job_id: str) -> str:
    """Set when a running job must stop (cancelled, reaped); holds the attempt."""
    return f"{_p()}:halt:{job_id}"


def lease_key(duty: str) -> str:
    """Who performs a housekeeping duty (reaping, retries) among several pools."""
    return f"{_p()}:lease:{duty}"
