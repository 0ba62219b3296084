"""A filtered, sorted view's address opens the same view in a new browser context: the
jobs panel sorted by run time within a created-time range, searched by words of a batch
label, with its duration column; the batch view's failures only. Back returns to the
filters before; an address whose values no filter takes shows the view unfiltered,
saying so."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import new_user, shot, sign_in
from tests.e2e.test_jobs import _lodge_noops

pytestmark = pytest.mark.e2e


def _ids(page) -> list[str]:
    return [r.get_attribute("data-job-id") for r in page.locator(".job-row").all()]


def _shows_longest_first(page, running: str, longest: str, middle: str) -> None:
    """The list read again by run time: the list before also had six rows with the
    newest (the running one) first, so wait for the second row to be the longest run."""
    expect(page.locator(".job-row")).to_have_count(6)
    expect(page.locator(".job-row").nth(1)).to_have_attribute("data-job-id", longest)
    assert _ids(page)[:3] == [running, longest, middle]


def _batch(console, owner: str, payloads: list[dict], label: str) -> tuple[str, list[str]]:
    from app import auth, launch, queries

    with console.domain():
        admin = auth.get_user("admin")
        batch = launch.launch_batch(actor=admin, job_type="SYSTEM", job_subtype="NOOP", payloads=payloads,
                                    owner=owner, label=label)
        jobs = queries.batch_jobs_in_order(viewer=admin, batch_id=batch.id, limit=50).jobs
    return batch.id, [j.id for j in jobs]


def test_a_sorted_ranged_search_opens_the_same_in_a_new_context(tab, console):
    user, pw = new_user(console, "sorted")
    short, longest, middle = (_lodge_noops(console, user, 1, sleep_s=s)[0] for s in (0, 1.5, 0.6))
    _, labelled = _batch(console, user, [{}, {}], "Soil moisture Q3")
    mine = tab()
    sign_in(mine, console, user, password=pw)
    expect(mine.locator(".job-row[data-status=SUCCEEDED]")).to_have_count(5, timeout=60_000)
    running = _lodge_noops(console, user, 1, sleep_s=4)[0]
    expect(mine.locator(f".job-row[data-job-id='{running}'][data-status=IN_PROGRESS]")).to_be_visible(timeout=30_000)
    expect(mine.locator(f".job-row[data-job-id='{running}'] .job-running-for")).to_contain_text("running for")
    expect(mine.locator(f".job-row[data-job-id='{longest}'] .job-duration")).to_contain_text(re.compile(r"ran \d+\.\d s"))
    shot(mine, "jobs-duration-column-running")
    expect(mine.locator(f".job-row[data-job-id='{running}'][data-status=SUCCEEDED]")).to_be_visible(timeout=30_000)

    # Longest run first: the jobs that ran and ended, longest at the top.
    mine.get_by_label("Sort").click()
    mine.get_by_role("option", name="Longest run").click()
    mine.wait_for_url(re.compile(r".*/jobs/?\?sort=duration$"))
    _shows_longest_first(mine, running, longest, middle)
    expect(mine.locator(f".job-row[data-job-id='{longest}'] .job-duration")).to_contain_text(re.compile(r"ran \d+\.\d s"))
    # A created-time range of today (UTC): the address holds it too.
    today = datetime.now(timezone.utc).date().isoformat()
    mine.get_by_label("Created from").fill(today)
    mine.get_by_label("Created to").fill(today)
    mine.locator(".apply-range").click()
    mine.wait_for_url(re.compile(rf".*/jobs/?\?from={today}&to={today}&sort=duration$"))
    expect(mine.locator(".job-row")).to_have_count(6)
    shot(mine, "jobs-sorted-by-duration-with-range")
    # Words of the batch's label, any case, on top.
    mine.get_by_label("Search").fill("MOISTURE q3")
    mine.get_by_role("button", name="Find").click()
    mine.wait_for_url(re.compile(rf".*/jobs/?\?q=MOISTURE\+q3&from={today}&to={today}&sort=duration$"))
    expect(mine.locator(".job-row")).to_have_count(2)
    assert sorted(_ids(mine)) == sorted(labelled)
    shared = mine.url

    # The same address in a new browser context: the same view, the same controls.
    other = tab()
    sign_in(other, console, user, path="/profile", password=pw)
    other.goto(shared)
    expect(other.locator(".job-row")).to_have_count(2)
    assert sorted(_ids(other)) == sorted(labelled)
    expect(other.get_by_label("Search")).to_have_value("MOISTURE q3")
    expect(other.get_by_label("Created from")).to_have_value(today)
    expect(other.get_by_label("Created to")).to_have_value(today)
    expect(other.get_by_label("Sort")).to_contain_text("Longest run")

    # Back: the range without the search, then the sort alone.
    mine.go_back()
    mine.wait_for_url(re.compile(rf".*/jobs/?\?from={today}&to={today}&sort=duration$"))
    expect(mine.locator(".job-row")).to_have_count(6)
    mine.go_back()
    mine.wait_for_url(re.compile(r".*/jobs/?\?sort=duration$"))
    _shows_longest_first(mine, running, longest, middle)

    # A range of days before any of these jobs: none; one that ends before it begins,
    # or a sort no one offers: every job, and why.
    week_ago = (datetime.now(timezone.utc) - timedelta(days=7)).date().isoformat()
    mine.goto(console.url(f"/jobs?to={week_ago}"))
    expect(mine.get_by_text("No jobs match these filters")).to_be_visible()
    mine.goto(console.url(f"/jobs?from={today}&to={week_ago}&sort=shortest"))
    expect(mine.locator(".link-problem")).to_contain_text("ends before it begins")
    expect(mine.locator(".link-problem")).to_contain_text("'shortest' is no sort")
    expect(mine.locator(".job-row")).to_have_count(6)
    assert short in _ids(mine) and running in _ids(mine)


def test_the_batch_views_failures_only_opens_the_same_in_a_new_context(tab, console):
    user, pw = new_user(console, "batchaddr")
    batch_id, jobs = _batch(console, user, [{}, {"outcome": "fail"}, {}], "three")
    mine = tab()
    sign_in(mine, console, user, path=f"/batches/{batch_id}", password=pw)
    expect(mine.locator(".job-row[data-status=FAILED]")).to_have_count(1, timeout=60_000)
    expect(mine.locator(".job-row[data-status=SUCCEEDED]")).to_have_count(2, timeout=30_000)
    mine.locator(".failures-only").click()
    mine.wait_for_url(re.compile(rf".*/batches/{batch_id}/?\?failures=1$"))
    expect(mine.locator(".job-row")).to_have_count(1)
    shared = mine.url

    other = tab()
    sign_in(other, console, user, path="/profile", password=pw)
    other.goto(shared)
    expect(other.locator(".job-row")).to_have_count(1)
    expect(other.locator(".job-row")).to_have_attribute("data-job-id", jobs[1])
    expect(other.locator(".failures-only [role=switch]")).to_have_attribute("data-state", "checked")
    shot(other, "batch-failures-only-shared")

    mine.go_back()
    mine.wait_for_url(re.compile(rf".*/batches/{batch_id}/?$"))
    expect(mine.locator(".job-row")).to_have_count(3)

    mine.goto(console.url(f"/batches/{batch_id}?failures=perhaps"))
    expect(mine.locator(".link-problem")).to_contain_text("'perhaps' is not 1 for failures only")
    expect(mine.locator(".job-row")).to_have_count(3)


def test_lists_by_start_or_by_run_time_take_new_jobs_live_in_their_order(tab, console):
    """Sorted newest started first, a job that starts goes on top while the tab is open;
    longest run first, a job goes in by its run time once it has run (not while queued
    or running), below a longer one and above shorter ones."""
    user, pw = new_user(console, "orders")
    short, longest = (_lodge_noops(console, user, 1, sleep_s=s)[0] for s in (0, 2.0))
    page = tab()
    sign_in(page, console, user, path="/jobs?sort=started", password=pw)
    expect(page.locator(".job-row[data-status=SUCCEEDED]")).to_have_count(2, timeout=60_000)
    assert _ids(page) == [longest, short]  # started last, on top
    started = _lodge_noops(console, user, 1, sleep_s=0)[0]
    expect(page.locator(".job-row").first).to_have_attribute("data-job-id", started, timeout=30_000)
    expect(page.locator(".job-row")).to_have_count(3)

    page.goto(console.url("/jobs?sort=duration"))
    expect(page.locator(".job-row")).to_have_count(3)
    assert _ids(page)[0] == longest
    middle = _lodge_noops(console, user, 1, sleep_s=1.0)[0]
    # Placed once it has run: second, below the 2 s run, above the instant ones.
    expect(page.locator(".job-row").nth(1)).to_have_attribute("data-job-id", middle, timeout=30_000)
    expect(page.locator(".job-row")).to_have_count(4)
    assert _ids(page)[0] == longest
    shot(page, "jobs-by-run-time-live")

    # Within a created-time range of today, a new job still comes in live in the list's
    # order; a range that ended yesterday takes none.
    today = datetime.now(timezone.utc).date()
    ended = tab()
    sign_in(ended, console, user, password=pw)
    ended.goto(console.url(f"/jobs?sort=started&to={today - timedelta(days=1)}"))
    expect(ended.get_by_text("No jobs match these filters")).to_be_visible()
    page.goto(console.url(f"/jobs?sort=started&from={today}&to={today}"))
    expect(page.locator(".job-row")).to_have_count(4)
    fresh = _lodge_noops(console, user, 1, sleep_s=0)[0]
    expect(page.locator(".job-row").first).to_have_attribute("data-job-id", fresh, timeout=30_000)
    expect(page.locator(f".job-row[data-job-id='{fresh}'][data-status=SUCCEEDED]")).to_be_visible(timeout=30_000)
    expect(page.locator(".job-row")).to_have_count(5)
    expect(ended.locator(".job-row")).to_have_count(0)
