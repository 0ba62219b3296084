"""A long sequential workflow: STEPS trivial steps one after another, Jobdeck against bare
RQ's `depends_on` chain, same Redis, one worker each, in the same run.

    python -m bench.chain [--steps 400] [--database-url URL]

Bare RQ: STEPS calls of a no-op function, each enqueued with `depends_on` the one
before (RQ queues a job when the one it depends on finishes), run by one SimpleWorker.
Jobdeck: one SYSTEM/NOOP job with `then = STEPS - 1`: each step's success lodges the
next in the same transaction (a workflow, as a registry or pipeline workflow lodges
its next step), run by one Jobdeck worker. Both are timed from the first enqueue (or
lodge) to the last step done (SUCCEEDED in SQL for Jobdeck). Prints total and ms per
step for both, and the ratio. The best published figure this is read against: 400
sequential lightweight tasks on one worker in 19.7 s, about 49 ms a step (10 ms of it
the task's own work); the aim here is at most 15 ms a step.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import fresh_environment, private_redis  # noqa: E402
from bench.throughput import _bare_worker, _jobdeck_worker  # noqa: E402

AIM_MS = 15.0
PUBLISHED_MS = 19.7 / 400 * 1000


def bare_rq(redis_url: str, steps: int) -> float:
    import redis
    from rq import Queue

    conn = redis.Redis.from_url(redis_url)
    q = Queue("bare-chain", connection=conn)
    t0 = time.perf_counter()
    prev = None
    for _ in range(steps):
        prev = q.enqueue("bench.noop.noop", depends_on=prev, result_ttl=60)
    proc = mp.get_context("fork").Process(target=_bare_worker, args=(redis_url, "bare-chain"))
    proc.start()
    proc.join()
    elapsed = time.perf_counter() - t0
    prev.refresh()
    assert prev.get_status() == "finished", prev.get_status()
    return elapsed


def jobdeck(steps: int) -> float:
    import sqlalchemy as sa

    from app import auth, launch
    from app.db import session
    from app.models import Job

    root = auth.create_user(username="bench", password="bench-password", role="admin")
    t0 = time.perf_counter()
    first = launch.launch_job(actor=root, job_type="SYSTEM", job_subtype="NOOP", payload={"then": steps - 1})
    proc = mp.get_context("fork").Process(target=_jobdeck_worker)
    proc.start()
    proc.join()
    elapsed = time.perf_counter() - t0
    with session() as s:
        done = s.exec(sa.select(sa.func.count()).select_from(Job)
                      .where(Job.workflow_id == first.workflow_id, Job.status == "SUCCEEDED")).one()[0]
    assert done == steps, f"{done} of {steps} steps succeeded"
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--database-url", default=None, help="default: a new SQLite file")
    args = ap.parse_args()
    with private_redis() as url:
        fresh_environment(url, args.database_url)
        bare = bare_rq(url, args.steps)
        jd = jobdeck(args.steps)
    from app.settings import get_settings
    db = get_settings().database_url.split(":", 1)[0]
    bare_ms, jd_ms = bare / args.steps * 1000, jd / args.steps * 1000
    print(f"steps={args.steps} database={db}, one worker each")
    print(f"bare RQ depends_on chain : {bare:7.2f} s  {bare_ms:6.1f} ms per step")
    print(f"Jobdeck workflow         : {jd:7.2f} s  {jd_ms:6.1f} ms per step")
    print(f"ratio Jobdeck/bare per step = {jd_ms / bare_ms:.2f}; aim <= {AIM_MS:.0f} ms per step "
          f"({jd_ms / AIM_MS:.2f} of it); published best {PUBLISHED_MS:.0f} ms per step")


if __name__ == "__main__":
    main()
