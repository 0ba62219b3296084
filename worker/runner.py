"""The RQ entry point: load the job, move it DEQUEUED → IN_PROGRESS, run its handler,
record the outcome. RQ knows only the Jobdeck job id; everything else is read here. A
job whose effects commit with its outcome runs before its start is recorded, and a quick
one records take, start and end in one commit (worker/early.py).

A handler's JobFailed ends the job FAILED; any other exception ends it CRASHED with the
traceback kept for admins and a plain message for the owner. A success lodges the
workflow's next steps in the same transaction. A FAILED or CRASHED job then gets
another attempt if its type's retry policy says so.

Under the pool (worker/process.py) the handler runs watched (worker/heartbeat.py): a
cancel halts it, and a job over its time limit is stopped and recorded CRASHED. Run by a
plain RQ worker, the same code runs unwatched.
"""

from __future__ import annotations

import importlib
import logging
import socket
import traceback
from contextlib import nullcontext
from functools import lru_cache
from typing import Callable, Optional

import sqlalchemy as sa
from rq import get_current_job

from app import keys, lifecycle
from app.backends import time_limit
from app.db import get_engine, utcnow
from app.errors import JobFailed, NotFound, TransitionRejected
from app.jobtypes import SPECS, spec_for
from app.launch import Lodged, enqueue, lodge_next
from app.lifecycle import JobStatus, Move
from app.models import Job
from worker import heartbeat
from worker.context import JobContext
from worker.early import EarlyStart, start_moves
from worker.heartbeat import JobHalted
from worker.outcomes import DATABASE_AWAY, finish_steps, record_halt, retry_if_due, while_database_away

log = logging.getLogger(__name__)


@lru_cache(maxsize=None)
def _handler(path: str) -> Callable:
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def _worker_name() -> str:
    life = heartbeat.current()
    if life is not None:
        return life.name
    rq_job = get_current_job()
    name = getattr(rq_job, "worker_name", None) if rq_job else None
    return name or f"{socket.gethostname()}:{__import__('os').getpid()}"


def run_job(job_id: str) -> str:
    rq_job = get_current_job()
    attempt = keys.job_id_from_rq(rq_job.id)[1] if rq_job else None
    backend = keys.backend_of_queue(rq_job.origin) if rq_job and rq_job.origin else None
    life = heartbeat.current()
    outcome = "skipped"
    later: list[dict] = []  # the success's events, sent with the worker's report that it is free
    if life is not None:
        life.taking(job_id, attempt)
    try:
        outcome = _run(job_id, attempt, life, backend, later)
    finally:
        if life is not None:
            life.finished(outcome, later)
    return outcome


def _read_early(job_id: str, attempt: Optional[int], life, worker: str):
    """The job's row and its EarlyStart when its type may run before its start is
    recorded (worker/early.py), else None: the start is then recorded first, as always.
    Only under a watch (the pool's workers): its thread records the start of a long run."""
    if life is None:
        return None
    try:
        with get_engine().connect() as conn:  # a Core read: no session for one row
            row = conn.execute(_EARLY_READ, {"_id": job_id}).first()
    except DATABASE_AWAY:
        return None  # the start's own wait for the database follows
    if row is None or row.status != JobStatus.PENDING.value or (attempt is not None and row.attempt != attempt):
        return None  # the start is refused with the reason, as for any job
    spec = SPECS.get((row.job_type, row.job_subtype))
    if spec is None or not spec.effects_with_outcome:
        return None

    return row, EarlyStart(worker=worker, at=utcnow(), record=lambda moves: _record_start(job_id, moves, row.attempt))


def _record_start(job_id: str, moves: list[Move], attempt: Optional[int]):
    """Taken and started in one commit: two history lines, one turn at the write lock."""
    return while_database_away(lambda: lifecycle.transition_steps(job_id, moves, attempt=attempt),
                               what=f"the start of job {job_id}")


_t = Job.__table__
_EARLY_READ = sa.select(_t.c.status, _t.c.attempt, _t.c.owner, _t.c.job_type, _t.c.job_subtype, _t.c.workflow_id,
                        _t.c.batch_id, _t.c.entity_id, _t.c.payload).where(_t.c.id == sa.bindparam("_id"))


def _run(job_id: str, attempt: Optional[int], life, backend: Optional[str], later: list[dict]) -> str:
    worker = _worker_name()
    early = _read_early(job_id, attempt, life, worker)
    start: Optional[EarlyStart] = None
    if early is not None:
        taken, start = early
    else:
        try:
            taken, _ = _record_start(job_id, start_moves(worker), attempt)
        except (TransitionRejected, NotFound) as exc:
            # Cancelled, already taken by a duplicate enqueue, a stale attempt, or deleted: not ours.
            log.info("skipping %s: %s", job_id, exc.message)
            return "skipped"
    attempt = taken.attempt
    if life is not None:
        life.took(attempt, early=start)
    spec = spec_for(taken.job_type, taken.job_subtype)
    ctx = JobContext(job_id=job_id, attempt=attempt, owner=taken.owner, job_type=taken.job_type,
                     job_subtype=taken.job_subtype, workflow_id=taken.workflow_id, batch_id=taken.batch_id,
                     entity_id=taken.entity_id, worker=worker, early=start)
    try:
        payload = spec.payload.model_validate(taken.payload)
        guard = nullcontext()
        if life is not None:
            # the limit of the backend the job was queued on (a task may run on any backend)
            guard = life.running(time_limit(job_type=taken.job_type, job_subtype=taken.job_subtype,
                                            backend=backend, config=life.taken_with))
        with guard:
            outcome = _handler(spec.handler)(ctx, payload)
    except JobHalted as halted:
        if start is not None and start.settle() is not None:
            log.info("job %s halted: %s", job_id, start.why)
            return "halted"  # cancelled or deleted before its start was recorded: nothing to record
        return _halted(job_id, attempt, halted, worker)
    except JobFailed as exc:
        if (before := _before_end(job_id, start)) is None:
            return "skipped"
        done = finish_steps(job_id, [*before, Move(JobStatus.FAILED, f"Failed: {exc.message}", "error",
                                                   {"info": exc.message})], attempt)
        retry_if_due(done[-1] if done else None)
        return "failed"
    except Exception as exc:  # anything unexpected is a crash, not a user-facing failure
        tb = traceback.format_exc()
        log.exception("job %s crashed", job_id)
        if (before := _before_end(job_id, start)) is None:
            return "skipped"
        plain = (f"The job stopped because of an internal error ({type(exc).__name__}). "
                 f"An administrator can see the details; retrying may help.")
        done = finish_steps(job_id, [*before, Move(JobStatus.CRASHED, plain, "error",
                                                   {"info": plain, "error_detail": tb})], attempt)
        retry_if_due(done[-1] if done else None)
        return "crashed"

    if (before := _before_end(job_id, start)) is None:
        return "skipped"
    lodged: list[Lodged] = []

    def _lodge(conn, done):
        del lodged[:]  # a transaction tried again (the database was away) lodges anew
        if outcome.writes is not None:
            outcome.writes(conn)
        lodged.extend(lodge_next(conn, done, outcome.next_jobs))
        if outcome.also is not None:
            lodged.extend(outcome.also(conn, done))

    values = {"result": outcome.result.model_dump(mode="json"), "info": outcome.info, "progress": 1.0}
    if outcome.entity_id:
        values["entity_id"] = outcome.entity_id
    msg = "Succeeded" + (f": {outcome.info}" if outcome.info else "")
    lodges = bool(outcome.next_jobs or outcome.also)
    # A success that lodges nothing is the job's last event: it goes out with the worker's
    # report (one round trip, not two). One that lodges is published before its next steps.
    quiet = life is not None and not lodges
    steps = finish_steps(job_id, [*before, Move(JobStatus.SUCCEEDED, msg, values=values)], attempt,
                         also=_lodge if lodges or outcome.writes else None, publish=not quiet)
    if steps:
        if quiet:
            later.extend(d.event() for d in steps)
        enqueue(lodged)
    return "succeeded"


def _before_end(job_id: str, start: Optional[EarlyStart]) -> Optional[list[Move]]:
    """What the end of a run records before its own move: the take and start of a run
    whose start is unrecorded (one commit for both), else nothing; None when its start
    was refused (cancelled or deleted meanwhile): its outcome is dropped."""
    if start is None:
        return []
    try:
        return start.claim_for_end()
    except TransitionRejected as exc:
        log.info("outcome of %s dropped: %s", job_id, exc.message)
        return None


def _halted(job_id: str, attempt: int, halted: JobHalted, worker: str) -> str:
    if halted.reason in ("timeout", "shutdown"):
        record_halt(job_id=job_id, attempt=attempt, reason=halted.reason, limit_s=halted.limit_s,
                    worker=worker, host=socket.gethostname())
        return "timeout" if halted.reason == "timeout" else "halted"
    # Cancelled or reaped: whoever did it recorded it; this attempt's outcome is dropped.
    log.info("job %s halted: %s", job_id, halted.reason)
    return "halted"

