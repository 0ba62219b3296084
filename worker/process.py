"""One worker process: an RQ SimpleWorker on one backend's queue, with the life line of
worker/heartbeat.py. The pool forks it (warm: the code is imported already) and it
stops by itself after its backend's idle timeout.

Why SimpleWorker: RQ's forking worker pays about 450 ms per job for the fork, the
SimpleWorker about 50 ms, and the pool must take a job within 2 s from zero workers and
keep up with bursts of small registry jobs. The price is that the job runs in the
worker's own process, so the worker guards its own time limits and halting (the
heartbeat thread does both) instead of killing a work horse.
"""

from __future__ import annotations

import logging
import signal
import time
from typing import Optional

from rq import SimpleWorker
from rq.timeouts import BaseDeathPenalty

from app import keys
from worker.heartbeat import HALT_SIGNAL, Life, redis_client

log = logging.getLogger("jobdeck.worker")

# Jobs run in the worker's own process, so a worker retires after this many and the pool
# forks a fresh one when there is more work: a slow leak in a handler cannot grow forever.
MAX_JOBS_PER_WORKER = 1000


class NoDeathPenalty(BaseDeathPenalty):
    """RQ's own job timeout (SIGALRM) is off: the heartbeat thread enforces the limit
    of each job type and records the outcome."""

    def setup_death_penalty(self):
        pass

    def cancel_death_penalty(self):
        pass


class JobdeckWorker(SimpleWorker):
    death_penalty_class = NoDeathPenalty

    def __init__(self, *args, life: Life, **kwargs):
        self.life = life
        super().__init__(*args, **kwargs)

    def _install_signal_handlers(self):
        signal.signal(signal.SIGTERM, self.request_stop)
        # Ctrl-C reaches the whole process group; the pool decides how its workers stop.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(HALT_SIGNAL, self.life.on_halt_signal)

    def request_stop(self, signum, frame):
        self.life.stopping()
        super().request_stop(signum, frame)

    def request_force_stop(self, signum, frame):
        # A second stop request while a job runs halts the job (recorded CRASHED and
        # retried by its policy) rather than dropping it in the middle of a write.
        if self.life.phase == "running":
            self.life.on_halt_signal(signum, frame)
            return
        super().request_force_stop(signum, frame)

    def subscribe(self):
        # RQ's command channel (stop-job, kill-horse) is not used: halting goes through the
        # heartbeat's flags. Not listening also spares each worker a thread and a Redis
        # connection, and its stop a 1 s wait for that thread to end.
        pass

    def dequeue_job_and_maintain_ttl(self, timeout, max_idle_time=None):
        self.life.idle()
        if max_idle_time is not None and self.life.idle_timeout_s:
            max_idle_time = self.life.idle_timeout_s  # the backend's setting now, an admin may have changed it
        return super().dequeue_job_and_maintain_ttl(timeout, max_idle_time)


def serve(*, backend: str, name: str, max_workers: int, idle_timeout_s: Optional[int], pool_id: str = "",
          state_cell=None, burst: bool = False, also: tuple[str, ...] = ()) -> int:
    """Run one worker until it has been idle `idle_timeout_s` seconds (or, in `burst`,
    until its queues are empty), or is told to stop. `also` names more backends whose
    queues it serves (outside a pool only). Returns the process exit code."""
    life = Life(backend=backend, max_workers=max_workers, name=name, pool_id=pool_id, state_cell=state_cell,
                watch_parent=bool(pool_id), idle_timeout_s=None if burst else idle_timeout_s)
    life.start()
    reason = "queues empty" if burst else "idle timeout"
    try:
        worker = JobdeckWorker([keys.queue_name(b) for b in (backend, *also)], name=name,
                               connection=redis_client(), life=life)
        worker.work(burst=burst, with_scheduler=False, max_idle_time=idle_timeout_s, logging_level="WARNING",
                    max_jobs=None if burst else MAX_JOBS_PER_WORKER)
        if life.stop_asked or worker._stop_requested:
            reason = life.stop_why or "asked to stop"
        elif not burst and life.handled >= MAX_JOBS_PER_WORKER:
            reason = f"retired after {life.handled} jobs"
        elif not burst and time.monotonic() - life.last_active < (idle_timeout_s or 0) - 1:
            reason = "its work loop ended early (see the pool's log)"
    except BaseException as exc:  # recorded on the worker for admins, then re-raised
        reason = f"{type(exc).__name__}: {exc}"
        life.stop(state="dead", reason=reason)
        raise
    life.stop(state="stopped", reason=reason)
    return 0
