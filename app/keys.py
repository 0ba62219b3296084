"""Every Redis key, queue and channel name Jobdeck uses, built in one place."""

from __future__ import annotations

from app.settings import get_settings


def _p() -> str:
    return get_settings().key_prefix


# A backend's three queues, in the order its workers drain them (RQ's worker listens to
# several queues and always takes from the first that holds a job).
PRIORITIES = ("high", "normal", "low")
NORMAL = "normal"


def queue_name(backend: str, priority: str = NORMAL) -> str:
    """The RQ queue of a backend at a priority. The normal one keeps the plain name; the
    others add `/high` or `/low` (a backend's name never holds a `/`, so the name says
    unambiguously which backend and priority it is)."""
    if priority not in PRIORITIES:
        raise ValueError(f"unknown priority {priority!r}")
    return f"{_p()}:{backend}" if priority == NORMAL else f"{_p()}:{backend}/{priority}"


def queue_names(backend: str) -> list[str]:
    """A backend's queues, highest priority first: the order its workers listen in."""
    return [queue_name(backend, pr) for pr in PRIORITIES]


def _split_queue(name: str) -> tuple[str, str]:
    prefix = f"{_p()}:"
    rest = name[len(prefix):] if name.startswith(prefix) else name
    backend, sep, priority = rest.rpartition("/")
    if sep and priority in PRIORITIES:
        return backend, priority
    return rest, NORMAL


def backend_of_queue(name: str) -> str:
    """The backend whose RQ queue this is, at any priority (the inverse of queue_name)."""
    return _split_queue(name)[0]


def priority_of_queue(name: str) -> str:
    """The priority of one of a backend's RQ queues."""
    return _split_queue(name)[1]


def events_channel() -> str:
    """Pub/sub channel that carries every committed job transition."""
    return f"{_p()}:events"


def rate(kind: str, ident: str) -> str:
    """One sliding-window counter of app.ratelimit (a sorted set of tries by time):
    `kind` says what is counted (api, password, ...), `ident` whose (a digest)."""
    return f"{_p()}:rate:{kind}:{ident}"


def refusal_window(ident: str) -> str:
    """Set while a refusal (`ident`: its digest) was written to the audit log in the
    flood window (app.refusals)."""
    return f"{_p()}:audit:refused:{ident}"


def refusal_count(ident: str) -> str:
    """How many times that refusal came again since its last entry (app.refusals)."""
    return f"{_p()}:audit:refused-again:{ident}"


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
