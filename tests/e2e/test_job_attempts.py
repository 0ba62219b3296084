"""A job's page after a retry and for a job an admin lodged for someone; the admin's
"All users" switch toggled by its words."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import shot, sign_in

pytestmark = pytest.mark.e2e


def _final(console, job_id: str, attempt: int, timeout_s: float = 30):
    from app import launch

    deadline = time.monotonic() + timeout_s
    with console.domain():
        while True:
            job = launch.get_job(job_id)
            if job.attempt == attempt and job.status in ("SUCCEEDED", "FAILED", "CRASHED", "CANCELLED"):
                return job
            assert time.monotonic() < deadline, f"job {job_id} did not end attempt {attempt}: {job.status}"
            time.sleep(0.1)


def _duration_of(page, label: str):
    return page.locator("tr", has=page.get_by_role("rowheader", name=label, exact=True)).locator("td").last


def test_a_retried_job_is_timed_from_its_retry_and_says_which_admin_lodged_it(alice_page, console):
    import sqlalchemy as sa

    from app import auth, launch
    from app.db import utcnow, write_conn
    from app.models import Job

    page = alice_page
    with console.domain():
        job = launch.launch_job(actor=auth.get_user("admin"), job_type="SYSTEM", job_subtype="NOOP",
                                payload={"outcome": "fail"}, owner="alice")
    _final(console, job.id, 1)
    with console.domain():  # its first attempt was lodged ten days ago
        long_ago = utcnow() - timedelta(days=10)
        with write_conn() as conn:
            conn.execute(sa.update(Job.__table__).where(Job.__table__.c.id == job.id)
                         .values(created_at=long_ago, lodged_at=long_ago))
    page.goto(console.url(f"/jobs/{job.id}"))
    expect(page.locator(".status-badge").first).to_have_text("FAILED")
    # The history says admin lodged it; so does the page.
    expect(page.locator(".timeline .message-text").first).to_have_text("Lodged by admin")
    expect(page.locator(".lodged-by")).to_have_text("admin, for alice")
    expect(_duration_of(page, "Dequeued")).to_contain_text(" h")  # attempt 1 waited on its own clock
    page.get_by_role("button", name="Retry").click()
    expect(page.get_by_text("Retry requested by alice: attempt 2")).to_be_visible()
    expect(page.locator(".status-badge").first).to_have_text("FAILED", timeout=30_000)
    done = _final(console, job.id, 2)
    expect(page.get_by_role("rowheader", name="Attempt 2 lodged")).to_be_visible()
    # Attempt 2 waited from its retry, not from the job's creation ten days before.
    from app.state.views import duration

    waited = _duration_of(page, "Dequeued")
    expect(waited).to_have_text(f"waited {duration(done.lodged_at, done.dequeued_at)}")
    expect(waited).not_to_have_text(re.compile(r" h$"))
    expect(_duration_of(page, "Finished")).to_contain_text(f"{duration(done.lodged_at, done.finished_at)} in all")
    expect(page.locator(".lodged-by")).to_have_text("admin, for alice")
    shot(page, "job-retried-timed-from-its-retry")


def test_an_own_job_says_its_owner_lodged_it(alice_page, console):
    from app import auth, registry

    with console.domain():
        _, job = registry.create_item(actor=auth.get_user("alice"), subtype="DATASET", display_name="own data")
    alice_page.goto(console.url(f"/jobs/{job.id}"))
    expect(alice_page.locator(".lodged-by")).to_have_text("its owner")


def test_the_words_beside_all_users_toggle_the_switch(page, console):
    sign_in(page, console, "admin")
    switch = page.get_by_role("switch", name="All users")
    expect(switch).to_have_attribute("aria-checked", "false")
    page.locator(".all-users").get_by_text("All users").click()
    expect(switch).to_have_attribute("aria-checked", "true")
    expect(page.locator(".job-row", has_text="alice").first).to_be_visible()  # the owner column: everyone's
    shot(page, "jobs-all-users-by-label")
    page.locator(".all-users").get_by_text("All users").click()
    expect(switch).to_have_attribute("aria-checked", "false")
