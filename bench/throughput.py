"""Jobdeck end to end against bare RQ, same Redis, same number of workers.

    python -m bench.throughput [--jobs 5000] [--workers 2] [--rounds 3] [--database-url URL]

Bare RQ: N calls of a no-op function enqueued in bulk and run by W SimpleWorkers.
Jobdeck: N SYSTEM/NOOP jobs lodged as one batch (rows committed PENDING in SQL, then
enqueued) and run by W Jobdeck workers until every row is SUCCEEDED in SQL. Both times
run from the first enqueue (or lodge) to the last job done.

The two alternate for --rounds rounds (which goes first alternates too), so a machine
whose load changes meanwhile weighs on both alike. Prints each round's jobs/s and ratio,
the median of the ratios, and the workers' CPU time per job (their own processes, from
the kernel's accounting: less noisy than the wall clock on a shared machine).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import statistics
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


def bare_rq(redis_url: str, n: int, workers: int) -> tuple[float, float]:
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
    cpu0 = _children_cpu()
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    elapsed = time.perf_counter() - t0
    assert q.count == 0
    return elapsed, _children_cpu() - cpu0


def _children_cpu() -> float:
    """CPU seconds (user + system) of the worker processes forked and joined so far."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _jobdeck_worker() -> None:
    from app import queues
    from app.db import dispose_engines
    from worker.pool import work

    dispose_engines()  # forked: never share the parent's connections
    queues.reset_connections()
    work(burst=True)


def jobdeck(n: int, workers: int) -> tuple[float, float, float]:
    """(seconds end to end, seconds lodging, the workers' CPU seconds)."""
    import sqlalchemy as sa

    from app import auth, launch
    from app.db import session
    from app.models import Batch, Job

    root = auth.find_user("bench") or auth.create_user(username="bench", password="bench-password", role="admin")
    t0 = time.perf_counter()
    batch = launch.launch_batch(actor=root, job_type="SYSTEM", job_subtype="NOOP", payloads=[{}] * n)
    lodged = time.perf_counter() - t0
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=_jobdeck_worker) for _ in range(workers)]
    cpu0 = _children_cpu()
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    elapsed = time.perf_counter() - t0
    cpu = _children_cpu() - cpu0
    with session() as s:
        b = s.get(Batch, batch.id)
        done = s.exec(sa.select(sa.func.count()).select_from(Job)
                      .where(Job.batch_id == batch.id, Job.status == "SUCCEEDED")).one()[0]
    assert b.succeeded == n == done, (b, done)
    return elapsed, lodged, cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jobs", type=int, default=5000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3, help="bare RQ and Jobdeck alternate this many times")
    ap.add_argument("--database-url", default=None, help="default: a new SQLite file")
    args = ap.parse_args()
    n = args.jobs
    bares, jds, ratios = [], [], []
    with private_redis() as url:
        fresh_environment(url, args.database_url)
        from app.settings import get_settings

        db = get_settings().database_url.split(":", 1)[0]
        print(f"jobs={n} workers={args.workers} database={db} rounds={args.rounds}")
        for r in range(args.rounds):
            if r % 2:
                jd = jobdeck(n, args.workers)
                bare = bare_rq(url, n, args.workers)
            else:
                bare = bare_rq(url, n, args.workers)
                jd = jobdeck(n, args.workers)
            bares.append(bare)
            jds.append(jd)
            ratios.append(bare[0] / jd[0])
            print(f"  round {r + 1}: bare RQ {n / bare[0]:7.1f} jobs/s, Jobdeck {n / jd[0]:7.1f} jobs/s, "
                  f"ratio {ratios[-1]:.2f}; workers' CPU per job: bare {bare[1] / n * 1000:.2f} ms, "
                  f"Jobdeck {jd[2] / n * 1000:.2f} ms")
    bare_s = statistics.median(b[0] for b in bares)
    jd_s = statistics.median(j[0] for j in jds)
    lodged = statistics.median(j[1] for j in jds)
    bare_cpu = statistics.median(b[1] for b in bares) / n * 1000
    jd_cpu = statistics.median(j[2] for j in jds) / n * 1000
    print("medians:")
    print(f"bare RQ      : {bare_s:7.2f} s  {n / bare_s:8.1f} jobs/s  {bare_cpu:.2f} ms CPU per job")
    print(f"Jobdeck      : {jd_s:7.2f} s  {n / jd_s:8.1f} jobs/s  (lodging {n} took {lodged:.2f} s)  "
          f"{jd_cpu:.2f} ms CPU per job")
    print(f"ratio Jobdeck/bare = {statistics.median(ratios):.2f}  (median of {len(ratios)} rounds; target >= 0.8); "
          f"CPU per job bare/Jobdeck = {bare_cpu / jd_cpu:.2f}")


if __name__ == "__main__":
    main()
