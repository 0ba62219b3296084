"""What the live metrics cost: a job's transitions (taken and started in one commit,
then SUCCEEDED) with every per-minute aggregate kept, with the finished jobs' alone,
and without any, and a Prometheus scrape and the admin page's read once the jobs have
ended.

    python -m bench.metrics [--jobs 2000] [--rounds 5] [--database-url URL]

Without an aggregate, its keeper (`app.metrics.finished`; `app.waits.started`,
`app.my_metrics.finished`, `app.worker_metrics.failed`) is replaced by a no-op for the
run: the transition is otherwise the same. The ratio with/without is the aggregates'
price on the hot path (upserts before the commit of the start and of the final move);
all/finished is the part of the queue wait and the owner's aggregates.
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
    from app.jobtypes import spec_for
    from app.payloads import Noop
    from app.launch import _insert, _row
    from app.columns import new_id

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
        from app import auth, dashboard, metrics, my_metrics, prometheus, waits, worker_metrics
        from app.db import get_engine

        # Rounds alternate (and which goes first), so that the database's growth and the machine's load weigh
        # on both alike; the median round of each is printed.
        rounds = max(1, args.rounds)
        size = max(1, args.jobs // (3 * rounds))
        run(lodge(20))  # warm the statement caches
        keepers = [(metrics, "finished"), (waits, "started"), (my_metrics, "finished"), (worker_metrics, "failed")]
        real = [getattr(m, name) for m, name in keepers]
        kept_in = {"with": len(keepers), "finished": 1, "without": 0}  # how many keepers each mode keeps
        times: dict[str, list[float]] = {mode: [] for mode in kept_in}
        modes = list(kept_in)
        for r in range(rounds):
            for mode in (modes if r % 2 == 0 else modes[::-1]):
                for i, (m, name) in enumerate(keepers):
                    setattr(m, name, real[i] if i < kept_in[mode] else (lambda *a, **k: None))
                try:
                    times[mode].append(run(lodge(size)))
                finally:
                    for (m, name), fn in zip(keepers, real):
                        setattr(m, name, fn)
        with_, finished, without = (statistics.median(times[m]) for m in modes)
        print(f"jobs={len(modes) * rounds * size} rounds={rounds} database={get_engine().dialect.name}")
        print(f"transitions without the aggregate : {without:.3f} ms per job")
        print(f"transitions with the aggregate    : {with_:.3f} ms per job; ratio with/without {with_ / without:.2f}")
        print(f"transitions with finished only    : {finished:.3f} ms per job; ratio all/finished "
              f"{with_ / finished:.2f}")
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
