"""One worker process: an RQ SimpleWorker on one backend's queues, with the life line of
worker/heartbeat.py. The pool forks it (warm: the code is imported already) and it
stops by itself after its backend's idle timeout.

Why SimpleWorker: RQ's forking worker pays about 450 ms per job for the fork, the
SimpleWorker about 50 ms, and the pool must take a job within 2 s from zero workers and
keep up with bursts of small registry jobs. The price is that the job runs in the
worker's own process, so the worker guards its own time limits and halting (the
heartbeat thread does both) instead of killing a work horse.

Between two jobs the main thread decides, not a signal: an idle worker waits on its
queue at most WAIT_S at a time, and before each wait it looks whether it must stop
(asked to, its backend paused or shrunk, idle long enough). A job it pops is checked
once more before it starts: one lodged after an admin paused the backend goes back to
the head of its queue untouched, and the worker stops.
"""

from __future__ import annotations

import logging
import signal
import time
from typing import Optional

from rq import Queue
from rq.timeouts import BaseDeathPenalty

from app import keys
from worker.bookkeeping import LeanBookkeeping
from worker.heartbeat import HALT_SIGNAL, Life, redis_client

log = logging.getLogger("jobdeck.worker")

# Jobs run in the worker's own process, so a worker retires after this many and the pool
# forks a fresh one when there is more work: a slow leak in a handler cannot grow forever.
MAX_JOBS_PER_WORKER = 1000
WAIT_S = 0.5  # an idle worker's longest wait on its queue before it looks at its settings again


class NoDeathPenalty(BaseDeathPenalty):
    """RQ's own job timeout (SIGALRM) is off: the heartbeat thread enforces the limit
    of each job type and records the outcome."""

    def setup_death_penalty(self):
        pass

    def cancel_death_penalty(self):
        pass


# The head of the first of several queues that holds a job, popped in one round trip:
# RQ's non-blocking pop asks each queue in turn (a worker serving every backend asked up
# to twelve). Same order, so a higher priority still goes first.
_POP_FIRST_LUA = """
for i, key in ipairs(KEYS) do
  local id = redis.call('LPOP', key)
  if id then return {key, id} end
end
return false
"""


class JobdeckQueue(Queue):
    @classmethod
    def lpop(cls, queue_keys, timeout, connection=None):
        if timeout is not None or len(queue_keys) < 2:
            return super().lpop(queue_keys, timeout, connection=connection)
        got = connection.register_script(_POP_FIRST_LUA)(keys=list(queue_keys))
        return tuple(got) if got else None


class JobdeckWorker(LeanBookkeeping):
    death_penalty_class = NoDeathPenalty
    queue_class = JobdeckQueue

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
        # RQ's command channel (rq's send_*_command) is not Jobdeck's way to stop a job or
        # a worker (the life line is), and its thread cost every stop a 1 s join.
        pass

    def _shutdown(self):
        # RQ raises StopRequested here when no job runs, wherever the main thread is, also
        # just after it popped a job (the job then sits in RQ's intermediate list until the
        # reaper finds it). The loop below looks at the request at least every WAIT_S.
        self._stop_requested = True

    def dequeue_job_and_maintain_ttl(self, timeout, max_idle_time=None):
        if timeout is None:  # burst: RQ does not wait
            self.life.idle()
            return super().dequeue_job_and_maintain_ttl(None, None)
        while True:
            self.life.idle()
            if self._stop_requested:
                return None
            why = self.life.why_stop(time.monotonic())
            if why is not None:
                self.life.stop_between_jobs(why)
                return None
            got = super().dequeue_job_and_maintain_ttl(WAIT_S, WAIT_S)  # None after WAIT_S with no job
            if got is None:
                continue
            # Told to stop during the wait, or the backend paused: the job goes to another worker.
            why = ("asked to stop" if self._stop_requested or self.life.stop_asked
                   else self.life.paused_since_wait())
            if why is None:
                return got
            self._hand_back(*got, why=why)
            self.life.stop_between_jobs(why)
            return None

    def _hand_back(self, job, queue, *, why: str) -> None:
        """Put a job just popped back at the head of its queue, as if never taken."""
        with self.connection.pipeline() as pipe:  # one MULTI: the job is never in neither list
            pipe.lrem(queue.intermediate_queue_key, 1, job.id)
            pipe.lpush(queue.key, job.id)
            pipe.execute()
        log.warning("worker %s: job %s put back on its queue (%s)", self.name, job.id, why)


def serve(*, backend: str, name: str, max_workers: int, idle_timeout_s: Optional[int], pool_id: str = "",
          state_cell=None, burst: bool = False, also: tuple[str, ...] = ()) -> int:
    """Run one worker until it has been idle `idle_timeout_s` seconds (or, in `burst`,
    until its queues are empty), or is told to stop. `also` names more backends whose
    queues it serves (outside a pool only). Returns the process exit code."""
    life = Life(backend=backend, max_workers=max_workers, name=name, pool_id=pool_id, state_cell=state_cell,
                watch_parent=bool(pool_id), idle_timeout_s=None if burst else idle_timeout_s)
    life.start()
    reason = "queues empty" if burst else "its work loop ended (see the pool's log)"
    try:
        # Each backend's high, normal and low queues, in that order: RQ takes from the first
        # that holds a job, so a higher priority always goes first.
        worker = JobdeckWorker([q for b in (backend, *also) for q in keys.queue_names(b)], name=name,
                               connection=redis_client(), life=life)
        # The idle timeout is the life line's (it follows the backend's setting), not RQ's.
        worker.work(burst=burst, with_scheduler=False, logging_level="WARNING",
                    max_jobs=None if burst else MAX_JOBS_PER_WORKER)
        if life.stop_asked or worker._stop_requested:
            reason = life.stop_why or "asked to stop"
        elif not burst and life.handled >= MAX_JOBS_PER_WORKER:
            reason = f"retired after {life.handled} jobs"
    except BaseException as exc:  # recorded on the worker for admins, then re-raised
        reason = f"{type(exc).__name__}: {exc}"
        life.stop(state="dead", reason=reason)
        raise
    life.stop(state="stopped", reason=reason)
    return 0
