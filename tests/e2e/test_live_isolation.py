"""Live pushes reach only the people who may see them: two users' jobs panels open at
once each follow their own jobs live and never show the other's; an admin's All users
panel, open at the same time, follows both."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import new_user, shot, sign_in
from tests.e2e.test_jobs import _lodge_noops

pytestmark = pytest.mark.e2e


def _row(page, job_id: str):
    return page.locator(f".job-row[data-job-id='{job_id}']")


def test_two_users_tabs_each_follow_only_their_own_jobs_and_an_admin_follows_both(tab, console):
    # Users of the test's own: their panels hold nothing another test lodged.
    alice, alice_pw = new_user(console, "alice")
    bob, bob_pw = new_user(console, "bob")
    mine, theirs, admins = tab(), tab(), tab()
    sign_in(mine, console, alice, password=alice_pw)
    sign_in(theirs, console, bob, password=bob_pw)
    sign_in(admins, console, "admin")
    admins.get_by_role("switch", name="All users").click()
    for page in (mine, theirs):
        expect(page.get_by_text("No jobs yet")).to_be_visible()

    # Turn by turn, each job followed to its end in its owner's tab before the next is
    # lodged: once a job lodged later has arrived in a tab, so would an earlier one have.
    [a1] = _lodge_noops(console, alice, 1)
    expect(_row(mine, a1)).to_have_attribute("data-status", "SUCCEEDED")
    [b1] = _lodge_noops(console, bob, 1)
    expect(_row(theirs, b1)).to_have_attribute("data-status", "SUCCEEDED")
    [a2] = _lodge_noops(console, alice, 1)
    expect(_row(mine, a2)).to_have_attribute("data-status", "SUCCEEDED")
    expect(_row(mine, b1)).to_have_count(0)  # bob's job, done before a2 was lodged, never came
    [b2] = _lodge_noops(console, bob, 1)
    expect(_row(theirs, b2)).to_have_attribute("data-status", "SUCCEEDED")
    for a in (a1, a2):
        expect(_row(theirs, a)).to_have_count(0)  # alice's jobs, done before b2, never came

    # Each panel holds its owner's two jobs, newest first, and counts only those.
    for page, ids in ((mine, [a2, a1]), (theirs, [b2, b1])):
        assert page.locator(".job-row").evaluate_all("rows => rows.map(r => r.dataset.jobId)") == ids
        expect(page.locator("[data-count-status=SUCCEEDED] .rt-Badge")).to_have_text("2")
    # The admin's All users panel, open all along, followed all four to their end.
    for jid, who in ((a1, alice), (b1, bob), (a2, alice), (b2, bob)):
        expect(_row(admins, jid)).to_have_attribute("data-status", "SUCCEEDED")
        expect(_row(admins, jid)).to_contain_text(who)
    shot(mine, "live-isolation-alice")
    shot(admins, "live-isolation-admin")
