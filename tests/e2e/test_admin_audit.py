"""The audit page as an admin uses it: an action done in the console (disabling a user
on the users page) shows up with who did it and via the console; a filter narrows the
log to it."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import new_user, shot, sign_in

pytestmark = pytest.mark.e2e


def test_a_console_action_shows_in_the_audit_log_and_a_filter_narrows_it(page, console):
    page.set_default_timeout(20_000)
    page.set_viewport_size({"width": 1280, "height": 800})
    name, _ = new_user(console, "audited")
    sign_in(page, console, "admin", "/admin/users")
    row = page.locator(f'.user-row[data-user="{name}"]')
    row.locator(".user-disable").click()
    expect(row).to_contain_text("disabled")

    page.get_by_role("link", name="Audit").click()
    table = page.locator(".audit-table")
    entry = page.locator(".audit-row", has_text=name)
    expect(entry.filter(has_text="user.disable")).to_have_count(1)
    expect(entry.filter(has_text="user.disable")).to_contain_text("admin")
    expect(entry.filter(has_text="user.disable")).to_contain_text("console")
    expect(page.locator(".audit-row", has_text="sign-in").first).to_be_visible()  # the admin's own sign-in
    shot(page, "admin-audit")

    # narrowed to the target: only that user's entries are left, the disable among them
    page.get_by_label("Target filter").fill(name)
    page.get_by_role("button", name="Filter").click()
    expect(page.locator(".audit-row", has_text="sign-in")).to_have_count(0)
    expect(table.locator(".audit-row")).to_have_count(1)
    expect(table.locator(".audit-row").first).to_contain_text("user.disable")

    # an actor who did nothing: nothing left
    page.get_by_label("Actor filter").fill("nobody-at-all")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_text("Nothing matches these filters.")).to_be_visible()

    with console.domain():
        from app import audit
        assert audit.verify().ok
