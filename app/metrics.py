"""Live metrics of finished jobs, from aggregates kept by the guarded transition.

Every move to a final status (SUCCEEDED, FAILED, CRASHED, CANCELLED) adds one to the
minute it happened in, per job type and subtype, backend and status, with its run time
(start to end; a job cancelled before it started did not run) in a histogram with
fixed bounds (`app.minute_tables.RUN_BOUNDS`). The same delta goes to the key's running total,
the row of minute 1970-01-01, which Prometheus' counters read. Like the status counts
(app.counts) the deltas are gathered in the transaction and written just before its
commit, one statement, rows in sorted order, each key split over shards by job id, so
workers that finish at once rarely wait on one row. Reading is a handful of rows per
minute shown, whatever the number of jobs; the housekeeper prunes minutes older than
JOBDECK_METRICS_KEEP_DAYS an hour of minutes at a time (never the totals).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Optional

import sqlalchemy as sa

from app import counts  # imported first: its flush runs before ours, the same lock order everywhere
from app.db import WRITE_SCRATCH, before_commit, dialect_insert, get_engine, utcnow, write_conn
from app.minute_tables import RUN_BOUNDS, RUN_BUCKETS, job_minute
from app.settings import get_settings

log = logging.getLogger("jobdeck.metrics")

TOTAL = datetime(1970, 1, 1, tzinfo=timezone.utc)  # the minute of the running totals
FINAL = ("SUCCEEDED", "FAILED", "CRASHED", "CANCELLED")
FAILURES = ("FAILED", "CRASHED")
_KEY = ("minute", "job_type", "job_subtype", "backend", "status", "shard")
_VALUES = ("n", "ran", "run_s", *RUN_BUCKETS)
_t = job_minute


def minute_of(at: datetime) -> datetime:
    return at.astimezone(timezone.utc).replace(second=0, microsecond=0)


def bucket_of(seconds: float) -> int:
    """The histogram bucket of a run time: the first bound it does not exceed."""
    for i, bound in enumerate(RUN_BOUNDS):
        if seconds <= bound:
            return i
    return len(RUN_BOUNDS)


# --- kept by the transition ------------------------------------------------------------


def finished(conn: sa.Connection, *, job_id: str, job_type: str, job_subtype: str, backend: str,
             status: str, at: datetime, started_at: Optional[datetime]) -> None:
    """A job ended with `status` at `at` (run from `started_at`, or never started), in
    the caller's transaction; inside `write_conn`, written just before its commit."""
    values = [0.0] * len(_VALUES)
    values[0] = 1
    if started_at is not None:
        run = max(0.0, (at - started_at).total_seconds())
        values[1], values[2] = 1, run
        values[3 + bucket_of(run)] = 1
    shard = counts.shard_of(job_id)
    deltas = {(m, job_type, job_subtype, backend or "", status, shard): values for m in (minute_of(at), TOTAL)}
    scratch = conn.info.get(WRITE_SCRATCH)
    if scratch is None:
        _write(conn, deltas)
        return
    kept = scratch.setdefault("minutes", {})
    for k, v in deltas.items():
        if k in kept:
            kept[k] = [a + b for a, b in zip(kept[k], v)]
        else:
            kept[k] = v


@before_commit
def _flush(conn: sa.Connection) -> None:
    deltas = conn.info[WRITE_SCRATCH].pop("minutes", None)
    if deltas:
        _write(conn, deltas)


@lru_cache(maxsize=2)
def _upsert(dialect: str) -> sa.Insert:
    stmt = dialect_insert(_t, dialect).values({c: sa.bindparam(c) for c in (*_KEY, *_VALUES)})
    return stmt.on_conflict_do_update(index_elements=list(_KEY),
                                      set_={c: _t.c[c] + stmt.excluded[c] for c in _VALUES})


def _write(conn: sa.Connection, deltas: dict) -> None:
    rows = []
    for key, values in sorted(deltas.items()):
        row = dict(zip(_KEY, key))
        row.update({c: (float(v) if c == "run_s" else int(v)) for c, v in zip(_VALUES, values)})
        rows.append(row)
    if rows:
        conn.execute(_upsert(conn.dialect.name), rows)


# --- pruned by the housekeeper -----------------------------------------------------------


def prune(*, now: Optional[datetime] = None, keep_days: Optional[float] = None, max_chunks: int = 24) -> int:
    """Remove minutes older than `keep_days` (JOBDECK_METRICS_KEEP_DAYS), an hour of
    minutes per transaction, at most `max_chunks` hours a call; the totals stay. Returns
    the rows removed."""
    keep = get_settings().metrics_keep_days if keep_days is None else keep_days
    if keep <= 0:
        return 0
    cutoff = minute_of(now or utcnow()) - timedelta(days=keep)
    removed = 0
    for _ in range(max_chunks):
        with write_conn() as conn:
            oldest = conn.execute(sa.select(sa.func.min(_t.c.minute)).where(_t.c.minute > TOTAL)).scalar()
            if oldest is None or oldest >= cutoff:
                break
            upto = min(cutoff, oldest + timedelta(hours=1))
            removed += conn.execute(sa.delete(_t).where(_t.c.minute > TOTAL, _t.c.minute < upto)).rowcount
    if removed:
        log.info("metrics: removed %d minute rows older than %s", removed, cutoff.isoformat())
    return removed


# --- read --------------------------------------------------------------------------------


@dataclass
class Total:
    """One (job type, backend, status)'s running total."""

    job_type: str
    backend: str
    status: str
    n: int
    ran: int
    run_s: float
    buckets: list[int]  # per RUN_BOUNDS bucket (not cumulative), the last one past the last bound


def totals() -> list[Total]:
    """Every key's running total since the table began, subtypes summed."""
    cols = [sa.func.sum(_t.c[c]) for c in _VALUES]
    q = (sa.select(_t.c.job_type, _t.c.backend, _t.c.status, *cols).where(_t.c.minute == TOTAL)
         .group_by(_t.c.job_type, _t.c.backend, _t.c.status)
         .order_by(_t.c.job_type, _t.c.backend, _t.c.status))
    with get_engine().connect() as conn:
        rows = conn.execute(q).all()
    return [Total(r[0], r[1], r[2], int(r[3] or 0), int(r[4] or 0), float(r[5] or 0.0),
                  [int(v or 0) for v in r[6:]]) for r in rows]


def finished_series(*, since: datetime, until: datetime, step_minutes: int = 1) -> list[dict]:
    """Jobs finished per step from `since` to `until` (UTC minutes), by status: one dict
    per step, {"minute": ISO time of its start, "SUCCEEDED": n, ...}, zeros included."""
    start, end = minute_of(since), minute_of(until)
    q = (sa.select(_t.c.minute, _t.c.status, sa.func.sum(_t.c.n))
         .where(_t.c.minute >= start, _t.c.minute <= end).group_by(_t.c.minute, _t.c.status))
    with get_engine().connect() as conn:
        rows = conn.execute(q).all()
    step = timedelta(minutes=step_minutes)
    steps = int((end - start) / step) + 1
    out = [{"minute": (start + i * step).isoformat(), **{s: 0 for s in FINAL}} for i in range(steps)]
    for minute, status, n in rows:
        i = int((minute - start) / step)
        if 0 <= i < steps and status in FINAL:
            out[i][status] += int(n or 0)
    return out


def quantile(buckets: list[int], q: float) -> Optional[float]:
    """The q-quantile of a histogram's observations, interpolated linearly inside its
    bucket as Prometheus' histogram_quantile does; past the last bound, the last bound."""
    total = sum(buckets)
    if not total:
        return None
    rank, seen = q * total, 0
    for i, n in enumerate(buckets):
        if seen + n >= rank and n:
            if i >= len(RUN_BOUNDS):
                return RUN_BOUNDS[-1]
            lo = RUN_BOUNDS[i - 1] if i else 0.0
            return lo + (RUN_BOUNDS[i] - lo) * (rank - seen) / n
        seen += n
    return RUN_BOUNDS[-1]


def run_times(*, since: datetime) -> list[dict]:
    """Per job type, the run times of jobs finished since `since`: how many ran, p50 and
    p95 in seconds (from the histogram buckets) and the mean."""
    cols = [sa.func.sum(_t.c[c]) for c in ("ran", "run_s", *RUN_BUCKETS)]
    q = (sa.select(_t.c.job_type, *cols).where(_t.c.minute >= minute_of(since))
         .group_by(_t.c.job_type).order_by(_t.c.job_type))
    with get_engine().connect() as conn:
        rows = conn.execute(q).all()
    out = []
    for r in rows:
        ran, run_s, buckets = int(r[1] or 0), float(r[2] or 0.0), [int(v or 0) for v in r[3:]]
        if ran:
            out.append({"job_type": r[0], "ran": ran, "mean_s": run_s / ran,
                        "p50_s": quantile(buckets, 0.5), "p95_s": quantile(buckets, 0.95)})
    return out


def failures(*, since: datetime) -> list[dict]:
    """Per job type and subtype, the jobs that ended FAILED or CRASHED since `since`,
    most first."""
    q = (sa.select(_t.c.job_type, _t.c.job_subtype, _t.c.status, sa.func.sum(_t.c.n))
         .where(_t.c.minute >= minute_of(since), _t.c.status.in_(FAILURES))
         .group_by(_t.c.job_type, _t.c.job_subtype, _t.c.status))
    with get_engine().connect() as conn:
        rows = conn.execute(q).all()
    by: dict[tuple[str, str], dict] = {}
    for job_type, subtype, status, n in rows:
        d = by.setdefault((job_type, subtype), {"job_type": job_type, "job_subtype": subtype,
                                                "FAILED": 0, "CRASHED": 0})
        d[status] += int(n or 0)
    return sorted(by.values(), key=lambda d: (-(d["FAILED"] + d["CRASHED"]), d["job_type"], d["job_subtype"]))
