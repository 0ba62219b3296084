"""Redis connections and RQ queues: one queue per backend; an RQ job carries only the
Jobdeck job id and is enqueued by dotted path, so callers never import the worker."""

from __future__ import annotations

import threading
import zlib
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


# Writes one chunk of RQ job hashes and queues their ids, as RQ's own enqueue does
# (HSET of the job's fields, RPUSH of its id), in one round trip and one atomic step.
# ARGV: queue key, number of shared field pairs, the shared pairs, then per job its RQ
# id, its data and its description: the fields a job's hash does not share.
_ENQUEUE_LUA = """
local qkey, nshared = ARGV[1], tonumber(ARGV[2])
local shared = {}
for i = 1, nshared * 2 do shared[i] = ARGV[2 + i] end
local i = 3 + nshared * 2
while i <= #ARGV do
  local id = ARGV[i]
  redis.call('HSET', 'rq:job:' .. id, 'data', ARGV[i + 1], 'description', ARGV[i + 2], unpack(shared))
  redis.call('RPUSH', qkey, id)
  i = i + 3
end
return (#ARGV - 2 - nshared * 2) / 3
"""
_CHUNK = 500


def _shared_fields(q: Queue, timeout: int) -> dict[str, object]:
    """The fields every Jobdeck job's RQ hash on this queue shares, as RQ writes them:
    taken from a job RQ itself prepares (never saved), so they follow RQ's format."""
    model = q.create_job(RUNNER, args=("",), job_id="template", timeout=timeout, result_ttl=0,
                         failure_ttl=24 * 3600)
    q._prepare_for_queue(model)
    fields = model.to_dict()
    for k in ("data", "description"):
        fields.pop(k, None)
    return fields


def enqueue(jobs: Iterable[tuple[str, int, str, int | None]]) -> int:
    """Enqueue (job id, attempt, backend, timeout s) tuples: per backend, a chunk of 500
    jobs a round trip. An RQ job carries only the Jobdeck job id; what differs between
    two jobs' RQ hashes is that id (in `data` and `description`), so the rest is built
    once: RQ's own enqueue_many builds and encodes every field of every job, about 1.5 ms
    a job, most of a 10,000-job batch's lodging."""
    from rq.serializers import DefaultSerializer

    groups: dict[tuple[str, int], list[tuple[str, str]]] = {}
    for job_id, attempt, backend, timeout in jobs:
        groups.setdefault((backend, timeout or -1), []).append((keys.rq_job_id(job_id, attempt), job_id))
    conn = redis_conn()
    script = conn.register_script(_ENQUEUE_LUA)
    n = 0
    for (backend, timeout), entries in groups.items():
        q = queue(backend)
        shared = [v for kv in _shared_fields(q, timeout).items() for v in kv]
        conn.sadd("rq:queues", q.key)
        for i in range(0, len(entries), _CHUNK):
            args: list[object] = [q.key, len(shared) // 2, *shared]
            for rq_id, job_id in entries[i:i + _CHUNK]:
                args += [rq_id, zlib.compress(DefaultSerializer.dumps((RUNNER, None, (job_id,), {}))),
                         f"{RUNNER}({job_id!r})"]
            n += int(script(args=args))
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
