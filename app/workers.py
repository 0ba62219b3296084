"""Workers and pools as admins see them, read from their heartbeats in Redis: who runs
where, what each is doing, what each backend can take. Also the two questions the
console asks about a waiting job: why no worker can take it (at once, and as a warning
once it has waited too long), and can a backend be woken up ahead of work.

Liveness is judged with the Redis server's clock (heartbeats are scored with it), so
hosts need not agree on the time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable, Optional

from sqlmodel import select

from app import keys, queues
from app.backends import backend_config, backend_configs
from app.db import session, utcnow
from app.errors import InvalidInput, PermissionDenied
from app.jobtypes import SPECS
from app.lifecycle import JobStatus
from app.models import Job, User
from app.settings import get_settings

GONE_STATES = ("stopped", "dead")
KEEP_GONE_S = 3600  # a gone worker is listed this long after its last heartbeat


def _text(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else (v or "")


def _ts(v: Any) -> Optional[datetime]:
    s = _text(v)
    try:
        return datetime.fromtimestamp(float(s), timezone.utc) if s else None
    except ValueError:
        return None


def check_viewer(viewer: Optional[User]) -> None:
    """Workers, pools, backends and stuck jobs are for admins and services. The pool,
    the reaper and other domain code read them with no viewer."""
    if viewer is not None and viewer.role not in ("admin", "service"):
        raise PermissionDenied("Workers, pools and backends are for admins.")


def redis_now(conn=None) -> float:
    """The Redis server's clock, in epoch seconds."""
    sec, usec = (conn or queues.redis_conn()).time()
    return sec + usec / 1e6


@dataclass
class WorkerStatus:
    """One worker process, as its last heartbeat described it."""

    name: str
    host: str
    pid: Optional[int]
    backend: str
    state: str  # starting | idle | busy | stopping | stopped | dead | lost
    current_job_id: Optional[str]
    current_attempt: Optional[int]
    job_since: Optional[datetime]
    jobs_done: int
    jobs_failed: int
    last_heartbeat: Optional[datetime]
    started_at: Optional[datetime]
    pool: str
    exit_reason: str

    @property
    def alive(self) -> bool:
        return self.state not in GONE_STATES + ("lost",)


def _status(name: str, h: dict, score: Optional[float], now: float, ttl: float) -> WorkerStatus:
    g = {_text(k): _text(v) for k, v in h.items()}
    state = g.get("state") or "lost"
    if state not in GONE_STATES and (score is None or now - score > ttl):
        state = "lost"
    attempt = g.get("attempt")
    return WorkerStatus(
        name=name, host=g.get("host") or (name.rpartition("@")[2] if "@" in name else "?"),
        pid=int(g["pid"]) if g.get("pid", "").isdigit() else None, backend=g.get("backend", "?"), state=state,
        current_job_id=g.get("job") or None, current_attempt=int(attempt) if attempt and attempt.isdigit() else None,
        job_since=_ts(g.get("job_since")), jobs_done=int(g.get("done") or 0), jobs_failed=int(g.get("failed") or 0),
        last_heartbeat=datetime.fromtimestamp(score, timezone.utc) if score else _ts(g.get("beat_at")),
        started_at=_ts(g.get("started_at")), pool=g.get("pool", ""), exit_reason=g.get("exit", ""))


def worker_statuses(names: list[str], *, conn=None) -> dict[str, WorkerStatus]:
    """The status of each named worker (state "lost" for a name with no heartbeat)."""
    conn = conn or queues.redis_conn()
    if not names:
        return {}
    ttl = get_settings().worker_ttl_s
    with conn.pipeline(transaction=False) as pipe:
        pipe.time()
        for n in names:
            pipe.hgetall(keys.worker_key(n))
            pipe.zscore(keys.workers_index(), n)
        out = pipe.execute()
    sec, usec = out[0]
    now = sec + usec / 1e6
    return {n: _status(n, out[1 + 2 * i], out[2 + 2 * i], now, ttl) for i, n in enumerate(names)}


def list_workers(*, backend: Optional[str] = None, include_gone: bool = True,
                 viewer: Optional[User] = None) -> list[WorkerStatus]:
    """Every worker seen in the last hour, busy first, then by backend and name: name,
    host, pid, backend, state, current job, jobs done and failed, last heartbeat."""
    check_viewer(viewer)
    conn = queues.redis_conn()
    now = redis_now(conn)
    conn.zremrangebyscore(keys.workers_index(), "-inf", now - KEEP_GONE_S)
    names = [_text(n) for n in conn.zrange(keys.workers_index(), 0, -1)]
    found = worker_statuses(names, conn=conn).values()
    rows = [w for w in found if (backend is None or w.backend == backend) and (include_gone or w.alive)]
    order = {"busy": 0, "idle": 1, "starting": 2, "stopping": 3, "lost": 4, "dead": 5, "stopped": 6}
    return sorted(rows, key=lambda w: (order.get(w.state, 9), w.backend, w.name))


# --- pools -------------------------------------------------------------------------


@dataclass
class PoolStatus:
    pool_id: str
    host: str
    pid: Optional[int]
    backends: list[str]
    last_heartbeat: Optional[datetime]


def list_pools(*, conn=None, viewer: Optional[User] = None) -> list[PoolStatus]:
    """The pool processes that reported within the worker time-to-live."""
    check_viewer(viewer)
    conn = conn or queues.redis_conn()
    now = redis_now(conn)
    ttl = get_settings().worker_ttl_s
    ids = [(_text(i), s) for i, s in conn.zrangebyscore(keys.pools_index(), now - ttl, "+inf", withscores=True)]
    if not ids:
        return []
    with conn.pipeline(transaction=False) as pipe:
        for i, _ in ids:
            pipe.hgetall(keys.pool_key(i))
        hashes = pipe.execute()
    out = []
    for (pid_, score), h in zip(ids, hashes):
        g = {_text(k): _text(v) for k, v in h.items()}
        out.append(PoolStatus(pid_, g.get("host", "?"), int(g["pid"]) if g.get("pid", "").isdigit() else None,
                              [b for b in g.get("backends", "").split(",") if b],
                              datetime.fromtimestamp(score, timezone.utc)))
    return out


@dataclass
class BackendStatus:
    """What a backend can take now: its settings, its live workers, its queue."""

    name: str
    max_workers: int
    idle_timeout_s: int
    job_timeout_s: Optional[int]
    workers: int
    busy: int
    idle: int
    queued: int  # on all three of its queues
    scheduled: int
    served_by: list[str]  # hosts of the pools serving it
    can_wake: bool
    unavailable: Optional[str]  # why no worker can take its jobs, if none can
    queued_by_priority: dict[str, int] = field(default_factory=dict)  # high, normal, low


def backend_status(*, viewer: Optional[User] = None) -> list[BackendStatus]:
    """One row per backend for the admin console."""
    check_viewer(viewer)
    from app.retries import scheduled_count

    conn = queues.redis_conn()
    configs = backend_configs()
    workers = [w for w in list_workers(include_gone=False)]
    pools = list_pools(conn=conn)
    out = []
    depths = queues.depths(configs, conn=conn)
    for name, cfg in sorted(configs.items()):
        mine = [w for w in workers if w.backend == name]
        serving = sorted({p.host for p in pools if name in p.backends})
        out.append(BackendStatus(
            name=name, max_workers=cfg.max_workers, idle_timeout_s=cfg.idle_timeout_s,
            job_timeout_s=cfg.job_timeout_s, workers=len(mine), busy=sum(w.state == "busy" for w in mine),
            idle=sum(w.state == "idle" for w in mine), queued=sum(depths[name].values()),
            scheduled=scheduled_count(name, conn=conn), served_by=serving, can_wake=wake_up_spec(name) is not None,
            unavailable=_unavailable(name, cfg.max_workers, bool(serving) or bool(mine)),
            queued_by_priority=depths[name]))
    return out


# --- stuck jobs ----------------------------------------------------------------------


def _unavailable(backend: str, max_workers: int, served: bool) -> Optional[str]:
    if max_workers <= 0:
        return (f"Backend {backend!r} is set to 0 workers (paused), so no worker takes its jobs; they wait "
                f"until an administrator raises its maximum.")
    if not served:
        return (f"No worker pool serves backend {backend!r}: start one (python -m worker.pool) on a host "
                f"that can run its jobs.")
    return None


def backend_unavailable(*, backend: str) -> Optional[str]:
    """Why no worker can take jobs of this backend now, or None when one can."""
    cfg = backend_config(backend)
    if cfg.max_workers <= 0:
        return _unavailable(backend, 0, False)
    try:
        conn = queues.redis_conn()
        served = any(backend in p.backends for p in list_pools(conn=conn))
        if not served:
            served = any(w.backend == backend for w in list_workers(include_gone=False))
    except queues.REDIS_ERRORS:
        return ("The queue server (Redis) does not answer, so no worker can take the job; it is kept and "
                "queued as soon as Redis is back.")
    return _unavailable(backend, cfg.max_workers, served)


def waiting_reason(*, job: Job) -> Optional[str]:
    """Why no worker can take this PENDING job now (its backend is paused, no pool serves
    it, or Redis does not answer), or None: also when a worker can, and when the job is
    not PENDING. Known at once; the warning in the job's history (stuck_reason) waits
    JOBDECK_STUCK_AFTER_S, so that a short pause writes nothing."""
    if job.status != JobStatus.PENDING.value:
        return None
    return backend_unavailable(backend=job.queue)


def waiting_reasons(jobs: Iterable[Job]) -> dict[str, str]:
    """The waiting_reason of each job that has one, by job id; each backend asked once."""
    asked: dict[str, Optional[str]] = {}
    out: dict[str, str] = {}
    for j in jobs:
        if j.status != JobStatus.PENDING.value:
            continue
        if j.queue not in asked:
            asked[j.queue] = backend_unavailable(backend=j.queue)
        if asked[j.queue]:
            out[j.id] = asked[j.queue]
    return out


def stuck_since(job: Job) -> datetime:
    """When the job last became PENDING (lodged, or retried)."""
    return job.updated_at if job.attempt > 1 else job.created_at


def stuck_reason(*, job: Job, now: Optional[datetime] = None) -> Optional[str]:
    """The warning a job's page shows: set when the job has waited PENDING longer than
    JOBDECK_STUCK_AFTER_S and no worker is able to take it, saying why."""
    if job.status != JobStatus.PENDING.value:
        return None
    now = now or utcnow()
    if now - stuck_since(job) < timedelta(seconds=get_settings().stuck_after_s):
        return None
    return backend_unavailable(backend=job.queue)


@dataclass
class StuckJob:
    job: Job
    reason: str
    waiting_s: float


def stuck_jobs(*, limit: int = 100, viewer: Optional[User] = None) -> list[StuckJob]:
    """Jobs waiting PENDING past the threshold on a backend no worker can serve, oldest
    first, each with its reason (for the admin view)."""
    check_viewer(viewer)
    cutoff = utcnow() - timedelta(seconds=get_settings().stuck_after_s)
    # Per backend, the keys of the oldest waiting jobs through ix_job_status_queue_created
    # (a long queue of PENDING jobs, a backlog or a paused backend, is never read in
    # full), then only the oldest LIMIT of them all read whole: with many backends
    # stalled at once the page builds LIMIT rows, not LIMIT per backend. Ordered by
    # created_at alone: with the id as well, the planner prefers the status index that
    # has it and filters every waiting job of every backend.
    waiting = (select(Job.created_at, Job.id, Job.queue)
               .where(Job.status == JobStatus.PENDING.value, Job.created_at < cutoff, Job.updated_at < cutoff)
               .order_by(Job.created_at))
    keys: list = []
    reasons: dict[str, str] = {}
    with session() as s:
        for b in sorted(backend_configs()):
            if (r := backend_unavailable(backend=b)) is None:
                continue
            found = list(s.exec(waiting.where(Job.queue == b).limit(limit)))
            if found:
                reasons[b] = r
                keys += found
        oldest = [k.id for k in sorted(keys, key=lambda k: (k.created_at, k.id))[:limit]]
        jobs = sorted(s.exec(select(Job).where(Job.id.in_(oldest))), key=lambda j: (j.created_at, j.id)) \
            if oldest else []
    now = utcnow()
    return [StuckJob(j, reasons[j.queue], (now - stuck_since(j)).total_seconds()) for j in jobs]


# --- waking a backend ahead of work -------------------------------------------------------


def wake_up_spec(backend: str):
    """The WAKE_UP job type of a backend, or None if it has none."""
    for spec in SPECS.values():
        if spec.backend == backend and spec.job_subtype.endswith("WAKE_UP"):
            return spec
    return None


@dataclass
class WakeResult:
    backend: str
    job: Optional[Job]  # the wake-up job lodged (or already waiting); None when a worker is awake
    message: str


def wake_backend(*, actor: User, backend: str) -> WakeResult:
    """Start a worker of a backend ahead of work (Provena wakes its workers when a
    person opens a page that will lodge jobs). Lodges the backend's WAKE_UP job unless a
    worker is idle there already or a wake-up is under way. Any signed-in user may."""
    from app.payloads import WakeUp
    from app.launch import _insert, _row, enqueue, get_job
    from app.db import write_conn
    from app.columns import new_id

    spec = wake_up_spec(backend)
    if spec is None:
        known = sorted(s.backend for s in SPECS.values() if s.job_subtype.endswith("WAKE_UP"))
        raise InvalidInput(f"Backend {backend!r} has no wake-up job; backends that have one: {', '.join(known)}.",
                           field="backend")
    try:
        if any(w.state == "idle" for w in list_workers(backend=backend, include_gone=False)):
            return WakeResult(backend, None, f"A worker of backend {backend!r} is awake already.")
    except queues.REDIS_ERRORS:
        pass  # lodge anyway: the job waits in SQL and wakes the backend once Redis is back
    live = [s.value for s in (JobStatus.PENDING, JobStatus.DEQUEUED, JobStatus.IN_PROGRESS)]
    with session() as s:
        # By subtype and status only (wake-up subtypes are unique to their type): with the
        # type too, the planner may walk every job of the type.
        waiting = next((j for j in s.exec(select(Job).where(Job.job_subtype == spec.job_subtype,
                                                              Job.status.in_(live)).limit(20))
                        if j.job_type == spec.job_type), None)
    if waiting is not None:
        return WakeResult(backend, waiting, f"Backend {backend!r} is waking up already.")
    job_id = new_id()
    with write_conn() as conn:
        lodged = _insert(conn, [_row(job_id=job_id, owner=actor.username, spec=spec, payload=WakeUp(),
                                     workflow_id=job_id)],
                         text=f"Lodged by {actor.username}: wake up backend {backend}")
    enqueue(lodged)
    return WakeResult(backend, get_job(job_id), f"Waking up backend {backend!r}.")

