"""The pool's housekeeper as a deployment runs it (`python -m worker.pool`, real workers):
its reconciler queues a PENDING job its queue lost (Redis away at lodge, or the queue
entry deleted), a job taken from its queue by a worker that died before recording it is
queued again, and its retry sweep gives a CRASHED job the attempt it missed, which runs
after its policy's wait."""

from __future__ import annotations

import pytest

import os
import signal
import sqlite3
from datetime import timedelta

import sqlalchemy as sa

from app import launch, queues, registry
from app.db import session, utcnow, write_conn
from app.lifecycle import JobStatus, Move, transition_steps
from app.models import Job, JobMessage
from app.settings import get_settings
from app.workers import backend_status, list_workers
from tests.pools import live_workers, messages, pools, set_backend, status, wait_for  # noqa: F401

REQUEUED = "Queued: its queue did not hold it (Redis was away or lost its data)."


def _noop(root, **payload):
    return launch.launch_job(actor=root, job_type="SYSTEM", job_subtype="NOOP", payload=payload)


def _served(backend: str) -> bool:
    return any(b.name == backend and b.served_by for b in backend_status())


def _history(job_id: str) -> list[tuple[str, int, str, object]]:
    """(status, attempt, text, at) of each line of the job's history."""
    t = JobMessage.__table__
    with session() as s:
        return [(r.status, r.attempt, r.text, r.at) for r in s.connection().execute(
            sa.select(t.c.status, t.c.attempt, t.c.text, t.c.at).where(t.c.job_id == job_id).order_by(t.c.id))]


def test_the_reconciler_queues_jobs_their_queue_lost(users, pools, redis_server):
    root = users["root"]
    set_backend("system", max_workers=1, idle_timeout_s=30)
    # lodged, then its queue entry deleted before any pool ran (what a lost Redis write leaves)
    dropped = _noop(root)
    queues.remove(dropped.id, 1, "system")
    assert queues.queue("system").count == 0 and status(dropped.id) == "PENDING"
    pools("--backends", "system")
    wait_for(lambda: status(dropped.id) == "SUCCEEDED", timeout=30, message="the reconciler queued it")
    assert REQUEUED in [m[2] for m in messages(dropped.id)]

    # lodged while Redis is away and the pool runs: kept in SQL, queued once Redis is back
    wait_for(lambda: _served("system"), message="the pool reported")
    redis_server.stop()
    queues.reset_connections()
    offline = _noop(root)
    assert status(offline.id) == "PENDING" and launch.get_job(offline.id).last_message == launch.WAITING
    redis_server.start()  # same port, empty
    queues.reset_connections()
    wait_for(lambda: status(offline.id) == "SUCCEEDED", timeout=30, message="queued after Redis came back")
    assert [m[2] for m in messages(offline.id)].count(REQUEUED) == 1
    assert [m[0] for m in messages(offline.id)][-3:] == ["DEQUEUED", "IN_PROGRESS", "SUCCEEDED"]


@pytest.mark.sqlite_only
def test_a_job_taken_by_a_worker_that_died_before_recording_it_is_queued_again(users, pools):
    """A real worker pops the job, then dies while its first write (DEQUEUED) waits: the
    test holds the database's write lock meanwhile, so the worker's take cannot commit."""
    root = users["root"]
    set_backend("system", max_workers=1, idle_timeout_s=30)
    job = _noop(root)
    db = get_settings().database_url.removeprefix("sqlite:///")
    lock = sqlite3.connect(db, isolation_level=None, timeout=30)
    lock.execute("BEGIN IMMEDIATE")  # every write waits (busy timeout 30 s); reads go on (WAL)
    try:
        pools("--backends", "system")
        w = wait_for(lambda: next((w for w in live_workers("system") if w.current_job_id == job.id), None),
                     timeout=30, message="a worker popped the job")
        assert status(job.id) == "PENDING"  # its take is not recorded
        # (the worker listens to no RQ command channel: halting goes through its heartbeat)
        assert queues.redis_conn().pubsub_channels("rq:pubsub:*") == []
        os.kill(w.pid, signal.SIGKILL)
        wait_for(lambda: any(x.name == w.name and x.state == "dead" for x in list_workers(backend="system")),
                 message="the pool recorded the death")
    finally:
        lock.rollback()
        lock.close()
    wait_for(lambda: status(job.id) == "SUCCEEDED", timeout=30, message="queued again and run")
    texts = [m[2] for m in messages(job.id)]
    assert f"Queued again: worker {w.name} took it from the queue and died." in texts
    done = launch.get_job(job.id)
    assert done.attempt == 1 and done.worker != w.name
    assert [m[0] for m in messages(job.id)] == ["PENDING", "PENDING", "DEQUEUED", "IN_PROGRESS", "SUCCEEDED"]


def test_the_sweep_retries_a_crash_whose_retry_was_missed_after_its_wait(users, pools):
    """A registry job recorded CRASHED by a worker that died before lodging the retry (and
    11 s ago, past the sweep's 10 s of patience): the housekeeper's sweep lodges attempt 2,
    which a worker runs once the policy's 2 s wait is over."""
    alice = users["alice"]
    for b in ("registry", "prov"):
        set_backend(b, max_workers=1, idle_timeout_s=30)
    item, job = registry.create_item(actor=alice, subtype="DATASET", display_name="Swept")
    transition_steps(job.id, [Move(JobStatus.DEQUEUED, "Taken by worker registry-1@gone"),
                              Move(JobStatus.IN_PROGRESS, "Started"),
                              Move(JobStatus.CRASHED, "Crashed: worker registry-1@gone died.")])
    queues.remove(job.id, 1, "registry")
    with write_conn() as conn:
        conn.execute(sa.update(Job.__table__).where(Job.__table__.c.id == job.id)
                     .values(finished_at=utcnow() - timedelta(seconds=11)))
    pools("--backends", "registry,prov")
    wait_for(lambda: status(job.id) == "SUCCEEDED", timeout=40, message="swept, then run")
    wait_for(lambda: registry.get_item(item.id).record_status == "LODGED", message="its workflow carried on")
    h = _history(job.id)
    assert [(s, a) for s, a, _, _ in h] == [("PENDING", 1), ("DEQUEUED", 1), ("IN_PROGRESS", 1), ("CRASHED", 1),
                                            ("PENDING", 2), ("DEQUEUED", 2), ("IN_PROGRESS", 2), ("SUCCEEDED", 2)]
    retried, taken = h[4], h[5]
    assert retried[2] == "Retrying automatically after CRASHED: attempt 2 of 3, starting in 2 s"
    assert (taken[3] - retried[3]).total_seconds() >= 2.0  # not before its wait
