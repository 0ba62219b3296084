"""The RQ entry point: load the job, move it DEQUEUED → IN_PROGRESS, run its handler,
record the outcome. RQ knows only the Jobdeck job id; everything else is read here.

A handler's JobFailed ends the job FAILED; any other exception ends it CRASHED with the
traceback kept for admins and a plain message for the owner. A success lodges the
workflow's next steps in the same transaction.
"""

from __future__ import annotations

import importlib
import logging
import socket
import traceback
from functools import lru_cache
from typing import Callable

from rq import get_current_job

from app import keys, lifecycle
from app.errors import JobFailed, TransitionRejected
from app.jobtypes import spec_for
from app.launch import Lodged, enqueue, lodge_next
from app.lifecycle import JobStatus, Move
from worker.context import JobContext

log = logging.getLogger(__name__)


@lru_cache(maxsize=None)
def _handler(path: str) -> Callable:
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def _worker_name() -> str:
    rq_job = get_current_job()
    name = getattr(rq_job, "worker_name", None) if rq_job else None
    return name or f"{socket.gethostname()}:{__import__('os').getpid()}"


def run_job(job_id: str) -> str:
    rq_job = get_current_job()
    attempt = keys.job_id_from_rq(rq_job.id)[1] if rq_job else None
    worker = _worker_name()
    try:
        # Taken and started in one commit: two history lines, one turn at the write lock.
        taken, _ = lifecycle.transition_steps(job_id, [
            Move(JobStatus.DEQUEUED, f"Taken by worker {worker}", values={"worker": worker}),
            Move(JobStatus.IN_PROGRESS, "Started"),
        ], attempt=attempt)
    except TransitionRejected as exc:
        # Cancelled, already taken by a duplicate enqueue, or a stale attempt: not ours.
        log.info("skipping %s: %s", job_id, exc.message)
        return "skipped"
    attempt = taken.attempt
    spec = spec_for(taken.job_type, taken.job_subtype)
    ctx = JobContext(job_id=job_id, attempt=attempt, owner=taken.owner, job_type=taken.job_type,
                     job_subtype=taken.job_subtype, workflow_id=taken.workflow_id, batch_id=taken.batch_id,
                     entity_id=taken.entity_id, worker=worker)
    try:
        payload = spec.payload.model_validate(taken.payload)
        outcome = _handler(spec.handler)(ctx, payload)
    except JobFailed as exc:
        _finish(job_id, JobStatus.FAILED, attempt, message=f"Failed: {exc.message}", level="error",
                values={"info": exc.message})
        return "failed"
    except Exception as exc:  # anything unexpected is a crash, not a user-facing failure
        tb = traceback.format_exc()
        log.exception("job %s crashed", job_id)
        plain = (f"The job stopped because of an internal error ({type(exc).__name__}). "
                 f"An administrator can see the details; retrying may help.")
        _finish(job_id, JobStatus.CRASHED, attempt, message=plain, level="error",
                values={"info": plain, "error_detail": tb})
        return "crashed"

    lodged: list[Lodged] = []

    def _lodge(conn, done):
        lodged.extend(lodge_next(conn, done, outcome.next_jobs))

    values = {"result": outcome.result.model_dump(mode="json"), "info": outcome.info, "progress": 1.0}
    if outcome.entity_id:
        values["entity_id"] = outcome.entity_id
    msg = "Succeeded" + (f": {outcome.info}" if outcome.info else "")
    if _finish(job_id, JobStatus.SUCCEEDED, attempt, message=msg, values=values,
               also=_lodge if outcome.next_jobs else None):
        enqueue(lodged)
    return "succeeded"


def _finish(job_id: str, to: JobStatus, attempt: int, **kw) -> bool:
    try:
        lifecycle.transition(job_id, to, attempt=attempt, **kw)
        return True
    except TransitionRejected as exc:
        # Cancelled or reaped while running: the outcome is dropped and no next step lodged.
        log.info("outcome of %s dropped: %s", job_id, exc.message)
        return False
