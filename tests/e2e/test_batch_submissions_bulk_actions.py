"""The selection bar of the jobs panel in a batch's view and on the admin submissions
page, as a person uses it: ticking rows, a shift-click range, the page, "all N
matching", the confirmation stating the count, the summary; a batch cancelled whole in
one action by its owner."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import new_user, shot, sign_in

pytestmark = pytest.mark.e2e


def _batch(console, owner: str, n: int) -> tuple[str, list[str]]:
    """A batch of `owner`'s with `n` NOOP jobs: its id and its jobs in the batch's order."""
    from app import auth, launch, queries

    with console.domain():
        b = launch.launch_batch(actor=auth.get_user("admin"), job_type="SYSTEM", job_subtype="NOOP",
                                payloads=[{}] * n, owner=owner)
        page = queries.batch_jobs_in_order(viewer=auth.get_user("admin"), batch_id=b.id, limit=n)
        return b.id, [j.id for j in page.jobs]


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


def test_a_batch_view_selects_a_range_then_its_owner_cancels_the_whole_batch(page, console):
    page.set_default_timeout(20_000)
    username, password = new_user(console, "batchsel")
    with console.paused("system"):
        batch_id, ids = _batch(console, username, 6)
        sign_in(page, console, username, path=f"/batches/{batch_id}", password=password)
        rows = page.locator(".batch-jobs-table .job-row")
        expect(rows).to_have_count(6)
        rows.nth(0).locator(".row-tick").click()
        rows.nth(2).locator(".row-tick").click(modifiers=["Shift"])
        expect(page.locator(".bulk-bar")).to_contain_text("3 selected")
        expect(rows.nth(1).locator(".row-tick")).to_have_attribute("aria-checked", "true")
        expect(rows.nth(3).locator(".row-tick")).to_have_attribute("aria-checked", "false")
        expect(page.locator(".select-every")).to_have_count(0)  # every job of the batch is on the page
        page.locator(".bulk-cancel").click()
        expect(page.locator(".bulk-question")).to_have_text("Cancel the 3 selected jobs?")
        page.locator(".bulk-confirm").click()
        expect(page.locator(".bulk-summary")).to_have_text("3 cancelled")
        assert _statuses(console, ids) == ["CANCELLED"] * 3 + ["PENDING"] * 3
        expect(page.locator(".batch-jobs-table .job-row[data-status=CANCELLED]")).to_have_count(3)
        # the page selected, then unselected by the same button
        page.get_by_label("Select this page").click()
        expect(page.locator(".bulk-bar")).to_contain_text("6 selected")
        page.get_by_label("Select this page").click()
        expect(page.locator(".bulk-bar")).to_have_count(0)
        # the whole batch in one action: the count it states is of what has not finished
        page.locator(".cancel-whole").click()
        expect(page.locator(".bulk-question")).to_have_text(
            "Cancel the whole batch: its 3 jobs that have not finished?")
        shot(page, "batch-cancel-whole")
        page.locator(".bulk-confirm").click()
        expect(page.locator(".bulk-summary")).to_have_text("3 cancelled, 3 already final")
        assert _statuses(console, ids) == ["CANCELLED"] * 6
        expect(page.locator(".batch-jobs-table .job-row[data-status=CANCELLED]")).to_have_count(6)
        expect(page.locator(".cancel-whole")).to_have_count(0)  # nothing left to cancel


def test_submissions_ticked_are_cancelled_each_as_one_unit(page, console):
    page.set_default_timeout(20_000)
    username, _ = new_user(console, "subsel")
    with console.paused("system"):
        ids = _lodge(console, username, 4)  # four standalone jobs: four submissions, newest first
        batch_id, batch_jobs = _batch(console, username, 3)  # and a batch, the newest
        sign_in(page, console, "admin", path=f"/admin/submissions?owner={username}")
        rows = page.locator(".submission-row")
        expect(rows).to_have_count(5)
        rows.nth(0).locator(".row-tick").click()
        rows.nth(2).locator(".row-tick").click(modifiers=["Shift"])
        expect(page.locator(".bulk-bar")).to_contain_text("3 selected")
        expect(page.locator(".bulk-retry")).to_have_count(0)  # a submission is cancelled or deleted whole
        page.locator(".bulk-cancel").click()
        expect(page.locator(".bulk-question")).to_have_text("Cancel the 3 selected submissions?")
        page.locator(".bulk-confirm").click()
        # the batch's 3 jobs and the two newest standalone jobs
        expect(page.locator(".bulk-summary")).to_have_text("5 cancelled")
        assert _statuses(console, batch_jobs) == ["CANCELLED"] * 3
        assert _statuses(console, ids) == ["PENDING", "PENDING", "CANCELLED", "CANCELLED"]
        expect(page.locator(f".submission-row[data-submission-id='{batch_id}']")).to_have_attribute(
            "data-status", "CANCELLED")


def test_all_jobs_of_the_submissions_a_filter_shows_by_a_bulk_job(page, console):
    page.set_default_timeout(30_000)
    username, _ = new_user(console, "suball")
    with console.paused("system"):
        # more than a page of submissions (25); a worker that takes one first is halted by the cancel
        ids = _lodge(console, username, 27, sleep_s=30)
        sign_in(page, console, "admin", path=f"/admin/submissions?owner={username}")
        expect(page.locator(".submission-row")).to_have_count(25)
        page.get_by_label("Select this page").click()
        expect(page.locator(".bulk-bar")).to_contain_text("25 selected")
        page.locator(".select-every").click()
        expect(page.locator(".bulk-bar")).to_contain_text("All 27 jobs of the submissions this filter shows")
        page.locator(".bulk-cancel").click()
        expect(page.locator(".bulk-question")).to_have_text(
            f"Cancel 27 jobs (status PENDING/DEQUEUED/IN_PROGRESS, of {username})?")
        page.locator(".bulk-confirm").click()
        expect(page.locator(".bulk-running")).to_be_visible()
    # the backend resumed: its pool runs the bulk job (normal priority) before the jobs (low)
    expect(page.locator(".bulk-summary")).to_have_text("27 cancelled", timeout=60_000)
    shot(page, "submissions-bulk-summary")
    assert set(_statuses(console, ids)) == {"CANCELLED"}
