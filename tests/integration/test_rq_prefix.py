"""Two deployments on one Redis (JOBDECK_KEY_PREFIX differs): each sees only its own
workers and queues through Jobdeck, and runs only its own jobs. The documented limit
(docs/cli.md, "Keys in Redis"): RQ's own indexes `rq:queues` and `rq:workers` and its
worker hashes `rq:worker:<name>` are not under the prefix and hold both deployments';
Jobdeck never reads them."""

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


def test_two_deployments_on_one_redis_see_and_run_only_their_own(jobdeck, users, monkeypatch):
    from app import launch, queues, workers

    _as(monkeypatch, "deplA")
    job = launch.launch_job(actor=users["root"], job_type="SYSTEM", job_subtype="NOOP", payload={"sleep_s": 1.5})

    _as(monkeypatch, "deplB")  # B's worker finds nothing of A's on its queues
    run_workers()
    assert launch.get_job(job.id).status == "PENDING"
    b_workers = {w.name for w in workers.list_workers(viewer=users["root"])}

    _as(monkeypatch, "deplA")
    conn = queues.redis_conn()
    seen: dict[str, set[str]] = {}

    def watch():
        wait_for(lambda: any(k.startswith("rq:worker:") for k in (m.decode() for m in conn.smembers("rq:workers"))),
                 timeout=30)
        seen["rq:workers"] = _members(conn, "rq:workers")
        seen["rq:queues"] = _members(conn, "rq:queues")

    t = threading.Thread(target=watch)
    t.start()
    run_workers()
    t.join(30)
    assert launch.get_job(job.id).status == "SUCCEEDED"
    a_workers = {w.name for w in workers.list_workers(viewer=users["root"])}
    assert a_workers and not a_workers & b_workers  # Jobdeck's own views are apart

    _as(monkeypatch, "deplB")
    assert {w.name for w in workers.list_workers(viewer=users["root"])} == b_workers
    # The limit: RQ's own indexes are shared by both deployments.
    assert seen["rq:workers"] and "rq:queue:deplA:system" in seen["rq:queues"]
