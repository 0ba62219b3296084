"""The profile page: a person makes an API token (shown once), uses it with the REST API
mounted in the console, and revokes it. And the API docs page renders from the app's
own assets with no internet."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.parse
import urllib.request

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import at, shot

pytestmark = pytest.mark.e2e


def _me(console, token: str) -> tuple[int, dict]:
    req = urllib.request.Request(console.url("/api/me"), headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_make_use_and_revoke_an_api_token(alice_page, console):
    page = alice_page
    page.get_by_role("button", name="Account").click()
    page.get_by_role("menuitem", name="Profile and API tokens").click()
    expect(page).to_have_url(at(console, "/profile"))
    expect(page.locator(".role-badge")).to_have_text("user")

    page.get_by_role("button", name="Create token").click()
    expect(page.locator(".form-error")).to_contain_text("Give the token a name")
    page.get_by_label("Token name").fill("laptop CLI")
    page.get_by_role("button", name="Create token").click()
    shown = page.locator(".new-token")
    expect(shown).to_have_text(re.compile(r"^jdk_[A-Za-z0-9_-]{40,}$"))
    token = shown.inner_text()
    expect(page.locator(".token-row[data-token-name='laptop CLI']")).to_be_visible()
    shot(page, "profile-new-token")

    # The token works with the REST API mounted in the console, as alice.
    status, me = _me(console, token)
    assert status == 200 and me["username"] == "alice"

    # Shown once: gone after dismissing, and after a reload; the row stays, now "used".
    page.get_by_role("button", name="I have copied it").click()
    expect(page.locator(".new-token")).to_have_count(0)
    page.reload()
    expect(page.locator(".token-row[data-token-name='laptop CLI']")).to_be_visible()
    expect(page.locator(".new-token")).to_have_count(0)
    assert token not in page.content()

    # Revoke, after confirming: the API refuses it from then on.
    page.locator(".token-row[data-token-name='laptop CLI']").get_by_role("button", name="Revoke").click()
    expect(page.get_by_role("alertdialog")).to_contain_text("laptop CLI")
    page.get_by_role("button", name="Revoke", exact=True).last.click()
    expect(page.locator(".token-row[data-token-name='laptop CLI']")).to_have_count(0)
    expect(page.get_by_text("No API tokens")).to_be_visible()
    status, problem = _me(console, token)
    assert status == 401 and "revoked" in problem["detail"]
    shot(page, "profile-revoked")


def test_change_the_password_stay_signed_in_here_and_use_the_new_one(page, browser, console):
    from tests.e2e.conftest import new_user, sign_in

    username, password = new_user(console, "pia")
    sign_in(page, console, username, path="/profile", password=password)
    elsewhere = browser.new_page()  # another browser signed in as the same person
    sign_in(elsewhere, console, username, path="/jobs", password=password)

    page.get_by_label("Current password").fill("not-my-password")
    page.get_by_label("New password", exact=True).fill("a-much-better-one")
    page.get_by_label("New password again").fill("a-much-better-one")
    page.get_by_role("button", name="Change password").click()
    expect(page.locator(".password-error")).to_have_text("The current password is wrong.")
    page.get_by_label("Current password").fill(password)
    page.get_by_label("New password", exact=True).fill("a-much-better-one")
    page.get_by_label("New password again").fill("a-much-better-one")
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_text("Password changed.")).to_be_visible()
    shot(page, "profile-password-changed")
    page.reload()  # this tab stays signed in ...
    expect(page.locator(".user-menu")).to_contain_text(username)
    elsewhere.reload()  # ... the other browser's sign-in has ended
    expect(elsewhere).to_have_url(re.compile(r"/sign-in\?next=/jobs$"))
    sign_in(elsewhere, console, username, path="/jobs", password="a-much-better-one")
    elsewhere.close()


def test_api_docs_render_with_no_internet(page, console):
    outside: list[str] = []
    host = urllib.parse.urlparse(console.base).netloc

    def only_local(route):
        if urllib.parse.urlparse(route.request.url).netloc != host:
            outside.append(route.request.url)
            return route.abort()
        return route.continue_()

    page.route("**/*", only_local)
    page.goto(console.url("/api/docs"))
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Jobdeck API", timeout=20_000)
    expect(page.locator(".opblock-summary-path[data-path='/api/jobs/{job_id}/events']").first).to_be_visible()
    shot(page, "api-docs")
    assert outside == []


def test_cli_watch_streams_through_the_console(console, tmp_path):
    """`jobdeck submit --watch` against the real console: the event stream passes through
    the app's own server to a live progress bar, while the console's workers run the job."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    from app import auth

    with console.domain():
        token, _ = auth.create_token(owner="admin", name="e2e CLI")
    jobdeck = Path(sys.executable).parent / "jobdeck"
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOBDECK_")}
    env.update(JOBDECK_CONFIG=str(tmp_path / "config.json"), HOME=str(tmp_path), COLUMNS="160")
    run = lambda *a: subprocess.run([str(jobdeck), *a], capture_output=True, text=True, env=env, timeout=90)  # noqa: E731
    assert run("login", "--server", console.base, "--token", token).returncode == 0
    # The workers take the job at once; it then runs 2 s, so its end arrives on the open stream.
    r = run("submit", "SYSTEM", "NOOP", "--set", "sleep_s=2", "--watch")
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    snapshot = next(i for i, line in enumerate(lines) if line.startswith("Job ") and "attempt 1" in line)
    streamed = next(i for i, line in enumerate(lines) if "SUCCEEDED  Succeeded" in line)
    assert snapshot < streamed and "ended SUCCEEDED" in lines[-1], r.stdout
