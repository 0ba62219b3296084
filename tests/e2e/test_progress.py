"""A handler's progress reaches the console live: a running job's bar moves on its page
and in the jobs panel as the worker reports 25 %, 50 %, 75 %, and the bar gives way to
the outcome when the job ends."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import new_user, shot, sign_in
from tests.e2e.test_jobs import _lodge_noops

pytestmark = pytest.mark.e2e


def test_a_running_jobs_progress_moves_live_on_its_page_and_in_the_panel(page, browser, console):
    user, pw = new_user(console, "progress")
    page.set_default_timeout(20_000)
    sign_in(page, console, user, password=pw)
    panel = browser.new_context().new_page()
    panel.set_default_timeout(20_000)
    try:
        sign_in(panel, console, user, password=pw)
        # A diagnostic job of 8 s reports its progress at each quarter.
        [job_id] = _lodge_noops(console, user, 1, sleep_s=8)
        page.goto(console.url(f"/jobs/{job_id}"))
        bar = page.get_by_role("progressbar")
        seen = set()
        for percent in ("25", "50", "75"):
            expect(bar).to_have_attribute("aria-valuenow", percent, timeout=15_000)
            seen.add(percent)
            if percent == "50":
                shot(page, "job-progress")
                row_bar = panel.locator(f".job-row[data-job-id='{job_id}'] .live-progress")
                expect(row_bar).to_have_attribute("aria-valuenow", "50")
                shot(panel, "jobs-panel-progress")
        assert seen == {"25", "50", "75"}
        expect(page.locator(".job-progress-text")).to_have_text("75 %")
        expect(page.locator(".status-badge[data-status=SUCCEEDED]").first).to_be_visible(timeout=15_000)
        expect(page.get_by_role("progressbar")).to_have_count(0)
    finally:
        panel.context.close()
