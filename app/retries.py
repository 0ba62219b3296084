"""Automatic retries. A job that ends FAILED or CRASHED gets another attempt when the
retry policy of its type says so (app.jobtypes.RetryPolicy; a pipeline step's is its
task's `retries`, carried in its payload): a transition to PENDING
(attempt + 1, history kept) through app.lifecycle, then a delayed enqueue.

The delay is kept by RQ's scheduled registry of the backend's queue; the pool moves due
attempts onto the queue (`release_due`). The reconciler takes a scheduled attempt as
present, and if Redis loses the schedule it queues the PENDING attempt at once: early
rather than never. `sweep_missed` retries what a worker that died between the final
transition and the retry left behind.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Iterable, Optional

import sqlalchemy as sa

from app import lifecycle, queues
from app.db import session, utcnow
from app.errors import NotFound, TransitionRejected
from app.jobtypes import SPECS, retry_policy_of, spec_for
from app.keys import NORMAL, rq_job_id
from app.lifecycle import JobStatus, Transitioned
from app.models import Job

log = logging.getLogger(__name__)

_job = Job.__table__


def apply_policy(done: Transitioned) -> Optional[Transitioned]:
    """After a job ended FAILED or CRASHED: lodge its next attempt if its type's policy
    says so. Returns the PENDING transition, or None (no retry, or someone else moved
    the job meanwhile)."""
    return retry_if_due(job_id=done.job_id, job_type=done.job_type, job_subtype=done.job_subtype,
                        status=done.status.value, attempt=done.attempt)


def retry_if_due(*, job_id: str, job_type: str, job_subtype: str, status: str,
                 attempt: int) -> Optional[Transitioned]:
    spec = spec_for(job_type, job_subtype)
    policy = spec.retry
    if spec.retries_in_payload:  # a pipeline step: the retries its task asked for when it was lodged
        with session() as s:
            payload = s.connection().execute(sa.select(_job.c.payload).where(_job.c.id == job_id)).scalar()
        policy = retry_policy_of(spec, payload)
    if not policy.retries(status, attempt):
        return None
    nxt = attempt + 1
    delay = policy.delay_before(nxt)
    try:
        again = lifecycle.transition(
            job_id, JobStatus.PENDING, attempt=attempt,
            message=(f"Retrying automatically after {status}: attempt {nxt} of {policy.max_attempts}"
                     + (f", starting in {delay:g} s" if delay > 0 else "")))
    except (TransitionRejected, NotFound) as exc:
        log.info("no automatic retry of %s: %s", job_id, exc.message)
        return None
    with session() as s:  # the queue it was lodged on (a task's backend may differ from its type's), its priority
        row = s.connection().execute(sa.select(_job.c.queue, _job.c.priority).where(_job.c.id == job_id)).first()
    schedule(job_id=job_id, attempt=again.attempt, backend=(row.queue if row else None) or spec.backend,
             timeout_s=spec.timeout_s, delay_s=delay, priority=(row.priority if row else None) or NORMAL)
    return again


def schedule(*, job_id: str, attempt: int, backend: str, timeout_s: Optional[int], delay_s: float,
             priority: str = NORMAL) -> bool:
    """Queue an attempt now, or after `delay_s` seconds, on its backend's queue of that
    priority. If Redis does not answer the job waits PENDING and the reconciler queues it."""
    from app.queueing import Lodged, enqueue

    if delay_s <= 0:
        return enqueue([Lodged(job_id, attempt, backend, timeout_s, priority=priority)])
    when = utcnow() + timedelta(seconds=delay_s)
    if when.microsecond:  # RQ keeps whole seconds: round up, never start early
        when = when.replace(microsecond=0) + timedelta(seconds=1)
    try:
        queues.queue(backend, priority).enqueue_at(
            when, queues.RUNNER, job_id, job_id=rq_job_id(job_id, attempt),
            job_timeout=timeout_s or -1, result_ttl=0, failure_ttl=24 * 3600)
        return True
    except queues.REDIS_ERRORS as exc:
        log.warning("retry of %s not scheduled (Redis did not answer); the reconciler queues it: %s", job_id, exc)
        return False


def unschedule(*, job_id: str, attempt: int, backend: str) -> None:
    """Forget a scheduled attempt (its job was cancelled)."""
    from rq.registry import ScheduledJobRegistry

    with queues.redis_conn().pipeline(transaction=False) as pipe:
        for q in queues.backend_queues(backend):
            pipe.zrem(ScheduledJobRegistry(queue=q).key, rq_job_id(job_id, attempt))
        pipe.execute()


def release_due(backends: Iterable[str], *, conn=None) -> int:
    """Move the attempts whose delay is over onto their queues. Each is claimed with a
    ZREM, so several pools doing this at once queue it once."""
    import time

    from rq.job import Job as RQJob
    from rq.queue import Queue
    from rq.registry import ScheduledJobRegistry

    from app import keys

    conn = conn or queues.redis_conn()
    moved = 0
    for name in (n for backend in backends for n in keys.queue_names(backend)):
        q = Queue(name, connection=conn)
        reg = ScheduledJobRegistry(queue=q)
        due = reg.get_jobs_to_schedule(int(time.time()), chunk_size=500)
        if not due:
            continue
        with conn.pipeline() as pipe:
            for rq_id in due:
                pipe.zrem(reg.key, rq_id)
            claimed = [rq_id for rq_id, won in zip(due, pipe.execute()) if won]
        jobs = [j for j in RQJob.fetch_many(claimed, connection=conn) if j is not None]
        if jobs:
            with conn.pipeline() as pipe:
                for j in jobs:
                    q.enqueue_job(j, pipeline=pipe)
                pipe.execute()
        moved += len(jobs)
    return moved


def scheduled_count(backend: str, *, conn=None) -> int:
    """How many attempts wait for their delay on this backend."""
    from rq.queue import Queue
    from rq.registry import ScheduledJobRegistry

    from app import keys

    conn = conn or queues.redis_conn()
    with conn.pipeline(transaction=False) as pipe:
        for name in keys.queue_names(backend):
            pipe.zcard(ScheduledJobRegistry(queue=Queue(name, connection=conn)).key)
        return sum(pipe.execute())


def sweep_missed(*, older_than_s: float = 10.0, window_s: float = 3600.0, limit: int = 200) -> int:
    """Retry the FAILED or CRASHED jobs whose policy asks for another attempt but which
    did not get it (their worker died between the two steps). Returns how many."""
    conds = []
    for spec in SPECS.values():
        p = spec.retry
        if spec.retries_in_payload:  # attempt <= retries: another attempt is due (FAILED and CRASHED alike)
            conds.append(sa.and_(_job.c.job_type == spec.job_type, _job.c.job_subtype == spec.job_subtype,
                                 _job.c.attempt <= _job.c.payload["retries"].as_integer()))
        elif p.max_attempts > 1 and p.on:
            conds.append(sa.and_(_job.c.job_type == spec.job_type, _job.c.job_subtype == spec.job_subtype,
                                 _job.c.status.in_(sorted(p.on)), _job.c.attempt < p.max_attempts))
    if not conds:
        return 0
    now = utcnow()
    q = (sa.select(_job.c.id, _job.c.job_type, _job.c.job_subtype, _job.c.status, _job.c.attempt)
         .where(_job.c.status.in_([JobStatus.FAILED.value, JobStatus.CRASHED.value]),
                # bounds the scan on the (status, created_at) index; jobs run far shorter
                _job.c.created_at > now - timedelta(seconds=window_s) - timedelta(days=1),
                _job.c.finished_at > now - timedelta(seconds=window_s),
                _job.c.finished_at < now - timedelta(seconds=older_than_s),
                sa.or_(*conds))
         .order_by(_job.c.finished_at).limit(limit))
    with session() as s:
        rows = s.connection().execute(q).all()
    n = 0
    for r in rows:
        if retry_if_due(job_id=r.id, job_type=r.job_type, job_subtype=r.job_subtype, status=r.status,
                        attempt=r.attempt):
            n += 1
    return n
