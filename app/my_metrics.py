"""A user's own metrics: their jobs finished per minute by final status, run time p50
and p95 per job type and failures by type, from aggregates kept by every final
transition keyed by owner (never a scan of the jobs).

A row exists only for an (owner, minute, job type) in which one of the owner's jobs of
that type ended: the table holds at most as many rows as finished jobs, and at most
owners x minutes x types; its minutes go with the others' past JOBDECK_METRICS_KEEP_DAYS
(app.minutes). A read is one range of the primary key (owner, minute), summed here: at
most the kept minutes of the span x the owner's job types, whatever the number of jobs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Optional

import sqlalchemy as sa

from app import minutes
from app.db import get_engine, utcnow
from app.errors import PermissionDenied
from app.metrics import FINAL, bucket_of, minute_of, quantile
from app.minute_tables import RUN_BUCKETS, owner_job_minute
from app.models import User

_t = owner_job_minute
_STATUS_COLS = tuple(s.lower() for s in FINAL)
KEPT = minutes.kept(_t, ("owner", "minute", "job_type"), (*_STATUS_COLS, "ran", "run_s", *RUN_BUCKETS))
DAY_STEP_MINUTES = 10


def finished(conn: sa.Connection, *, owner: str, job_type: str, status: str, at: datetime,
             started_at: Optional[datetime]) -> None:
    """One of `owner`'s jobs of `job_type` ended with `status` (caller's transaction)."""
    if status not in FINAL or not owner:
        return
    values = [0.0] * len(KEPT.values)
    values[FINAL.index(status)] = 1
    if started_at is not None:
        run = max(0.0, (at - started_at).total_seconds())
        values[4], values[5] = 1, run
        values[6 + bucket_of(run)] = 1
    minutes.add(conn, KEPT, (owner, minute_of(at), job_type), values)


def _read(owner: str, since: datetime) -> list:
    q = (sa.select(_t.c.minute, _t.c.job_type, *(_t.c[c] for c in KEPT.values))
         .where(_t.c.owner == owner, _t.c.minute >= minute_of(since)))
    with get_engine().connect() as conn:
        return conn.execute(q).all()


@dataclass
class Mine:
    at: datetime
    owner: str
    last_hour: list[dict]  # one per minute {"minute": ISO, "SUCCEEDED": n, ...}
    last_day: list[dict]  # one per DAY_STEP_MINUTES
    run_times: list[dict]  # per job type {"job_type", "ran", "mean_s", "p50_s", "p95_s"}, the last day
    failures: list[dict]  # per job type {"job_type", "FAILED", "CRASHED"}, the last day, most first
    finished_last_hour: dict[str, int]
    finished_last_day: dict[str, int]


def read(*, viewer: User, owner: Optional[str] = None, now: Optional[datetime] = None) -> Mine:
    """`owner`'s series (the viewer's own by default; an admin may read anyone's)."""
    owner = owner or viewer.username
    if owner != viewer.username and viewer.role != "admin":
        raise PermissionDenied("You may read only your own metrics.")
    now = now or utcnow()
    day_start = minute_of(now) - timedelta(days=1) + timedelta(minutes=DAY_STEP_MINUTES)
    day_start -= timedelta(minutes=day_start.minute % DAY_STEP_MINUTES)
    rows = _read(owner, day_start)
    hour_start = minute_of(now) - timedelta(minutes=59)
    hour = [{"minute": m.isoformat(), **{s: 0 for s in FINAL}} for m in minutes.minutes_between(hour_start, now)]
    steps = int((minute_of(now) - day_start) / timedelta(minutes=DAY_STEP_MINUTES)) + 1
    day = [{"minute": (day_start + i * timedelta(minutes=DAY_STEP_MINUTES)).isoformat(), **{s: 0 for s in FINAL}}
           for i in range(steps)]
    types: dict[str, list] = {}
    fails: dict[str, dict] = {}
    for r in rows:
        minute, job_type, v = r[0], r[1], [x or 0 for x in r[2:]]
        i = int((minute - day_start) / timedelta(minutes=DAY_STEP_MINUTES))
        h = int((minute - hour_start) / timedelta(minutes=1))
        for s, n in zip(FINAL, v[:4]):
            if 0 <= i < steps:
                day[i][s] += int(n)
            if minute >= hour_start and h < len(hour):
                hour[h][s] += int(n)
        acc = types.setdefault(job_type, [0, 0.0, [0] * len(RUN_BUCKETS)])
        acc[0] += int(v[4])
        acc[1] += float(v[5])
        acc[2] = [a + int(b) for a, b in zip(acc[2], v[6:])]
        if v[1] or v[2]:
            f = fails.setdefault(job_type, {"job_type": job_type, "FAILED": 0, "CRASHED": 0})
            f["FAILED"] += int(v[1])
            f["CRASHED"] += int(v[2])
    runs = [{"job_type": t, "ran": n, "mean_s": s / n, "p50_s": quantile(b, 0.5), "p95_s": quantile(b, 0.95)}
            for t, (n, s, b) in sorted(types.items()) if n]
    failures = sorted(fails.values(), key=lambda f: (-(f["FAILED"] + f["CRASHED"]), f["job_type"]))
    return Mine(at=now, owner=owner, last_hour=hour, last_day=day, run_times=runs, failures=failures,
                finished_last_hour={s: sum(m[s] for m in hour) for s in FINAL},
                finished_last_day={s: sum(m[s] for m in day) for s in FINAL})
