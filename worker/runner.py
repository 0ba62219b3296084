"""The RQ entry point: load the job, move it DEQUEUED → IN_PROGRESS, run its handler,
record the outcome. RQ knows only the Jobdeck job id; everything else is read here.

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

from rq import get_current_job

from app import keys, lifecycle
from app.backends import time_limit
from app.errors import JobFailed, NotFound, TransitionRejected
from app.jobtypes import spec_for
from app.launch import Lodged, enqueue, lodge_next
from app.lifecycle import JobStatus, Move
from worker import heartbeat
from worker.outcomes import finish, record_halt, retry_if_due, while_database_away
from worker.context import JobContext
from worker.heartbeat import JobHalted

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


def _run(job_id: str, attempt: Optional[int], life, backend: Optional[str], later: list[dict]) -> str:
    worker = _worker_name()
    try:
        # Taken and started in one commit: two history lines, one turn at the write lock.
        taken, _ = while_database_away(lambda: lifecycle.transition_steps(job_id, [
            Move(JobStatus.DEQUEUED, f"Taken by worker {worker}", values={"worker": worker}),
            Move(JobStatus.IN_PROGRESS, "Started"),
        ], attempt=attempt), what=f"the start of job {job_id}")
    except (TransitionRejected, NotFound) as exc:
        # Cancelled, already taken by a duplicate enqueue, a stale attempt, or deleted: not ours.
        log.info("skipping %s: %s", job_id, exc.message)
        return "skipped"
    attempt = taken.attempt
    if life is not None:
        life.took(attempt)
    spec = spec_for(taken.job_type, taken.job_subtype)
    ctx = JobContext(job_id=job_id, attempt=attempt, owner=taken.owner, job_type=taken.job_type,
                     job_subtype=taken.job_subtype, workflow_id=taken.workflow_id, batch_id=taken.batch_id,
                     entity_id=taken.entity_id, worker=worker)
    try:
        payload = spec.payload.model_validate(taken.payload)
        guard = nullcontext()
        if life is not None:
            # the limit of the backend the job was queued on (a task may run on any backend)
            guard = life.running(time_limit(job_type=taken.job_type, job_subtype=taken.job_subtype,
                                            backend=backend))
        with guard:
            outcome = _handler(spec.handler)(ctx, payload)
    except JobHalted as halted:
        return _halted(job_id, attempt, halted, worker)
    except JobFailed as exc:
        done = finish(job_id, JobStatus.FAILED, attempt, message=f"Failed: {exc.message}", level="error",
                       values={"info": exc.message})
        retry_if_due(done)
        return "failed"
    except Exception as exc:  # anything unexpected is a crash, not a user-facing failure
        tb = traceback.format_exc()
        log.exception("job %s crashed", job_id)
        plain = (f"The job stopped because of an internal error ({type(exc).__name__}). "
                 f"An administrator can see the details; retrying may help.")
        done = finish(job_id, JobStatus.CRASHED, attempt, message=plain, level="error",
                       values={"info": plain, "error_detail": tb})
        retry_if_due(done)
        return "crashed"

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
    done = finish(job_id, JobStatus.SUCCEEDED, attempt, message=msg, values=values,
                  also=_lodge if lodges or outcome.writes else None, publish=not quiet)
    if done:
        if quiet:
            later.append(done.event())
        enqueue(lodged)
    return "succeeded"


def _halted(job_id: str, attempt: int, halted: JobHalted, worker: str) -> str:
    if halted.reason in ("timeout", "shutdown"):
        record_halt(job_id=job_id, attempt=attempt, reason=halted.reason, limit_s=halted.limit_s,
                    worker=worker, host=socket.gethostname())
        return "timeout" if halted.reason == "timeout" else "halted"
    # Cancelled or reaped: whoever did it recorded it; this attempt's outcome is dropped.
    log.info("job %s halted: %s", job_id, halted.reason)
    return "halted"

