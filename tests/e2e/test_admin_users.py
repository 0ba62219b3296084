"""The users page as an admin uses it: add a user (a bad one refused at its field), who
signs in; disable them and their open tab is sent to sign in; enable them; reset their
password; see and revoke their API token."""

from __future__ import annotations

import secrets

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import at, shot, sign_in

pytestmark = pytest.mark.e2e


def test_an_admin_adds_disables_enables_resets_and_revokes(page, browser, console):
    page.set_default_timeout(20_000)
    page.set_viewport_size({"width": 1280, "height": 800})
    sign_in(page, console, "admin", "/admin/users")
    expect(page.locator(".users-table")).to_be_visible()
    name, password = f"walker-{secrets.token_hex(3)}", secrets.token_urlsafe(12)

    # a bad username is refused at its field, nothing added
    page.locator(".add-user").click()
    page.get_by_label("Username").fill("no spaces allowed")
    page.get_by_label("Password").fill(password)
    page.locator(".add-user-submit").click()
    expect(page.locator(".form-error")).to_contain_text("A username is 1-64 letters")
    expect(page.locator("#new-user-username")).to_have_attribute("aria-invalid", "true")
    page.get_by_label("Username").fill(name)
    page.get_by_label("Display name").fill("Walker Test")
    page.locator(".add-user-submit").click()
    row = page.locator(f'.user-row[data-user="{name}"]')
    expect(row).to_contain_text("Walker Test")
    expect(row).to_contain_text("active")
    shot(page, "admin-users")

    # the new user signs in elsewhere and makes a token
    other = browser.new_context()
    theirs = other.new_page()
    theirs.set_default_timeout(20_000)
    sign_in(theirs, console, name, "/jobs", password=password)
    from app import auth

    with console.domain():
        auth.create_token(owner=name, name="their script")

    # disabled: their open tab is sent to sign in at its next page load
    page.reload()
    expect(row.get_by_text("1 open")).to_be_visible()
    row.locator(".user-disable").click()
    expect(row).to_contain_text("disabled")
    theirs.reload()
    theirs.wait_for_url(at(console, "/sign-in"))
    row.locator(".user-enable").click()
    expect(row).to_contain_text("active")

    # a new password: the old one no longer signs in, the new one does
    row.locator(".user-reset").click()
    page.get_by_role("textbox", name="New password").fill("walker-new-password")
    page.locator(".reset-submit").click()
    expect(page.get_by_role("dialog")).to_have_count(0)
    with console.domain():
        assert auth.authenticate(name, "walker-new-password").username == name

    # their token, seen and revoked
    row.locator(".user-tokens").click()
    token_row = page.locator('.token-row[data-token="their script"]')
    expect(token_row).to_be_visible()
    token_row.locator(".revoke-token").click()
    expect(page.locator(".no-tokens")).to_be_visible()
    with console.domain():
        assert auth.list_tokens(name) == []
    other.close()
