"""The worker pool: RQ workers on every backend's queue, restarted when they die, and
the reconciler that queues again any PENDING job its queue lost.

Run as `python -m worker.pool [--workers N]`.
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing as mp
import signal
import time

from app import queues
from app.jobtypes import BACKENDS

log = logging.getLogger("jobdeck.pool")


def work(burst: bool = False) -> None:
    """One worker process: RQ's SimpleWorker (no fork per job, ~50 ms pick-up)."""
    from rq import SimpleWorker

    logging.basicConfig(level=logging.WARNING)
    w = SimpleWorker([queues.queue(b) for b in BACKENDS], connection=queues.redis_conn())
    w.work(burst=burst, with_scheduler=False, logging_level="WARNING")


def reconcile_once() -> int:
    from app.launch import reconcile_pending

    try:
        n = reconcile_pending()
        if n:
            log.warning("re-queued %d pending job(s) their queue had lost", n)
        return n
    except queues.REDIS_ERRORS as exc:
        log.warning("reconciler: Redis did not answer (%s); trying again", exc)
        return 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    from app.settings import get_settings
    ap.add_argument("--workers", type=int, default=get_settings().workers)
    ap.add_argument("--reconcile-every", type=float, default=2.0)
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s pool %(message)s")
    ctx = mp.get_context("spawn")
    procs: list[mp.Process] = []
    stopping = False

    def _stop(*_):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    log.info("starting %d worker(s) on queues %s", args.workers, ", ".join(BACKENDS))
    last_reconcile = 0.0
    while not stopping:
        procs = [p for p in procs if p.is_alive()]
        while len(procs) < args.workers and not stopping:
            p = ctx.Process(target=work, daemon=True)
            p.start()
            procs.append(p)
        if time.monotonic() - last_reconcile >= args.reconcile_every:
            reconcile_once()
            last_reconcile = time.monotonic()
        time.sleep(0.5)
    for p in procs:
        p.terminate()
    for p in procs:
        p.join(5)


if __name__ == "__main__":
    main()
