"""Jobdeck end to end against bare RQ, same Redis, same number of workers.

    python -m bench.throughput [--jobs 5000] [--workers 2]

Bare RQ: N calls of a no-op function enqueued in bulk and run by W SimpleWorkers.
Jobdeck: N SYSTEM/NOOP jobs lodged as one batch (rows committed PENDING in SQL, then
enqueued) and run by W Jobdeck workers until every row is SUCCEEDED in SQL. Both times
run from the first enqueue (or lodge) to the last job done. Prints jobs/s and the ratio.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import fresh_environment, private_redis  # noqa: E402


def _bare_worker(redis_url: str, queue_name: str) -> None:
    import redis
    from rq import Queue, SimpleWorker

    conn = redis.Redis.from_url(redis_url)
    SimpleWorker([Queue(queue_name, connection=conn)], connection=conn).work(
        burst=True, with_scheduler=False, logging_level="ERROR")


def bare_rq(redis_url: str, n: int, workers: int) -> float:
    import redis
    from rq import Queue

    conn = redis.Redis.from_url(redis_url)
    q = Queue("bare-bench", connection=conn)
    t0 = time.perf_counter()
    for i in range(0, n, 1000):
        with conn.pipeline() as pipe:
            q.enqueue_many([Queue.prepare_data("bench.noop.noop", result_ttl=0)
                            for _ in range(min(1000, n - i))], pipeline=pipe)
            pipe.execute()
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=_bare_worker, args=(redis_url, "bare-bench")) for _ in range(workers)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    elapsed = time.perf_counter() - t0
    assert q.count == 0
    return elapsed


def _jobdeck_worker() -> None:
    from app import queues
    from app.db import dispose_engines
    from worker.pool import work

    dispose_engines()  # forked: never share the parent's connections
    queues.reset_connections()
    work(burst=True)


def jobdeck(n: int, workers: int) -> tuple[float, float]:
    import sqlalchemy as sa

    from app import auth, launch
    from app.db import session
    from app.models import Batch, Job

    root = auth.create_user(username="bench", password="bench-password", role="admin")
    t0 = time.perf_counter()
    batch = launch.launch_batch(actor=root, job_type="SYSTEM", job_subtype="NOOP", payloads=[{}] * n)
    lodged = time.perf_counter() - t0
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=_jobdeck_worker) for _ in range(workers)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    elapsed = time.perf_counter() - t0
    with session() as s:
        b = s.get(Batch, batch.id)
        done = s.exec(sa.select(sa.func.count()).select_from(Job).where(Job.status == "SUCCEEDED")).one()[0]
    assert b.succeeded == n == done, (b, done)
    return elapsed, lodged


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jobs", type=int, default=5000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--database-url", default=None, help="default: a new SQLite file")
    args = ap.parse_args()
    with private_redis() as url:
        fresh_environment(url, args.database_url)
        bare = bare_rq(url, args.jobs, args.workers)
        jd, lodged = jobdeck(args.jobs, args.workers)
    from app.settings import get_settings
    db = get_settings().database_url.split(":", 1)[0]
    bare_rate, jd_rate = args.jobs / bare, args.jobs / jd
    print(f"jobs={args.jobs} workers={args.workers} database={db}")
    print(f"bare RQ      : {bare:7.2f} s  {bare_rate:8.1f} jobs/s")
    print(f"Jobdeck      : {jd:7.2f} s  {jd_rate:8.1f} jobs/s  (lodging {args.jobs} took {lodged:.2f} s)")
    print(f"ratio Jobdeck/bare = {jd_rate / bare_rate:.2f}  (target >= 0.5)")


if __name__ == "__main__":
    main()
