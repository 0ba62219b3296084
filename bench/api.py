"""The REST API: request latency, and how fast a transition reaches open event streams.

    python -m bench.api [--requests 300] [--streams 20] [--jobs 40]

Serves build_api() with uvicorn on a free port (its own redis-server, a fresh SQLite
database, one admin token; the rate limit off). Then:

1. REQUESTS sequential calls each of POST /api/jobs (a diagnostic job), GET
   /api/jobs/{id} and GET /api/jobs?limit=100 over one keep-alive connection: p50 / p95
   and calls per second.
2. STREAMS clients open GET /api/batches/{id}/events on one batch of JOBS pending jobs;
   the jobs are then moved DEQUEUED one by one through the guarded transition, as a
   worker would. Each client records when each transition arrives; the figure is
   arrival time - the transition's commit stamp (`at`). Printed: p50 / p95 / max, and
   the ratio to the 2.5 s a client polling like Provena's waits on average for half an
   interval (1.25 s).

Clients run as threads of this process, so the figures include their share of the
GIL on a 2-core machine: an upper bound of what a separate client sees.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import free_port, fresh_environment, private_redis  # noqa: E402

POLL_HALF_INTERVAL_MS = 1250.0


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def serve():
    import uvicorn

    from app.api import build_api

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(build_api(), host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="off"))
    t = threading.Thread(target=server.run, daemon=True)
    t.start()
    while not server.started:
        time.sleep(0.02)
    return server, t, f"http://127.0.0.1:{port}"


def requests_part(base: str, token: str, n: int) -> None:
    import httpx

    h = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, headers=h, timeout=30) as c:
        ids, timings = [], {}
        for name, call in (
            ("POST /api/jobs", lambda i: ids.append(c.post("/api/jobs", json={
                "job_type": "SYSTEM", "job_subtype": "NOOP", "payload": {"sleep_s": 0}}).json()["id"])),
            ("GET /api/jobs/{id}", lambda i: c.get(f"/api/jobs/{ids[i % len(ids)]}").raise_for_status()),
            ("GET /api/jobs?limit=100", lambda i: c.get("/api/jobs", params={"limit": 100}).raise_for_status()),
        ):
            spent = []
            start = time.perf_counter()
            for i in range(n):
                t0 = time.perf_counter()
                call(i)
                spent.append((time.perf_counter() - t0) * 1000)
            total = time.perf_counter() - start
            timings[name] = (statistics.median(spent), pct(spent, 95), n / total)
    print(f"\n{'request':<26}{'p50 ms':>9}{'p95 ms':>9}{'calls/s':>10}")
    for name, (p50, p95, rate) in timings.items():
        print(f"{name:<26}{p50:>9.1f}{p95:>9.1f}{rate:>10.0f}")


def streams_part(base: str, token: str, streams: int, jobs: int) -> None:
    import httpx

    from app import auth, launch, lifecycle
    from app.lifecycle import JobStatus

    admin = auth.get_user("admin")
    batch = launch.launch_batch(actor=admin, job_type="SYSTEM", job_subtype="NOOP", payloads=[{}] * jobs)
    from app import queries

    job_ids = [j.id for j in queries.batch_jobs(viewer=admin, batch_id=batch.id, limit=500).jobs]
    arrivals: list[float] = []
    ready = threading.Barrier(streams + 1)
    lock = threading.Lock()

    def client():
        with httpx.stream("GET", f"{base}/api/batches/{batch.id}/events",
                          headers={"Authorization": f"Bearer {token}"}, timeout=httpx.Timeout(10, read=120)) as r:
            name = None
            for line in r.iter_lines():
                if line.startswith("event:"):
                    name = line[6:].strip()
                    if name == "snapshot":
                        continue
                elif line.startswith("data:") and name == "snapshot":
                    ready.wait()
                elif line.startswith("data:") and name == "transition":
                    got = time.time()
                    at = datetime.fromisoformat(json.loads(line[5:])["at"]).timestamp()
                    with lock:
                        arrivals.append((got - at) * 1000)
                elif line.startswith("data:") and name == "batch":
                    pass
                if name == "end":
                    return

    threads = [threading.Thread(target=client, daemon=True) for _ in range(streams)]
    for t in threads:
        t.start()
    ready.wait()
    for jid in job_ids:  # as a worker would, one after another
        lifecycle.transition(jid, JobStatus.DEQUEUED, message="taken (bench)")
        time.sleep(0.02)
    for jid in job_ids:
        lifecycle.transition(jid, JobStatus.CANCELLED, message="done (bench)")
    for t in threads:
        t.join(120)
    expected = streams * jobs * 2
    print(f"\nSSE: {streams} streams on a batch of {jobs} jobs, {len(arrivals)}/{expected} transitions delivered")
    p50, p95, worst = statistics.median(arrivals), pct(arrivals, 95), max(arrivals)
    print(f"commit -> client   p50 {p50:.1f} ms   p95 {p95:.1f} ms   max {worst:.1f} ms")
    print(f"ratio to polling every 2.5 s (mean wait {POLL_HALF_INTERVAL_MS:.0f} ms): "
          f"{POLL_HALF_INTERVAL_MS / p50:.0f}x faster at p50, {POLL_HALF_INTERVAL_MS / p95:.0f}x at p95")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=300)
    ap.add_argument("--streams", type=int, default=20)
    ap.add_argument("--jobs", type=int, default=40)
    args = ap.parse_args()
    os.environ["JOBDECK_API_RATE_LIMIT"] = "0"
    with private_redis() as url:
        fresh_environment(url)
        from app import auth

        auth.create_user(username="admin", password="bench-password", role="admin")
        token = auth.create_token(owner="admin")[0]
        server, thread, base = serve()
        try:
            requests_part(base, token, args.requests)
            streams_part(base, token, args.streams, args.jobs)
        finally:
            server.should_exit = True
            thread.join(10)


if __name__ == "__main__":
    main()
