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

from app import keys, lifecycle, records, retries
from app.backends import time_limit
from app.errors import JobFailed, NotFound, TransitionRejected
from app.jobtypes import spec_for
from app.launch import Lodged, enqueue, lodge_next
from app.lifecycle import JobStatus, Move, Transitioned
from worker import heartbeat
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
    if life is not None:
        life.taking(job_id, attempt)
    try:
        outcome = _run(job_id, attempt, life, backend)
    finally:
        if life is not None:
            life.finished(outcome)
    return outcome


def _run(job_id: str, attempt: Optional[int], life, backend: Optional[str]) -> str:
    worker = _worker_name()
    try:
        # Taken and started in one commit: two history lines, one turn at the write lock.
        taken, _ = lifecycle.transition_steps(job_id, [
            Move(JobStatus.DEQUEUED, f"Taken by worker {worker}", values={"worker": worker}),
            Move(JobStatus.IN_PROGRESS, "Started"),
        ], attempt=attempt)
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
        done = _finish(job_id, JobStatus.FAILED, attempt, message=f"Failed: {exc.message}", level="error",
                       values={"info": exc.message})
        _retry(done)
        return "failed"
    except Exception as exc:  # anything unexpected is a crash, not a user-facing failure
        tb = traceback.format_exc()
        log.exception("job %s crashed", job_id)
        plain = (f"The job stopped because of an internal error ({type(exc).__name__}). "
                 f"An administrator can see the details; retrying may help.")
        done = _finish(job_id, JobStatus.CRASHED, attempt, message=plain, level="error",
                       values={"info": plain, "error_detail": tb})
        _retry(done)
        return "crashed"

    lodged: list[Lodged] = []

    def _lodge(conn, done):
        lodged.extend(lodge_next(conn, done, outcome.next_jobs))
        if outcome.also is not None:
            lodged.extend(outcome.also(conn, done))

    values = {"result": outcome.result.model_dump(mode="json"), "info": outcome.info, "progress": 1.0}
    if outcome.entity_id:
        values["entity_id"] = outcome.entity_id
    msg = "Succeeded" + (f": {outcome.info}" if outcome.info else "")
    if _finish(job_id, JobStatus.SUCCEEDED, attempt, message=msg, values=values,
               also=_lodge if outcome.next_jobs or outcome.also else None):
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


def record_halt(*, job_id: str, attempt: Optional[int], reason: str, limit_s: Optional[float],
                worker: str, host: str, hard: bool = False) -> Optional[Transitioned]:
    """Record a job stopped by its worker: over its time limit, or cut short by a
    shutdown. Both are crashes, so the retry policy applies."""
    if reason == "timeout":
        text = f"Timed out after {limit_s:g} s: the job was stopped."
    else:
        text = f"Stopped: worker {worker} on host {host} shut down before the job finished."
    if hard:
        text += f" It did not respond, so its worker {worker} on host {host} was stopped; the pool starts another."
    done = _finish(job_id, JobStatus.CRASHED, attempt, message=text, level="error", values={"info": text})
    _retry(done)
    return done


def _finish(job_id: str, to: JobStatus, attempt: Optional[int], **kw) -> Optional[Transitioned]:
    kw["also"] = records.with_record(kw.get("also"))  # the job's provenance record, in the same commit
    try:
        return lifecycle.transition(job_id, to, attempt=attempt, **kw)
    except (TransitionRejected, NotFound) as exc:
        # Cancelled, reaped or deleted while running: the outcome is dropped and no next step lodged.
        log.info("outcome of %s dropped: %s", job_id, exc.message)
        return None


def _retry(done: Optional[Transitioned]) -> None:
    if done is None:
        return
    try:
        retries.apply_policy(done)
    except Exception:  # the reaper's sweep retries it later; the outcome is recorded
        log.exception("job %s: automatic retry not lodged now", done.job_id)
