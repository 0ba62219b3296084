"""How fast the pool reacts, with its default settings unless told otherwise.

    python -m bench.pool [--rounds 5]

Prints, from the job's own timestamps and history:
- cold start: lodged with no worker running → DEQUEUED (target: within 2 s);
- warm pick-up: lodged with an idle worker → DEQUEUED;
- cancel → halted: a running 60 s job cancelled → its worker free again (target: 2 s);
- kill → CRASHED: a worker killed with SIGKILL mid-job → the job's CRASHED line;
- pause → hold: an admin's save of max workers 0 with a worker idle, a job lodged the
  moment it returns: how soon the idle worker stops, and how many such jobs ran anyway
  (target: none);
- resume → start: the save of max workers 1 with that job waiting → the job DEQUEUED
  (target: 1 s);
- vanished host → CRASHED: pool and worker killed together, nobody left to tell, so the
  reaper of another pool must notice the missing heartbeats (target: 60 s; it is
  JOBDECK_WORKER_TTL_S, 20 s by default, plus a second or two).
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import fresh_environment, private_redis  # noqa: E402


def _wait(pred, timeout: float = 60.0, every: float = 0.01):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = pred()
        if got:
            return got
        time.sleep(every)
    raise RuntimeError("timed out waiting")


def _pool(log: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "worker.pool", *args], cwd=ROOT, env=dict(os.environ),
                            stdout=log.open("a"), stderr=subprocess.STDOUT)


def _stats(xs: list[float]) -> str:
    return f"median {statistics.median(xs):.3f} s, max {max(xs):.3f} s (n={len(xs)})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    with private_redis() as url:
        data = fresh_environment(url)
        from app import auth, launch
        from app.demo import seed_backends
        from app.queries import job_messages
        from app.workers import list_workers
        from sqlmodel import select

        from app.backends import forget_cached, update_backend
        from app.db import session
        from app.models import Backend

        seed_backends()
        with session(write=True) as s:
            b = s.exec(select(Backend).where(Backend.name == "system")).one()
            b.idle_timeout_s, b.max_workers = 1, 1
        forget_cached()
        root = auth.create_user(username="bench", password="bench-password", role="admin")
        log = data / "pool.log"
        pool = _pool(log, "--backends", "system")

        def live():
            return [w for w in list_workers(backend="system") if w.alive]

        def lodge(**payload):
            return launch.launch_job(actor=root, job_type="SYSTEM", job_subtype="NOOP", payload=payload)

        def taken(job_id):
            j = launch.get_job(job_id)
            return j if j.dequeued_at else None

        try:
            time.sleep(2)
            cold, warm, halt, kill = [], [], [], []
            for _ in range(args.rounds):
                _wait(lambda: not live(), 30, 0.05)  # idle timeout 1 s: back to zero workers
                time.sleep(0.3)
                jid = lodge().id  # lodged once, then waited for
                j = _wait(lambda: taken(jid))
                cold.append((j.dequeued_at - j.created_at).total_seconds())
                time.sleep(0.2)  # the worker is idle now
                jid = lodge().id
                j = _wait(lambda: taken(jid))
                warm.append((j.dequeued_at - j.created_at).total_seconds())
            for _ in range(args.rounds):
                job = lodge(sleep_s=60)
                _wait(lambda: [w for w in live() if w.current_job_id == job.id])
                t0 = time.monotonic()
                launch.cancel_job(actor=root, job_id=job.id)
                _wait(lambda: not [w for w in live() if w.current_job_id == job.id])
                halt.append(time.monotonic() - t0)
            for _ in range(args.rounds):
                job = lodge(sleep_s=60)
                _wait(lambda: launch.get_job(job.id).status == "IN_PROGRESS")
                w = _wait(lambda: next((w for w in live() if w.current_job_id == job.id), None))
                os.kill(w.pid, signal.SIGKILL)
                t_kill = time.time()
                m = _wait(lambda: next((m for m in job_messages(job.id) if m.status == "CRASHED"), None), 60, 0.05)
                kill.append(m.at.timestamp() - t_kill)
            # pause and resume, as an admin's save does them
            update_backend(actor=root, name="system", idle_timeout_s=60)
            stopped, ran_anyway, resumed = [], 0, []
            for _ in range(args.rounds):
                _wait(lambda jid=lodge().id: launch.get_job(jid).status == "SUCCEEDED")
                _wait(lambda: [w for w in live() if w.state == "idle"])
                t0 = time.monotonic()
                update_backend(actor=root, name="system", max_workers=0)
                job = lodge()  # lodged the moment Save returns
                _wait(lambda: not live(), 30, 0.005)
                stopped.append(time.monotonic() - t0)
                time.sleep(0.5)
                ran_anyway += launch.get_job(job.id).status != "PENDING"
                t1 = time.time()
                update_backend(actor=root, name="system", max_workers=1)
                j = _wait(lambda jid=job.id: taken(jid))
                resumed.append(j.dequeued_at.timestamp() - t1)
            update_backend(actor=root, name="system", idle_timeout_s=1)
            # a host that vanishes: its pool and worker die together; another pool's reaper notices
            other = _pool(log, "--backends", "registry")
            job = lodge(sleep_s=120)
            _wait(lambda: launch.get_job(job.id).status == "IN_PROGRESS")
            w = _wait(lambda: next((w for w in live() if w.current_job_id == job.id), None))
            pool.kill()
            os.kill(w.pid, signal.SIGKILL)
            t_kill = time.time()
            m = _wait(lambda: next((m for m in job_messages(job.id) if m.status == "CRASHED"), None), 120, 0.2)
            vanished = m.at.timestamp() - t_kill
            other.send_signal(signal.SIGTERM)
            other.wait(30)
        finally:
            if pool.poll() is None:
                pool.send_signal(signal.SIGTERM)
                pool.wait(30)
        from app.settings import get_settings

        s = get_settings()
        print(f"heartbeat {s.heartbeat_s:g} s, worker time-to-live {s.worker_ttl_s:g} s")
        print(f"cold start (no worker) -> DEQUEUED : {_stats(cold)}   target 2 s")
        print(f"warm pick-up (idle worker)        : {_stats(warm)}")
        print(f"cancel -> running job halted      : {_stats(halt)}   target 2 s")
        print(f"kill -9 -> CRASHED recorded        : {_stats(kill)}   target 60 s")
        print(f"pause -> idle worker stopped      : {_stats(stopped)}")
        print(f"pause -> jobs lodged after it run : {ran_anyway} of {len(stopped)}   target 0")
        print(f"resume -> waiting job DEQUEUED    : {_stats(resumed)}   target 1 s")
        print(f"vanished host -> CRASHED recorded  : {vanished:.3f} s   target 60 s")
        print(f"  ({m.text})")


if __name__ == "__main__":
    main()
