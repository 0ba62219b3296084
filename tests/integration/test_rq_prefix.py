"""RQ's own keys (its queues, their index, its workers and their index) live under
JOBDECK_KEY_PREFIX: two deployments on one Redis see neither each other's workers nor
each other's queues."""

from __future__ import annotations

import threading

from tests.conftest import run_workers
from tests.pools import wait_for


def _as(monkeypatch, prefix: str) -> None:
    from app import queues
    from app.settings import reload_settings

    monkeypatch.setenv("JOBDECK_KEY_PREFIX", prefix)
    reload_settings()
    queues.reset_connections()


def _members(conn, key: str) -> set[str]:
    return {m.decode() for m in conn.smembers(key)}


def test_two_deployments_on_one_redis_see_neither_workers_nor_queues_of_the_other(jobdeck, users, monkeypatch):
    from app import launch, queues
    from app.models import Job
    from app.db import session

    _as(monkeypatch, "deplA")
    job = launch.launch_job(actor=users["root"], job_type="SYSTEM", job_subtype="NOOP",
                            payload={"sleep_s": 1.5})
    conn = queues.redis_conn()
    assert _members(conn, "deplA:rq:queues") == {f"deplA:rq:queue:{queues.queue('system').name}"}
    assert conn.llen(f"deplA:rq:queue:{queues.queue('system').name}") == 1

    # Deployment B's worker finds nothing: A's queue is not among B's.
    _as(monkeypatch, "deplB")
    assert queues.queue_class().all(connection=queues.redis_conn()) == []
    run_workers()
    with session() as s:
        assert s.get(Job, job.id).status == "PENDING"

    # A's worker runs it; while it does, it is registered under A's prefix only.
    _as(monkeypatch, "deplA")
    conn = queues.redis_conn()
    seen: dict[str, set[str]] = {}

    def watch():
        wait_for(lambda: conn.scard("deplA:rq:workers"), timeout=30)
        for key in ("deplA:rq:workers", "deplB:rq:workers", "rq:workers", "rq:queues"):
            seen[key] = _members(conn, key)
        seen["bare worker hashes"] = {k.decode() for k in conn.scan_iter("rq:worker:*")}

    t = threading.Thread(target=watch)
    t.start()
    run_workers()
    t.join(30)
    assert len(seen["deplA:rq:workers"]) == 1
    assert next(iter(seen["deplA:rq:workers"])).startswith("deplA:rq:worker:")
    assert seen["deplB:rq:workers"] == set() and seen["rq:workers"] == set() and seen["rq:queues"] == set()
    assert seen["bare worker hashes"] == set()
    with session() as s:
        assert s.get(Job, job.id).status == "SUCCEEDED"
    assert [q.name for q in queues.queue_class().all(connection=conn)] == [queues.queue("system").name]
