"""The jobs list as the panel and the API sort and search it: newest created (the
default), newest started, or longest run first; found by an id, an id prefix, or words
of what a job is about (its subject: a batch's label, an item's name, a pipeline run's
name). Each read goes through one index in its order, never a scan or a sort:

- sorted by created, each filter and the created-time range read their own index
  (app.queries.list_jobs);
- sorted by started or by run time, the scope's index of that order; with a filter too,
  a page looks through the next `WINDOW` jobs of that order at most (a bounded read of
  the same index) and says when it stopped short, so Load more looks further;
- an exact job or batch id reads its row; an id prefix the primary key's range, in id
  order;
- words of a subject (any part of it, any case) cannot be served by an index, so they
  are looked for among the next `WINDOW` jobs of the order chosen, the same bounded way.

Cursors name the order they were made for: one sent with another order, or forged,
answers 400 naming `cursor`.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Optional

import sqlalchemy as sa
from sqlmodel import select

from app import queries
from app.db import session
from app.errors import InvalidCursor, InvalidInput
from app.models import Job, User
from app.paging import MAX_LIMIT, decode_cursor, encode_cursor
from app.shapes import text_problem

SORTS = ("created", "started", "duration")
WINDOW = 2000  # jobs a bounded search or filtered sort looks through per page
MAX_QUERY = 200  # characters of a search
# What an id prefix looks like: a job's id is a UUID, lower-case hex and dashes.
_ID_PREFIX = re.compile(r"[0-9a-f-]{4,64}")
# The column of each sort besides created, the prefix of its cursors, and its index.
_ORDER = {"started": ("started_at", "started"), "duration": ("ran_ms", "ran")}


@dataclass
class SearchPage:
    jobs: list[Job]
    next_cursor: Optional[str]
    # "" (no search), "job", "batch", "prefix" (ids starting so), "subject", "none"
    kind: str = ""
    # True when this page stopped after looking through WINDOW jobs: Load more goes on
    bounded: bool = False


def check_range(since: Optional[datetime], until: Optional[datetime]) -> None:
    if since and until and _utc(since) >= _utc(until):
        raise InvalidInput("until must be later than since (the range is since ≤ created < until).", field="until")


def check_query(q: str) -> str:
    q = (q or "").strip()
    if len(q) > MAX_QUERY or text_problem(q):
        raise InvalidInput(f"q must be text of at most {MAX_QUERY} characters, without control characters.",
                           field="q")
    return q


def find_jobs(*, viewer: User, owner: Optional[str] = None, all_users: bool = False,
              filters: Optional[queries.JobFilter] = None, sort: str = "created", q: str = "",
              cursor: Optional[str] = None, limit: int = 25) -> SearchPage:
    """The jobs the viewer asks for (their own; an admin's: one user's or everyone's), in
    the order `sort` names, found by `q` when given."""
    if sort not in SORTS:
        raise InvalidInput(f"Unknown sort {sort[:40]!r}; sorts: {', '.join(SORTS)}.", field="sort")
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}.", field="limit")
    f = filters or queries.JobFilter()
    check_range(f.since, f.until)
    q = check_query(q)
    scope = _scope_owner(viewer, owner, all_users)
    if q:
        # An exact id first (its cursors are created's); a prefix's or words' cursor skips it.
        kind, page = queries.search_jobs(viewer=viewer, text=q, filters=f, cursor=cursor, limit=limit) \
            if not (cursor or "").startswith(_B64_PREFIXES) else (None, None)
        if kind:
            return SearchPage(page.jobs, page.next_cursor, kind)
        if _ID_PREFIX.fullmatch(q):
            found = _by_id_prefix(scope, f, q, cursor, limit)
            if found.jobs or cursor:
                return found
        return _windowed(scope, f, sort, cursor, limit, _words(q), kind="subject")
    if sort == "created":
        page = queries.list_jobs(viewer=viewer, owner=owner, all_users=all_users, filters=f, cursor=cursor,
                                 limit=limit)
        return SearchPage(page.jobs, page.next_cursor)
    if _filtered(f):
        return _windowed(scope, f, sort, cursor, limit, None, kind="")
    return _sorted(scope, sort, cursor, limit)


def _scope_owner(viewer: User, owner: Optional[str], all_users: bool) -> Optional[str]:
    """Whose jobs: one owner, or None for everyone's (admins only)."""
    if viewer.role in ("admin", "service"):
        if owner:
            return owner
        return None if all_users else viewer.username
    return viewer.username


def _filtered(f: queries.JobFilter) -> bool:
    return bool(f.status or f.job_type or f.job_subtype or f.kinds or f.owner or f.since or f.until)


# --- cursors of each order ---------------------------------------------------------------

# How the cursors of the other orders begin once encoded (a created cursor begins with a year).
_B64_PREFIXES = tuple(base64.urlsafe_b64encode(p.encode()).decode()[:4] for p in ("started:", "ran:", "id:"))


def encode(kind: str, key: Any, id_: str) -> str:
    text = f"{kind}:{key.isoformat() if isinstance(key, datetime) else key}|{id_}"
    return base64.urlsafe_b64encode(text.encode()).decode()


def decode(cursor: str, kind: str) -> tuple[Any, str]:
    """The (key, id) a cursor of order `kind` stands for; anything else a 400 naming it."""
    bad = InvalidCursor(f"The cursor is not one this server gave out for this order ({kind}): send back the "
                        "next_cursor of the previous page unchanged, with the same sort and search.", field="cursor")
    try:
        text = base64.urlsafe_b64decode(cursor.encode("ascii")).decode("utf-8")
        head, _, rest = text.partition(":")
        if head != kind:
            raise bad
        key_text, id_ = rest.split("|", 1)
        if kind == "started":
            key: Any = datetime.fromisoformat(key_text)
            if key.tzinfo is None:
                raise bad
            key = key.astimezone(timezone.utc)
        elif kind == "ran":
            key = int(key_text)
            if not 0 <= key < 2 ** 62:
                raise bad
        else:
            key = None
    except (ValueError, TypeError, OverflowError, binascii.Error, UnicodeError):
        raise bad from None
    if not id_ or len(id_) > 64 or text_problem(id_):
        raise bad
    return key, id_


# --- the reads ----------------------------------------------------------------------------


def _base(owner: Optional[str]):
    stmt = select(Job)
    return stmt.where(Job.owner == owner) if owner else stmt


def _ordered(stmt, sort: str, cursor: Optional[str]):
    """`stmt` in the order of `sort`, after `cursor`: newest created or started first,
    longest run first; ties by id."""
    if sort == "created":
        stmt = stmt.order_by(Job.created_at.desc(), Job.id.desc())
        if cursor:
            stmt = stmt.where(sa.tuple_(Job.created_at, Job.id) < decode_cursor(cursor))
        return stmt
    column, kind = _ORDER[sort]
    col = getattr(Job, column)
    stmt = stmt.where(col.isnot(None)).order_by(col.desc(), Job.id.desc())
    if cursor:
        stmt = stmt.where(sa.tuple_(col, Job.id) < decode(cursor, kind))
    return stmt


def cursor_of(job: Job, sort: str) -> str:
    if sort == "created":
        return encode_cursor(job.created_at, job.id)
    column, kind = _ORDER[sort]
    return encode(kind, getattr(job, column), job.id)


def statement(owner: Optional[str], sort: str, cursor: Optional[str], limit: int):
    """The read of one page of a scope in an order (the plan tests read it too)."""
    return _ordered(_base(owner), sort, cursor).limit(limit)


def _sorted(owner: Optional[str], sort: str, cursor: Optional[str], limit: int) -> SearchPage:
    with session() as s:
        rows = list(s.exec(statement(owner, sort, cursor, limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return SearchPage(rows, cursor_of(rows[-1], sort) if more else None)


def _by_id_prefix(owner: Optional[str], f: queries.JobFilter, prefix: str, cursor: Optional[str],
                  limit: int) -> SearchPage:
    """Jobs whose id starts with `prefix`, in id order: a range of the primary key."""
    stmt = f.apply(_base(owner)).where(Job.id >= prefix, Job.id < prefix + "\x7f")
    if cursor:
        _, after = decode(cursor, "id")
        stmt = stmt.where(Job.id > after)
    with session() as s:
        rows = list(s.exec(stmt.order_by(Job.id).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return SearchPage(rows, encode("id", "", rows[-1].id) if more else None, "prefix" if rows or cursor else "none")


def _words(q: str) -> Callable[[Any], bool]:
    words = q.casefold().split()
    return lambda row: all(w in (row.subject or "").casefold() for w in words)


def window_statement(owner: Optional[str], sort: str, cursor: Optional[str], f: Optional[queries.JobFilter] = None):
    """The bounded read: the next WINDOW jobs of the order, only what a filter looks at.
    No time is read back (parsing thousands costs more than the read): whether a job is
    in the created-time range is worked out by the database, as `in_range`."""
    f = f or queries.JobFilter()
    conds = [Job.created_at >= _utc(f.since)] if f.since else []
    conds += [Job.created_at < _utc(f.until)] if f.until else []
    in_range = (sa.and_(*conds) if conds else sa.true()).label("in_range")
    stmt = select(Job.id, Job.status, Job.job_type, Job.job_subtype, Job.subject, in_range)
    if owner:
        stmt = stmt.where(Job.owner == owner)
    return _ordered(stmt, sort, cursor).limit(WINDOW)


def _windowed(owner: Optional[str], f: queries.JobFilter, sort: str, cursor: Optional[str], limit: int,
              words: Optional[Callable[[Any], bool]], *, kind: str) -> SearchPage:
    keep = _keeps(f)
    with session() as s:
        window = list(s.execute(window_statement(owner, sort, cursor, f)))
    found = [r for r in window if keep(r) and (words is None or words(r))]
    if len(found) > limit:
        found, last, bounded = found[:limit], found[limit - 1], False
    elif len(window) == WINDOW:
        last, bounded = window[-1], True  # looked as far as one page may: Load more goes on
    else:
        last, bounded = None, False
    by_id = queries.jobs_by_ids([r.id for r in found] + ([last.id] if last is not None else []))
    jobs = [by_id[r.id] for r in found if r.id in by_id]
    nxt = cursor_of(by_id[last.id], sort) if last is not None and last.id in by_id else None
    return SearchPage(jobs, nxt, kind if jobs or nxt else ("none" if kind else ""), bounded)


def _keeps(f: queries.JobFilter) -> Callable[[Any], bool]:
    if f.status:
        queries.JobFilter(status=f.status).apply(select(Job))  # an unknown status answers 422

    def keep(r) -> bool:
        return bool(r.in_range) and not (
            (f.status and r.status != f.status) or (f.job_type and r.job_type != f.job_type)
            or (f.job_subtype and r.job_subtype != f.job_subtype)
            or (f.kinds is not None and (r.job_type, r.job_subtype) not in f.kinds))
    return keep


def _utc(t: datetime) -> datetime:
    return t.replace(tzinfo=timezone.utc) if t.tzinfo is None else t.astimezone(timezone.utc)
