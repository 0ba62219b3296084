"""Live metrics over real HTTP: jobs run through real RQ workers (the project's worker in
burst mode, then a real pool), then `GET /metrics` parsed with prometheus_client's own
parser and `GET /api/admin/metrics` read; who may read them; old minutes pruned while
the totals stay."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import run_workers
from tests.integration.api_live import LiveServer, token_for
from tests.pools import pools, wait_for  # noqa: F401 (pools is a fixture)

NOOP = {"job_type": "SYSTEM", "job_subtype": "NOOP"}


@pytest.fixture
def live(users):
    server = LiveServer().start()
    tokens = {name: token_for(name) for name in ("root", "alice")}
    with httpx.Client(base_url=server.url, timeout=30) as client:
        client.as_ = lambda name: {"Authorization": f"Bearer {tokens[name]}"}
        yield client
    server.stop()


def lodge(client, **payload) -> str:
    r = client.post("/api/jobs", json={**NOOP, "payload": payload}, headers=client.as_("root"))
    assert r.status_code == 201, r.text
    return r.json()["id"]


def samples(text: str) -> dict[tuple[str, tuple], float]:
    """Every sample of a scrape: (name, sorted labels) -> value."""
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def scrape(client, who="root") -> dict:
    r = client.get("/metrics", headers=client.as_(who))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    return samples(r.text)


def finished(got: dict, status: str) -> float:
    return got[("jobdeck_jobs_finished_total", (("backend", "system"), ("job_type", "SYSTEM"), ("status", status)))]


def test_metrics_after_real_jobs(live, monkeypatch):
    from app import metrics
    from app.db import utcnow
    from app.settings import reload_settings

    for _ in range(2):
        lodge(live)
    lodge(live, sleep_s=0.3)
    for _ in range(2):
        lodge(live, outcome="fail")
    lodge(live, outcome="crash")
    gone = lodge(live)
    assert live.post(f"/api/jobs/{gone}/cancel", headers=live.as_("root")).status_code == 200
    run_workers()
    waiting = [lodge(live), lodge(live)]

    got = scrape(live)
    assert (finished(got, "SUCCEEDED"), finished(got, "FAILED"), finished(got, "CRASHED"),
            finished(got, "CANCELLED")) == (3, 2, 1, 1)
    system = (("job_type", "SYSTEM"),)
    # Six ran (the job cancelled while it waited never did); one slept 0.3 s, so at most
    # five took 0.25 s or less, and the buckets are cumulative up to +Inf.
    assert got[("jobdeck_job_run_seconds_count", system)] == 6
    assert got[("jobdeck_job_run_seconds_bucket", (("job_type", "SYSTEM"), ("le", "+Inf")))] == 6
    assert got[("jobdeck_job_run_seconds_bucket", (("job_type", "SYSTEM"), ("le", "0.25")))] <= 5
    assert got[("jobdeck_job_run_seconds_sum", system)] >= 0.3
    les = [float(dict(k[1])["le"]) for k in got if k[0] == "jobdeck_job_run_seconds_bucket"]
    assert les == sorted(les) and les[-1] == float("inf")
    jobs = {dict(k[1])["status"]: v for k, v in got.items() if k[0] == "jobdeck_jobs"}
    assert (jobs["PENDING"], jobs["SUCCEEDED"], jobs["FAILED"], jobs["IN_PROGRESS"]) == (2, 3, 2, 0)
    assert got[("jobdeck_queue_depth", (("backend", "system"), ("priority", "normal")))] == 2
    assert got[("jobdeck_queue_depth", (("backend", "system"), ("priority", "high")))] == 0
    assert got[("jobdeck_redis_up", ())] == 1
    assert got[("jobdeck_workers", (("backend", "system"), ("state", "busy")))] == 0

    # The page's series: the last hour's minutes add up to what ended.
    r = live.get("/api/admin/metrics", headers=live.as_("root"))
    assert r.status_code == 200, r.text
    d = r.json()
    assert len(d["last_hour"]) == 60 and len(d["last_day"]) == 144
    assert d["finished_last_hour"] == {"SUCCEEDED": 3, "FAILED": 2, "CRASHED": 1, "CANCELLED": 1}
    assert sum(m["SUCCEEDED"] for m in d["last_hour"]) == 3 == sum(m["SUCCEEDED"] for m in d["last_day"])
    (noop_time,) = d["run_times"]
    assert noop_time["job_type"] == "SYSTEM" and noop_time["ran"] == 6
    assert 0 < noop_time["p50_s"] <= noop_time["p95_s"]
    assert d["failures"] == [{"job_type": "SYSTEM", "job_subtype": "NOOP", "FAILED": 2, "CRASHED": 1}]
    system_depth = next(q for q in d["queue_depth"] if q["backend"] == "system")
    assert (system_depth["normal"], system_depth["total"]) == (2, 2)
    assert d["jobs"]["PENDING"] == 2

    # A retry's new attempt ends again and is counted again: the counter never goes down.
    failed = lodge(live, outcome="fail")
    run_workers()
    assert live.post(f"/api/jobs/{failed}/retry", headers=live.as_("root")).status_code == 200
    run_workers()
    got = scrape(live)
    assert finished(got, "FAILED") == 4 and finished(got, "SUCCEEDED") == 5  # the two waiting ran too
    assert waiting

    # Old minutes go, an hour at a time; the totals stay.
    assert metrics.prune(now=utcnow() + timedelta(days=3)) > 0
    assert sum(metrics.finished_series(since=utcnow() - timedelta(hours=1), until=utcnow())[i]["SUCCEEDED"]
               for i in range(61)) == 0
    assert finished(scrape(live), "SUCCEEDED") == 5
    monkeypatch.setenv("JOBDECK_METRICS_KEEP_DAYS", "0")
    reload_settings()
    assert metrics.prune(now=utcnow() + timedelta(days=30)) == 0  # 0 keeps every minute


def test_who_may_read_the_metrics(live, monkeypatch):
    from app.settings import reload_settings

    r = live.get("/metrics")
    assert r.status_code == 401 and r.headers["content-type"].startswith("application/problem+json")
    assert "Bearer" in r.json()["detail"]
    r = live.get("/metrics", headers=live.as_("alice"))
    assert r.status_code == 403 and "admins" in r.json()["detail"]
    assert live.get("/api/admin/metrics", headers=live.as_("alice")).status_code == 403
    assert live.get("/metrics", headers={"Authorization": "Bearer not-a-token"}).status_code == 401

    monkeypatch.setenv("JOBDECK_METRICS_TOKEN", "scrape-secret-123")
    reload_settings()
    r = live.get("/metrics", headers={"Authorization": "Bearer scrape-secret-123"})
    assert r.status_code == 200
    got = samples(r.text)
    assert not [k for k in got if k[0] == "jobdeck_jobs_finished_total"]  # nothing ended yet
    assert got[("jobdeck_jobs", (("status", "PENDING"),))] == 0
    assert live.get("/metrics", headers={"Authorization": "Bearer scrape-secret-12"}).status_code == 401
    # The metrics token opens /metrics only, not the admin API.
    assert live.get("/api/admin/metrics", headers={"Authorization": "Bearer scrape-secret-123"}).status_code == 401
    assert scrape(live)  # admins' tokens still may


def test_workers_of_a_real_pool(live, pools):  # noqa: F811
    pools("--backends", "system")
    job = lodge(live)
    wait_for(lambda: live.get(f"/api/jobs/{job}", headers=live.as_("root")).json()["status"] == "SUCCEEDED",
             timeout=60, message="the pool ran the job")
    # Its worker waits idle for more (120 s) and the scrape says so.
    got = wait_for(lambda: (g := scrape(live)) and g[("jobdeck_workers", (("backend", "system"),
                                                                          ("state", "idle")))] >= 1 and g,
                   timeout=30, message="an idle worker of system")
    assert finished(got, "SUCCEEDED") == 1
