"""What the live metrics cost: a job's transitions (taken and started in one commit,
then SUCCEEDED) with the per-minute aggregate kept and without it, and a Prometheus
scrape and the admin page's read once the jobs have ended.

    python -m bench.metrics [--jobs 2000] [--rounds 5] [--database-url URL]

Without the aggregate, `app.metrics.finished` is replaced by a no-op for the run: the
transition is otherwise the same. The ratio with/without is the aggregate's price on
the hot path (an upsert of two rows before the commit of each job's final move).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import fresh_environment, private_redis  # noqa: E402


def lodge(n: int) -> list[str]:
    from app.db import write_conn
    from app.jobtypes import Noop, spec_for
    from app.launch import _insert, _row
    from app.models import new_id

    spec = spec_for("SYSTEM", "NOOP")
    ids = [new_id() for _ in range(n)]
    with write_conn() as conn:
        _insert(conn, [_row(job_id=i, owner="bench", spec=spec, payload=Noop(), workflow_id=i) for i in ids],
                text="Lodged by the metrics bench")
    return ids


def run(ids: list[str]) -> float:
    """ms per job of its three moves, as a worker makes them."""
    from app import lifecycle
    from app.lifecycle import JobStatus, Move

    t0 = time.perf_counter()
    for job_id in ids:
        lifecycle.transition_steps(job_id, [Move(JobStatus.DEQUEUED, "Taken"), Move(JobStatus.IN_PROGRESS, "Started")],
                                   publish=False)
        lifecycle.transition(job_id, JobStatus.SUCCEEDED, message="Done", publish=False)
    return (time.perf_counter() - t0) * 1000 / len(ids)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.metrics", description=__doc__.split("\n\n")[0])
    ap.add_argument("--jobs", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=5, help="alternating rounds with and without the aggregate")
    ap.add_argument("--database-url", default=None)
    args = ap.parse_args(argv)
    with private_redis() as redis_url:
        fresh_environment(redis_url, args.database_url)
        from app import auth, dashboard, metrics, prometheus
        from app.db import get_engine

        # Rounds alternate (and which goes first), so that the database's growth and the machine's load weigh
        # on both alike; the median round of each is printed.
        rounds = max(1, args.rounds)
        size = max(1, args.jobs // (2 * rounds))
        run(lodge(20))  # warm the statement caches
        real = metrics.finished
        times: dict[str, list[float]] = {"with": [], "without": []}
        for r in range(rounds):
            for kept in ((True, False) if r % 2 == 0 else (False, True)):
                metrics.finished = real if kept else (lambda *a, **k: None)
                try:
                    times["with" if kept else "without"].append(run(lodge(size)))
                finally:
                    metrics.finished = real
        with_, without = statistics.median(times["with"]), statistics.median(times["without"])
        print(f"jobs={2 * rounds * size} rounds={rounds} database={get_engine().dialect.name}")
        print(f"transitions without the aggregate : {without:.3f} ms per job")
        print(f"transitions with the aggregate    : {with_:.3f} ms per job; ratio with/without {with_ / without:.2f}")
        prometheus.exposition()  # the first scrape also builds the collector's statements
        t0 = time.perf_counter()
        text = prometheus.exposition()
        scrape = (time.perf_counter() - t0) * 1000
        admin = auth.create_user(username="bench-admin", password="bench-admin-password", role="admin")
        t0 = time.perf_counter()
        d = dashboard.read(viewer=admin)
        page = (time.perf_counter() - t0) * 1000
        print(f"scrape of /metrics {scrape:.1f} ms ({len(text):,} bytes); admin page's series {page:.1f} ms "
              f"({d.finished_last_hour['SUCCEEDED']:,} succeeded in the last hour)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
