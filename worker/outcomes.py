"""A job's outcome as its worker records it: the guarded transition (an outcome that
arrives after a cancel, a reap or a delete is dropped), then the retry policy. Shared by
the runner and by the heartbeat, which records the halt of a job that would not stop.

A transition is held while the database does not answer (a PostgreSQL restart or
failover): the worker tries again with backoff for JOBDECK_DB_WAIT_S, so a job that ran
keeps its outcome. A retry is safe: the transition is guarded by the job's status and
attempt, so one whose first commit did land is refused the second time (and dropped)."""

from __future__ import annotations

import logging
import time
from typing import Callable, Optional, TypeVar

import sqlalchemy as sa

from app import lifecycle, records, retries
from app.errors import NotFound, TransitionRejected
from app.lifecycle import JobStatus, Transitioned
from app.settings import get_settings

log = logging.getLogger(__name__)

T = TypeVar("T")

# What a database that went away raises: a dropped or refused connection. Not an
# IntegrityError or a programming error, which trying again cannot mend.
DATABASE_AWAY = (sa.exc.OperationalError, sa.exc.InterfaceError)


def while_database_away(fn: Callable[[], T], *, what: str, wait_s: Optional[float] = None) -> T:
    """fn(), tried again with backoff while the database does not answer, for up to
    `wait_s` (JOBDECK_DB_WAIT_S); then the last error is raised."""
    deadline = time.monotonic() + (get_settings().db_wait_s if wait_s is None else wait_s)
    delay = 0.2
    while True:
        try:
            return fn()
        except DATABASE_AWAY as exc:
            if time.monotonic() + delay > deadline:
                raise
            log.warning("the database did not answer; %s held, trying again in %.1f s: %s",
                        what, delay, str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
            time.sleep(delay)
            delay = min(delay * 2, 5.0)


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


def finish(job_id: str, to: JobStatus, attempt: Optional[int], *, message: str, level: str = "info",
           values: Optional[dict] = None, **kw) -> Optional[Transitioned]:
    done = finish_steps(job_id, [lifecycle.Move(to, message, level, values)], attempt, **kw)
    return done[-1] if done else None


def finish_steps(job_id: str, moves: list[lifecycle.Move], attempt: Optional[int], *, also=None,
                 publish: bool = True) -> Optional[list[Transitioned]]:
    """The end of an attempt (the last move; a job run before its start was recorded
    records its take and start before it, worker/early.py), with the job's record."""
    also = records.with_record(also)  # the job's provenance record, in the same commit
    try:
        return while_database_away(lambda: lifecycle.transition_steps(job_id, moves, attempt=attempt, also=also,
                                                                      publish=publish),
                                   what=f"the {moves[-1].to.value} of job {job_id}")
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
