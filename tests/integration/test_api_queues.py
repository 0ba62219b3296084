"""A backend's queue over real HTTP: the jobs waiting in its three RQ queues in the order
its workers take them, paged; purged (every job ends CANCELLED through the guarded
transition, none vanishes); one-click pause and resume that puts the old maximum back;
every change audited; and what a real pool does after each."""

from __future__ import annotations

import httpx
import pytest

from tests.integration.api_live import LiveServer, token_for
from tests.pools import pools, set_backend, wait_for  # noqa: F401 (pools is a fixture)

NOOP = {"job_type": "SYSTEM", "job_subtype": "NOOP"}


@pytest.fixture
def live(users):
    from app import auth

    auth.create_user(username="svc", password="svc-password", role="service")
    server = LiveServer().start()
    tokens = {name: token_for(name) for name in ("root", "alice", "svc")}
    with httpx.Client(base_url=server.url, timeout=60) as client:
        client.as_ = lambda name: {"Authorization": f"Bearer {tokens[name]}"}
        yield client
    server.stop()


def lodge(client, n=1, priority=None) -> list[str]:
    from app import launch
    from app.auth import get_user

    if priority is None:
        out = []
        for _ in range(n):
            r = client.post("/api/jobs", json={**NOOP, "payload": {}}, headers=client.as_("root"))
            assert r.status_code == 201, r.text
            out.append(r.json()["id"])
        return out
    # A priority other than normal comes from fair use; lodged here as fair use lodges it.
    return [launch.launch_job(actor=get_user("root"), job_type="SYSTEM", job_subtype="NOOP", payload={},
                              priority=priority).id for _ in range(n)]


def problem(r, status):
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    return r.json()


def test_queue_paged_in_order_and_purged(live):
    from app import launch
    from app.queries import job_messages

    root = live.as_("root")
    normal = lodge(live, 5)
    low = lodge(live, 2, priority="low")
    high = lodge(live, 1, priority="high")
    order = high + normal + low

    r = live.get("/api/admin/backends/system/queue", params={"limit": 3}, headers=root)
    assert r.status_code == 200, r.text
    page = r.json()
    assert page["depth"] == {"high": 1, "normal": 5, "low": 2} and page["total"] == 8
    assert [j["job_id"] for j in page["jobs"]] == order[:3] and page["next_offset"] == 3
    assert [j["position"] for j in page["jobs"]] == [1, 2, 3]
    first = page["jobs"][0]
    assert (first["priority"], first["status"], first["owner"], first["job_type"], first["url"]) == (
        "high", "PENDING", "root", "SYSTEM", f"/jobs/{high[0]}")
    assert first["waiting_since"] and first["api_url"] == f"/api/jobs/{high[0]}"
    seen = [j["job_id"] for j in page["jobs"]]
    offset = page["next_offset"]
    while offset is not None:  # page by page to the end, across the normal and low queues
        page = live.get("/api/admin/backends/system/queue", params={"offset": offset, "limit": 3},
                        headers=root).json()
        seen += [j["job_id"] for j in page["jobs"]]
        offset = page["next_offset"]
    assert seen == order
    past = live.get("/api/admin/backends/system/queue", params={"offset": 50}, headers=root).json()
    assert past["jobs"] == [] and past["next_offset"] is None

    # Hostile or wrong requests: 4xx naming the problem, nothing purged.
    assert "No backend 'nowhere'" in problem(live.get("/api/admin/backends/nowhere/queue", headers=root),
                                             404)["detail"]
    assert problem(live.get("/api/admin/backends/system/queue", params={"limit": 0}, headers=root),
                   422)["field"] == "query.limit"
    assert problem(live.get("/api/admin/backends/system/queue", params={"offset": "x"}, headers=root),
                   422)["field"] == "query.offset"
    assert problem(live.post("/api/admin/backends/system/queue/purge", json={"priority": "urgent"}, headers=root),
                   422)["field"] == "body.priority"
    assert problem(live.post("/api/admin/backends/system/queue/purge", json={"job_ids": []}, headers=root),
                   422)["field"] == "body.job_ids"
    assert problem(live.post("/api/admin/backends/system/queue/purge", json={"everything": True}, headers=root),
                   422)["field"] == "body.everything"
    assert "admins" in problem(live.post("/api/admin/backends/system/queue/purge", headers=live.as_("svc")),
                               403)["detail"]
    assert problem(live.get("/api/admin/backends/system/queue", headers=live.as_("alice")), 403)
    assert live.get("/api/admin/backends/system/queue", headers=root).json()["total"] == 8

    # Purge two named jobs, then the low queue, then the rest.
    r = live.post("/api/admin/backends/system/queue/purge", json={"job_ids": [normal[1], normal[3]]}, headers=root)
    assert r.status_code == 200, r.text
    assert sorted(r.json()["job_ids"]) == sorted([normal[1], normal[3]]) and r.json()["remaining"] == 6
    got = live.post("/api/admin/backends/system/queue/purge", json={"priority": "low"}, headers=root).json()
    assert (got["purged"], got["taken"], got["remaining"]) == (2, 2, 0)
    left = [j["job_id"] for j in live.get("/api/admin/backends/system/queue", headers=root).json()["jobs"]]
    assert left == [high[0], normal[0], normal[2], normal[4]]
    got = live.post("/api/admin/backends/system/queue/purge", headers=root).json()
    assert (got["purged"], got["remaining"]) == (4, 0)
    assert live.get("/api/admin/backends/system/queue", headers=root).json()["total"] == 0

    # None vanished: each ended CANCELLED with the reason, through the transition.
    for job_id in order:
        job = launch.get_job(job_id)
        assert job.status == "CANCELLED" and job.finished_at is not None
        assert job.last_message == "Purged from the queue by admin root"
        assert [m.status for m in job_messages(job_id)] == ["PENDING", "CANCELLED"]
    counts = live.get("/api/admin/counts", headers=root).json()["counts"]
    assert (counts["CANCELLED"], counts["PENDING"]) == (8, 0)
    # A purge of an empty queue purges nothing; a purged job named again is skipped.
    again = live.post("/api/admin/backends/system/queue/purge", json={"job_ids": [normal[0]]}, headers=root).json()
    assert (again["purged"], again["taken"]) == (0, 0)

    # An entry no Jobdeck job made (an RQ job put there by hand) is listed naming no job,
    # and purged like the rest.
    from app import keys, queues

    queues.redis_conn().rpush(f"rq:queue:{keys.queue_name('system')}", "stray")
    (stray,) = live.get("/api/admin/backends/system/queue", headers=root).json()["jobs"]
    assert (stray["job_id"], stray["status"], stray["owner"], stray["waiting_since"]) == ("stray", "", "", None)
    got = live.post("/api/admin/backends/system/queue/purge", headers=root).json()
    assert (got["purged"], got["taken"], got["remaining"]) == (0, 1, 0)

    logged = live.get("/api/admin/audit", params={"action": "backend.purge"}, headers=root).json()
    outcomes = sorted(e["outcome"] for e in logged["entries"])
    assert outcomes.count("ok") == 5 and "refused" in outcomes
    assert all(e["target"] == "system" and e["actor"] in ("root", "svc") for e in logged["entries"])


def test_pause_and_resume_with_a_real_pool(live, pools):  # noqa: F811
    from app import launch

    root = live.as_("root")
    set_backend("system", max_workers=3)
    got = live.post("/api/admin/backends/system/pause", headers=root)
    assert got.status_code == 200, got.text
    assert (got.json()["paused"], got.json()["max_workers"], got.json()["resume_workers"]) == (True, 0, 3)
    assert "set to 0 workers" in got.json()["status"]["unavailable"]
    # Pausing twice keeps what the first pause remembered.
    assert live.post("/api/admin/backends/system/pause", headers=root).json()["resume_workers"] == 3

    pools("--backends", "system")
    waiting = lodge(live, 2)
    # The pool looks at the queues every 0.1 s; while paused it takes nothing.
    page = live.get("/api/admin/backends/system/queue", headers=root).json()
    assert page["paused"] is True and [j["job_id"] for j in page["jobs"]] == waiting

    got = live.post("/api/admin/backends/system/resume", headers=root).json()
    assert (got["paused"], got["max_workers"], got["resume_workers"]) == (False, 3, None)
    wait_for(lambda: all(launch.get_job(j).status == "SUCCEEDED" for j in waiting), timeout=60,
             message="the resumed backend ran its waiting jobs")
    assert live.get("/api/admin/backends/system/queue", headers=root).json()["total"] == 0
    # Resuming a running backend changes nothing.
    assert live.post("/api/admin/backends/system/resume", headers=root).json()["max_workers"] == 3

    # A pause made by setting 0 workers resumes to the old maximum too; one that never
    # had a maximum resumes to JOBDECK_WORKERS.
    live.patch("/api/admin/backends/system", json={"max_workers": 4}, headers=root)
    live.patch("/api/admin/backends/system", json={"max_workers": 0}, headers=root)
    assert live.post("/api/admin/backends/system/resume", headers=root).json()["max_workers"] == 4
    set_backend("hpc", max_workers=0)
    assert live.post("/api/admin/backends/hpc/resume", headers=root).json()["max_workers"] == 2

    assert "admins" in problem(live.post("/api/admin/backends/system/pause", headers=live.as_("svc")),
                               403)["detail"]
    assert problem(live.post("/api/admin/backends/system/pause", headers=live.as_("alice")), 403)
    assert "No backend 'nowhere'" in problem(live.post("/api/admin/backends/nowhere/pause", headers=root),
                                             404)["detail"]
    logged = live.get("/api/admin/audit", params={"action": "backend.pause"}, headers=root).json()["entries"]
    assert sorted(e["outcome"] for e in logged) == ["ok", "ok", "refused", "refused"]
    logged = live.get("/api/admin/audit", params={"action": "backend.resume"}, headers=root).json()["entries"]
    assert [e["outcome"] for e in logged].count("ok") == 4


def test_a_big_queue_is_purged_in_chunks(live, monkeypatch):
    """Past one chunk (500) and past one call's limit: each call takes what it may from
    the head, says what remains, and the batch's counts follow every cancel."""
    from app import launch, queue_admin
    from app.auth import get_user

    monkeypatch.setattr(queue_admin, "PURGE_MAX", 1000)
    batch = launch.launch_batch(actor=get_user("root"), job_type="SYSTEM", job_subtype="NOOP",
                                payloads=[{}] * 1200, label="backlog")
    root = live.as_("root")
    deep = live.get("/api/admin/backends/system/queue", params={"offset": 1150, "limit": 100}, headers=root).json()
    assert [j["position"] for j in deep["jobs"]] == list(range(1151, 1201)) and deep["next_offset"] is None
    first = live.post("/api/admin/backends/system/queue/purge", headers=root).json()
    assert (first["purged"], first["taken"], first["remaining"]) == (1000, 1000, 200)
    assert len(first["job_ids"]) == 200  # the answer names the first 200
    second = live.post("/api/admin/backends/system/queue/purge", headers=root).json()
    assert (second["purged"], second["remaining"]) == (200, 0)
    got = live.get(f"/api/batches/{batch.id}", headers=root).json()
    assert got["counts"]["CANCELLED"] == 1200 and got["counts"]["PENDING"] == 0
