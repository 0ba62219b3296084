"""Pipeline runs through a real pool, on SQLite (or PostgreSQL with --database-url).

    python -m bench.pipelines [--rounds 5] [--runs 20] [--workers 2] [--database-url URL]

Prints, from the jobs' own timestamps:
- one run of the demo pipeline "Text summary" at a time (two parallel steps, then the
  step they join into): upload to last step finished, each step's own time, the join
  (last parallel step finished -> next step lodged: same transaction, so ~0) and the
  next step's pick-up;
- a one-step run of `true` against a SYSTEM/NOOP job lodged the same way: the cost of a
  pipeline step (upload stored, working directory, subprocess, history) as a ratio;
- --runs runs lodged at once: wall time, steps per second, and that each run lodged its
  join step exactly once.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import fresh_environment, private_redis  # noqa: E402

TEXT = ("the quick brown fox jumps over the lazy dog\n" * 200).encode()


def _wait(pred, timeout: float = 120.0, every: float = 0.01):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = pred()
        if got:
            return got
        time.sleep(every)
    raise RuntimeError("timed out waiting")


def _ms(a, b) -> float:
    return (b - a).total_seconds() * 1000


def _stats(xs: list[float], unit: str = "ms") -> str:
    return f"median {statistics.median(xs):.1f} {unit}, max {max(xs):.1f} {unit} (n={len(xs)})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--database-url", default=None)
    args = ap.parse_args()
    # One submitter lodges --runs runs at once: fair use (app.fairuse) would refuse them past
    # its hard limit, and this measures the engine, not the limits.
    os.environ["JOBDECK_QUEUE_HOG_SIZE"] = os.environ["JOBDECK_QUEUE_HARD_LIMIT"] = "0"
    with private_redis() as url:
        data = fresh_environment(url, args.database_url)
        from sqlmodel import select

        from app import auth, launch, pipelines
        from app.backends import forget_cached
        from app.db import session
        from app.demo import DEMO_PIPELINES, DEMO_TASKS, seed_backends
        from app.lifecycle import FINAL
        from app.models import Backend

        seed_backends()
        with session(write=True) as s:
            for b in s.exec(select(Backend).where(Backend.name.in_(["pipeline", "system"]))):
                b.max_workers, b.idle_timeout_s = args.workers, 60
        forget_cached()
        admin = auth.create_user(username="bench", password="bench-password", role="admin")
        for t in DEMO_TASKS:
            pipelines.create_task(actor=admin, **t)
        for name, description, steps in DEMO_PIPELINES:
            pipelines.create_pipeline(actor=admin, name=name, description=description, steps=steps)
        pipelines.create_task(actor=admin, name="nothing", command="true")
        one = pipelines.create_pipeline(actor=admin, name="One step", steps=[{"order": 1, "task": "nothing"}])
        pool = subprocess.Popen([sys.executable, "-m", "worker.pool", "--backends", "pipeline,system"], cwd=ROOT,
                                env=dict(os.environ), stdout=(data / "pool.log").open("w"), stderr=subprocess.STDOUT)
        try:
            def done(root_id: str, n: int):
                steps = pipelines.run_steps(root_id)
                return steps if len(steps) == n and all(j.status in {s.value for s in FINAL} for j in steps) else None

            # warm up: a worker per backend. Lodge once, then wait for that run (a predicate
            # that lodged would lodge a new run on every poll and never see one finish).
            warm = pipelines.run_pipeline(actor=admin, pipeline=one.id, file_name="w.txt", content=b"w",
                                          parameters={})
            _wait(lambda: done(warm.id, 1))
            noop = launch.launch_job(actor=admin, job_type="SYSTEM", job_subtype="NOOP", payload={})
            _wait(lambda: launch.get_job(noop.id).status == "SUCCEEDED")

            total, own, join, pickup = [], [], [], []
            for _ in range(args.rounds):
                t0 = time.perf_counter()
                root = pipelines.run_pipeline(actor=admin, pipeline="Text summary", file_name="fox.txt",
                                              content=TEXT, parameters={"top": "5"})
                steps = _wait(lambda: done(root.id, 3))
                total.append((time.perf_counter() - t0) * 1000)
                assert [j.status for j in steps] == ["SUCCEEDED"] * 3, [j.info for j in steps]
                first, last = steps[:2], steps[2]
                own += [_ms(j.started_at, j.finished_at) for j in steps]
                join.append(_ms(max(j.finished_at for j in first), last.created_at))
                pickup.append(_ms(last.created_at, last.dequeued_at))
            print(f"Text summary, one run at a time ({len(TEXT)} bytes, {args.workers} workers):")
            print(f"  upload -> last step finished   {_stats(total)}")
            print(f"  a step's own run               {_stats(own)}")
            print(f"  join (last of order 1 finished -> order 2 lodged)  {_stats(join)}")
            print(f"  order 2 lodged -> taken        {_stats(pickup)}")

            step_ms, noop_ms = [], []
            for _ in range(args.rounds):
                r = pipelines.run_pipeline(actor=admin, pipeline=one.id, file_name="t.txt", content=b"t", parameters={})
                (j,) = _wait(lambda: done(r.id, 1))
                step_ms.append(_ms(j.created_at, j.finished_at))
                n = launch.launch_job(actor=admin, job_type="SYSTEM", job_subtype="NOOP", payload={})
                got = _wait(lambda: (x := launch.get_job(n.id)).status == "SUCCEEDED" and x)
                noop_ms.append(_ms(got.created_at, got.finished_at))
            print("One step of `true` against a SYSTEM/NOOP job, lodged to finished:")
            print(f"  pipeline step  {_stats(step_ms)}")
            print(f"  NOOP job       {_stats(noop_ms)}")
            print(f"  ratio          {statistics.median(step_ms) / statistics.median(noop_ms):.1f}x")

            t0 = time.perf_counter()
            roots = [pipelines.run_pipeline(actor=admin, pipeline="Text summary", file_name=f"fox{i}.txt",
                                            content=TEXT, parameters={}).id for i in range(args.runs)]
            lodged_s = time.perf_counter() - t0
            finished = {r: _wait(lambda r=r: done(r, 3), timeout=600) for r in roots}
            wall = time.perf_counter() - t0
            ok = sum(all(j.status == "SUCCEEDED" for j in s) for s in finished.values())
            joins = sorted({len([j for j in s if j.step == 2]) for s in finished.values()})
            print(f"{args.runs} runs lodged at once ({3 * args.runs} steps, {args.workers} workers):")
            print(f"  lodged in {lodged_s:.2f} s; all finished after {wall:.2f} s; "
                  f"{3 * args.runs / wall:.1f} steps/s")
            print(f"  runs all succeeded: {ok}/{args.runs}; join steps per run: {joins} (1 means exactly once)")
        finally:
            pool.terminate()
            pool.wait(30)


if __name__ == "__main__":
    main()
