"""The filter of a bulk action ("every job matching this"): read from what a caller
sent, checked (keys, statuses, times, whose jobs), walked in keyset chunks over one
index, and counted from the kept aggregates where they hold the answer.

The filter is that of the jobs panel and `GET /api/jobs`: status (one or a list),
job_type, job_subtype, since, until, and the scope: the caller's own jobs, or for
admins one user's (`owner`), everyone's (`all_users`), a batch's or a workflow's.
An action acts only on the statuses it can move: cancel on live jobs, retry on
FAILED, CRASHED and CANCELLED ones, delete on any; a filter naming no such status is
refused before anything is lodged.

A walk reads its index newest first by `(created_at, id)`, `chunk` rows a query, and
checks the rest of the filter on the rows read, so each query reads at most `chunk`
rows however few of them match (a status the index does not hold, say). Where the
status leads an index (one user's or everyone's jobs), each status is a pass of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Iterator, Optional

import sqlalchemy as sa

from app import counts
from app.errors import InvalidInput, NotFound, PermissionDenied
from app.lifecycle import RETRYABLE, JobStatus
from app.models import Batch, Job, User
from app.shapes import text_problem

ACTIONS = ("cancel", "retry", "delete")
ALL = tuple(s.value for s in JobStatus)
LIVE = (JobStatus.PENDING.value, JobStatus.DEQUEUED.value, JobStatus.IN_PROGRESS.value)
# In the state machine's order: a job that moves on while a walk goes (taken by a
# worker) is met again in a later status's pass, never missed.
ACTS_ON = {"cancel": LIVE, "retry": tuple(s.value for s in JobStatus if s in RETRYABLE), "delete": ALL}
KEYS = ("status", "job_type", "job_subtype", "owner", "all_users", "batch_id", "workflow_id", "since", "until")
# Beyond this many rows a count the aggregates do not hold says "at least".
COUNT_CAP = 10_000

_job, _batch = Job.__table__, Batch.__table__
_COLS = (_job.c.id, _job.c.created_at, _job.c.status, _job.c.owner, _job.c.job_type, _job.c.job_subtype,
         _job.c.batch_id, _job.c.workflow_id)


def _admin(actor: User) -> bool:
    return actor.role in ("admin", "service")


@dataclass(frozen=True)
class BulkFilter:
    statuses: tuple[str, ...]  # the statuses acted on: the action's, narrowed by the filter's
    owner: Optional[str] = None  # None: every owner (within a batch or workflow, or all users)
    job_type: Optional[str] = None
    job_subtype: Optional[str] = None
    batch_id: Optional[str] = None
    workflow_id: Optional[str] = None
    since: Optional[datetime] = None
    until: Optional[datetime] = None

    def as_payload(self) -> dict[str, Any]:
        """The filter as a bulk job keeps it (read again by `parse` when it runs)."""
        out: dict[str, Any] = {"status": list(self.statuses)}
        if self.owner is None:
            out["all_users"] = True
        else:
            out["owner"] = self.owner
        for k in ("job_type", "job_subtype", "batch_id", "workflow_id"):
            if getattr(self, k):
                out[k] = getattr(self, k)
        for k in ("since", "until"):
            if getattr(self, k):
                out[k] = getattr(self, k).isoformat()
        return out

    def describe(self) -> str:
        """One line for people: "status FAILED, type SYSTEM, of alice"."""
        parts = [f"status {'/'.join(self.statuses)}" if self.statuses != ALL else "any status"]
        for k, word in (("job_type", "type"), ("job_subtype", "subtype"), ("batch_id", "batch"),
                        ("workflow_id", "workflow")):
            if getattr(self, k):
                parts.append(f"{word} {getattr(self, k)}")
        if self.since:
            parts.append(f"since {self.since.isoformat()}")
        if self.until:
            parts.append(f"until {self.until.isoformat()}")
        parts.append(f"of {self.owner}" if self.owner else "of every user")
        return ", ".join(parts)

    def matches(self, row: Any) -> bool:
        return (row.status in self.statuses
                and (self.owner is None or row.owner == self.owner)
                and (self.job_type is None or row.job_type == self.job_type)
                and (self.job_subtype is None or row.job_subtype == self.job_subtype)
                and (self.batch_id is None or row.batch_id == self.batch_id)
                and (self.workflow_id is None or row.workflow_id == self.workflow_id)
                and (self.since is None or _utc(row.created_at) >= self.since)
                and (self.until is None or _utc(row.created_at) < self.until))


def _utc(t: datetime) -> datetime:
    return t.replace(tzinfo=timezone.utc) if t.tzinfo is None else t.astimezone(timezone.utc)


def _text(raw: dict[str, Any], key: str, size: int) -> Optional[str]:
    value = raw.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > size or text_problem(value):
        raise InvalidInput(f"filter.{key} is a line of text of at most {size} characters.", field=f"filter.{key}")
    return value


def _time(raw: dict[str, Any], key: str) -> Optional[datetime]:
    value = raw.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            value = None
    if not isinstance(value, datetime):
        raise InvalidInput(f"filter.{key} is an ISO 8601 time, e.g. 2026-05-01T12:00:00Z.", field=f"filter.{key}")
    try:
        return _utc(value)
    except (OverflowError, ValueError):
        raise InvalidInput(f"filter.{key} is out of range.", field=f"filter.{key}") from None


def _statuses(action: str, value: Any) -> tuple[str, ...]:
    acts_on = ACTS_ON[action]
    if value is None or value == "" or value == []:
        return acts_on
    given = [value] if isinstance(value, str) else value
    if not isinstance(given, list) or len(given) > len(ALL) or not all(isinstance(s, str) for s in given):
        raise InvalidInput("filter.status is a status or a list of statuses.", field="filter.status")
    wanted = []
    for s in given:
        if s.strip().upper() not in ALL:
            raise InvalidInput(f"Unknown status {s[:40]!r} in filter.status; statuses: {', '.join(ALL)}.",
                               field="filter.status")
        wanted.append(s.strip().upper())
    kept = tuple(s for s in acts_on if s in wanted)
    if not kept:
        raise InvalidInput(f"{action} acts on {', '.join(acts_on)} jobs; filter.status names only "
                           f"{', '.join(dict.fromkeys(wanted))}: nothing to {action}.", field="filter.status")
    return kept


def parse(actor: User, action: str, raw: Any) -> BulkFilter:
    """The filter `raw` (a dict, as sent) of `action` for `actor`, checked: unknown keys,
    statuses and times are InvalidInput naming them; another user's jobs
    (owner, all_users) are for admins (PermissionDenied); a batch or workflow the actor
    may not see is NotFound."""
    if action not in ACTIONS:
        raise InvalidInput(f"action is one of {', '.join(ACTIONS)}, not {str(action)[:40]!r}.", field="action")
    if not isinstance(raw, dict):
        raise InvalidInput("filter is an object, e.g. {\"status\": \"FAILED\"}.", field="filter")
    unknown = [k for k in raw if k not in KEYS]
    if unknown:
        raise InvalidInput(f"Unknown filter key {str(unknown[0])[:40]!r}; a filter takes {', '.join(KEYS)}.",
                           field=f"filter.{str(unknown[0])[:40]}")
    statuses = _statuses(action, raw.get("status"))
    owner = _text(raw, "owner", 64)
    everyone = raw.get("all_users") or False
    if not isinstance(everyone, bool):
        raise InvalidInput("filter.all_users is true or false.", field="filter.all_users")
    batch_id, workflow_id = _text(raw, "batch_id", 64), _text(raw, "workflow_id", 64)
    since, until = _time(raw, "since"), _time(raw, "until")
    if owner and everyone:
        raise InvalidInput("filter.owner and filter.all_users exclude each other: name one user or all.",
                           field="filter.all_users")
    if not _admin(actor):
        if everyone or (owner and owner != actor.username):
            raise PermissionDenied("Only admins act on other users' jobs: leave out owner and all_users.")
        owner = actor.username
    elif not owner and not everyone and not (batch_id or workflow_id):
        owner = actor.username  # as GET /api/jobs lists an admin's own jobs
    if batch_id:
        from app.queries import get_batch

        get_batch(viewer=actor, batch_id=batch_id)  # NotFound when not theirs
    if workflow_id:
        from app.launch import job_for

        try:
            job_for(actor, workflow_id)  # a workflow's id is its root job's
        except NotFound:
            raise NotFound(f"No workflow {workflow_id}.") from None
    return BulkFilter(statuses=statuses, owner=owner, job_type=_text(raw, "job_type", 32),
                      job_subtype=_text(raw, "job_subtype", 64), batch_id=batch_id, workflow_id=workflow_id,
                      since=since, until=until)


# --- the walk ------------------------------------------------------------------------


def passes(f: BulkFilter) -> list[list[Any]]:
    """The conditions of each pass: the leading columns of the one index it reads (the
    workflow's, the batch's, the subtype's, the type's, else each status's), and the
    filter's time range, which every one of these indexes holds after them."""
    when = []
    if f.since:
        when.append(_job.c.created_at >= f.since)
    if f.until:
        when.append(_job.c.created_at < f.until)
    if f.workflow_id:
        return [[_job.c.workflow_id == f.workflow_id, *when]]
    if f.batch_id:
        return [[_job.c.batch_id == f.batch_id, *when]]
    mine = [_job.c.owner == f.owner] if f.owner else []
    if f.job_subtype:
        return [[*mine, _job.c.job_subtype == f.job_subtype, *when]]
    if f.job_type:
        return [[*mine, _job.c.job_type == f.job_type, *when]]
    if f.statuses == ALL:
        return [[*mine, *when]]
    return [[*mine, _job.c.status == s, *when] for s in f.statuses]


def page_query(conds: list[Any], *, chunk: int, after: Optional[tuple[datetime, str]] = None) -> sa.Select:
    """One chunk of a pass, newest first after the keyset `after`."""
    q = sa.select(*_COLS).where(*conds).order_by(_job.c.created_at.desc(), _job.c.id.desc()).limit(chunk)
    return q.where(sa.tuple_(_job.c.created_at, _job.c.id) < after) if after is not None else q


def walk(f: BulkFilter, *, chunk: int, exclude: Optional[str] = None) -> Iterator[tuple[int, list[Any]]]:
    """Each chunk read: (rows read, the rows of them that match the filter), newest
    first. A row is read once; rows changed by acting on earlier chunks stay behind the
    keyset, so none is met twice."""
    from app.db import session

    for conds in passes(f):
        after = None
        while True:
            with session() as s:
                rows = s.connection().execute(page_query(conds, chunk=chunk, after=after)).all()
            if not rows:
                break
            after = (rows[-1].created_at, rows[-1].id)
            yield len(rows), [r for r in rows if r.id != exclude and f.matches(r)]
            if len(rows) < chunk:
                break


# --- the count -----------------------------------------------------------------------


@dataclass(frozen=True)
class Count:
    n: int
    exact: bool  # False: at least n (more than COUNT_CAP rows to look at)


def count(f: BulkFilter, *, cap: int = COUNT_CAP) -> Count:
    """How many jobs the filter acts on: from the kept counts when they hold it (an owner's
    or everyone's jobs by status, a batch's by status), else by reading the walk's index
    up to `cap` rows (exact below it, at least that many past it)."""
    plain = not (f.job_type or f.job_subtype or f.workflow_id or f.since or f.until)
    if plain and not f.batch_id:
        kept = counts.read(f.owner)
        return Count(sum(kept[s] for s in f.statuses), True)
    if plain:
        from app.db import session

        with session() as s:
            b = s.connection().execute(sa.select(_batch).where(_batch.c.id == f.batch_id)).first()
        if b is None or (f.owner and b.owner != f.owner):
            return Count(0, True)
        return Count(sum(getattr(b, st.lower()) for st in f.statuses), True)
    n = read = 0
    for got, rows in walk(f, chunk=min(cap + 1, 5000)):
        read += got
        n += len(rows)
        if read > cap:
            return Count(n, False)
    return Count(n, True)
