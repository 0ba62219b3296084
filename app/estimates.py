"""Runtime estimates of a pipeline from its history: how long its runs that ended with
every step succeeded took, from the submission's lodging to its last step's end
(queueing included, as Analytics Automated counts it).

Each complete run leaves one RunTime row, written by the join that finds the run
complete (app.pipelines.steps.finish_step), so an estimate reads a pipeline's newest
rows through ix_run_time_pipeline_finished and never scans jobs. From those rows:
the median and 95th percentile, and Analytics Automated's jobtimes figure: with one
run its time, with more the peak of a Gaussian kernel density estimate (Scott's
bandwidth, as scipy's gaussian_kde) over 200 points from 0 to the longest, floored.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Optional, Sequence

import sqlalchemy as sa

from app.db import insert_ignore, session
from app.models import Job, Pipeline, RunTime

SAMPLE = 5000  # the newest complete runs an estimate reads (Analytics Automated reads 5000)
GRID = 200  # points the density is evaluated at

_job, _rt = Job.__table__, RunTime.__table__


def record_run(conn: sa.Connection, *, run_id: str, pipeline_id: int, now: datetime) -> None:
    """Note a complete run, in the transaction of its last step's success; a repeat of
    that transaction notes nothing twice."""
    created = conn.execute(sa.select(_job.c.created_at).where(_job.c.id == run_id)).scalar()
    if created is None:
        return
    seconds = max(0.0, (now - created).total_seconds())
    conn.execute(insert_ignore(_rt, conn.dialect.name).values(run_id=run_id, pipeline_id=pipeline_id,
                                                               seconds=seconds, finished_at=now))


def samples(pipeline_id: int, *, limit: int = SAMPLE) -> list[float]:
    """The seconds of the pipeline's newest complete runs (at most `limit`)."""
    with session() as s:
        rows = s.execute(sa.select(_rt.c.seconds).where(_rt.c.pipeline_id == pipeline_id)
                         .order_by(_rt.c.finished_at.desc()).limit(limit)).scalars()
        return [float(x) for x in rows]


def percentile(values: Sequence[float], q: float) -> Optional[float]:
    """The q-th percentile (0-100), interpolated linearly between the nearest ranks."""
    if not values:
        return None
    xs = sorted(values)
    pos = (len(xs) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def kde_peak(values: Sequence[float]) -> Optional[int]:
    """Analytics Automated's jobtimes figure from whole seconds: one run's time, or the
    peak of the Gaussian KDE (Scott's bandwidth) on 200 points over 0..max, floored.
    Equal times (no spread, where the density is undefined) give that time."""
    xs = [float(int(v)) for v in values]
    if not xs:
        return None
    n = len(xs)
    mean = sum(xs) / n
    var = sum((x - mean) ** 2 for x in xs) / (n - 1) if n > 1 else 0.0
    if var == 0.0:
        return int(xs[0])
    bw2 = var * n ** (-2.0 / 5.0)  # Scott: factor n^(-1/(d+4)), d = 1, squared
    top = max(xs)
    weights = Counter(xs)  # whole seconds repeat: each distinct time once, weighted
    best_x, best = 0.0, -1.0
    for i in range(GRID):
        x = top * i / (GRID - 1)
        density = sum(w * math.exp(-((x - v) ** 2) / (2 * bw2)) for v, w in weights.items())
        if density > best:  # the first of equal peaks, as argmax takes
            best_x, best = x, density
    return int(math.floor(best_x))


@dataclass
class Estimate:
    pipeline_id: int
    runs: int  # complete runs it is drawn from
    p50: Optional[float]
    p95: Optional[float]
    typical: Optional[int]  # the jobtimes figure

    @property
    def text(self) -> str:
        """"usually takes about 2 minutes; 95 % of runs within 4 minutes" (empty without
        history; the second part once there are a few runs)."""
        if self.typical is None:
            return ""
        out = f"usually takes about {about(self.typical)}"
        if self.runs >= 5 and self.p95 is not None:
            out += f"; 95 % of runs within {about(self.p95)}"
        return out


def about(seconds: float) -> str:
    s = max(0, int(round(seconds)))
    if s < 60:
        return f"{s} second{'s' if s != 1 else ''}"
    if s < 3600:
        m = round(s / 60)
        return f"{m} minute{'s' if m != 1 else ''}"
    h = s / 3600
    return f"{h:.1f} hours" if h < 10 else f"{round(h)} hours"


_cache: dict[int, tuple[Any, Estimate]] = {}


def estimate(pipeline_id: int) -> Estimate:
    """The pipeline's estimate; kept per process until it has a newer complete run (one
    index seek to know), so pages and jobtimes do not redo the density each time."""
    with session() as s:
        newest = s.execute(sa.select(_rt.c.finished_at, _rt.c.run_id).where(_rt.c.pipeline_id == pipeline_id)
                           .order_by(_rt.c.finished_at.desc()).limit(1)).first()
    key = tuple(newest) if newest else None
    hit = _cache.get(pipeline_id)
    if hit is not None and hit[0] == key:
        return hit[1]
    xs = samples(pipeline_id) if key else []
    out = Estimate(pipeline_id, len(xs), percentile(xs, 50), percentile(xs, 95), kde_peak(xs))
    _cache[pipeline_id] = (key, out)
    return out


def jobtimes() -> dict[str, Optional[int]]:
    """Analytics Automated's jobtimes answer: {pipeline name: seconds} for every
    pipeline with a complete run, by name; a removed pipeline is absent."""
    with session() as s:
        pipelines = s.execute(sa.select(Pipeline.id, Pipeline.name).order_by(Pipeline.name)).all()
    out: dict[str, Optional[int]] = {}
    for pid, name in pipelines:
        e = estimate(pid)
        if e.runs:
            out[name] = e.typical
    return out
