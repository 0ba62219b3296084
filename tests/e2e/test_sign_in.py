"""Signing in and out, and what a browser without a sign-in may see."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import PASSWORDS, at, shot, sign_in

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
