"""A backend's queue as admins see and change it: the jobs waiting in its three RQ
queues in the order its workers take them (high, then normal, then low; each from its
head), a page at a time, and a purge.

A page reads only its own stretch of each list (LLEN, then LRANGE of the rows shown),
then those jobs' rows by id, so a queue of a million jobs costs what a queue of fifty
does. Positions are where the jobs stand at the moment of the read: workers take from
the head meanwhile, so the next page may repeat or skip a job that moved.

A purge never makes a job vanish: each job taken off the queue ends CANCELLED through
the guarded transition (its history says who purged it), and a job the purge took
off but could not cancel (it was cancelled meanwhile, or the process died between the
two) is either final already or PENDING and missing from its queue, which the
reconciler queues again. The whole queue is taken a chunk at a time from its head,
atomically (LRANGE and LTRIM in one script), so a worker never takes a job the purge
is cancelling and a big queue never needs one O(N) LREM per job.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Iterable, Optional

import sqlalchemy as sa

from app import keys, lifecycle, queues
from app.audit import audited
from app.backends import BackendConfig, backend_configs
from app.db import get_engine
from app.errors import InvalidInput, NotFound, PermissionDenied, TransitionRejected
from app.launch import stop_cancelled
from app.lifecycle import JobStatus
from app.models import Job, User

MAX_PAGE = 200
PURGE_CHUNK = 500
PURGE_MAX = 10_000  # jobs one purge call takes at most; call again for more
_job = Job.__table__

# Takes up to ARGV[1] ids from the head of the list KEYS[1] and removes them from it,
# in one atomic step.
_TAKE_LUA = """
local ids = redis.call('LRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)
if #ids > 0 then redis.call('LTRIM', KEYS[1], #ids, -1) end
return ids
"""


def _check(viewer: Optional[User], *, change: bool = False) -> None:
    if viewer is None:
        return
    if change and viewer.role != "admin":
        raise PermissionDenied("Purging a backend's queue is for admins.")
    if viewer.role not in ("admin", "service"):
        raise PermissionDenied("A backend's queue is for admins.")


def _backend(name: str) -> BackendConfig:
    configs = backend_configs()
    cfg = configs.get((name or "").strip())
    if cfg is None:
        raise NotFound(f"No backend {name!r}; backends: {', '.join(sorted(configs))}.")
    return cfg


def _key(backend: str, priority: str) -> str:
    return f"rq:queue:{keys.queue_name(backend, priority)}"


def _text(v) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


def _parse(rq_id: str) -> tuple[str, int]:
    """(job id, attempt) of a queue entry; (the entry, 0) for one Jobdeck did not put
    there (an RQ job enqueued by hand), which names no job."""
    try:
        return keys.job_id_from_rq(rq_id)
    except ValueError:
        return rq_id, 0


@dataclass
class Waiting:
    """One entry of a backend's queue."""

    position: int  # from 1: the next job a worker takes is 1
    priority: str
    job_id: str
    attempt: int
    status: str  # the job's status now ("" when no job has this id: an entry left by a deleted job)
    owner: str
    job_type: str
    job_subtype: str
    subject: str
    waiting_since: Optional[datetime]  # when this attempt was lodged


@dataclass
class QueuePage:
    backend: BackendConfig
    depth: dict[str, int]  # per priority
    offset: int
    jobs: list[Waiting]
    next_offset: Optional[int]  # None: this page reaches the end of the queue

    @property
    def total(self) -> int:
        return sum(self.depth.values())


def read_queue(*, viewer: Optional[User], backend: str, offset: int = 0, limit: int = 50) -> QueuePage:
    """The jobs waiting from `offset` (0 is the head), at most `limit` (1-200)."""
    _check(viewer)
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise InvalidInput(f"offset must be a whole number from 0, not {offset!r}.", field="offset")
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit must be between 1 and {MAX_PAGE}, not {limit!r}.", field="limit")
    cfg = _backend(backend)
    conn = queues.redis_conn()
    with conn.pipeline(transaction=False) as pipe:
        for pr in keys.PRIORITIES:
            pipe.llen(_key(cfg.name, pr))
        depth = dict(zip(keys.PRIORITIES, (int(n) for n in pipe.execute())))
    # Which stretch of which list the page covers: the lists one after the other.
    wanted: list[tuple[str, int, int, int]] = []  # (priority, start, stop, position of start)
    before, left, at = 0, limit, offset
    for pr in keys.PRIORITIES:
        n = depth[pr]
        if left and at < before + n:
            start = at - before
            stop = min(n, start + left)
            wanted.append((pr, start, stop - 1, before + start + 1))
            left -= stop - start
            at = before + stop
        before += n
    entries: list[tuple[int, str, str, int]] = []  # (position, priority, job id, attempt)
    if wanted:
        with conn.pipeline(transaction=False) as pipe:
            for pr, start, stop, _ in wanted:
                pipe.lrange(_key(cfg.name, pr), start, stop)
            for (pr, _s, _e, first), ids in zip(wanted, pipe.execute()):
                for i, rq_id in enumerate(ids):
                    job_id, attempt = _parse(_text(rq_id))
                    entries.append((first + i, pr, job_id, attempt))
    rows = _rows(e[2] for e in entries)
    jobs = []
    for pos, pr, job_id, attempt in entries:
        r = rows.get(job_id)
        jobs.append(Waiting(pos, pr, job_id, attempt, r.status if r else "", r.owner if r else "",
                            r.job_type if r else "", r.job_subtype if r else "", r.subject if r else "",
                            (r.lodged_at or r.created_at) if r else None))
    end = offset + len(jobs)
    return QueuePage(cfg, depth, offset, jobs, end if end < sum(depth.values()) and jobs else None)


def _rows(ids: Iterable[str]) -> dict:
    ids = sorted(set(ids))
    if not ids:
        return {}
    q = sa.select(_job.c.id, _job.c.status, _job.c.owner, _job.c.job_type, _job.c.job_subtype, _job.c.subject,
                  _job.c.lodged_at, _job.c.created_at).where(_job.c.id.in_(ids))
    with get_engine().connect() as c:
        return {r.id: r for r in c.execute(q)}


@dataclass
class Purged:
    backend: str
    cancelled: list[str]  # ids of the jobs ended CANCELLED
    taken: int  # entries taken off the queue (some may have been cancelled or run meanwhile)
    remaining: int  # entries left on the purged queues


@audited("backend.purge", target="backend")
def purge_queue(*, actor: User, backend: str, priority: Optional[str] = None,
                job_ids: Optional[list[str]] = None) -> Purged:
    """Purge a backend's queue (admins): every waiting job, or one priority's, or only
    the jobs named; each ends CANCELLED with "Purged from the queue by <admin>". At
    most PURGE_MAX jobs a call (`remaining` says what is left)."""
    _check(actor, change=True)
    if priority is not None and priority not in keys.PRIORITIES:
        raise InvalidInput(f"priority must be one of {', '.join(keys.PRIORITIES)}, not {priority!r}.",
                           field="priority")
    if job_ids is not None and not (1 <= len(job_ids) <= MAX_PAGE):
        raise InvalidInput(f"job_ids names 1 to {MAX_PAGE} jobs; it names {len(job_ids)}.", field="job_ids")
    cfg = _backend(backend)
    message = f"Purged from the queue by admin {actor.username}"
    prios = [priority] if priority else list(keys.PRIORITIES)
    conn = queues.redis_conn()
    cancelled: list[str] = []
    taken = 0
    if job_ids is not None:
        rows = _rows(job_ids)
        for job_id in sorted(set(job_ids)):
            r = rows.get(job_id)
            if r is None or r.status != JobStatus.PENDING.value:
                continue
            attempt = _attempt(job_id)
            rq_id = keys.rq_job_id(job_id, attempt)
            with conn.pipeline(transaction=False) as pipe:
                for pr in prios:
                    pipe.lrem(_key(cfg.name, pr), 0, rq_id)
                removed = sum(int(n) for n in pipe.execute())
            if removed:
                taken += removed
                if _cancel(job_id, attempt, message, cfg.name):
                    cancelled.append(job_id)
                conn.delete(f"rq:job:{rq_id}")
    else:
        take = conn.register_script(_TAKE_LUA)
        for pr in prios:
            while taken < PURGE_MAX:
                ids = [_text(i) for i in take(keys=[_key(cfg.name, pr)], args=[min(PURGE_CHUNK, PURGE_MAX - taken)])]
                if not ids:
                    break
                taken += len(ids)
                for rq_id in ids:
                    job_id, attempt = _parse(rq_id)
                    if _cancel(job_id, attempt, message, cfg.name):
                        cancelled.append(job_id)
                conn.delete(*(f"rq:job:{i}" for i in ids))
    with conn.pipeline(transaction=False) as pipe:
        for pr in prios:
            pipe.llen(_key(cfg.name, pr))
        remaining = sum(int(n) for n in pipe.execute())
    return Purged(cfg.name, cancelled, taken, remaining)


def _attempt(job_id: str) -> int:
    with get_engine().connect() as c:
        return int(c.execute(sa.select(_job.c.attempt).where(_job.c.id == job_id)).scalar() or 1)


def _cancel(job_id: str, attempt: int, message: str, backend: str) -> bool:
    """The purged entry's job ends CANCELLED, if that attempt is still live."""
    try:
        done = lifecycle.transition(job_id, JobStatus.CANCELLED, message=message, level="warning", attempt=attempt)
    except (TransitionRejected, NotFound):
        return False  # ended or retried meanwhile, or its row was deleted: nothing to cancel
    if done.prev_status is not JobStatus.PENDING:
        stop_cancelled(done, backend=backend)  # a stray second entry of a running job: its worker halts it
    return True
