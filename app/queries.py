"""Read side for the console and the API: lists paged by keyset `(created_at, id)`,
never by offset, so "load more" costs the same at any depth; each has its index."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Optional

import sqlalchemy as sa
from sqlmodel import select

from app import counts
from app.db import session
from app.errors import InvalidInput, NotFound
from app.lifecycle import JobStatus
from app.models import Batch, Item, Job, JobFile, JobMessage, User
from app.paging import MAX_LIMIT, in_order, newest_first  # noqa: F401 (MAX_LIMIT is part of this module's API)

@dataclass
class JobPage:
    jobs: list[Job]
    next_cursor: Optional[str]


@dataclass
class JobFilter:
    status: Optional[str] = None
    job_type: Optional[str] = None
    job_subtype: Optional[str] = None
    # Any of these (type, subtype) pairs, e.g. only the types a compatible API knows.
    kinds: Optional[tuple[tuple[str, str], ...]] = None
    owner: Optional[str] = None
    since: Optional[datetime] = None  # created at or after
    until: Optional[datetime] = None  # created before

    def apply(self, stmt):
        if self.status:
            try:
                JobStatus(self.status)
            except ValueError:
                raise InvalidInput(f"Unknown status {self.status!r}; statuses: "
                                   f"{', '.join(s.value for s in JobStatus)}.", field="status") from None
            stmt = stmt.where(Job.status == self.status)
        if self.job_type:
            stmt = stmt.where(Job.job_type == self.job_type)
        if self.job_subtype:
            stmt = stmt.where(Job.job_subtype == self.job_subtype)
        if self.kinds is not None:
            stmt = stmt.where(sa.tuple_(Job.job_type, Job.job_subtype).in_(list(self.kinds)))
        if self.owner:
            stmt = stmt.where(Job.owner == self.owner)
        if self.since:
            stmt = stmt.where(Job.created_at >= _utc(self.since))
        if self.until:
            stmt = stmt.where(Job.created_at < _utc(self.until))
        return stmt


def _utc(t: datetime) -> datetime:
    """A time without a zone is UTC, as every stored time is."""
    return t.replace(tzinfo=timezone.utc) if t.tzinfo is None else t.astimezone(timezone.utc)


def _page(stmt, cursor: Optional[str], limit: int) -> JobPage:
    return JobPage(*newest_first(stmt, Job, cursor=cursor, limit=limit))


def list_jobs(*, viewer: User, owner: Optional[str] = None, all_users: bool = False,
              filters: Optional[JobFilter] = None, cursor: Optional[str] = None, limit: int = 25) -> JobPage:
    """A user's jobs newest first. Admins may ask for all users, or one user's."""
    stmt = select(Job)
    if viewer.role in ("admin", "service"):
        if owner:
            stmt = stmt.where(Job.owner == owner)
        elif not all_users:
            stmt = stmt.where(Job.owner == viewer.username)
    else:
        stmt = stmt.where(Job.owner == viewer.username)
    return _page((filters or JobFilter()).apply(stmt), cursor, limit)


def status_counts(*, viewer: User, owner: Optional[str] = None, all_users: bool = False) -> dict[str, int]:
    """Per-status counts of the jobs the viewer asks for, as kept by every change
    (app.counts): a few rows read, however many jobs there are."""
    if viewer.role in ("admin", "service") and (owner or all_users):
        return counts.read(owner or None)
    return counts.read(viewer.username)


def get_batch(*, viewer: User, batch_id: str) -> Batch:
    with session() as s:
        batch = s.get(Batch, batch_id)
    if batch is None or not (batch.owner == viewer.username or viewer.role in ("admin", "service")):
        raise NotFound(f"No batch {batch_id}.")
    return batch


def batch_counts(batch: Batch) -> dict[str, int]:
    return {st.value: getattr(batch, st.value.lower()) for st in JobStatus}


def batch_jobs(*, viewer: User, batch_id: str, filters: Optional[JobFilter] = None,
               failures_only: bool = False, cursor: Optional[str] = None, limit: int = 50) -> JobPage:
    get_batch(viewer=viewer, batch_id=batch_id)
    stmt = select(Job).where(Job.batch_id == batch_id)
    if failures_only:
        stmt = stmt.where(Job.status.in_([JobStatus.FAILED.value, JobStatus.CRASHED.value]))
    return _page((filters or JobFilter()).apply(stmt), cursor, limit)


def batch_jobs_in_order(*, viewer: User, batch_id: str, failures_only: bool = False,
                        cursor: Optional[str] = None, limit: int = 50) -> JobPage:
    """A batch's jobs in the order they were lodged (a CSV file's rows, then any added
    later), as the batch view and its CSV show them; paged on ix_job_batch_row."""
    get_batch(viewer=viewer, batch_id=batch_id)
    stmt = select(Job).where(Job.batch_id == batch_id)
    if failures_only:
        stmt = stmt.where(Job.status.in_([JobStatus.FAILED.value, JobStatus.CRASHED.value]))
    return JobPage(*in_order(stmt, Job, Job.batch_row, cursor=cursor, limit=limit))


def list_batches(*, viewer: User, all_users: bool = False, cursor: Optional[str] = None,
                 limit: int = 25) -> tuple[list[Batch], Optional[str]]:
    stmt = select(Batch)
    if not (all_users and viewer.role in ("admin", "service")):
        stmt = stmt.where(Batch.owner == viewer.username)
    return newest_first(stmt, Batch, cursor=cursor, limit=limit)


def job_messages(job_id: str) -> list[JobMessage]:
    with session() as s:
        return list(s.exec(select(JobMessage).where(JobMessage.job_id == job_id).order_by(JobMessage.id)))


def job_files(job_id: str) -> list[JobFile]:
    with session() as s:
        return list(s.exec(select(JobFile).where(JobFile.job_id == job_id).order_by(JobFile.name)))


@dataclass
class WorkflowGraph:
    nodes: list[dict[str, Any]] = field(default_factory=list)
    edges: list[dict[str, str]] = field(default_factory=list)

    @property
    def overall(self) -> str:
        """One state for the whole graph: the worst that is happening in it."""
        statuses = {n["status"] for n in self.nodes}
        for st in ("CRASHED", "FAILED", "IN_PROGRESS", "DEQUEUED", "PENDING", "CANCELLED"):
            if st in statuses:
                return st
        return "SUCCEEDED" if statuses else "NONE"


def item_workflow(item_id: str) -> WorkflowGraph:
    """The jobs of an item's workflows (create, version) as nodes, parent → child edges."""
    with session() as s:
        item = s.get(Item, item_id)
        if item is None:
            raise NotFound(f"No item {item_id}.")
        roots = [w for w in (item.create_workflow_id, item.version_workflow_id) if w]
        conds = [Job.entity_id == item_id]
        if roots:
            conds.append(Job.workflow_id.in_(roots))
        jobs = list(s.exec(select(Job).where(sa.or_(*conds)).order_by(Job.created_at, Job.id)))
    g = WorkflowGraph()
    ids = {j.id for j in jobs}
    for j in jobs:
        g.nodes.append({"id": j.id, "job_type": j.job_type, "job_subtype": j.job_subtype,
                        "status": j.status, "attempt": j.attempt, "workflow_id": j.workflow_id,
                        "created_at": j.created_at.isoformat()})
        if j.parent_job_id and j.parent_job_id in ids:
            g.edges.append({"source": j.parent_job_id, "target": j.id})
    return g


# --- console read helpers -----------------------------------------------------------


def jobs_by_ids(job_ids: list[str]) -> dict[str, Job]:
    """Jobs by id in one query (the live push reads each changed job once for every
    browser that shows it)."""
    if not job_ids:
        return {}
    with session() as s:
        return {j.id: j for j in s.exec(select(Job).where(Job.id.in_(list(set(job_ids)))))}


def batches_by_ids(batch_ids: list[str]) -> dict[str, Batch]:
    if not batch_ids:
        return {}
    with session() as s:
        return {b.id: b for b in s.exec(select(Batch).where(Batch.id.in_(list(set(batch_ids)))))}


def job_markers(jobs: list[Job]) -> tuple[dict[str, int], set[str]]:
    """For a page of jobs: the size of each batch they are in, and which of them have
    next steps (the root of a workflow). Two indexed queries, whatever the page."""
    batch_ids = {j.batch_id for j in jobs if j.batch_id}
    ids = [j.id for j in jobs]
    with session() as s:
        totals = dict(s.exec(select(Batch.id, Batch.total).where(Batch.id.in_(batch_ids))).all()) if batch_ids else {}
        parents = set(s.exec(select(Job.parent_job_id).where(Job.parent_job_id.in_(ids)).distinct())) if ids else set()
    return totals, parents


def search_jobs(*, viewer: User, text: str, filters: Optional[JobFilter] = None,
                cursor: Optional[str] = None, limit: int = 25) -> tuple[Optional[str], JobPage]:
    """Jobs found by a session (job) id or a batch id the viewer may see: ("job", page),
    ("batch", page), or (None, empty page) when the id names neither."""
    text = (text or "").strip()
    admin = viewer.role in ("admin", "service")
    with session() as s:
        job = s.get(Job, text) if text else None
        batch = s.get(Batch, text) if text and job is None else None
    if job is not None and (admin or job.owner == viewer.username):
        return "job", _page((filters or JobFilter()).apply(select(Job).where(Job.id == text)), cursor, limit)
    if batch is not None and (admin or batch.owner == viewer.username):
        return "batch", _page((filters or JobFilter()).apply(select(Job).where(Job.batch_id == text)), cursor, limit)
    return None, JobPage([], None)


def job_children(job_id: str) -> list[Job]:
    """The next steps a job lodged (its children in the workflow)."""
    with session() as s:
        return list(s.exec(select(Job).where(Job.parent_job_id == job_id).order_by(Job.created_at, Job.id)))


def list_usernames() -> list[str]:
    with session() as s:
        return list(s.exec(select(User.username).order_by(User.username)))


def items_by_ids(item_ids: list[str]) -> dict[str, Item]:
    if not item_ids:
        return {}
    with session() as s:
        return {i.id: i for i in s.exec(select(Item).where(Item.id.in_(list(set(item_ids)))))}
