"""The jobs panel's filters live in its address: a filter chosen shows in the address,
the address sent to a colleague opens the same view in their browser, the back button
goes back to the filter before, and an address whose filter makes no sense shows the
list unfiltered, saying so."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import at, new_user, shot, sign_in
from tests.e2e.test_jobs import _lodge_noops

pytestmark = pytest.mark.e2e


def _rows(page):
    return page.locator(".job-row")


def test_filters_live_in_the_address_shared_and_back(tab, console):
    user, pw = new_user(console, "address")
    mine = tab()
    sign_in(mine, console, user, password=pw)
    ok = _lodge_noops(console, user, 2)
    bad = _lodge_noops(console, user, 1, outcome="fail")
    expect(mine.locator(".job-row[data-status=SUCCEEDED]")).to_have_count(2, timeout=30_000)
    expect(mine.locator(".job-row[data-status=FAILED]")).to_have_count(1)

    # A status filter chosen: the address says it, the list follows.
    mine.get_by_label("Status filter").click()
    mine.get_by_role("option", name="Failed").click()
    mine.wait_for_url(re.compile(r".*/jobs/?\?status=FAILED$"))
    expect(_rows(mine)).to_have_count(1)
    expect(_rows(mine).first).to_have_attribute("data-job-id", bad[0])
    # A search on top: both in the address.
    mine.get_by_label("Search").fill(bad[0])
    mine.get_by_role("button", name="Find").click()
    mine.wait_for_url(re.compile(rf".*/jobs/?\?status=FAILED&q={bad[0]}$"))
    expect(_rows(mine)).to_have_count(1)
    shared = mine.url
    shot(mine, "jobs-address-filtered")

    # The same address in another browser of the same person (a bookmark, a link).
    other = tab()
    sign_in(other, console, user, path="/profile", password=pw)
    other.goto(shared)
    expect(_rows(other)).to_have_count(1)
    expect(_rows(other).first).to_have_attribute("data-job-id", bad[0])
    expect(other.get_by_label("Search")).to_have_value(bad[0])

    # Back: the filter before the search, then no filter at all.
    mine.go_back()
    mine.wait_for_url(re.compile(r".*/jobs/?\?status=FAILED$"))
    expect(mine.get_by_label("Search")).to_have_value("")
    expect(_rows(mine)).to_have_count(1)
    mine.go_back()
    mine.wait_for_url(at(console, "/jobs"))
    expect(_rows(mine)).to_have_count(3)

    # An address whose filters are no filters: the whole list, and why.
    mine.goto(console.url("/jobs?status=BROKEN&type=NOPE"))
    expect(mine.locator(".link-problem")).to_contain_text("'BROKEN' is no status")
    expect(mine.locator(".link-problem")).to_contain_text("'NOPE' is no job type")
    expect(_rows(mine)).to_have_count(3)
    shot(mine, "jobs-address-not-understood")
    assert set(ok) <= {r.get_attribute("data-job-id") for r in _rows(mine).all()}
