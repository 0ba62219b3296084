"""Notices: a job or batch of yours that took a while ends while your tab is elsewhere,
and a notice with a link says so; a tab that shows the job sees it end there instead,
and another user's tab is told nothing."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import new_user, shot, sign_in
from tests.e2e.test_jobs import _lodge_noops

pytestmark = pytest.mark.e2e

SLOW_S = 5.5  # past JOBDECK_NOTICE_AFTER_S (5 by default)


def _lodge_batch(console, owner: str, n: int, label: str) -> str:
    from app import auth, launch

    with console.domain():
        admin = auth.get_user("admin")
        return launch.launch_batch(actor=admin, job_type="SYSTEM", job_subtype="NOOP", owner=owner, label=label,
                                   payloads=[{"sleep_s": SLOW_S}] * n).id


def test_a_slow_job_and_batch_ending_elsewhere_are_noticed_with_a_link(tab, console):
    user, pw = new_user(console, "noticed")
    other, other_pw = new_user(console, "quiet")
    elsewhere, watching, stranger = tab(), tab(), tab()
    sign_in(elsewhere, console, user, path="/profile", password=pw)
    sign_in(stranger, console, other, path="/profile", password=other_pw)
    sign_in(watching, console, user, password=pw)

    [job_id] = _lodge_noops(console, user, 1, sleep_s=SLOW_S)
    watching.goto(console.url(f"/jobs/{job_id}"))
    notice = elsewhere.locator(".notice")
    expect(notice).to_have_count(1, timeout=30_000)
    expect(notice).to_have_attribute("data-status", "SUCCEEDED")
    expect(notice.locator(".notice-link")).to_have_text("Diagnostic no-op succeeded.")
    shot(elsewhere, "notice-job")
    # The tab showing the job saw it end on its page and is told nothing more; nor is
    # another user's tab.
    expect(watching.locator(".job-heading")).to_be_visible()
    expect(watching.locator(".status-badge[data-status=SUCCEEDED]").first).to_be_visible(timeout=30_000)
    expect(watching.locator(".notice")).to_have_count(0)
    expect(stranger.locator(".notice")).to_have_count(0)

    notice.locator(".notice-link").click()
    elsewhere.wait_for_url(f"**/jobs/{job_id}**")
    expect(elsewhere.locator(".notice")).to_have_count(1)  # kept while moving about
    elsewhere.locator(".notice-dismiss").click()
    expect(elsewhere.locator(".notice")).to_have_count(0)

    # A batch: one notice when its last job ends, none for each job of it.
    _lodge_batch(console, user, 2, "slow pair")
    expect(elsewhere.locator(".notice")).to_have_count(1, timeout=30_000)
    expect(elsewhere.locator(".notice-link")).to_have_text("Batch 'slow pair' finished: 2 succeeded.")
    shot(elsewhere, "notice-batch")
    elsewhere.locator(".notice-link").click()
    elsewhere.wait_for_url("**/batches/**")
    expect(stranger.locator(".notice")).to_have_count(0)
