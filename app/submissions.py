"""Submissions as one unit: the root job of what a user asked for, every step its
workflow lodged, and the batch it fanned out (with each batch job's own workflow).
Cancelling a submission cancels its live jobs; deleting one (admins only) cancels them
first, waits until their workers have let go, then removes the records and files.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Optional

import sqlalchemy as sa

from app import events, lifecycle, queues
from app.db import session, write_conn
from app.errors import NotFound, PermissionDenied, TransitionRejected
from app.launch import stop_cancelled
from app.lifecycle import JobStatus
from app.models import Batch, Job, JobFile, JobMessage, User

log = logging.getLogger(__name__)

_job, _batch, _msg, _file = Job.__table__, Batch.__table__, JobMessage.__table__, JobFile.__table__
LIVE = (JobStatus.PENDING.value, JobStatus.DEQUEUED.value, JobStatus.IN_PROGRESS.value)
IN_FLIGHT = (JobStatus.DEQUEUED.value, JobStatus.IN_PROGRESS.value)


@dataclass
class Submission:
    root_job_id: Optional[str]  # None for a batch lodged directly (it has no submitting job)
    owner: str
    job_ids: list[str]
    batch_ids: list[str]


def _chunks(ids: list[str], n: int = 500):
    for i in range(0, len(ids), n):
        yield ids[i:i + n]


def _root_of(conn: sa.Connection, job_id: str) -> Optional[str]:
    """Follow a job up to the root of the submission it belongs to."""
    seen = set()
    while job_id and job_id not in seen:
        seen.add(job_id)
        row = conn.execute(sa.select(_job.c.workflow_id, _job.c.parent_job_id).where(_job.c.id == job_id)).first()
        if row is None:
            return None
        root = row.workflow_id or job_id
        if root != job_id:
            job_id = root
            continue
        if row.parent_job_id:  # a batch job: its submission is the job that fanned it out
            job_id = row.parent_job_id
            continue
        return job_id
    return job_id


def find_submission(*, submission_id: str) -> Submission:
    """The submission a job id or batch id belongs to, with all its jobs and batches."""
    with session() as s:
        conn = s.connection()
        root = None
        batch_ids: set[str] = set()
        if conn.execute(sa.select(_job.c.id).where(_job.c.id == submission_id)).first():
            root = _root_of(conn, submission_id)
        else:
            b = conn.execute(sa.select(_batch.c.id, _batch.c.submission_job_id, _batch.c.owner)
                             .where(_batch.c.id == submission_id)).first()
            if b is None:
                raise NotFound(f"No job or batch {submission_id}.")
            batch_ids.add(b.id)
            if b.submission_job_id:
                root = _root_of(conn, b.submission_job_id)
        job_ids: set[str] = set()
        roots = {root} if root else set()
        while True:  # grow until nothing new: workflows, their batches, the batch jobs' workflows
            new = set()
            for chunk in _chunks(sorted(roots)):
                new |= set(conn.execute(sa.select(_job.c.id).where(
                    sa.or_(_job.c.workflow_id.in_(chunk), _job.c.id.in_(chunk)))).scalars())
            for chunk in _chunks(sorted(new | job_ids)):
                batch_ids |= set(conn.execute(sa.select(_batch.c.id).where(
                    _batch.c.submission_job_id.in_(chunk))).scalars())
            for chunk in _chunks(sorted(batch_ids)):
                new |= set(conn.execute(sa.select(_job.c.id).where(_job.c.batch_id.in_(chunk))).scalars())
            new -= job_ids
            if not new:
                break
            job_ids |= new
            roots = new
        if root:
            owner = conn.execute(sa.select(_job.c.owner).where(_job.c.id == root)).scalar_one()
        else:
            owner = conn.execute(sa.select(_batch.c.owner).where(_batch.c.id.in_(sorted(batch_ids)))).scalars().first()
    return Submission(root, owner or "", sorted(job_ids), sorted(batch_ids))


@dataclass
class CancelSummary:
    submission: Submission
    cancelled: list[str] = field(default_factory=list)  # jobs moved to CANCELLED now
    halting: list[str] = field(default_factory=list)  # of those, the ones a worker was running


def _check_may(actor: User, sub: Submission, *, admin_only: bool) -> None:
    if actor.role in ("admin", "service"):
        return
    if admin_only:
        raise PermissionDenied("Deleting a submission is for admins.")
    if sub.owner != actor.username:
        raise NotFound("No such submission.")  # ids reveal nothing


def _cancel_live(sub: Submission, text: str) -> CancelSummary:
    out = CancelSummary(sub)
    with session() as s:
        conn = s.connection()
        live = []
        for chunk in _chunks(sub.job_ids):
            live += conn.execute(sa.select(_job.c.id, _job.c.queue).where(
                _job.c.id.in_(chunk), _job.c.status.in_(LIVE))).all()
    for r in live:
        try:
            done = lifecycle.transition(r.id, JobStatus.CANCELLED, level="warning", message=text)
        except (TransitionRejected, NotFound):
            continue  # finished meanwhile
        stop_cancelled(done, backend=r.queue)
        out.cancelled.append(r.id)
        if done.prev_status.value in IN_FLIGHT:
            out.halting.append(r.id)
    return out


def cancel_submission(*, actor: User, submission_id: str) -> CancelSummary:
    """Cancel every live job of a submission (its owner or an admin): waiting jobs leave
    their queues, running ones are halted by their workers."""
    sub = find_submission(submission_id=submission_id)
    _check_may(actor, sub, admin_only=False)
    return _cancel_live(sub, f"Cancelled with its submission by {actor.username}")


def _wait_let_go(job_ids: list[str], deadline: float) -> None:
    """Wait until no live worker holds any of these jobs (halting takes about a second)."""
    from app.workers import list_workers

    pending = set(job_ids)
    while pending and time.monotonic() < deadline:
        try:
            held = {w.current_job_id for w in list_workers(include_gone=False)}
        except queues.REDIS_ERRORS:
            time.sleep(0.5)
            continue
        pending &= held
        if pending:
            time.sleep(0.1)


@dataclass
class DeleteSummary:
    root_job_id: Optional[str]
    jobs_deleted: int
    batches_deleted: int
    files_deleted: int
    cancelled: int


def delete_submission(*, actor: User, submission_id: str, wait_s: float = 10.0) -> DeleteSummary:
    """Delete a submission (admins only): cancel its live jobs first, wait for their
    workers to let go (so nothing is lodged or written afterwards), then remove its jobs,
    their history and files, and its batches. Registry items and provenance stay."""
    from app.files import stored_file_path

    sub = find_submission(submission_id=submission_id)
    _check_may(actor, sub, admin_only=True)
    deadline = time.monotonic() + wait_s
    cancelled = 0
    for _ in range(10):  # a halted handler may have lodged a last step: look again
        summary = _cancel_live(sub, f"Cancelled by {actor.username}: its submission is being deleted")
        cancelled += len(summary.cancelled)
        if summary.halting:
            _wait_let_go(summary.halting, deadline)
        again = find_submission(submission_id=sub.root_job_id or submission_id)
        if not summary.cancelled and again.job_ids == sub.job_ids:
            break
        sub = again
    files = []
    with write_conn() as conn:
        for chunk in _chunks(sub.job_ids):
            files += conn.execute(sa.select(_file.c.stored_path).where(_file.c.job_id.in_(chunk))).scalars().all()
            conn.execute(sa.delete(_file).where(_file.c.job_id.in_(chunk)))
            conn.execute(sa.delete(_msg).where(_msg.c.job_id.in_(chunk)))
            conn.execute(sa.delete(_job).where(_job.c.id.in_(chunk)))
        for chunk in _chunks(sub.batch_ids):
            conn.execute(sa.delete(_batch).where(_batch.c.id.in_(chunk)))
    removed = 0
    for stored in files:
        path = stored_file_path(stored)
        if path is not None and path.is_file():
            path.unlink()
            removed += 1
    events.publish({"kind": "deleted", "owner": sub.owner, "root_job_id": sub.root_job_id,
                    "batch_ids": sub.batch_ids, "job_ids": sub.job_ids[-200:], "count": len(sub.job_ids)})
    log.warning("submission %s deleted by %s: %d jobs, %d batches", sub.root_job_id or submission_id,
                actor.username, len(sub.job_ids), len(sub.batch_ids))
    return DeleteSummary(sub.root_job_id, len(sub.job_ids), len(sub.batch_ids), removed, cancelled)
