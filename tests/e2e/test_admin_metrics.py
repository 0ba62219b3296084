"""The admin metrics page in Chromium: jobs run by the console's real pool show in its
charts with the numbers the aggregates hold, and the page follows as more end."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import shot, sign_in

pytestmark = pytest.mark.e2e


def _lodge(console, n: int, **payload) -> list[str]:
    from app import auth, launch

    with console.domain():
        admin = auth.get_user("admin")
        return [launch.launch_job(actor=admin, job_type="SYSTEM", job_subtype="NOOP", payload=payload,
                                  owner="admin").id for _ in range(n)]


def _wait_ended(console, ids: list[str]) -> None:
    from app.launch import get_job

    deadline = time.monotonic() + 60
    with console.domain():
        while not all(get_job(i).status in ("SUCCEEDED", "FAILED", "CRASHED", "CANCELLED") for i in ids):
            assert time.monotonic() < deadline, "the console's pool did not run the jobs"
            time.sleep(0.2)


def _kept(console) -> dict:
    from app import auth, dashboard

    with console.domain():
        return dashboard.read(viewer=auth.get_user("admin"))


def test_metrics_page_charts_real_numbers(page, console):
    page.set_default_timeout(15_000)
    ids = _lodge(console, 3) + _lodge(console, 2, outcome="fail")
    _wait_ended(console, ids)
    kept = _kept(console)
    sign_in(page, console, "admin", "/admin")
    page.locator(".admin-tab", has_text="Metrics").click()

    hour = page.locator("[data-chart=finished-hour]")
    expect(hour.locator(".recharts-bar-rectangle").first).to_be_visible()
    expect(page.locator("[data-stat=SUCCEEDED]")).to_have_text(str(kept.finished_last_hour["SUCCEEDED"]))
    expect(page.locator("[data-stat=FAILED]")).to_have_text(str(kept.finished_last_hour["FAILED"]))
    assert kept.finished_last_hour["SUCCEEDED"] >= 3 and kept.finished_last_hour["FAILED"] >= 2
    noop = next(f for f in kept.failures if f["job_subtype"] == "NOOP")
    failed = page.locator(".failure-count[data-failed-type='SYSTEM / NOOP']")
    expect(failed).to_have_attribute("data-failed", str(noop["FAILED"]))
    expect(page.locator("[data-chart=failures] .recharts-bar-rectangle").first).to_be_visible()
    system = next(r for r in kept.run_times if r["job_type"] == "SYSTEM")
    expect(page.locator(".run-time[data-job-type=SYSTEM]")).to_have_attribute("data-ran", str(system["ran"]))
    expect(page.locator("[data-chart=runs] .recharts-bar-rectangle").first).to_be_visible()
    expect(page.locator(".queue-depth[data-backend=system]")).to_be_visible()
    shot(page, "admin-metrics")

    # Live: more jobs end while the page is open, and it reads them within seconds.
    more = _lodge(console, 2, outcome="fail")
    _wait_ended(console, more)
    expect(page.locator("[data-stat=FAILED]")).to_have_text(str(kept.finished_last_hour["FAILED"] + 2),
                                                            timeout=20_000)


def test_metrics_route_on_the_console_port(console):
    """Prometheus scrapes the console's own port: /metrics answers there, beside /api."""
    import httpx
    from prometheus_client.parser import text_string_to_metric_families

    from app import auth

    with console.domain():
        token = auth.create_token(owner="admin", name="prometheus")[0]
    assert httpx.get(console.url("/metrics"), timeout=30).status_code == 401
    r = httpx.get(console.url("/metrics"), headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    names = {f.name for f in text_string_to_metric_families(r.text)}
    assert {"jobdeck_jobs_finished", "jobdeck_job_run_seconds", "jobdeck_jobs", "jobdeck_queue_depth",
            "jobdeck_workers"} <= names


def test_waits_workers_and_failures_by_worker_charted(page, console):
    """Queue wait per backend, workers busy and idle over the hour and failures by worker:
    the page shows what the aggregates hold, and follows as more jobs run."""
    page.set_default_timeout(15_000)
    ids = _lodge(console, 2) + _lodge(console, 1, outcome="fail")
    _wait_ended(console, ids)
    kept = _kept(console)
    sign_in(page, console, "admin", "/admin/metrics")

    system = next(w for w in kept.waits if w["backend"] == "system")
    wait = page.locator(".wait-time[data-backend=system]")
    expect(wait).to_have_attribute("data-started", str(system["started"]))
    expect(page.locator("[data-chart=waits] .recharts-bar-rectangle").first).to_be_visible()
    top = kept.worker_failures[0]
    expect(page.locator(f".worker-failure-count[data-worker='{top['worker']}']")).to_have_attribute(
        "data-failed", str(top["FAILED"]))
    expect(page.locator("[data-chart=worker-failures] .recharts-bar-rectangle").first).to_be_visible()
    # The console's housekeeper samples the workers every 10 s: the area fills in. Which
    # band is a matter of when the samples fell (quick jobs are seldom caught running, and
    # a band of zero height is not visible), so any of them.
    expect(page.locator("[data-chart=workers] .recharts-area-area:visible").first).to_be_visible(timeout=30_000)
    expect(page.locator(".workers-now")).not_to_contain_text("no sample yet", timeout=30_000)
    shot(page, "admin-metrics-waits-workers")

    more = _lodge(console, 2)
    _wait_ended(console, more)
    expect(wait).to_have_attribute("data-started", str(system["started"] + 2), timeout=20_000)


def test_a_user_sees_their_own_metrics(tab, console):
    """/profile/metrics: a researcher's own jobs only, the numbers the owner's aggregates
    hold, moving as their jobs end; another user's page shows none of them."""
    from app import auth, my_metrics

    from tests.e2e.conftest import new_user

    user, pw = new_user(console, "charted")
    other, other_pw = new_user(console, "uncharted")
    mine, theirs = tab(), tab()
    ids = _lodge_owned(console, user, 3) + _lodge_owned(console, user, 2, outcome="fail")
    _wait_ended(console, ids)
    sign_in(mine, console, user, path="/profile", password=pw)
    mine.locator(".profile-metrics-link").click()
    mine.wait_for_url("**/profile/metrics**")
    expect(mine.locator("[data-my-stat=SUCCEEDED]")).to_have_text("3")
    expect(mine.locator("[data-my-stat=FAILED]")).to_have_text("2")
    expect(mine.locator("[data-my-stat=day]")).to_have_text("5")
    expect(mine.locator("[data-chart=my-finished-hour] .recharts-bar-rectangle").first).to_be_visible()
    expect(mine.locator(".my-run-time[data-job-type=SYSTEM]")).to_have_attribute("data-ran", "5")
    expect(mine.locator(".my-failure-count[data-failed-type=SYSTEM]")).to_have_attribute("data-failed", "2")
    expect(mine.locator("[data-chart=my-failures] .recharts-bar-rectangle").first).to_be_visible()
    with console.domain():
        kept = my_metrics.read(viewer=auth.get_user(user))
    assert kept.finished_last_hour == {"SUCCEEDED": 3, "FAILED": 2, "CRASHED": 0, "CANCELLED": 0}
    shot(mine, "my-metrics")

    sign_in(theirs, console, other, path="/profile/metrics", password=other_pw)
    expect(theirs.locator("[data-my-stat=day]")).to_have_text("0")
    expect(theirs.get_by_text("None of your jobs ran to its end in the last day.")).to_be_visible()

    more = _lodge_owned(console, user, 1, outcome="crash")
    _wait_ended(console, more)
    expect(mine.locator("[data-my-stat=CRASHED]")).to_have_text("1", timeout=20_000)
    expect(mine.locator(".my-failure-count[data-failed-type=SYSTEM]")).to_have_attribute("data-crashed", "1")
    expect(theirs.locator("[data-my-stat=day]")).to_have_text("0")


def _lodge_owned(console, owner: str, n: int, **payload) -> list[str]:
    from app import auth, launch

    with console.domain():
        admin = auth.get_user("admin")
        return [launch.launch_job(actor=admin, job_type="SYSTEM", job_subtype="NOOP", payload=payload,
                                  owner=owner).id for _ in range(n)]
