"""Queue wait per backend: how long each job waited from its lodging (this attempt's)
to its start, kept as it starts (in the transaction of its move to IN_PROGRESS) per
minute and backend, as a count, a sum and a histogram with app.minute_tables.RUN_BOUNDS; the
running totals (minute 1970-01-01) are what Prometheus' jobdeck_job_wait_seconds
reads. A job cancelled before it started never waited to its end and is not observed;
a delayed retry's wait includes its delay."""

from __future__ import annotations

from datetime import datetime
from typing import Optional

import sqlalchemy as sa

from app import counts, minutes
from app.db import get_engine
from app.metrics import TOTAL, bucket_of, minute_of, quantile
from app.minute_tables import RUN_BUCKETS, job_wait_minute

_t = job_wait_minute
KEPT = minutes.kept(_t, ("minute", "backend", "shard"), ("n", "wait_s", *RUN_BUCKETS))


def started(conn: sa.Connection, *, job_id: str, backend: str, lodged_at: Optional[datetime],
            at: datetime) -> None:
    """A job of `backend` lodged at `lodged_at` started at `at` (caller's transaction)."""
    if lodged_at is None:
        return
    wait = max(0.0, (at - lodged_at).total_seconds())
    values = [0.0] * (2 + len(RUN_BUCKETS))
    values[0], values[1] = 1, wait
    values[2 + bucket_of(wait)] = 1
    shard = counts.shard_of(job_id)
    for m in (minute_of(at), TOTAL):
        minutes.add(conn, KEPT, (m, backend or "", shard), values)


def _rows(conn, since: datetime, until: Optional[datetime] = None):
    # Read by the primary key's minute range, summed here: at most minutes x backends x
    # shards rows, whatever the number of jobs.
    q = sa.select(_t.c.backend, _t.c.n, _t.c.wait_s, *(_t.c[b] for b in RUN_BUCKETS)).where(
        _t.c.minute >= minute_of(since))
    if until is not None:
        q = q.where(_t.c.minute <= minute_of(until))
    return conn.execute(q).all()


def by_backend(*, since: datetime) -> list[dict]:
    """Per backend, the jobs that started since `since`: how many, wait p50 and p95 (from
    the histogram) and the mean, in seconds."""
    with get_engine().connect() as conn:
        rows = _rows(conn, since)
    by: dict[str, list] = {}
    for r in rows:
        acc = by.setdefault(r[0], [0, 0.0, [0] * len(RUN_BUCKETS)])
        acc[0] += int(r[1] or 0)
        acc[1] += float(r[2] or 0.0)
        acc[2] = [a + int(b or 0) for a, b in zip(acc[2], r[3:])]
    return [{"backend": b, "started": n, "mean_s": s / n, "p50_s": quantile(h, 0.5), "p95_s": quantile(h, 0.95)}
            for b, (n, s, h) in sorted(by.items()) if n]


def totals() -> dict[str, tuple[list[int], float, int]]:
    """Per backend, since the table began: (buckets, sum of waits, count)."""
    with get_engine().connect() as conn:
        rows = conn.execute(sa.select(_t.c.backend, _t.c.n, _t.c.wait_s, *(_t.c[b] for b in RUN_BUCKETS))
                            .where(_t.c.minute == TOTAL)).all()
    out: dict[str, tuple[list[int], float, int]] = {}
    for r in rows:
        h, s, n = out.get(r[0], ([0] * len(RUN_BUCKETS), 0.0, 0))
        out[r[0]] = ([a + int(b or 0) for a, b in zip(h, r[3:])], s + float(r[2] or 0.0), n + int(r[1] or 0))
    return out
