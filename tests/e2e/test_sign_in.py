"""Signing in and out, and what a browser without a sign-in may see."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import PASSWORDS, at, new_user, shot, sign_in

pytestmark = pytest.mark.e2e


def test_pages_need_a_sign_in(page, console):
    page.goto(console.url("/jobs"))
    expect(page).to_have_url(re.compile(r"/sign-in\?next=/jobs$"))
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    shot(page, "sign-in")
    page.goto(console.url("/items"))
    expect(page).to_have_url(re.compile(r"/sign-in\?next=/items$"))


def test_the_address_printed_at_start_leads_to_sign_in_then_to_the_jobs(page, console):
    page.goto(console.url("/"))
    expect(page).to_have_url(re.compile(r"/sign-in\?next=/jobs$"))
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill(PASSWORDS["alice"])
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(at(console, "/jobs"))
    page.goto(console.url("/"))
    expect(page).to_have_url(at(console, "/jobs"))
    expect(page.get_by_role("heading", name="Jobs")).to_be_visible()


def test_wrong_password_is_refused_and_the_right_one_lands_where_asked(page, console):
    page.goto(console.url("/sign-in?next=/items"))
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("not-her-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator(".sign-in-error")).to_have_text("Wrong username or password.")
    shot(page, "sign-in-error")
    with console.domain():  # counted against alice from this browser's address
        from app import keys, queues, ratelimit

        key = keys.rate("password", f"{ratelimit._user_ident('alice')}:{ratelimit._digest('127.0.0.1')}")
        assert queues.redis_conn().zcard(key) >= 1
    page.get_by_label("Password").fill(PASSWORDS["alice"])
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(at(console, "/items"))


def test_the_sign_in_survives_a_reload_and_sign_out_ends_it(page, console):
    sign_in(page, console, "alice")
    expect(page.get_by_role("heading", name="Jobs")).to_be_visible()
    page.reload()
    expect(page).to_have_url(at(console, "/jobs"))
    expect(page.locator(".user-menu")).to_contain_text("alice")
    stored = page.evaluate("() => Object.keys(localStorage).map(k => localStorage.getItem(k)).join(' ')")
    assert PASSWORDS["alice"] not in stored  # the browser keeps a signed value, never the password
    page.locator(".user-menu").click()
    page.get_by_role("menuitem", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/sign-in"))
    page.goto(console.url("/jobs"))
    expect(page).to_have_url(re.compile(r"/sign-in\?next=/jobs$"))


def test_a_forged_sign_in_value_signs_no_one_in(page, console):
    sign_in(page, console, "alice")
    # Rewrite the stored value to claim to be the admin, keeping alice's signature.
    page.evaluate("""() => {
        for (const k of Object.keys(localStorage)) {
            const v = localStorage.getItem(k);
            if (v && v.includes('.')) {
                const [body, sig] = v.split('.');
                const claims = JSON.parse(atob(body.replace(/-/g, '+').replace(/_/g, '/')));
                claims.u = 'admin';
                const forged = btoa(JSON.stringify(claims)).replace(/\\+/g, '-').replace(/\\//g, '_').replace(/=+$/, '');
                localStorage.setItem(k, forged + '.' + sig);
            }
        }
    }""")
    page.goto(console.url("/jobs"))
    expect(page).to_have_url(re.compile(r"/sign-in\?next=/jobs$"))


# --- sign-ins end on the server ----------------------------------------------------------

STORED = "() => localStorage.getItem('jobdeck_sign_in') || ''"


def _paste(browser, console, value: str):
    """A fresh browser (no cookies, no storage) given a copied sign-in value."""
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(console.url("/sign-in"))
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    page.evaluate("v => localStorage.setItem('jobdeck_sign_in', v)", value)
    page.goto(console.url("/jobs"))
    return context, page


def _admin_post(console, path: str) -> dict:
    """Call the REST API as the demo admin, with a token made for the test."""
    import json
    import urllib.request

    from app import auth

    with console.domain():
        token = auth.create_token(owner="admin", name="e2e")[0]
    req = urllib.request.Request(console.url(path), method="POST", headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=30) as r:
        assert r.status == 200
        return json.loads(r.read())


def test_a_copied_sign_in_value_is_worthless_once_signed_out(page, console, browser):
    page.set_default_timeout(15_000)
    sign_in(page, console, "alice")
    expect(page.locator(".user-menu")).to_contain_text("alice")
    value = page.evaluate(STORED)
    assert value.count(".") == 1
    # While the sign-in holds, the copy works anywhere (what a thief would use)...
    ctx, copy = _paste(browser, console, value)
    expect(copy).to_have_url(at(console, "/jobs"))
    expect(copy.locator(".user-menu")).to_contain_text("alice")
    page.locator(".user-menu").click()
    page.get_by_role("menuitem", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/sign-in"))
    # ...and after signing out it works nowhere: not in a fresh browser, nor in the
    # browser that still holds it.
    fresh, pasted = _paste(browser, console, value)
    expect(pasted).to_have_url(re.compile(r"/sign-in\?next=/jobs$"))
    shot(pasted, "sign-in-copied-value-after-sign-out")
    copy.reload()
    expect(copy).to_have_url(re.compile(r"/sign-in\?next=/jobs$"))
    fresh.close()
    ctx.close()


def test_an_admin_ends_bobs_sign_ins_and_his_open_tab_must_sign_in_again(page, console):
    page.set_default_timeout(15_000)
    sign_in(page, console, "bob")
    expect(page.get_by_role("heading", name="Jobs")).to_be_visible()
    page.get_by_role("button", name="Refresh").click()
    expect(page.get_by_text("Jobs refreshed.")).to_be_visible()  # his tab works
    ended = _admin_post(console, "/api/admin/users/bob/end-sign-ins")
    assert ended["username"] == "bob" and ended["ended"] >= 1
    page.get_by_role("button", name="Refresh").click()  # his next action
    expect(page).to_have_url(re.compile(r"/sign-in\?next=/jobs$"))
    page.goto(console.url("/items"))  # and any page load
    expect(page).to_have_url(re.compile(r"/sign-in\?next=/items$"))
    sign_in(page, console, "bob")  # he may sign in again
    expect(page.locator(".user-menu")).to_contain_text("bob")


def test_a_disabled_user_is_out_at_once_and_cannot_sign_in(page, console):
    username, password = new_user(console, "dis")
    page.set_default_timeout(15_000)
    sign_in(page, console, username, password=password)
    expect(page.get_by_role("heading", name="Jobs", exact=True)).to_be_visible()
    done = _admin_post(console, f"/api/admin/users/{username}/disable")
    assert done["disabled"] is True and done["open_sign_ins"] == 0
    page.reload()
    expect(page).to_have_url(re.compile(r"/sign-in\?next=/jobs$"))
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator(".sign-in-error")).to_contain_text("This account is disabled")
    shot(page, "sign-in-disabled")
    _admin_post(console, f"/api/admin/users/{username}/enable")
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(at(console, "/jobs"))
