"""A worker's life line: a thread that reports the worker to Redis every few seconds
(also while a long job runs), keeps the worker's slot of its backend, and watches the
job in hand. A job that is cancelled, reaped or over its time limit is halted.

Halting raises JobHalted in the main thread, where RQ's SimpleWorker runs the handler:
the thread sends the process a signal and the signal handler raises, which interrupts
sleeps, subprocess waits and Python code alike. A handler that has not stopped
HALT_GRACE_S later (stuck in C code) costs the worker its life: the thread records
the outcome, and the process exits; the pool starts another worker.
"""

from __future__ import annotations

import logging
import os
import secrets
import signal
import socket
import threading
import time
from contextlib import contextmanager
from typing import Iterator, Optional

import redis

from app import events as job_events
from app import keys
from app.settings import get_settings

log = logging.getLogger("jobdeck.worker")

HALT_SIGNAL = signal.SIGUSR1
HALT_GRACE_S = 1.5
POLL_S = 0.2  # how often a running job's halt flag is read: cancel halts within ~0.2 s
SQL_CHECK_S = 2.0  # the job's row is read this often too, in case Redis lost the flag
HASH_TTL_S = 3600  # a gone worker stays visible to admins this long
HARD_EXIT_CODE = 70

# Pool-visible states (a shared integer per worker process).
STARTING, IDLE, BUSY, STOPPING = 0, 1, 2, 3
_CODES = {"starting": STARTING, "idle": IDLE, "busy": BUSY, "stopping": STOPPING}

# One script per heartbeat: the worker's hash, its place in the index (scored with the
# server's clock, so hosts need not agree on the time) and its slot lease. Returns 0
# when the slot is lost and the backend is full: the worker then stops.
BEAT_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local name = ARGV[1]
local ttl = tonumber(ARGV[2])
local most = tonumber(ARGV[3])
local fields = {}
for i = 5, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[1], 'beat_at', string.format('%.3f', now), unpack(fields))
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[4]))
redis.call('ZADD', KEYS[2], now, name)
if most < 0 then
  return 1  -- a worker outside any pool holds no slot
end
if ARGV[6] == 'stopped' or ARGV[6] == 'dead' then
  redis.call('ZREM', KEYS[3], name)
  return 1
end
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
if redis.call('ZSCORE', KEYS[3], name) or redis.call('ZCARD', KEYS[3]) < most then
  redis.call('ZADD', KEYS[3], now + ttl, name)
  return 1
end
return 0
"""

# Take a slot of a backend for a worker about to start (the pool, before it forks).
ACQUIRE_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZSCORE', KEYS[1], ARGV[1]) or redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
  return 1
end
return 0
"""


class JobHalted(BaseException):
    """Raised inside a running handler to stop it. A BaseException, so that a handler's
    own `except Exception` cannot swallow it.

    reason: "cancelled" (a user or admin cancelled the job), "gone" (the job is no
    longer this worker's: reaped or retried), "timeout", or "shutdown" (the worker
    was told to stop and the job did not finish in time).
    """

    def __init__(self, reason: str, limit_s: Optional[float] = None):
        super().__init__(reason)
        self.reason = reason
        self.limit_s = limit_s


def worker_name(backend: str) -> str:
    """Unique among live and recently dead workers (RQ refuses a name still registered)."""
    return f"{backend}-{os.getpid()}-{secrets.token_hex(2)}@{socket.gethostname()}"


def redis_client() -> redis.Redis:
    """A connection of the worker's own with short timeouts: RQ stretches the timeout of
    the connection it blocks on, and a heartbeat must never hang for minutes."""
    return redis.Redis.from_url(get_settings().redis_url, socket_connect_timeout=1.0, socket_timeout=2.0)


_current: Optional["Life"] = None


def current() -> Optional["Life"]:
    """The life line of this worker process, if it runs under the pool."""
    return _current


class Life:
    """Heartbeats, slot lease and job watch of one worker process."""

    def __init__(self, *, backend: str, max_workers: int, name: Optional[str] = None, pool_id: str = "",
                 state_cell=None, watch_parent: bool = False, idle_timeout_s: Optional[int] = None):
        s = get_settings()
        self.backend = backend
        self.max_workers = max_workers  # negative: a worker outside any pool (no slot, no settings followed)
        self.idle_timeout_s = idle_timeout_s
        self.name = name or worker_name(backend)
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.pool_id = pool_id
        self.heartbeat_s = s.heartbeat_s
        self.ttl_s = s.worker_ttl_s
        self.started_at = time.time()
        self.last_active = time.monotonic()
        self.redis = redis_client()
        self._beat = self.redis.register_script(BEAT_LUA)
        self._cell = state_cell
        self._ppid = os.getppid() if watch_parent else None
        self.state = "starting"
        self.exit_reason = ""
        # The job in hand; written by the main thread, read by the watch thread.
        self.job_id: Optional[str] = None
        self.attempt: Optional[int] = None
        self.job_since: Optional[float] = None
        self.phase = "idle"  # idle | taking | running | recording
        # Which run of a handler is in hand, counted: a look of the watch thread is acted on
        # only within the run it began in (the job it read may have ended meanwhile, and
        # the next one's start not be committed yet when it read: not a reason to halt it).
        self.runs = 0
        self.limit_s: Optional[float] = None
        self.deadline: Optional[float] = None
        self.halt_reason: Optional[str] = None
        self.halt_at: Optional[float] = None
        self.early = None  # the unrecorded start of the job in hand (worker/early.py), if any
        # The backend's settings as read the moment the job in hand was popped: its time
        # limit is taken from them (one read of the settings token a job less).
        self.taken_with = None
        self.done = 0
        self.failed = 0
        self.handled = 0
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self.stop_asked = False
        self.stop_why = ""
        self._redis_down_logged = False
        self._ranked_for: object = None  # the settings this worker's rank was last checked against

    # --- start and stop --------------------------------------------------------

    def start(self) -> None:
        global _current
        _current = self
        signal.signal(HALT_SIGNAL, self.on_halt_signal)
        try:
            self.beat()
        except redis.RedisError as exc:  # the thread beats again shortly
            log.warning("worker %s: first heartbeat not sent: %s", self.name, exc)
        self._thread = threading.Thread(target=self._run, name="jobdeck-heartbeat", daemon=True)
        self._thread.start()

    def stop(self, *, state: str = "stopped", reason: str = "") -> None:
        global _current
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(5)
        self._final(state, reason)
        if _current is self:
            _current = None

    def _final(self, state: str, reason: str) -> None:
        self.state, self.exit_reason = state, reason
        self._set_cell("stopping")
        try:
            self.beat()
        except redis.RedisError:
            pass

    def _set_cell(self, state: str) -> None:
        if self._cell is not None and state in _CODES:
            self._cell.value = _CODES[state]

    # --- what the pool, the console and the reaper see ---------------------------

    def fields(self) -> dict[str, str]:
        return {
            "state": self.state, "name": self.name, "host": self.host, "pid": str(self.pid),
            "backend": self.backend, "pool": self.pool_id, "job": self.job_id or "",
            "attempt": str(self.attempt or ""), "job_since": f"{self.job_since:.3f}" if self.job_since else "",
            "done": str(self.done), "failed": str(self.failed), "started_at": f"{self.started_at:.3f}",
            "exit": self.exit_reason,
        }

    def beat(self) -> bool:
        """Report now; False when the slot was lost to other workers (then stop)."""
        f = self.fields()
        args = [self.name, self.ttl_s, self.max_workers, HASH_TTL_S, "state", f.pop("state")]
        for k, v in f.items():
            args += [k, v]
        ok = self._beat(keys=[keys.worker_key(self.name), keys.workers_index(), keys.worker_slots(self.backend)],
                        args=args)
        return bool(ok)

    def _push(self, *, events: list = (), **fields: str) -> None:
        """Write a change at once (not at the next beat): the reaper must see which job
        this worker holds before the job's row says so. `events` (a job's last
        transition, committed) go out in the same round trip."""
        try:
            if events:
                with self.redis.pipeline(transaction=False) as pipe:
                    job_events.add_to(pipe, list(events))
                    pipe.hset(keys.worker_key(self.name), mapping=fields)
                    pipe.execute()
            else:
                self.redis.hset(keys.worker_key(self.name), mapping=fields)
        except redis.RedisError as exc:
            log.warning("worker %s: could not report %s: %s", self.name, fields, exc)

    # --- the job in hand (main thread) --------------------------------------------

    def idle(self) -> None:
        if self.state != "idle" and not self.stop_asked:
            if self.state == "starting":
                # Idle from now, not from the fork: a worker whose start took longer than its
                # idle timeout (a loaded host) must still look at the queue it was started for.
                self.last_active = time.monotonic()
            self.state = "idle"
            self._set_cell("idle")
            self._push(state="idle")

    def taking(self, job_id: str, attempt: Optional[int]) -> None:
        self.job_id, self.attempt, self.job_since = job_id, attempt, time.time()
        self.phase, self.halt_reason, self.halt_at = "taking", None, None
        self.state = "busy"
        self._set_cell("busy")
        self._push(state="busy", job=job_id, attempt=str(attempt or ""), job_since=f"{self.job_since:.3f}")

    def took(self, attempt: int, early=None) -> None:
        """The job in hand is this attempt's; `early`, its unrecorded start (worker/early.py),
        which this thread records once it is due."""
        self.attempt = attempt
        self.early = early

    @contextmanager
    def running(self, limit_s: Optional[float]) -> Iterator[None]:
        """Around the handler: the only place where JobHalted may be raised."""
        self.limit_s = limit_s
        self.deadline = time.monotonic() + limit_s if limit_s else None
        self.runs += 1
        self.phase = "running"
        try:
            yield
        finally:
            self.phase = "recording"
            self.deadline = None

    def finished(self, outcome: str, events: list = ()) -> None:
        """The job in hand is done; `events` are its last transition's, not yet published."""
        self.last_active = time.monotonic()
        self.handled += 1
        if outcome == "succeeded":
            self.done += 1
        elif outcome in ("failed", "crashed", "timeout"):
            self.failed += 1
        self.job_id = self.attempt = self.job_since = self.early = self.taken_with = None
        self.phase, self.halt_reason, self.halt_at, self.limit_s = "idle", None, None, None
        self.state = "stopping" if self.stop_asked else "idle"
        self._set_cell(self.state)
        self._push(state=self.state, job="", attempt="", job_since="", done=str(self.done),
                   failed=str(self.failed), events=events)

    # --- halting ------------------------------------------------------------------

    def on_halt_signal(self, signum, frame) -> None:
        """Signal handler (main thread): raise JobHalted if a handler is running."""
        if self.phase != "running":
            return
        if self.halt_reason is None:  # from outside: the pool stops and the job did not finish
            self.halt_reason, self.halt_at = "shutdown", time.monotonic()
        raise JobHalted(self.halt_reason, self.limit_s)

    def request_halt(self, reason: str, run: int) -> None:
        """Halt the handler running now, if it is still run number `run`."""
        if self.halt_reason is not None or self.phase != "running" or run != self.runs:
            return
        self.halt_reason, self.halt_at = reason, time.monotonic()
        log.warning("worker %s: halting job %s (%s)", self.name, self.job_id, reason)
        os.kill(self.pid, HALT_SIGNAL)

    def stopping(self) -> None:
        """The worker was told to stop: it finishes the job in hand, takes no other."""
        self.stop_asked = True
        self.state = "stopping"
        self._set_cell("stopping")

    def ask_stop(self, why: str) -> None:
        """Stop after the job in hand (RQ's warm shutdown, by SIGTERM to ourselves; from
        the watch thread)."""
        if not self.stop_asked:
            self.stop_why = why
            self.stopping()
            log.warning("worker %s: stopping: %s", self.name, why)
            os.kill(self.pid, signal.SIGTERM)

    # --- between two jobs (main thread) -------------------------------------------

    def _settings(self):
        """The backend's settings now: read again when an admin changed them, so a change
        reaches the workers already running too, not only those started after it."""
        from app.backends import BackendConfig, backend_config  # the database, read by pool workers only

        try:
            cfg = backend_config(self.backend)
        except Exception as exc:  # the database is busy or away: go on with what was read last
            log.warning("worker %s: settings of backend %s not read: %s", self.name, self.backend, exc)
            return self._ranked_for or BackendConfig(self.backend, self.max_workers, self.idle_timeout_s or 0,
                                                     None, True)
        self.max_workers, self.idle_timeout_s = cfg.max_workers, cfg.idle_timeout_s
        return cfg

    def why_stop(self, now: float) -> Optional[str]:
        """Why this idle worker must stop before it waits for work again, or None: it was
        asked to, its backend is paused (0 workers) or now allows fewer workers than run,
        or it has been idle for the backend's idle timeout."""
        if self.stop_asked:
            return self.stop_why or "asked to stop"
        if self.max_workers < 0:
            return None  # outside any pool: no slot, no backend's settings followed
        cfg = self._settings()
        if cfg.max_workers == 0:
            return paused_text(self.backend)
        if cfg is not self._ranked_for:  # settings read afresh: is this worker past a lower maximum?
            self._ranked_for = cfg
            # Slots are ranked by when their leases run out; those past the maximum give way.
            try:
                rank = self.redis.zrank(keys.worker_slots(self.backend), self.name)
            except redis.RedisError:
                rank, self._ranked_for = None, None  # look again before the next wait
            if rank is not None and rank >= cfg.max_workers:
                return f"backend {self.backend} now has at most {cfg.max_workers} worker(s)"
        if self.idle_timeout_s and now - self.last_active >= self.idle_timeout_s:
            return "idle timeout"
        return None

    def paused_since_wait(self) -> Optional[str]:
        """Just after a job was popped, before it starts: why it must go back to its
        queue (the backend was paused while this worker waited), or None."""
        if self.max_workers < 0:
            return None
        self.taken_with = cfg = self._settings()
        return paused_text(self.backend) if cfg.max_workers == 0 else None

    def stop_between_jobs(self, why: str) -> None:
        """Stop now, with no job in hand (no signal needed: the main thread decides)."""
        if not self.stop_asked:
            self.stop_why = why
            (log.info if why == "idle timeout" else log.warning)("worker %s: stopping: %s", self.name, why)
        self.stopping()

    # --- the watch thread -------------------------------------------------------------

    def _run(self) -> None:
        next_beat = time.monotonic() + self.heartbeat_s
        next_sql = 0.0
        while not self._stop.wait(POLL_S):
            now = time.monotonic()
            try:
                if now >= next_beat:
                    next_beat = now + self.heartbeat_s
                    if not self.beat():
                        self.ask_stop(f"backend {self.backend} is full (its slot was lost)")
                    self._redis_down_logged = False
                if self.phase == "running":
                    next_sql = self._watch(now, next_sql)
            except redis.RedisError as exc:
                if not self._redis_down_logged:
                    log.warning("worker %s: Redis did not answer: %s", self.name, exc)
                    self._redis_down_logged = True
            except Exception:  # the watch must outlive any surprise
                log.exception("worker %s: heartbeat thread error", self.name)
            if self._ppid is not None and os.getppid() != self._ppid:
                self.ask_stop("its pool is gone")

    def _watch(self, now: float, next_sql: float) -> float:
        run = self.runs  # read first: what follows is acted on only while this run lasts
        job, attempt = self.job_id, self.attempt
        if job is None:
            return next_sql
        if self.halt_reason is not None:
            if now - (self.halt_at or now) > HALT_GRACE_S:
                self._hard_stop(job, attempt)
            return next_sql
        if self.deadline is not None and now >= self.deadline:
            self.request_halt("timeout", run)
            return next_sql
        early = self.early
        if early is not None and early.state != "started":
            # Its start unrecorded yet: nothing in SQL or Redis says it runs. Recorded once
            # due; a refusal (cancelled or deleted meanwhile) halts the run.
            why = early.record_if_due(now)
            if why is not None:
                self.request_halt(why, run)
            return next_sql
        flag = self.redis.get(keys.halt_key(job))
        if flag is not None:
            flag_attempt, _, why = flag.decode().partition(":")
            if flag_attempt == str(attempt):
                self.request_halt("cancelled" if why == "cancelled" else "gone", run)
                return next_sql
        if now >= next_sql:
            next_sql = now + SQL_CHECK_S
            reason = _still_ours(job, attempt)
            if reason:
                self.request_halt(reason, run)
        return next_sql

    def _hard_stop(self, job: str, attempt: Optional[int]) -> None:
        """The handler ignored JobHalted: record what must be recorded, then exit."""
        reason = self.halt_reason or "gone"
        log.error("worker %s: job %s did not stop within %.1f s (%s); exiting", self.name, job,
                  HALT_GRACE_S, reason)
        try:
            if reason in ("timeout", "shutdown"):
                from worker.outcomes import record_halt

                record_halt(job_id=job, attempt=attempt, reason=reason, limit_s=self.limit_s,
                            worker=self.name, host=self.host, hard=True)
        except Exception:
            log.exception("worker %s: could not record the halt of %s", self.name, job)
        self._final("dead", f"exited: job {job} did not stop ({reason})")
        os._exit(HARD_EXIT_CODE)


def paused_text(backend: str) -> str:
    return f"backend {backend} is paused (max workers 0)"


def _still_ours(job_id: str, attempt: Optional[int]) -> Optional[str]:
    """Why the job must stop, read from its row (the database is the truth): None while
    it is still this attempt's and running."""
    import sqlalchemy as sa

    from app.db import session
    from app.models import Job

    t = Job.__table__
    try:
        with session() as s:
            row = s.connection().execute(sa.select(t.c.status, t.c.attempt).where(t.c.id == job_id)).first()
    except Exception as exc:  # the database is busy or away: look again later
        log.warning("job %s: could not read its status: %s", job_id, exc)
        return None
    if row is None:
        return "gone"
    if row.status == "CANCELLED" and (attempt is None or row.attempt == attempt):
        return "cancelled"
    if row.status not in ("DEQUEUED", "IN_PROGRESS") or (attempt is not None and row.attempt != attempt):
        return "gone"
    return None


def acquire_slot(conn: redis.Redis, *, backend: str, name: str, max_workers: int) -> bool:
    """Take one of the backend's slots for a worker about to start; False when full."""
    script = conn.register_script(ACQUIRE_LUA)
    return bool(script(keys=[keys.worker_slots(backend)], args=[name, max_workers, get_settings().worker_ttl_s]))


def release_slot(conn: redis.Redis, *, backend: str, name: str) -> None:
    conn.zrem(keys.worker_slots(backend), name)
