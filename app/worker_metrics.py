"""Workers over time: failures per worker (each move to FAILED or CRASHED adds one to
its worker's minute, in the same transaction) and workers busy and idle per backend
(the housekeeper samples the heartbeats every 10 s and adds each sample to its
minute). Both tables are pruned with the other minutes (app.minutes); a worker's
running total of failures (minute 1970-01-01, Prometheus' counter) goes once none of its
minutes is kept, so the rows stay bounded by the workers of the kept days."""

from __future__ import annotations

from datetime import datetime
from typing import Optional

import sqlalchemy as sa

from app import minutes
from app.db import get_engine, utcnow, write_conn
from app.metrics import FAILURES, TOTAL, minute_of
from app.minute_tables import worker_busy_minute, worker_failure_minute

NO_WORKER = "(no worker)"  # a job that crashed before any worker took it
_f, _b = worker_failure_minute, worker_busy_minute


def _forget_gone(conn: sa.Connection) -> int:
    kept = sa.select(_f.c.worker).where(_f.c.minute > TOTAL)
    return conn.execute(sa.delete(_f).where(_f.c.minute == TOTAL, _f.c.worker.not_in(kept))).rowcount


FAILED_KEPT = minutes.kept(_f, ("minute", "worker", "status"), ("n",), ("backend",), after_prune=_forget_gone)
BUSY_KEPT = minutes.kept(_b, ("minute", "backend"), ("samples", "busy", "idle", "other"))


def failed(conn: sa.Connection, *, worker: Optional[str], backend: str, status: str, at: datetime) -> None:
    """A job run (or taken) by `worker` ended FAILED or CRASHED at `at` (caller's transaction)."""
    if status not in FAILURES:
        return
    name = (worker or NO_WORKER)[:128]
    for m in (minute_of(at), TOTAL):
        minutes.add(conn, FAILED_KEPT, (m, name, status), (1,), (backend or "",))


def failures_by_worker(*, since: datetime, limit: int = 12) -> list[dict]:
    """The workers with the most FAILED and CRASHED jobs since `since`, most first."""
    q = sa.select(_f.c.worker, _f.c.backend, _f.c.status, _f.c.n).where(_f.c.minute >= minute_of(since))
    with get_engine().connect() as conn:
        rows = conn.execute(q).all()
    by: dict[str, dict] = {}
    for worker, backend, status, n in rows:
        d = by.setdefault(worker, {"worker": worker, "backend": backend, "FAILED": 0, "CRASHED": 0})
        d[status] += int(n or 0)
    out = sorted(by.values(), key=lambda d: (-(d["FAILED"] + d["CRASHED"]), d["worker"]))[:limit]
    for d in out:
        d["total"] = d["FAILED"] + d["CRASHED"]
    return out


def failure_totals() -> list[tuple[str, str, str, int]]:
    """(worker, backend, status, n) since the table began, for every worker with kept minutes."""
    q = sa.select(_f.c.worker, _f.c.backend, _f.c.status, _f.c.n).where(_f.c.minute == TOTAL)
    with get_engine().connect() as conn:
        return [(r[0], r[1], r[2], int(r[3] or 0)) for r in conn.execute(q).all()]


def sampled(tally: dict[str, dict[str, int]], *, at: Optional[datetime] = None) -> None:
    """Add one sample of the live workers, {backend: {"busy": n, "idle": n, "other": n}}
    (the housekeeper counts them from their heartbeats), to its minute."""
    m = minute_of(at or utcnow())
    with write_conn() as conn:
        for backend, t in sorted(tally.items()):
            minutes.add(conn, BUSY_KEPT, (m, backend), (1, t.get("busy", 0), t.get("idle", 0), t.get("other", 0)))


def busy_series(*, since: datetime, until: datetime) -> list[dict]:
    """Per minute from `since` to `until`, the mean number of workers busy, idle and
    starting or stopping over the minute's samples, all backends together (minutes
    without a sample are None: nobody was watching)."""
    q = sa.select(_b.c.minute, _b.c.samples, _b.c.busy, _b.c.idle, _b.c.other).where(
        _b.c.minute >= minute_of(since), _b.c.minute <= minute_of(until))
    with get_engine().connect() as conn:
        rows = conn.execute(q).all()
    by: dict[datetime, list[float]] = {}
    for minute, samples, busy, idle, other in rows:
        if samples:
            acc = by.setdefault(minute, [0.0, 0.0, 0.0])
            acc[0] += busy / samples
            acc[1] += idle / samples
            acc[2] += other / samples
    out = []
    for m in minutes.minutes_between(since, until):
        acc = by.get(m)
        out.append({"minute": m.isoformat(), "busy": round(acc[0], 2) if acc else None,
                    "idle": round(acc[1], 2) if acc else None, "other": round(acc[2], 2) if acc else None})
    return out
