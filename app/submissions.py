"""Submissions as one unit: the root job of what a user asked for, every step its
workflow lodged, and the batch it fanned out (with each batch job's own workflow).
Cancelling a submission cancels its live jobs; deleting one (admins only) cancels them
first, waits until their workers have let go, then removes the records and files.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Optional

import sqlalchemy as sa

from app import counts, events, lifecycle_sets, queues, runs
from app.audit import audited
from app.db import session, write_conn
from app.errors import InvalidInput, NotFound, PermissionDenied
from app.launch import stop_cancelled_set
from app.lifecycle import JobStatus, overall_status  # noqa: F401  (a submission's status, as callers read it)
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
            lone = conn.execute(sa.select(_job.c.batch_id).where(_job.c.id == root)).scalar() if root else None
            if lone:  # a job of a batch lodged directly: the batch is the submission
                root = None
                batch_ids.add(lone)
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
                # ...and what a job lodged about them outside their workflow (a run's email)
                new |= set(conn.execute(sa.select(_job.c.id).where(
                    sa.or_(_job.c.workflow_id.in_(chunk), _job.c.id.in_(chunk),
                           _job.c.parent_job_id.in_(chunk)))).scalars())
            for chunk in _chunks(sorted(new | job_ids)):
                batch_ids |= set(conn.execute(sa.select(_batch.c.id).where(
                    _batch.c.submission_job_id.in_(chunk))).scalars())
            for chunk in _chunks(sorted(batch_ids)):  # a batch's jobs, and its email (lodged about the batch)
                new |= set(conn.execute(sa.select(_job.c.id).where(
                    sa.or_(_job.c.batch_id.in_(chunk), _job.c.parent_job_id.in_(chunk)))).scalars())
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


def check_may(actor: User, sub: Submission, *, admin_only: bool) -> None:
    if actor.role in ("admin", "service"):
        return
    if admin_only:
        raise PermissionDenied("Deleting a submission is for admins.")
    if sub.owner != actor.username:
        raise NotFound("No such submission.")  # ids reveal nothing


def _cancel_live(sub: Submission, text: str) -> CancelSummary:
    """Its live jobs cancelled set-based, 500 a transaction (who may was checked on the
    submission as a whole); one that finished meanwhile is left as it is."""
    out = CancelSummary(sub)
    with session() as s:
        conn = s.connection()
        live = []
        for chunk in _chunks(sub.job_ids):
            live += conn.execute(sa.select(_job.c.id).where(
                _job.c.id.in_(chunk), _job.c.status.in_(LIVE))).scalars().all()
    for chunk in _chunks(live):
        done = lifecycle_sets.transition_set(chunk, JobStatus.CANCELLED, level="warning", message=text).done
        stop_cancelled_set(done)
        for d in done:
            out.cancelled.append(d.job_id)
            if d.prev_status.value in IN_FLIGHT:
                out.halting.append(d.job_id)
    return out


@audited("submission.cancel", target="submission_id")
def cancel_submission(*, actor: User, submission_id: str) -> CancelSummary:
    """Cancel every live job of a submission (its owner or an admin): waiting jobs leave
    their queues, running ones are halted by their workers."""
    sub = find_submission(submission_id=submission_id)
    check_may(actor, sub, admin_only=False)
    return _cancel_live(sub, f"Cancelled with its submission by {actor.username}")


def wait_let_go(job_ids: list[str], deadline: float) -> None:
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


@audited("submission.delete", target="submission_id")
def delete_submission(*, actor: User, submission_id: str, wait_s: float = 10.0) -> DeleteSummary:
    """Delete a submission (admins only): cancel its live jobs first, wait for their
    workers to let go (so nothing is lodged or written afterwards), then remove its jobs,
    their history and files, and its batches. Registry items and provenance stay."""
    from app.files import stored_file_path

    sub = find_submission(submission_id=submission_id)
    check_may(actor, sub, admin_only=True)
    deadline = time.monotonic() + wait_s
    cancelled = 0
    for _ in range(10):  # a halted handler may have lodged a last step: look again
        summary = _cancel_live(sub, f"Cancelled by {actor.username}: its submission is being deleted")
        cancelled += len(summary.cancelled)
        if summary.cancelled:
            # Every one cancelled, not only those that were running: a worker may run a job
            # whose start it has not recorded yet (worker/early.py), halted within ~0.4 s.
            wait_let_go(summary.cancelled, deadline)
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
            # The statuses read and the rows deleted in one statement, so the counts
            # lose exactly the jobs that went.
            gone = conn.execute(sa.delete(_job).where(_job.c.id.in_(chunk))
                                .returning(_job.c.id, _job.c.owner, _job.c.status)).all()
            counts.removed(conn, gone)
        for chunk in _chunks(sub.batch_ids):
            conn.execute(sa.delete(_batch).where(_batch.c.id.in_(chunk)))
    removed = 0
    for stored in files:
        path = stored_file_path(stored)
        if path is not None and path.is_file():
            path.unlink()
            removed += 1
    from app.pipelines import remove_run_files

    # A pipeline run's upload and working directories go with it; a batch of runs (an
    # Analytics Automated submission) has a run at each of its jobs.
    for root in [sub.root_job_id] if sub.root_job_id else sub.job_ids:
        remove_run_files(root)
    events.publish({"kind": "deleted", "owner": sub.owner, "root_job_id": sub.root_job_id,
                    "batch_ids": sub.batch_ids, "job_ids": sub.job_ids[-200:], "count": len(sub.job_ids)})
    log.warning("submission %s deleted by %s: %d jobs, %d batches", sub.root_job_id or submission_id,
                actor.username, len(sub.job_ids), len(sub.batch_ids))
    return DeleteSummary(sub.root_job_id, len(sub.job_ids), len(sub.batch_ids), removed, cancelled)


# --- the submissions list (admins) --------------------------------------------------------

# A submission is what a user asked for: a job that no other job lodged and that is not in
# a batch (a standalone job, or the root of a workflow, which may fan out a batch), or a
# batch lodged directly (no job submitted it). Each has a partial index (app.models).
_ROOT_JOB = (_job.c.parent_job_id.is_(None), _job.c.batch_id.is_(None))
_LONE_BATCH = (_batch.c.submission_job_id.is_(None),)
_COUNTED = tuple(s.value for s in JobStatus)


@dataclass
class SubmissionSummary:
    id: str  # the root job's id, or the batch's id for a batch lodged directly
    kind: str  # "job" | "batch"
    owner: str
    job_type: str
    job_subtype: str
    label: str  # a batch's label ("" for a job)
    created_at: datetime
    status: str  # of the submission as a whole (overall_status)
    jobs: int
    finished: int
    last_message: str
    batch_ids: list[str] = field(default_factory=list)  # its own batch, or the batches it fanned out
    entity_id: Optional[str] = None  # the item a registry workflow is about
    title: str = ""  # what the job is about when its payload names it (a model run's name)

    @property
    def aa_status(self) -> str:
        """The status under Analytics Automated's name (SUBMITTED, RUNNING, COMPLETE…)."""
        return JobStatus(self.status).aa_name


@dataclass
class SubmissionPage:
    submissions: list[SubmissionSummary]
    next_cursor: Optional[str]


def _check_admin(viewer: User) -> None:
    if viewer.role not in ("admin", "service"):
        raise PermissionDenied("The submissions of every user are for admins.")


def _batch_counts(b) -> dict[str, int]:
    return {s: getattr(b, s.lower()) for s in _COUNTED}


def _progress(counts: dict[str, int]) -> str:
    total = sum(counts.values())
    final = total - sum(counts.get(s, 0) for s in LIVE)
    out = f"{final} of {total} finished"
    bad = counts.get("FAILED", 0) + counts.get("CRASHED", 0)
    if bad:
        out += f", {bad} failed"
    if counts.get("CANCELLED", 0):
        out += f", {counts['CANCELLED']} cancelled"
    return out


def _summaries(conn: sa.Connection, job_ids: list[str], batch_ids: list[str]) -> dict[str, SubmissionSummary]:
    """Summaries of root jobs and lone batches: three indexed queries for the jobs (the
    roots, their workflows, the batches they fanned out), two per batch."""
    out: dict[str, SubmissionSummary] = {}
    if job_ids:
        roots = conn.execute(sa.select(_job).where(_job.c.id.in_(job_ids))).all()
        members = conn.execute(sa.select(_job.c.id, _job.c.workflow_id, _job.c.status, _job.c.last_message,
                                         _job.c.updated_at).where(_job.c.workflow_id.in_(job_ids))).all()
        fanned = conn.execute(sa.select(_batch).where(_batch.c.submission_job_id.in_(job_ids))
                              .order_by(_batch.c.created_at, _batch.c.id)).all()
        for r in roots:
            counts = dict.fromkeys(_COUNTED, 0)
            counts[r.status] += 1
            latest = (r.updated_at, r.last_message or "")
            for m in members:
                if m.workflow_id == r.id and m.id != r.id:
                    counts[m.status] += 1
                    if m.updated_at > latest[0]:
                        latest = (m.updated_at, m.last_message or "")
            message, own = latest[1], [b for b in fanned if b.submission_job_id == r.id]
            for b in own:
                counts = {s: counts[s] + n for s, n in _batch_counts(b).items()}
            if own:
                message = f"{message} · batch: {_progress({s: sum(_batch_counts(b)[s] for b in own) for s in _COUNTED})}"
            out[r.id] = SubmissionSummary(
                id=r.id, kind="job", owner=r.owner, job_type=r.job_type, job_subtype=r.job_subtype, label="",
                created_at=r.created_at, status=overall_status(counts), jobs=sum(counts.values()),
                finished=sum(counts.values()) - sum(counts[s] for s in LIVE), last_message=message,
                batch_ids=[b.id for b in own], entity_id=r.entity_id,
                title=_title_of(r))
    if batch_ids:
        for b in conn.execute(sa.select(_batch).where(_batch.c.id.in_(batch_ids))).all():
            first = conn.execute(sa.select(_job.c.job_type, _job.c.job_subtype).where(_job.c.batch_id == b.id)
                                 .order_by(_job.c.created_at, _job.c.id).limit(1)).first()
            counts = _batch_counts(b)
            out[b.id] = SubmissionSummary(
                id=b.id, kind="batch", owner=b.owner, job_type=first.job_type if first else "",
                job_subtype=first.job_subtype if first else "", label=b.label or "", created_at=b.created_at,
                status=overall_status(counts), jobs=b.total, finished=b.total - sum(counts[s] for s in LIVE),
                last_message=_progress(counts), batch_ids=[b.id])
    return out


def _title_of(root) -> str:
    """What a submission is called: a pipeline run after its pipeline and upload, a model
    run after its name."""
    if runs.is_step(root):
        return runs.run_name(root.payload)
    return str(((root.payload or {}).get("record") or {}).get("display_name") or "")


def list_submissions(*, viewer: User, owner: Optional[str] = None, cursor: Optional[str] = None,
                     limit: int = 25) -> SubmissionPage:
    """Every submission newest first (admins and services), optionally one owner's,
    paged by keyset (created_at, id) across root jobs and lone batches alike."""
    from app.queries import MAX_LIMIT
    from app.registry import decode_cursor, encode_cursor

    _check_admin(viewer)
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}.", field="limit")
    owner = (owner or "").strip() or None
    after = decode_cursor(cursor) if cursor else None
    picks = []
    for kind, t, where in (("job", _job, _ROOT_JOB), ("batch", _batch, _LONE_BATCH)):
        q = sa.select(t.c.id, t.c.created_at).where(*where)
        if owner:
            q = q.where(t.c.owner == owner)
        if after:
            q = q.where(sa.tuple_(t.c.created_at, t.c.id) < after)
        picks.append((kind, q.order_by(t.c.created_at.desc(), t.c.id.desc()).limit(limit + 1)))
    with session() as s:
        conn = s.connection()
        # Each source's first limit+1 hold every row of the merged first limit+1.
        rows = sorted(((r.created_at, r.id, kind) for kind, q in picks for r in conn.execute(q)), reverse=True)
        more, rows = len(rows) > limit, rows[:limit]
        found = _summaries(conn, [i for _, i, k in rows if k == "job"], [i for _, i, k in rows if k == "batch"])
    page = [found[i] for _, i, _ in rows if i in found]
    return SubmissionPage(page, encode_cursor(rows[-1][0], rows[-1][1]) if more and rows else None)


def submission_summaries(*, viewer: User, ids: list[str]) -> dict[str, SubmissionSummary]:
    """The current summary of each submission named (root job id or lone batch id);
    ids that name no submission (any more) are left out."""
    _check_admin(viewer)
    ids = sorted(set(ids))
    if not ids:
        return {}
    with session() as s:
        conn = s.connection()
        jobs, batches = [], []
        for chunk in _chunks(ids):
            jobs += conn.execute(sa.select(_job.c.id).where(_job.c.id.in_(chunk), *_ROOT_JOB)).scalars().all()
            batches += conn.execute(sa.select(_batch.c.id).where(_batch.c.id.in_(chunk), *_LONE_BATCH)).scalars().all()
        return _summaries(conn, jobs, batches)
