"""A job's outcome as its worker records it: the guarded transition (an outcome that
arrives after a cancel, a reap or a delete is dropped), then the retry policy. Shared by
the runner and by the heartbeat, which records the halt of a job that would not stop."""

from __future__ import annotations

import logging
from typing import Optional

from app import lifecycle, retries
from app.errors import NotFound, TransitionRejected
from app.lifecycle import JobStatus, Transitioned

log = logging.getLogger(__name__)


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
    done = finish(job_id, JobStatus.CRASHED, attempt, message=text, level="error", values={"info": text})
    retry_if_due(done)
    return done


def finish(job_id: str, to: JobStatus, attempt: Optional[int], **kw) -> Optional[Transitioned]:
    try:
        return lifecycle.transition(job_id, to, attempt=attempt, **kw)
    except (TransitionRejected, NotFound) as exc:
        # Cancelled, reaped or deleted while running: the outcome is dropped and no next step lodged.
        log.info("outcome of %s dropped: %s", job_id, exc.message)
        return None


def retry_if_due(done: Optional[Transitioned]) -> None:
    if done is None:
        return
    try:
        retries.apply_policy(done)
    except Exception:  # the reaper's sweep retries it later; the outcome is recorded
        log.exception("job %s: automatic retry not lodged now", done.job_id)
