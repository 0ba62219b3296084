"""Redis connections and RQ queues: three per backend (high, normal, low priority, which
its workers drain in that order); an RQ job carries only the Jobdeck job id and is
enqueued by dotted path, so callers never import the worker."""

from __future__ import annotations

import threading
import time
import zlib
from typing import Iterable, Optional, Sequence

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


def queue(backend: str, priority: str = keys.NORMAL) -> Queue:
    return Queue(keys.queue_name(backend, priority), connection=redis_conn())


def backend_queues(backend: str) -> list[Queue]:
    """A backend's queues, highest priority first."""
    return [queue(backend, pr) for pr in keys.PRIORITIES]


def depths(backends: Iterable[str], *, conn: Optional[redis.Redis] = None) -> dict[str, dict[str, int]]:
    """How many jobs wait on each backend's queue of each priority (one round trip)."""
    backends = list(backends)
    conn = conn or redis_conn()
    with conn.pipeline(transaction=False) as pipe:
        for b in backends:
            for pr in keys.PRIORITIES:
                pipe.llen(f"rq:queue:{keys.queue_name(b, pr)}")
        lengths = iter(pipe.execute())
    return {b: {pr: int(next(lengths)) for pr in keys.PRIORITIES} for b in backends}


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
SETTLE_S = 1.0


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


def enqueue(jobs: Iterable[Sequence]) -> int:
    """Enqueue (job id, attempt, backend, timeout s[, priority]) tuples: per backend and
    priority, a chunk of 500 jobs a round trip. An RQ job carries only the Jobdeck job
    id; what differs between two jobs' RQ hashes is that id (in `data` and
    `description`), so the rest is built once: RQ's own enqueue_many builds and encodes
    every field of every job, about 1.5 ms a job, most of a 10,000-job batch's lodging."""
    from rq.serializers import DefaultSerializer

    groups: dict[tuple[str, str, int], list[tuple[str, str]]] = {}
    for job_id, attempt, backend, timeout, *rest in jobs:
        priority = (rest[0] if rest else None) or keys.NORMAL
        groups.setdefault((backend, priority, timeout or -1), []).append((keys.rq_job_id(job_id, attempt), job_id))
    conn = redis_conn()
    script = conn.register_script(_ENQUEUE_LUA)
    n = 0
    for (backend, priority, timeout), entries in groups.items():
        q = queue(backend, priority)
        shared = [v for kv in _shared_fields(q, timeout).items() for v in kv]
        conn.sadd("rq:queues", q.key)
        for i in range(0, len(entries), _CHUNK):
            args: list[object] = [q.key, len(shared) // 2, *shared]
            for rq_id, job_id in entries[i:i + _CHUNK]:
                args += [rq_id, zlib.compress(DefaultSerializer.dumps((RUNNER, None, (job_id,), {}))),
                         f"{RUNNER}({job_id!r})"]
            n += int(script(args=args))
    return n


def present(rq_ids: list[str], backends: Optional[list[str]] = None) -> list[bool]:
    """For each RQ id: is it still queued or running (not lost in a flush or a crash)?

    With each id's backend given, an entry whose record says "queued" while every queue
    of its backend (and the lists workers take from) is empty is lost too: a queued job
    is on one of those lists, so with all of them empty it is on none (a worker killed
    between taking it and a Redis restart can leave such a record). One LLEN per list,
    whatever the number of jobs."""
    if not rq_ids:
        return []
    conn = redis_conn()
    with conn.pipeline(transaction=False) as pipe:
        for rq_id in rq_ids:
            pipe.hget(f"rq:job:{rq_id}", "status")
        states = pipe.execute()
    found = [s in (b"queued", b"started", b"scheduled", b"deferred") for s in states]
    if backends is None:
        return found
    empty: dict[str, bool] = {}
    for b in sorted({b for b, s in zip(backends, states) if s == b"queued"}):
        with conn.pipeline(transaction=False) as pipe:
            for q in backend_queues(b):
                pipe.llen(q.key)
                pipe.llen(q.intermediate_queue_key)
            empty[b] = not any(pipe.execute())
    lost = [i for i, (s, b) in enumerate(zip(states, backends)) if s == b"queued" and empty.get(b, False)]
    if lost:
        # A worker's pop (BLPOP over a backend's priority lists) leaves the entry "queued"
        # on no list until RQ marks it started a moment later: looked at again after that
        # moment, such an entry has moved on and is not lost.
        time.sleep(SETTLE_S)
        with conn.pipeline(transaction=False) as pipe:
            for i in lost:
                pipe.hget(f"rq:job:{rq_ids[i]}", "status")
            again = pipe.execute()
        for i, s in zip(lost, again):
            found[i] = s != b"queued"  # started, or already past it
    return found


def remove(job_id: str, attempt: int, backend: str) -> None:
    """Take a job's RQ entry out of its queue (cancel of a job not yet started): out of
    each of its backend's queues, so the caller need not know its priority.

    LREM from the tail (count -1): a queue is in lodging order, and what is cancelled
    is mostly what was lodged last (a bulk cancel walks newest first), so the entry is
    found near the end and the rest of a long queue is not read; a count of 0 read the
    whole queue for every cancel, 10,000 cancels of a 10,000-job queue 10^8 entries."""
    rq_id = keys.rq_job_id(job_id, attempt)
    with redis_conn().pipeline(transaction=False) as pipe:
        for name in keys.queue_names(backend):
            pipe.lrem(f"rq:queue:{name}", -1, rq_id)
        pipe.delete(f"rq:job:{rq_id}")
        pipe.execute()


def take_out(waiting: Iterable[tuple[str, int, str]], halting: Iterable[tuple[str, int]] = ()) -> None:
    """After a set of jobs was cancelled (a bulk action's chunk), in one round trip: each
    waiting job (id, attempt, backend) out of its backend's queues, its RQ hash and its
    retry schedule, as `remove` and app.retries.unschedule do one job at a time; each
    job a worker holds (id, attempt) gets the halt flag its worker's heartbeat reads."""
    from rq.registry import ScheduledJobRegistry

    scheduled: dict[str, list[str]] = {}
    with redis_conn().pipeline(transaction=False) as pipe:
        for job_id, attempt, backend in waiting:
            rq_id = keys.rq_job_id(job_id, attempt)
            if backend not in scheduled:
                scheduled[backend] = [ScheduledJobRegistry(queue=q).key for q in backend_queues(backend)]
            for name in keys.queue_names(backend):
                pipe.lrem(f"rq:queue:{name}", -1, rq_id)
            pipe.delete(f"rq:job:{rq_id}")
            for key in scheduled[backend]:
                pipe.zrem(key, rq_id)
        for job_id, attempt in halting:
            pipe.set(keys.halt_key(job_id), f"{attempt}:cancelled", ex=3600)
        pipe.execute()
