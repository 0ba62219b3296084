"""The worker pool: per backend, workers start while the backend's queue has work (up
to the backend's maximum) and stop by themselves after its idle timeout, down to zero.
One housekeeper process runs the reaper, the reconciler and due retries.

Run as `python -m worker.pool [--backends a,b]`; SIGTERM or Ctrl-C stops it: idle
workers stop at once, running jobs get JOBDECK_STOP_GRACE_S to finish, then they are
halted (recorded CRASHED, retried by their policy) and the workers exit.

From zero workers a lodged job is taken within a tick plus a fork: the pool reads the
queue lengths every `--tick` seconds (0.2 by default) and forks workers from its own,
already warm, process. Several pools on several hosts share each backend's maximum
through a semaphore in Redis (a slot per worker, leased and renewed by its heartbeat),
so they never start more than the maximum between them.

An admin's change of a backend sets a new token in Redis (app/backends.py); the pool
reads it with the queue lengths every tick, so a resumed backend gets its workers
within a tick, not at the next periodic read.
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing as mp
import os
import secrets
import signal
import socket
import time
from dataclasses import dataclass, field
from typing import Optional

import redis

from app import keys, queues
from app.settings import get_settings

log = logging.getLogger("jobdeck.pool")

POOL_BEAT_S = 2.0
CONFIG_EVERY_S = 5.0  # settings read again this often even with no change announced


@dataclass
class Child:
    name: str
    backend: str
    proc: mp.Process
    cell: object  # shared integer: worker/heartbeat.py STARTING | IDLE | BUSY | STOPPING
    started: float = field(default_factory=time.monotonic)
    ended: float = 0.0


def _describe_exit(code: Optional[int]) -> str:
    if code is None:
        return "it vanished"
    if code < 0:
        try:
            return f"killed by signal {-code} ({signal.Signals(-code).name})"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def _worker_main(backend: str, name: str, max_workers: int, idle_timeout_s: int, pool_id: str, cell) -> None:
    """First code of a forked worker: fresh signal handlers, own process group (the
    terminal's Ctrl-C goes to the pool, which stops its workers in order)."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        os.setpgid(0, 0)
    except OSError:
        pass
    logging.getLogger().handlers.clear()
    logging.basicConfig(level=logging.WARNING, format=f"%(asctime)s worker {name} %(message)s")
    from worker.process import serve

    os._exit(serve(backend=backend, name=name, max_workers=max_workers, idle_timeout_s=idle_timeout_s,
                   pool_id=pool_id, state_cell=cell))


def _housekeeper_main(pool_id: str) -> None:
    parent = os.getppid()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    stop = {"now": False}

    def _stop(*_):
        stop["now"] = True

    signal.signal(signal.SIGTERM, _stop)
    try:
        os.setpgid(0, 0)
    except OSError:
        pass
    from worker.reaper import run_housekeeper

    run_housekeeper(pool_id, lambda: stop["now"] or os.getppid() != parent)
    os._exit(0)


class Pool:
    def __init__(self, *, backends: Optional[list[str]] = None, tick_s: float = 0.2,
                 housekeeping: bool = True, per_backend: Optional[int] = None,
                 settings_every_s: float = CONFIG_EVERY_S):
        self.only = backends
        self.settings_every_s = settings_every_s
        self.per_backend = per_backend
        self.tick_s = tick_s
        self.housekeeping = housekeeping
        self.host = socket.gethostname()
        self.pool_id = f"{self.host}:{os.getpid()}"
        self.ctx = mp.get_context("fork")
        self.children: dict[int, Child] = {}
        self.exits: list[tuple[Child, Optional[int]]] = []  # exits not yet recorded in Redis
        self.recent_exits: list[tuple[Child, Optional[int]]] = []
        self._beaten = False
        self.keeper: Optional[mp.Process] = None
        self.configs: dict = {}
        self.backends: list[str] = []
        self.stopping = False
        self.redis = redis.Redis.from_url(get_settings().redis_url, socket_connect_timeout=1.0, socket_timeout=2.0)
        self._next_config = 0.0
        self._settings_version: object = None
        self._config_failing = False
        self._next_beat = 0.0
        self._redis_ok = True
        self.started_workers = 0

    # --- configuration and reporting -------------------------------------------------

    def refresh_config(self) -> None:
        from app.backends import backend_configs, settings_version

        version = settings_version(self.redis)  # before the table: a later change moves it again
        try:
            configs = backend_configs(refresh=True)
        except Exception as exc:  # the database is busy or away: keep the last known, try next tick
            (log.debug if self._config_failing else log.warning)(
                "backend settings not read (%s); keeping the last known", exc)
            self._config_failing = True
            return
        self._config_failing = False
        self.configs, self._settings_version = configs, version
        wanted = self.only or sorted(configs)
        self.backends = [b for b in wanted if b in configs] + [b for b in wanted if b not in configs]

    def _config(self, backend: str):
        from app.backends import default_config

        return self.configs.get(backend) or default_config(backend)

    def beat(self) -> None:
        if self._beaten and not self.redis.exists(keys.pool_key(self.pool_id)):
            # Redis lost its data (a restart): say again which workers died lately, so the
            # reaper need not wait a time-to-live for them.
            log.warning("Redis lost its data; recording %d recent worker exit(s) again", len(self.recent_exits))
            self.exits.extend(self.recent_exits)
        self._beaten = True
        cutoff = time.monotonic() - get_settings().worker_ttl_s - 5
        self.recent_exits = [(c, code) for c, code in self.recent_exits if c.ended > cutoff]
        with self.redis.pipeline() as pipe:
            pipe.hset(keys.pool_key(self.pool_id), mapping={
                "host": self.host, "pid": str(os.getpid()), "backends": ",".join(self.backends),
                "workers": str(len(self.children))})
            pipe.expire(keys.pool_key(self.pool_id), 3600)
            pipe.execute()
        sec, usec = self.redis.time()
        self.redis.zadd(keys.pools_index(), {self.pool_id: sec + usec / 1e6})

    def unregister(self) -> None:
        try:
            self.redis.zrem(keys.pools_index(), self.pool_id)
            self.redis.delete(keys.pool_key(self.pool_id))
        except redis.RedisError:
            pass

    # --- children ------------------------------------------------------------------------

    def start_worker(self, backend: str) -> Optional[Child]:
        from worker.heartbeat import acquire_slot

        # Settings read afresh for each start (a fork costs more than the read): a backend
        # an admin just paused gets no new worker from settings up to CONFIG_EVERY_S old.
        self.refresh_config()
        cfg = self._config(backend)
        # Named here, before the fork, so that the slot is taken before the worker exists.
        name = f"{backend}-{os.getpid()}.{self.started_workers}-{secrets.token_hex(2)}@{self.host}"
        if not acquire_slot(self.redis, backend=backend, name=name, max_workers=cfg.max_workers):
            return None
        from app.db import dispose_engines

        dispose_engines()  # no database connection may cross the fork
        cell = self.ctx.RawValue("i", 0)
        proc = self.ctx.Process(target=_worker_main, name=name, daemon=False,
                                args=(backend, name, cfg.max_workers, cfg.idle_timeout_s, self.pool_id, cell))
        proc.start()
        child = Child(name, backend, proc, cell)
        self.children[proc.pid] = child
        self.started_workers += 1
        log.info("started worker %s (pid %d) for backend %s", name, proc.pid, backend)
        return child

    def start_housekeeper(self) -> None:
        from app.db import dispose_engines

        dispose_engines()
        self.keeper = self.ctx.Process(target=_housekeeper_main, args=(self.pool_id,), name="housekeeper")
        self.keeper.start()

    def collect_exited(self) -> None:
        from worker.heartbeat import HARD_EXIT_CODE, release_slot

        for pid, child in list(self.children.items()):
            if child.proc.is_alive():
                continue
            child.proc.join(0)
            code = child.proc.exitcode
            del self.children[pid]
            (log.info if code == 0 else log.warning)("worker %s (pid %d) exited: %s", child.name, pid,
                                                 _describe_exit(code))
            child.ended = time.monotonic()
            self.exits.append((child, code))
            if code != 0:
                self.recent_exits.append((child, code))
        for child, code in list(self.exits):
            try:
                release_slot(self.redis, backend=child.backend, name=child.name)
                if code != 0:
                    # Said at once, so the reaper need not wait for the heartbeat to go stale.
                    said = {"state": "dead", "exit": _describe_exit(code), "job_since": ""}
                    if code == HARD_EXIT_CODE and self.redis.hget(keys.worker_key(child.name), "exit"):
                        del said["exit"]  # the worker said why (a handler that did not stop): keep it
                    self.redis.hset(keys.worker_key(child.name), mapping=said)
                    self.redis.expire(keys.worker_key(child.name), 3600)
                self.exits.remove((child, code))
            except redis.RedisError as exc:  # said again on the next tick
                log.debug("could not record the exit of %s yet: %s", child.name, exc)
                break
        if self.keeper is not None and not self.keeper.is_alive():
            self.keeper.join(0)
            if not self.stopping:
                log.warning("housekeeper exited (%s); starting it again", _describe_exit(self.keeper.exitcode))
                self.keeper = None

    def scale(self) -> None:
        """Start workers for backends whose queue holds more jobs than their idle workers."""
        backends = list(self.backends)
        with self.redis.pipeline(transaction=False) as pipe:
            pipe.get(keys.backends_version())
            for b in backends:
                pipe.llen(f"rq:queue:{keys.queue_name(b)}")
            version, *lengths = pipe.execute()
        if version != self._settings_version:  # an admin changed a backend: read it now
            self.refresh_config()
        for b, queued in zip(backends, lengths):
            if not queued:
                continue
            cfg = self._config(b)
            mine = [c for c in self.children.values() if c.backend == b]
            ready = sum(1 for c in mine if c.cell.value in (0, 1))  # starting or idle
            most = cfg.max_workers if self.per_backend is None else min(cfg.max_workers, self.per_backend)
            want = min(queued - ready, most - len(mine))
            for _ in range(max(0, want)):
                if self.start_worker(b) is None:
                    break  # the backend is full across all pools

    # --- the loop -----------------------------------------------------------------------

    def run(self) -> None:
        log.info("%s starting", self.pool_id)
        # Imported here once, so that every forked worker starts warm.
        import worker.process  # noqa: F401
        import worker.runner  # noqa: F401
        import worker.tasks  # noqa: F401
        while not self.stopping:
            now = time.monotonic()
            try:
                self.collect_exited()
                if now >= self._next_config:
                    self.refresh_config()
                    self._next_config = now + self.settings_every_s
                if self.housekeeping and self.keeper is None:
                    self.start_housekeeper()
                if now >= self._next_beat:
                    self.beat()
                    self._next_beat = now + POOL_BEAT_S
                self.scale()
                if not self._redis_ok:
                    log.warning("Redis answers again")
                    self._redis_ok = True
            except queues.REDIS_ERRORS + (redis.RedisError,) as exc:
                if self._redis_ok:
                    log.warning("Redis did not answer (%s); waiting for it", exc)
                    self._redis_ok = False
                time.sleep(0.5)
            time.sleep(self.tick_s)
        self.shutdown()

    def shutdown(self) -> None:
        """Idle workers stop at once; running jobs get the grace period to finish, then
        they are halted (recorded CRASHED; their retry policy brings them back)."""
        grace = get_settings().stop_grace_s
        log.info("stopping %d worker(s)", len(self.children))
        for c in self.children.values():
            _signal(c.proc.pid, signal.SIGTERM)
        if self.keeper is not None and self.keeper.is_alive():
            _signal(self.keeper.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        halt_deadline = None
        while self.children and time.monotonic() < deadline + 5:
            self.collect_exited()
            if time.monotonic() >= deadline and halt_deadline is None:
                from worker.heartbeat import HALT_SIGNAL

                for c in self.children.values():
                    log.warning("worker %s still busy after %.0f s: halting its job", c.name, grace)
                    _signal(c.proc.pid, HALT_SIGNAL)
                halt_deadline = time.monotonic() + 5
            time.sleep(0.05)
        for c in list(self.children.values()):
            log.error("worker %s did not stop: killing it", c.name)
            _signal(c.proc.pid, signal.SIGKILL)
            c.proc.join(2)
        self.collect_exited()
        if self.keeper is not None:
            self.keeper.join(5)
            if self.keeper.is_alive():
                _signal(self.keeper.pid, signal.SIGKILL)
        self.unregister()
        log.info("%s stopped", self.pool_id)


def work(burst: bool = False, backends: Optional[list[str]] = None) -> None:
    """One worker on the queues of several backends (all by default), outside any pool:
    for benchmarks and ad-hoc use. Same runner, heartbeats and halting as a pool's
    worker; it holds no slot of the pool's backends."""
    from app.backends import served
    from worker.heartbeat import worker_name
    from worker.process import serve

    names = served(backends)
    serve(backend=names[0], also=tuple(names[1:]), name=worker_name("any"), max_workers=-1,
          idle_timeout_s=None, burst=burst)


def _signal(pid: Optional[int], sig) -> None:
    if pid:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def main(argv: Optional[list[str]] = None) -> None:
    ap = argparse.ArgumentParser(description="Jobdeck worker pool: workers on demand per backend.")
    ap.add_argument("--backends", default="", help="comma-separated backends to serve (default: all)")
    ap.add_argument("--workers", type=int, default=None,
                    help="at most this many workers per backend from this pool (default: each backend's maximum)")
    ap.add_argument("--tick", type=float, default=0.2, help="seconds between two looks at the queues")
    ap.add_argument("--no-housekeeping", action="store_true",
                    help="do not run the reaper, reconciler and retries from this pool")
    ap.add_argument("--settings-every", type=float, default=CONFIG_EVERY_S,
                    help="seconds between two reads of the backends' settings when no change was announced")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s pool %(message)s")
    pool = Pool(backends=[b for b in args.backends.split(",") if b] or None, tick_s=args.tick,
                housekeeping=not args.no_housekeeping, per_backend=args.workers,
                settings_every_s=args.settings_every)

    def _stop(*_):
        pool.stopping = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    pool.run()


if __name__ == "__main__":
    main()
