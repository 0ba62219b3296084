"""Real worker pools for the tests: `python -m worker.pool` processes on the test's own
Redis and database, stopped (and their workers with them) when the test ends."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Short beats and a short time-to-live so that crash detection fits in a test.
# A pending job's grace before the housekeeper queues it again stays above the moment
# between a lodge's commit and its enqueue (with none, a loaded host sees a fresh job
# queued twice, and a second worker started for the copy).
FAST = {"JOBDECK_HEARTBEAT_S": "0.5", "JOBDECK_WORKER_TTL_S": "4", "JOBDECK_STOP_GRACE_S": "1",
        "JOBDECK_STUCK_AFTER_S": "1", "JOBDECK_PENDING_GRACE_S": "2"}


def wait_for(what: Callable, *, timeout: float = 15.0, every: float = 0.05, message: str = ""):
    """Poll until `what()` is truthy and return it; fail with `message` after `timeout`
    (a bound against hanging, not a measurement)."""
    deadline = time.monotonic() + timeout
    while True:
        got = what()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout} s: {message or what}")
        time.sleep(every)


class PoolProcess:
    def __init__(self, logdir: Path, args: list[str], host: str | None = None):
        self.args = args
        self.host = host
        self.log = logdir / f"pool-{len(list(logdir.glob('pool-*.log')))}.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> "PoolProcess":
        cmd = [sys.executable, "-m", "worker.pool", "--tick", "0.1", *self.args]
        if self.host:
            # A host of its own name (a UTS namespace; exec keeps the pid): what another
            # machine's pool would report, against the same Redis and database.
            cmd = ["unshare", "--uts", "sh", "-c", f'hostname "$0" && exec "$@"', self.host, *cmd]
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=dict(os.environ), stdout=self.log.open("w"),
                                     stderr=subprocess.STDOUT)
        return self

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 30) -> int:
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        return self.proc.wait(10) if self.proc else 0

    def kill(self) -> None:
        if self.alive():
            self.proc.kill()
            self.proc.wait(10)

    def text(self) -> str:
        return self.log.read_text() if self.log.exists() else ""


@pytest.fixture
def pools(jobdeck, tmp_path, monkeypatch):
    """Start pools with `pools(*args)`; fast heartbeats; all stopped at the end, and
    any worker left behind by a killed pool killed too."""
    from app.settings import reload_settings

    for k, v in FAST.items():
        monkeypatch.setenv(k, v)
    reload_settings()
    started: list[PoolProcess] = []

    def start(*args: str, host: str | None = None) -> PoolProcess:
        p = PoolProcess(tmp_path, list(args), host=host).start()
        started.append(p)
        return p

    yield start
    for p in started:
        p.stop()
    kill_leftover_workers()


def kill_leftover_workers() -> None:
    from app import queues
    from app.workers import list_workers

    try:
        workers = list_workers()
    except queues.REDIS_ERRORS:
        return
    for w in workers:
        if w.alive and w.pid:
            try:
                os.kill(w.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def pool_looked_again(pool: PoolProcess, since: float, *, timeout: float = 20.0) -> int:
    """Wait until the pool has looked at the queues after `since` (Redis's clock) and
    said what it did; return how many workers it has then. A pool reports before each
    look, so the second report after `since` counts the workers the first look started."""
    from app import keys, queues

    conn = queues.redis_conn()
    pool_id = f"{pool.host or socket.gethostname()}:{pool.pid}"
    reports: set[float] = set()

    def twice() -> bool:
        at = conn.zscore(keys.pools_index(), pool_id)
        if at is not None and at > since:
            reports.add(at)
        return len(reports) >= 2

    wait_for(twice, timeout=timeout, message=f"pool {pool_id} reported twice")
    return int(conn.hget(keys.pool_key(pool_id), "workers") or 0)


def live_workers(backend: str | None = None):
    from app.workers import list_workers

    return [w for w in list_workers(backend=backend) if w.alive]


def status(job_id: str) -> str:
    from app.launch import get_job

    return get_job(job_id).status


def messages(job_id: str) -> list[tuple[str, int, str]]:
    from app.queries import job_messages

    return [(m.status, m.attempt, m.text) for m in job_messages(job_id)]


def set_backend(name: str, **values) -> None:
    """Create or change a backend's row and announce it (what an admin's save does)."""
    from sqlmodel import select

    from app.backends import announce_change
    from app.db import session
    from app.models import Backend

    with session(write=True) as s:
        b = s.exec(select(Backend).where(Backend.name == name)).first() or Backend(name=name)
        for k, v in values.items():
            setattr(b, k, v)
        s.add(b)
    announce_change()
