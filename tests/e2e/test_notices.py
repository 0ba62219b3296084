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


# The page's Notification is recorded instead of shown (the permission stays the
# browser's: granted by the context), and the test says when the tab is hidden.
_NOTIFICATIONS = """
(() => {
  const Real = window.Notification;
  window.__shown = [];
  window.__hidden = false;
  Object.defineProperty(document, "hidden", { configurable: true, get: () => window.__hidden });
  class Recorded {
    static get permission() { return Real.permission; }
    static requestPermission() { return Real.requestPermission(); }
    constructor(title, options) { window.__shown.push({ title, ...options }); }
    close() {}
  }
  window.Notification = Recorded;
})();
"""


def test_browser_notifications_when_asked_and_the_tab_is_hidden(browser, console):
    user, pw = new_user(console, "pinged")
    ctx = browser.new_context(permissions=["notifications"])
    try:
        ctx.add_init_script(_NOTIFICATIONS)
        page = ctx.new_page()
        page.set_default_timeout(20_000)
        sign_in(page, console, user, path="/profile", password=pw)
        toggle = page.locator(".browser-notices")
        expect(toggle).to_have_attribute("data-state", "off")  # off by default
        page.locator(".browser-notices-toggle").check()
        expect(toggle).to_have_attribute("data-state", "on")
        shot(page, "browser-notices-toggle")
        page.reload()
        expect(page.locator(".browser-notices")).to_have_attribute("data-state", "on")  # remembered

        # Visible: the toast only.
        _lodge_noops(console, user, 1, sleep_s=SLOW_S)
        expect(page.locator(".notice")).to_have_count(1, timeout=30_000)
        assert page.evaluate("window.__shown") == []
        page.locator(".notice-dismiss").click()

        # Hidden: the toast and a system notification, its tag the notice's key.
        page.evaluate("window.__hidden = true")
        [job_id] = _lodge_noops(console, user, 1, sleep_s=SLOW_S)
        expect(page.locator(".notice")).to_have_count(1, timeout=30_000)
        page.wait_for_function("window.__shown.length === 1")
        [shown] = page.evaluate("window.__shown")
        assert shown["title"] == "Jobdeck" and shown["body"] == "Diagnostic no-op succeeded."
        assert shown["tag"] == f"job:{job_id}:1"
        page.locator(".notice-dismiss").click()

        # Turned off: hidden or not, the toast only.
        page.evaluate("window.__hidden = false")
        page.locator(".browser-notices-toggle").uncheck()
        expect(page.locator(".browser-notices")).to_have_attribute("data-state", "off")
        page.evaluate("window.__hidden = true")
        _lodge_noops(console, user, 1, sleep_s=SLOW_S)
        expect(page.locator(".notice")).to_have_count(1, timeout=30_000)
        assert page.evaluate("window.__shown.length") == 1
    finally:
        ctx.close()
