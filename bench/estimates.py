"""Runtime estimates at scale: a pipeline's estimate (p50, p95, the jobtimes KDE peak)
and the whole jobtimes answer, read with 10,000 complete runs on record and with N
(default 1,000,000), spread over PIPELINES pipelines.

    python -m bench.estimates [--runs 1000000] [--pipelines 10] [--database-url URL]

Each estimate reads the pipeline's newest 5000 run times through
ix_run_time_pipeline_finished, so its cost is bounded by that sample, not by the runs
(or jobs) on record: the ratio N/10k should stay near 1.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import fresh_environment  # noqa: E402

BASE = 10_000


def seed(total: int, pipelines: int, start: int) -> None:
    import sqlalchemy as sa

    from app.db import utcnow, write_conn
    from app.models import Pipeline, RunTime

    rnd = random.Random(start)
    now = utcnow()
    with write_conn() as conn:
        if start == 0:
            conn.execute(sa.insert(Pipeline.__table__), [dict(name=f"p{i}", description="", created_at=now,
                                                              runnable=True, public=False)
                                                         for i in range(pipelines)])
        ids = [r[0] for r in conn.execute(sa.select(Pipeline.__table__.c.id))]
        chunk = []
        for n in range(start, total):
            chunk.append(dict(run_id=f"run-{n}", pipeline_id=ids[n % len(ids)], seconds=rnd.gauss(300, 60),
                              finished_at=now - timedelta(seconds=total - n)))
            if len(chunk) == 20_000:
                conn.execute(sa.insert(RunTime.__table__), chunk)
                chunk = []
        if chunk:
            conn.execute(sa.insert(RunTime.__table__), chunk)


def timed(fn, repeat: int = 3) -> float:
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return statistics.median(out)


def measure() -> tuple[float, float, float]:
    """(one estimate computed, the same kept, jobtimes computed) in ms."""
    import sqlalchemy as sa

    from app import estimates
    from app.db import session
    from app.models import Pipeline

    with session() as s:
        first = s.execute(sa.select(Pipeline.id).order_by(Pipeline.id)).scalars().first()

    def cold(fn):
        def run():
            estimates._cache.clear()
            fn()
        return run

    return (timed(cold(lambda: estimates.estimate(first))), timed(lambda: estimates.estimate(first)),
            timed(cold(estimates.jobtimes), repeat=1))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=1_000_000)
    ap.add_argument("--pipelines", type=int, default=10)
    ap.add_argument("--database-url", default=None)
    opts = ap.parse_args()
    fresh_environment("redis://127.0.0.1:6379/0", opts.database_url)  # estimates never touch Redis
    base = min(BASE, opts.runs)
    seed(base, opts.pipelines, 0)
    one_base, kept_base, all_base = measure()
    print(f"runs={base:,} pipelines={opts.pipelines}: one estimate {one_base:.1f} ms (kept {kept_base:.1f} ms), "
          f"jobtimes {all_base:.1f} ms")
    if opts.runs > base:
        seed(opts.runs, opts.pipelines, base)
    one_n, kept_n, all_n = measure()
    print(f"runs={opts.runs:,} pipelines={opts.pipelines}: one estimate {one_n:.1f} ms (kept {kept_n:.1f} ms), "
          f"jobtimes {all_n:.1f} ms")
    print(f"ratio N/10k: one estimate {one_n / one_base:.2f}, kept {kept_n / kept_base:.2f}, "
          f"jobtimes {all_n / all_base:.2f}")


if __name__ == "__main__":
    main()
