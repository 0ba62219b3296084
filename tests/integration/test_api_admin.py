"""The admin routes of the REST API, run against real Redis, real RQ workers and a real
worker pool: backends read, changed (checked field by field, all or nothing) and woken;
workers and pools from their heartbeats; stuck jobs with their reason; every submission
paged, cancelled (running steps halted) and deleted; job counts per status. Who may
call each route is in test_api_authz.py."""

from __future__ import annotations

import pytest


from tests.conftest import run_workers
from tests.pools import pools, set_backend, wait_for  # noqa: F401 (pools is a fixture)

NOOP = {"job_type": "SYSTEM", "job_subtype": "NOOP", "payload": {}}


@pytest.fixture
def api(service_api):
    """The REST API with a service user "svc" besides the test users."""
    return service_api


def problem_of(r, status):
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["status"] == status and body["title"] and body["detail"]
    return body


def lodge(api, who="root", **payload):
    r = api.post("/api/jobs", json={**NOOP, "payload": payload}, headers=api.as_(who))
    assert r.status_code == 201, r.text
    return r.json()["id"]


def job_status(api, job_id):
    return api.get(f"/api/admin/jobs/{job_id}", headers=api.as_("root")).json()["status"]


# --- backends -----------------------------------------------------------------------------


def test_backends_are_read_and_changed_field_by_field(api):
    root = api.as_("root")
    listed = {b["name"]: b for b in api.get("/api/admin/backends", headers=root).json()}
    assert {"pipeline", "prov", "registry", "system"} <= set(listed)
    system = listed["system"]
    assert (system["configured"], system["max_workers"], system["idle_timeout_s"], system["job_timeout_s"]) == (
        False, 2, 120, None)
    assert system["status"]["workers"] == 0 and system["status"]["can_wake"] is True
    assert "No worker pool serves backend 'system'" in system["status"]["unavailable"]

    r = api.patch("/api/admin/backends/system", json={"max_workers": 5, "idle_timeout_s": 30}, headers=root)
    assert r.status_code == 200, r.text
    got = r.json()
    assert (got["name"], got["configured"], got["max_workers"], got["idle_timeout_s"], got["job_timeout_s"]) == (
        "system", True, 5, 30, None)
    assert got["description"] == "Queue for system jobs" and got["created_at"]
    assert got["status"]["unavailable"].startswith("No worker pool serves")

    # Each refusal names its field, and a good value next to a bad one is not written.
    bad = [({"max_workers": 101}, "max_workers", "Max workers must be between 0 and 100"),
           ({"idle_timeout_s": 0}, "idle_timeout_s", "Idle timeout must be between 1 and 86400"),
           ({"max_workers": 4, "job_timeout_s": -5}, "job_timeout_s", "Job time limit"),
           ({"idle_timeout_s": "two minutes"}, "body.idle_timeout_s", "valid integer"),
           ({"max_workers": True}, "body.max_workers", "valid integer"),
           ({"max_workers": 2.5}, "body.max_workers", "valid integer"),
           ({"workers": 3}, "body.workers", "Extra inputs")]
    for values, field, words in bad:
        body = problem_of(api.patch("/api/admin/backends/system", json=values, headers=root), 422)
        assert body["field"] == field and words in body["detail"], (values, body)
    again = {b["name"]: b for b in api.get("/api/admin/backends", headers=root).json()}["system"]
    assert (again["max_workers"], again["idle_timeout_s"], again["job_timeout_s"]) == (5, 30, None)

    # A job time limit; 0 workers pauses the backend, and the status says why.
    got = api.patch("/api/admin/backends/system", json={"job_timeout_s": 90, "max_workers": 0}, headers=root).json()
    assert (got["max_workers"], got["idle_timeout_s"], got["job_timeout_s"]) == (0, 30, 90)
    assert "set to 0 workers" in got["status"]["unavailable"]
    got = api.patch("/api/admin/backends/system", json={"job_timeout_s": 0, "max_workers": None}, headers=root).json()
    assert (got["max_workers"], got["job_timeout_s"]) == (0, None)  # null keeps, 0 lifts the limit

    assert "No backend 'nowhere'" in problem_of(
        api.patch("/api/admin/backends/nowhere", json={"max_workers": 1}, headers=root), 404)["detail"]
    assert "for admins" in problem_of(
        api.patch("/api/admin/backends/system", json={"max_workers": 1}, headers=api.as_("svc")), 403)["detail"]
    # A wake-up needs a known backend that has a wake-up job.
    assert "No backend 'nowhere'" in problem_of(api.post("/api/admin/backends/nowhere/wake", headers=root),
                                                404)["detail"]
    set_backend("hpc", max_workers=8)
    body = problem_of(api.post("/api/admin/backends/hpc/wake", headers=root), 422)
    assert body["field"] == "backend" and "no wake-up job" in body["detail"]
    hpc = {b["name"]: b for b in api.get("/api/admin/backends", headers=root).json()}["hpc"]
    assert hpc["configured"] and hpc["max_workers"] == 8 and hpc["status"]["can_wake"] is False


def test_counts_and_stuck_jobs(api, monkeypatch):
    from app.settings import reload_settings

    root = api.as_("root")
    for _ in range(3):
        lodge(api, "root", outcome="fail")
    r = api.post("/api/jobs", json={**NOOP, "owner": "alice"}, headers=root)
    assert r.status_code == 201
    run_workers()
    waiting = lodge(api, "root")
    everyone = api.get("/api/admin/counts", headers=root).json()
    assert everyone["username"] is None and everyone["total"] == 5
    assert (everyone["counts"]["FAILED"], everyone["counts"]["SUCCEEDED"], everyone["counts"]["PENDING"]) == (3, 1, 1)
    alice = api.get("/api/admin/counts", params={"username": "alice"}, headers=root).json()
    assert alice["username"] == "alice" and alice["total"] == 1 and alice["counts"]["SUCCEEDED"] == 1
    assert api.get("/api/admin/counts", params={"username": "carol"}, headers=root).json()["total"] == 0

    # Not stuck yet: it has waited less than JOBDECK_STUCK_AFTER_S.
    assert api.get("/api/admin/stuck-jobs", headers=root).json() == []
    monkeypatch.setenv("JOBDECK_STUCK_AFTER_S", "0")
    reload_settings()
    (stuck,) = api.get("/api/admin/stuck-jobs", headers=root).json()
    assert stuck["job"]["id"] == waiting and stuck["job"]["queue"] == "system" and stuck["waiting_s"] >= 0
    assert "No worker pool serves backend 'system'" in stuck["reason"]
    api.patch("/api/admin/backends/system", json={"max_workers": 0}, headers=root)
    (stuck,) = api.get("/api/admin/stuck-jobs", headers=api.as_("svc")).json()
    assert "set to 0 workers" in stuck["reason"]
    assert problem_of(api.get("/api/admin/stuck-jobs", params={"limit": 0}, headers=root), 422)["field"] == "query.limit"


# --- submissions ------------------------------------------------------------------------------


def test_submissions_are_paged_filtered_cancelled_and_deleted(api, world):
    root = api.as_("root")
    batch = api.post("/api/batches", headers=root, json={"job_type": "SYSTEM", "job_subtype": "NOOP", "label": "four",
                                                         "payloads": [{}] * 4, "owner": "bob"}).json()
    lone = api.post("/api/jobs", headers=root, json={**NOOP, "owner": "bob"}).json()["id"]
    listed = api.get("/api/admin/submissions", params={"limit": 500}, headers=root).json()
    assert listed["next_cursor"] is None
    subs = listed["submissions"]
    assert [s["id"] for s in subs[:2]] == [lone, batch["id"]] and len(subs) == 9  # the world's seven items too
    b = subs[1]
    assert (b["kind"], b["owner"], b["label"], b["jobs"], b["finished"], b["status"], b["aa_status"]) == (
        "batch", "bob", "four", 4, 0, "PENDING", "SUBMITTED")
    item = subs[-1]
    assert (item["kind"], item["owner"], item["status"], item["aa_status"], item["jobs"]) == (
        "job", "alice", "SUCCEEDED", "COMPLETE", 2)
    assert item["job_subtype"] == "REGISTER_CREATE_ACTIVITY" and item["entity_id"]

    # keyset pages: each submission once, in order
    seen, cursor = [], None
    while True:
        page = api.get("/api/admin/submissions", params={"limit": 3, **({"cursor": cursor} if cursor else {})},
                       headers=root).json()
        seen += [s["id"] for s in page["submissions"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [s["id"] for s in subs]
    bobs = api.get("/api/admin/submissions", params={"username": "bob"}, headers=api.as_("svc")).json()
    assert [s["id"] for s in bobs["submissions"]] == [lone, batch["id"]]
    assert problem_of(api.get("/api/admin/submissions", params={"cursor": "nope"}, headers=root), 400)["field"] == "cursor"
    assert problem_of(api.get("/api/admin/submissions", params={"limit": 501}, headers=root), 422)["field"] == "query.limit"

    # Cancel the batch by any of its jobs: its four jobs stop; a second cancel has nothing to do.
    one_of_them = api.get(f"/api/batches/{batch['id']}/jobs", headers=root).json()["jobs"][0]["id"]
    done = api.post(f"/api/admin/submissions/{one_of_them}/cancel", headers=root).json()
    assert len(done["cancelled"]) == 4 and done["halting"] == []
    assert (done["submission"]["id"], done["submission"]["status"], done["submission"]["finished"]) == (
        batch["id"], "CANCELLED", 4)
    again = api.post(f"/api/admin/submissions/{batch['id']}/cancel", headers=root).json()
    assert again["cancelled"] == [] and again["submission"]["status"] == "CANCELLED"
    run_workers()  # nothing of the batch runs; the lone job does
    assert api.get(f"/api/batches/{batch['id']}", headers=root).json()["counts"]["CANCELLED"] == 4
    assert api.get(f"/api/admin/jobs/{lone}", headers=root).json()["status"] == "SUCCEEDED"

    # Delete an item's create workflow (two jobs): the records go, the item stays.
    gone = api.delete(f"/api/admin/submissions/{item['id']}", headers=api.as_("svc")).json()
    assert gone == {"root_job_id": item["id"], "jobs_deleted": 2, "batches_deleted": 0, "files_deleted": 0,
                    "cancelled": 0}
    problem_of(api.get(f"/api/admin/jobs/{item['id']}", headers=root), 404)
    assert api.get(f"/api/items/{item['entity_id']}", headers=root).status_code == 200
    gone = api.delete(f"/api/admin/submissions/{batch['id']}", headers=root).json()
    assert (gone["root_job_id"], gone["jobs_deleted"], gone["batches_deleted"]) == (None, 4, 1)
    left = [s["id"] for s in api.get("/api/admin/submissions", params={"limit": 500}, headers=root).json()["submissions"]]
    assert left == [s["id"] for s in subs if s["id"] not in (item["id"], batch["id"])]
    for route in (api.delete, api.post):
        url = f"/api/admin/submissions/{batch['id']}" + ("/cancel" if route == api.post else "")
        assert "No job or batch" in problem_of(route(url, headers=root), 404)["detail"]


# --- workers, pools, waking, halting -----------------------------------------------------------


def test_workers_and_pools_of_a_real_pool_woken_and_halted(api, pools):
    root = api.as_("root")
    assert api.get("/api/admin/pools", headers=root).json() == []
    assert api.get("/api/admin/workers", headers=root).json() == []
    api.patch("/api/admin/backends/system", json={"max_workers": 1, "idle_timeout_s": 60}, headers=root)
    pools("--backends", "system")
    (pool,) = wait_for(lambda: api.get("/api/admin/pools", headers=root).json(), message="the pool reported")
    assert pool["backends"] == ["system"] and pool["pid"] and pool["host"] and pool["last_heartbeat"]

    woke = api.post("/api/admin/backends/system/wake", headers=api.as_("svc")).json()
    assert woke["backend"] == "system" and woke["message"] == "Waking up backend 'system'."
    assert (woke["job"]["job_subtype"], woke["job"]["owner"]) == ("SYSTEM_WAKE_UP", "svc")
    wait_for(lambda: job_status(api, woke["job"]["id"]) == "SUCCEEDED", message="the wake-up ran")
    (worker,) = wait_for(lambda: [w for w in api.get("/api/admin/workers", headers=root).json()
                                  if w["state"] == "idle" and w["jobs_done"] == 1], message="an idle worker")
    assert worker["backend"] == "system" and worker["alive"] and worker["pid"] and worker["last_heartbeat"]
    assert worker["pool"] == pool["pool_id"]
    again = api.post("/api/admin/backends/system/wake", headers=root).json()
    assert again["job"] is None and "awake already" in again["message"]
    status = {b["name"]: b for b in api.get("/api/admin/backends", headers=root).json()}["system"]["status"]
    assert (status["workers"], status["idle"], status["busy"], status["unavailable"]) == (1, 1, 0, None)
    assert status["served_by"] == [pool["host"]]

    # A running job: the worker shows it; cancelling its submission halts it.
    long = lodge(api, "root", sleep_s=60)

    def busy_with(job_id):
        return [w for w in api.get("/api/admin/workers", params={"backend": "system"}, headers=root).json()
                if w["state"] == "busy" and w["current_job_id"] == job_id]

    wait_for(lambda: job_status(api, long) == "IN_PROGRESS", message="the long job started")
    (w,) = wait_for(lambda: busy_with(long), message="the worker runs the long job")
    assert w["name"] == worker["name"] and w["current_attempt"] == 1 and w["job_since"]
    done = api.post(f"/api/admin/submissions/{long}/cancel", headers=root).json()
    assert done["cancelled"] == [long] and done["halting"] == [long] and done["submission"]["status"] == "CANCELLED"
    wait_for(lambda: [x for x in api.get("/api/admin/workers", headers=root).json()
                      if x["name"] == worker["name"] and x["state"] == "idle"], message="the job halted")
    # Deleting a running submission cancels it first and waits for its worker to let go.
    other = lodge(api, "root", sleep_s=60)
    wait_for(lambda: job_status(api, other) == "IN_PROGRESS", message="the second job started")
    gone = api.delete(f"/api/admin/submissions/{other}", headers=root).json()
    assert (gone["jobs_deleted"], gone["cancelled"]) == (1, 1)
    assert not busy_with(other)
    problem_of(api.get(f"/api/admin/jobs/{other}", headers=root), 404)
    assert api.get("/api/admin/workers", params={"backend": "nowhere"}, headers=root).json() == []


def test_without_redis_the_settings_still_read_and_worker_routes_answer_503(api, redis_server):
    root = api.as_("root")
    waiting = lodge(api, "root")
    redis_server.stop()
    try:
        for url in ("/api/admin/workers", "/api/admin/pools"):
            body = problem_of(api.get(url, headers=root), 503)
            assert "(Redis) does not answer" in body["detail"]
        listed = {b["name"]: b for b in api.get("/api/admin/backends", headers=root).json()}
        assert listed["system"]["status"] is None and listed["system"]["max_workers"] == 2
        got = api.patch("/api/admin/backends/system", json={"max_workers": 3}, headers=root)
        assert got.status_code == 200 and got.json()["max_workers"] == 3 and got.json()["status"] is None
        counts = api.get("/api/admin/counts", headers=root).json()
        assert counts["counts"]["PENDING"] == 1
        subs = api.get("/api/admin/submissions", headers=root).json()["submissions"]
        assert [s["id"] for s in subs] == [waiting]
    finally:
        redis_server.start()
