"""Helpers shared by the benchmarks: a private redis-server and a fresh database."""

from __future__ import annotations

import os
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import redis


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def private_redis():
    """A redis-server of the benchmark's own, keeping nothing on disk."""
    port = free_port()
    tmp = tempfile.mkdtemp(prefix="jobdeck-bench-redis-")
    proc = subprocess.Popen([shutil.which("redis-server") or "redis-server", "--port", str(port), "--bind",
                             "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", tmp],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    r = redis.Redis(port=port)
    for _ in range(200):
        try:
            r.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.02)
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.kill()
        proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)


def fresh_environment(redis_url: str, database_url: str | None = None) -> Path:
    """Point Jobdeck at a new data dir (SQLite unless a URL is given), schema migrated."""
    data = Path(tempfile.mkdtemp(prefix="jobdeck-bench-"))
    os.environ["JOBDECK_DATA_DIR"] = str(data)
    os.environ["JOBDECK_REDIS_URL"] = redis_url
    if database_url:
        os.environ["JOBDECK_DATABASE_URL"] = database_url
    else:
        os.environ.pop("JOBDECK_DATABASE_URL", None)
    from app import queues
    from app.db import dispose_engines, migrate
    from app.settings import reload_settings

    dispose_engines()
    queues.reset_connections()
    reload_settings()
    migrate()
    return data


def median_ms(fn, repeat: int = 5) -> float:
    """The median time of `repeat` calls of fn, in milliseconds."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)
