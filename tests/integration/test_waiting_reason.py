"""Why a PENDING job waits, known at once (not only once it has waited
JOBDECK_STUCK_AFTER_S): its backend paused, no pool serving it, Redis away; in the REST
API's job answers, with a real pool."""

from __future__ import annotations

import pytest
from tests.integration.api_live import api_client

from tests.pools import pools, wait_for  # noqa: F401 (pools is a fixture)

NOOP = {"job_type": "SYSTEM", "job_subtype": "NOOP", "payload": {}}
NO_POOL = "No worker pool serves backend 'system'"
PAUSED = "Backend 'system' is set to 0 workers (paused)"


@pytest.fixture
def api(jobdeck, users, monkeypatch):
    from app.settings import reload_settings

    monkeypatch.setenv("JOBDECK_STUCK_AFTER_S", "3600")  # the warning in the history is far off
    reload_settings()
    with api_client(users) as client:
        yield client


def _reason(api, job_id, who="root"):
    r = api.get(f"/api/jobs/{job_id}", headers=api.as_(who))
    assert r.status_code == 200, r.text
    return r.json()["waiting_reason"]


def test_a_job_answer_says_at_once_why_no_worker_takes_it(api, pools, redis_server):
    root = api.as_("root")
    # Redis away: lodging still succeeds, and the answer says why the job waits.
    redis_server.stop()
    try:
        lodged = api.post("/api/jobs", json=NOOP, headers=root)
        assert lodged.status_code == 201 and "(Redis) does not answer" in lodged.json()["waiting_reason"]
        job_id = lodged.json()["id"]
        assert "(Redis) does not answer" in _reason(api, job_id)
    finally:
        redis_server.start()

    # Redis back, and no pool serves the backend.
    wait_for(lambda: NO_POOL in (_reason(api, job_id) or ""), message="the reason says no pool")
    (listed,) = api.get("/api/jobs", headers=root).json()["jobs"]
    assert NO_POOL in listed["waiting_reason"]
    assert NO_POOL in api.get(f"/api/admin/jobs/{job_id}", headers=root).json()["waiting_reason"]

    # Paused, and then a pool for it: the reason follows, still PENDING.
    assert api.patch("/api/admin/backends/system", json={"max_workers": 0}, headers=root).status_code == 200
    assert PAUSED in _reason(api, job_id)
    pools("--backends", "system")
    wait_for(lambda: [p for p in api.get("/api/admin/pools", headers=root).json()], message="the pool reported")
    assert PAUSED in _reason(api, job_id)
    assert api.get(f"/api/jobs/{job_id}", headers=root).json()["status"] == "PENDING"

    # Resumed: the job runs (the pool's reconciler queues it again, Redis lost it), and a
    # job that is not PENDING has no reason.
    assert api.patch("/api/admin/backends/system", json={"max_workers": 1}, headers=root).status_code == 200
    wait_for(lambda: api.get(f"/api/jobs/{job_id}", headers=root).json()["status"] == "SUCCEEDED", timeout=20,
             message="resumed, the job ran")
    assert _reason(api, job_id) is None
    again = api.post("/api/jobs", json=NOOP, headers=root).json()  # a pool serves it, a worker can take it
    assert again["waiting_reason"] is None
