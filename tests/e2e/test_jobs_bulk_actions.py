"""The jobs panel's bulk actions, as a person uses them: ticking rows, a shift-click
range, the page, "all N matching this filter", the confirmation stating the count, and
the summary when it is done (a filter's bulk job run by the console's real pool)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import new_user, shot, sign_in

pytestmark = pytest.mark.e2e


def _lodge(console, owner: str, n: int, **payload) -> list[str]:
    from app import auth, launch

    with console.domain():
        admin = auth.get_user("admin")
        return [launch.launch_job(actor=admin, job_type="SYSTEM", job_subtype="NOOP", payload=payload,
                                  owner=owner, priority="low").id for _ in range(n)]


def _statuses(console, ids: list[str]) -> list[str]:
    from app import launch

    with console.domain():
        return [launch.get_job(j).status for j in ids]


def test_tick_a_range_then_cancel_the_selection(page, console):
    page.set_default_timeout(20_000)
    username, password = new_user(console, "tick")
    with console.paused("system"):  # the jobs wait PENDING while they are picked
        ids = _lodge(console, username, 5)  # newest first on the page: ids[4] … ids[0]
        sign_in(page, console, username, password=password)
        rows = page.locator(".job-row")
        expect(rows).to_have_count(5)
        rows.nth(0).locator(".row-tick").click()
        rows.nth(2).locator(".row-tick").click(modifiers=["Shift"])
        expect(page.locator(".bulk-bar")).to_contain_text("3 selected")
        expect(rows.nth(1).locator(".row-tick")).to_have_attribute("aria-checked", "true")
        expect(rows.nth(3).locator(".row-tick")).to_have_attribute("aria-checked", "false")
        expect(page.locator(".bulk-delete")).to_have_count(0)  # delete is for admins
        page.locator(".bulk-cancel").click()
        expect(page.locator(".bulk-question")).to_have_text("Cancel the 3 selected jobs?")
        shot(page, "jobs-bulk-confirm")
        page.locator(".bulk-confirm").click()
        expect(page.locator(".bulk-summary")).to_have_text("3 cancelled")
        assert _statuses(console, ids) == ["PENDING", "PENDING", "CANCELLED", "CANCELLED", "CANCELLED"]
        expect(page.locator(".job-row[data-status=CANCELLED]")).to_have_count(3)


def test_select_all_matching_the_filter_runs_a_bulk_job_and_shows_its_summary(page, console):
    page.set_default_timeout(30_000)
    username, password = new_user(console, "every")
    with console.paused("system"):
        ids = _lodge(console, username, 30, sleep_s=30)  # a worker that takes one first is halted by the cancel
        sign_in(page, console, username, password=password)
        expect(page.locator(".job-row")).to_have_count(25)
        page.get_by_label("Select this page").click()
        expect(page.locator(".bulk-bar")).to_contain_text("25 selected")
        page.locator(".select-every").click()
        expect(page.locator(".bulk-bar")).to_contain_text("All 30 jobs matching this filter")
        page.locator(".bulk-cancel").click()
        expect(page.locator(".bulk-question")).to_have_text(
            f"Cancel 30 jobs (status PENDING/DEQUEUED/IN_PROGRESS, of {username})?")
        page.locator(".bulk-confirm").click()
        expect(page.locator(".bulk-running")).to_be_visible()
    # the backend resumed: its pool runs the bulk job (normal priority) before the jobs (low)
    expect(page.locator(".bulk-summary")).to_have_text("30 cancelled", timeout=60_000)
    shot(page, "jobs-bulk-summary")
    assert set(_statuses(console, ids)) == {"CANCELLED"}
