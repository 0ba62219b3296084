"""Bulk at scale: how long the REST API takes to accept big batches.

    python -m bench.bulk [--jobs 10000] [--runs 10000] [--big 100000] [--rounds 3] [--database-url URL]

Each request goes through the whole API in process (FastAPI's TestClient over
build_api(): body parsing, validation, the rows committed, every job enqueued) on a fresh
database (SQLite unless --database-url) and a Redis of the bench's own:
  - a batch of JOBS SYSTEM/NOOP jobs (POST /api/batches);
  - RUNS model runs registered from JSON records and from a CSV file
    (POST /api/model-runs/bulk);
  - a batch of BIG jobs, with the process's peak memory before and after.
Baseline in the same run: the same number of bare RQ enqueues (enqueue_many, pipelined)
on the same Redis. Prints seconds, jobs/s and the ratio to the baseline: the medians of
--rounds rounds (the big batch once), each round with its own baseline, and the CPU
seconds the process spent on each request (steadier than the wall clock on a machine
shared with other work).
"""

from __future__ import annotations

import argparse
import csv
import io
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Optional

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import fresh_environment, private_redis  # noqa: E402


def _bare_rq(redis_url: str, n: int) -> float:
    import redis
    from rq import Queue

    conn = redis.Redis.from_url(redis_url)
    q = Queue("bare-bulk", connection=conn)
    t0 = time.perf_counter()
    for i in range(0, n, 1000):
        with conn.pipeline() as pipe:
            q.enqueue_many([Queue.prepare_data("bench.noop.noop", result_ttl=0)
                            for _ in range(min(1000, n - i))], pipeline=pipe)
            pipe.execute()
    took = time.perf_counter() - t0
    q.empty()
    return took


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _world(admin) -> dict:
    """The complete items a model run names (the registry's rules check them), registered
    by a burst of the project's own worker."""
    from app.demo import model_run_world
    from app.jobtypes import BACKENDS
    from worker.pool import work

    made = model_run_world(admin, prefix="bulk")
    work(burst=True, backends=BACKENDS)
    return {k: v.id for k, v in made.items()}


_CPU: list[float] = []  # CPU seconds of each timed request, in order


def _record(ids: dict[str, str], i: int) -> dict:
    return {"workflow_template_id": ids["wf"], "display_name": f"bulk run {i}", "description": "bulk bench",
            "inputs": [{"dataset_template_id": ids["template"], "dataset_id": ids["rain"]}],
            "outputs": [{"dataset_template_id": ids["template"], "dataset_id": ids["flow"]}],
            "associations": {"modeller_id": ids["person"], "requesting_organisation_id": ids["org"]},
            "start_time": 1_700_000_000 + i, "end_time": 1_700_000_600 + i}


def _timed(client, path: str, *, expect_jobs: int, **kw) -> float:
    t0, c0 = time.perf_counter(), time.process_time()
    r = client.post(path, **kw)
    took = time.perf_counter() - t0
    _CPU.append(time.process_time() - c0)
    if r.status_code != 201:
        raise SystemExit(f"POST {path} answered {r.status_code}: {r.text[:300]}")
    total = r.json().get("total")
    if total != expect_jobs:
        raise SystemExit(f"POST {path}: a batch of {total} jobs, expected {expect_jobs}")
    return took


def run(*, jobs: int, runs: int, big: int, rounds: int = 3, database_url: str | None = None) -> list[str]:
    import os

    from fastapi.testclient import TestClient

    from app import auth, bulk
    from app.api import build_api

    with private_redis() as redis_url:
        fresh_environment(redis_url, database_url)
        os.environ["JOBDECK_API_RATE_LIMIT"] = "0"
        os.environ["JOBDECK_API_MAX_BODY_BYTES"] = str(64 * 1024 * 1024)
        from app.settings import reload_settings

        reload_settings()
        from app.demo import seed_backends

        seed_backends()
        admin = auth.create_user(username="bulk-admin", password="bulk-admin-password", role="admin")
        token, _ = auth.create_token(owner="bulk-admin", name="bench")
        headers = {"Authorization": f"Bearer {token}"}
        client = TestClient(build_api())
        ids = _world(admin)
        lines = []
        got: dict[str, list[tuple[float, float, float]]] = {}

        def timed(what: str, n: int, base: float, *args, **kw) -> None:
            took = _timed(client, *args, expect_jobs=n, **kw)
            got.setdefault(what, []).append((took, base, _CPU[-1]))

        def row(what: str, n: int, took: float, base: float, cpu: Optional[float] = None) -> None:
            lines.append(f"{what:<34} {n:>7} jobs  {took:7.2f} s  {n / took:9.0f} jobs/s  "
                         f"bare RQ {base:6.2f} s  ratio {took / base:5.1f}x"
                         + (f"  CPU {cpu:5.2f} s" if cpu is not None else ""))

        records = [_record(ids, i) for i in range(runs)]
        buf = io.StringIO()
        rows = [bulk.record_row(r) for r in records]
        w = csv.DictWriter(buf, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
        body = buf.getvalue().encode()
        for _ in range(rounds):
            timed("batch of NOOP jobs", jobs, _bare_rq(redis_url, jobs), "/api/batches", headers=headers,
                  json={"job_type": "SYSTEM", "job_subtype": "NOOP", "payloads": [{}] * jobs})
            base = _bare_rq(redis_url, runs)
            timed("model runs from JSON", runs, base, "/api/model-runs/bulk", headers=headers,
                  json={"records": records, "label": "bulk JSON"})
            timed("model runs from CSV", runs, base, "/api/model-runs/bulk?label=bulk%20CSV",
                  headers={**headers, "Content-Type": "text/csv"}, content=body)
        for what, runs_of in got.items():
            n = jobs if what.startswith("batch") else runs
            row(what, n, statistics.median(t for t, _, _ in runs_of), statistics.median(b for _, b, _ in runs_of),
                statistics.median(c for _, _, c in runs_of))
            if len(runs_of) > 1:
                lines.append(f"{'  each round':<34} " + ", ".join(f"{t:.2f} s (CPU {c:.2f} s)" for t, _, c in runs_of))

        if big:
            before = _peak_mb()
            base = _bare_rq(redis_url, big)
            took = _timed(client, "/api/batches", expect_jobs=big, headers=headers,
                          json={"job_type": "SYSTEM", "job_subtype": "NOOP", "payloads": [{}] * big})
            row("batch of NOOP jobs (big)", big, took, base)
            lines.append(f"{'  peak memory of the process':<34} {before:.0f} MB before, {_peak_mb():.0f} MB after")
        return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jobs", type=int, default=10_000)
    ap.add_argument("--runs", type=int, default=10_000)
    ap.add_argument("--big", type=int, default=100_000, help="jobs of the big batch (0: none)")
    ap.add_argument("--rounds", type=int, default=3, help="rounds of the 10,000s; medians printed")
    ap.add_argument("--database-url", default=None)
    args = ap.parse_args()
    print("\n".join(run(jobs=args.jobs, runs=args.runs, big=args.big, rounds=args.rounds,
                         database_url=args.database_url)))


if __name__ == "__main__":
    main()
