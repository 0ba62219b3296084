"""Fair use of pipelines: how many live submissions one submitter may have, and at which
priority a new one runs (Analytics Automated's QUEUE_HOG_SIZE and QUEUE_HARD_LIMIT).

A submitter is a signed-in user (or their API token), counted by owner, or an anonymous
submitter of a public pipeline, counted by client address. Their live submissions are
the pipeline runs with a job PENDING, DEQUEUED or IN_PROGRESS. A signed-in submitter's
runs go on the high-priority queues, an anonymous one's on the normal ones; from the
soft limit (the hog size) on, one priority lower; at the hard limit a new run is refused
(TooManyActive, 429). Either limit at 0 is off. A pipeline may set its own limits; where
it sets none, the global settings hold.

The count reads one of two partial indexes that hold only live pipeline jobs, by
submitter and run, and stops at the largest limit that matters: its cost is bounded by
the limit, never by how many jobs the submitter or the database has.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import sqlalchemy as sa

from app.db import session
from app.errors import InvalidInput, TooManyActive
from app.keys import PRIORITIES
from app.models import LIVE_PIPELINE_JOB, Job
from app.settings import get_settings

_job = Job.__table__

SIGNED_IN = "high"
ANONYMOUS = "normal"
MAX_LIMIT = 100_000


@dataclass(frozen=True)
class Limits:
    hog_size: int  # from this many live submissions on, one priority lower; 0: off
    hard_limit: int  # at this many, refused; 0: off
    source: str  # where they come from, for messages: "pipeline X" or the setting names


@dataclass(frozen=True)
class Admission:
    priority: str  # high | normal | low: the queues the run's jobs wait on
    active: Optional[int]  # the live submissions counted (up to the largest limit); None: not counted
    limits: Limits


def limits_for(pipeline: Any = None) -> Limits:
    """The limits of a pipeline's runs: its own where it sets them, else the global ones."""
    s = get_settings()
    hog = getattr(pipeline, "queue_hog_size", None)
    hard = getattr(pipeline, "queue_hard_limit", None)
    name = getattr(pipeline, "name", None)
    parts = []
    if hog is not None or hard is not None:
        parts.append(f"pipeline {name}")
    if hog is None or hard is None:
        parts.append("JOBDECK_QUEUE_HOG_SIZE / JOBDECK_QUEUE_HARD_LIMIT")
    return Limits(s.queue_hog_size if hog is None else hog, s.queue_hard_limit if hard is None else hard,
                  " and ".join(parts))


def check_limit(value: Any, field: str) -> Optional[int]:
    """A pipeline's own limit as an admin sets it: None (the global one) or 0 (off) to
    MAX_LIMIT."""
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(value).strip().isdigit():
        raise InvalidInput(f"{field} is a whole number from 0 (off) to {MAX_LIMIT}, or empty for the global "
                           f"setting.", field=field)
    n = int(str(value).strip())
    if n > MAX_LIMIT:
        raise InvalidInput(f"{field} is at most {MAX_LIMIT}; 0 turns it off.", field=field)
    return n


def _count(conn: sa.Connection, *, owner: Optional[str], client_addr: Optional[str], at_most: int) -> int:
    if client_addr is not None:
        who, cond = _job.c.client_addr == client_addr, LIVE_PIPELINE_JOB + " AND client_addr IS NOT NULL"
    else:
        who, cond = _job.c.owner == owner, LIVE_PIPELINE_JOB + " AND client_addr IS NULL"
    # Ordered by run on the index (submitter, workflow_id): DISTINCT stops after at_most runs.
    runs = (sa.select(_job.c.workflow_id).where(who, sa.text(cond)).distinct()
            .order_by(_job.c.workflow_id).limit(at_most).subquery())
    return int(conn.execute(sa.select(sa.func.count()).select_from(runs)).scalar() or 0)


def live_submissions(*, owner: Optional[str], client_addr: Optional[str], at_most: int) -> int:
    """How many live pipeline runs a submitter has, counted up to `at_most`: an anonymous
    submitter's by address, a signed-in one's by owner."""
    if at_most <= 0:
        return 0
    with session() as s:
        return _count(s.connection(), owner=owner, client_addr=client_addr, at_most=at_most)


def lower(priority: str) -> str:
    i = PRIORITIES.index(priority)
    return PRIORITIES[min(i + 1, len(PRIORITIES) - 1)]


def _refused(limits: Limits, active: int, owner: str, client_addr: Optional[str]) -> TooManyActive:
    who = f"This address ({client_addr}) has" if client_addr is not None else f"{owner} has"
    return TooManyActive(
        f"Too many active submissions: {who} {active} submitted or running, and the limit is "
        f"{limits.hard_limit} ({limits.source}). Submit again when one of them has finished.",
        limit=limits.hard_limit, active=active)


def admit(*, pipeline: Any, owner: str, client_addr: Optional[str]) -> Admission:
    """The priority of a new run of `pipeline` by this submitter, or TooManyActive when
    they are at the hard limit. Reads only, before anything is stored; the transaction
    that lodges the run checks the hard limit once more (`hold`)."""
    limits = limits_for(pipeline)
    base = ANONYMOUS if client_addr is not None else SIGNED_IN
    needed = max(limits.hog_size, limits.hard_limit)
    if needed == 0:
        return Admission(base, None, limits)
    active = live_submissions(owner=owner, client_addr=client_addr, at_most=needed)
    if limits.hard_limit and active >= limits.hard_limit:
        raise _refused(limits, active, owner, client_addr)
    priority = lower(base) if limits.hog_size and active >= limits.hog_size else base
    return Admission(priority, active, limits)


def hold(conn: sa.Connection, admitted: Admission, *, owner: str, client_addr: Optional[str]) -> None:
    """In the transaction that lodges the run, before its rows: the hard limit checked
    again, one submitter at a time, so that submissions arriving together cannot pass it
    between them. SQLite runs one write transaction at a time already; on PostgreSQL a
    lock per submitter (held until the commit) lines them up, and each counts what the
    ones before it committed."""
    limits = admitted.limits
    if not limits.hard_limit:
        return
    if conn.dialect.name == "postgresql":
        who = f"addr:{client_addr}" if client_addr is not None else f"user:{owner}"
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": f"jobdeck-fairuse:{who}"})
    active = _count(conn, owner=owner, client_addr=client_addr, at_most=limits.hard_limit)
    if active >= limits.hard_limit:
        raise _refused(limits, active, owner, client_addr)
