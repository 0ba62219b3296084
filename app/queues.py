"""Redis connections and RQ queues: one queue per backend; an RQ job carries only the
Jobdeck job id and is enqueued by dotted path, so callers never import the worker."""

from __future__ import annotations

import threading
from typing import Iterable

import redis
from rq import Queue

from app import keys
from app.settings import get_settings

REDIS_ERRORS = (redis.ConnectionError, redis.TimeoutError, OSError)
RUNNER = "worker.runner.run_job"

_lock = threading.Lock()
_conns: dict[str, redis.Redis] = {}


def redis_conn() -> redis.Redis:
    url = get_settings().redis_url
    with _lock:
        conn = _conns.get(url)
        if conn is None:
            # Short timeouts: lodging must not hang when Redis is away; the job waits in SQL.
            conn = _conns[url] = redis.Redis.from_url(
                url, socket_connect_timeout=1.0, socket_timeout=5.0, health_check_interval=10)
        return conn


def reset_connections() -> None:
    with _lock:
        for c in _conns.values():
            c.close()
        _conns.clear()


def queue(backend: str) -> Queue:
    return Queue(keys.queue_name(backend), connection=redis_conn())


def enqueue(jobs: Iterable[tuple[str, int, str, int | None]]) -> int:
    """Enqueue (job id, attempt, backend, timeout s) tuples in one pipeline per backend."""
    by_backend: dict[str, list] = {}
    for job_id, attempt, backend, timeout in jobs:
        by_backend.setdefault(backend, []).append(
            Queue.prepare_data(RUNNER, args=(job_id,), job_id=keys.rq_job_id(job_id, attempt),
                               timeout=timeout or -1, result_ttl=0, failure_ttl=24 * 3600))
    n = 0
    for backend, data in by_backend.items():
        q = queue(backend)
        with redis_conn().pipeline() as pipe:
            q.enqueue_many(data, pipeline=pipe)
            pipe.execute()
        n += len(data)
    return n


def present(rq_ids: list[str]) -> list[bool]:
    """For each RQ id: is it still queued or running (not lost in a flush or a crash)?"""
    if not rq_ids:
        return []
    with redis_conn().pipeline(transaction=False) as pipe:
        for rq_id in rq_ids:
            pipe.hget(f"rq:job:{rq_id}", "status")
        states = pipe.execute()
    return [s in (b"queued", b"started", b"scheduled", b"deferred") for s in states]


def remove(job_id: str, attempt: int, backend: str) -> None:
    """Take a job's RQ entry out of its queue (cancel of a job not yet started)."""
    rq_id = keys.rq_job_id(job_id, attempt)
    conn = redis_conn()
    conn.lrem(f"rq:queue:{keys.queue_name(backend)}", 0, rq_id)
    conn.delete(f"rq:job:{rq_id}")
