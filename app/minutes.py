"""Per-minute aggregate rows kept in the caller's write transaction, for the metrics
beyond app.metrics' finished jobs (queue waits, failures by worker, workers busy and
idle, a user's own jobs).

A keeper adds a delta to a key of its table; inside `write_conn` the deltas are gathered
and written just before the commit, after app.counts' and app.metrics' (their modules
are imported first, so every transaction takes the rows' locks in the same order), one
upsert per table, keys in sorted order. Outside `write_conn` (the housekeeper's samples)
they are written at once. The housekeeper prunes every such table past
JOBDECK_METRICS_KEEP_DAYS an hour of minutes at a time, as app.metrics does its own.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Callable, Optional, Sequence

import sqlalchemy as sa

from app import metrics  # noqa: F401 (imported first: its flush runs before ours)
from app.db import WRITE_SCRATCH, before_commit, dialect_insert, utcnow, write_conn
from app.metrics import TOTAL, minute_of
from app.settings import get_settings

log = logging.getLogger("jobdeck.minutes")


@dataclass(frozen=True)
class Kept:
    """A table of per-minute aggregates: its key columns (the minute among them), the
    columns a delta adds to, and the columns set only when a row is first written."""

    table: sa.Table
    key: tuple[str, ...]
    values: tuple[str, ...]
    first: tuple[str, ...] = ()
    # Run after old minutes went: removes what no kept minute needs any more (a gone
    # worker's running total).
    after_prune: Optional[Callable[[sa.Connection], int]] = None


KEPT: list[Kept] = []


def kept(table: sa.Table, key: Sequence[str], values: Sequence[str], first: Sequence[str] = (),
         after_prune: Optional[Callable[[sa.Connection], int]] = None) -> Kept:
    k = Kept(table, tuple(key), tuple(values), tuple(first), after_prune)
    KEPT.append(k)
    return k


def add(conn: Optional[sa.Connection], k: Kept, key: tuple, values: Sequence[float], first: tuple = ()) -> None:
    """Add `values` to the row `key` of `k` (written before the commit of the caller's
    `write_conn` transaction, or at once)."""
    scratch = conn.info.get(WRITE_SCRATCH) if conn is not None else None
    if scratch is None:
        if conn is None:
            with write_conn() as c:
                _write(c, k, {key: (list(values), first)})
        else:
            _write(conn, k, {key: (list(values), first)})
        return
    rows = scratch.setdefault("kept", {}).setdefault(k.table.name, (k, {}))[1]
    if key in rows:
        rows[key] = ([a + b for a, b in zip(rows[key][0], values)], rows[key][1])
    else:
        rows[key] = (list(values), first)


@before_commit
def _flush(conn: sa.Connection) -> None:
    gathered = conn.info[WRITE_SCRATCH].pop("kept", None)
    for name in sorted(gathered or ()):
        k, rows = gathered[name]
        _write(conn, k, rows)


@lru_cache(maxsize=None)
def _upsert(k: Kept, dialect: str) -> sa.Insert:
    t = k.table
    stmt = dialect_insert(t, dialect).values({c: sa.bindparam(c) for c in (*k.key, *k.values, *k.first)})
    return stmt.on_conflict_do_update(index_elements=list(k.key),
                                      set_={c: t.c[c] + stmt.excluded[c] for c in k.values})


def _write(conn: sa.Connection, k: Kept, rows: dict) -> None:
    out = []
    for key, (values, first) in sorted(rows.items(), key=lambda kv: tuple(str(x) for x in kv[0])):
        row = dict(zip(k.key, key))
        for c, v in zip(k.values, values):
            row[c] = float(v) if isinstance(k.table.c[c].type, sa.Float) else int(v)
        row.update(zip(k.first, first))
        out.append(row)
    if out:
        conn.execute(_upsert(k, conn.dialect.name), out)


def prune(*, now: Optional[datetime] = None, keep_days: Optional[float] = None, max_chunks: int = 24) -> int:
    """Remove every kept table's minutes older than `keep_days` (JOBDECK_METRICS_KEEP_DAYS),
    an hour of minutes per transaction, at most `max_chunks` hours a table a call; the
    running totals stay while their key has a kept minute. Returns the rows removed."""
    keep = get_settings().metrics_keep_days if keep_days is None else keep_days
    if keep <= 0:
        return 0
    cutoff = minute_of(now or utcnow()) - timedelta(days=keep)
    removed = 0
    for k in KEPT:
        t = k.table
        for _ in range(max_chunks):
            with write_conn() as conn:
                oldest = conn.execute(sa.select(sa.func.min(t.c.minute)).where(t.c.minute > TOTAL)).scalar()
                if oldest is None or oldest >= cutoff:
                    break
                upto = min(cutoff, oldest + timedelta(hours=1))
                removed += conn.execute(sa.delete(t).where(t.c.minute > TOTAL, t.c.minute < upto)).rowcount
        if k.after_prune is not None:
            with write_conn() as conn:
                removed += k.after_prune(conn)
    if removed:
        log.info("metrics: removed %d kept rows older than %s", removed, cutoff.isoformat())
    return removed


def minutes_between(since: datetime, until: datetime) -> list[datetime]:
    """Every UTC minute from `since` to `until`, both included."""
    start, end = minute_of(since), minute_of(until)
    return [start + timedelta(minutes=i) for i in range(int((end - start) / timedelta(minutes=1)) + 1)]
