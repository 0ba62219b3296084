"""Users as admins manage them (app.users), through the domain, the REST API and the
operator's commands: ending a user's console sign-ins, disabling and enabling a user
(sign-ins and API tokens stop at once), and the password tries of the console and of
POST /api/tokens counted together, per client address."""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import subprocess
import sys

import pytest

from fastapi.testclient import TestClient

from app import auth, signin
from app import users as accounts
from app.errors import AuthenticationFailed, InvalidInput, NotFound, PermissionDenied, RateLimited
from app.settings import reload_settings
from tests.conftest import ROOT


@pytest.fixture
def api(service_api):
    """The REST API with a service user "svc" besides the test users."""
    return service_api


def _problem(r, status):
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    return r.json()


# --- the domain ------------------------------------------------------------------------


def test_an_admin_ends_a_users_sign_ins_everywhere_and_only_theirs(users):
    root = users["root"]
    bob_values = [signin.sign_in("bob", "bob-password", address=a)[1] for a in ("198.51.100.1", "198.51.100.2")]
    _, alices = signin.sign_in("alice", "alice-password")
    bobs_token = auth.create_token(owner="bob")[0]
    assert users_row("bob").open_sign_ins == 2
    assert accounts.end_sign_ins(actor=root, username="bob") == 2
    for value in bob_values:
        with pytest.raises(AuthenticationFailed, match="ended"):
            signin.user_for(value)
    assert signin.user_for(alices).username == "alice"
    assert auth.user_for_token(bobs_token).username == "bob"  # API tokens are not sign-ins
    assert accounts.end_sign_ins(actor=root, username="bob") == 0  # none left: not an error
    assert signin.user_for(signin.sign_in("bob", "bob-password")[1]).username == "bob"  # he may sign in again
    with pytest.raises(PermissionDenied, match="for admins"):
        accounts.end_sign_ins(actor=users_of("alice"), username="bob")
    with pytest.raises(NotFound):
        accounts.end_sign_ins(actor=root, username="nobody")


def users_of(name):
    return auth.get_user(name)


def users_row(name):
    return accounts.user_summary(actor=accounts.OPERATOR, username=name)


def test_a_disabled_user_is_out_at_once_and_back_when_enabled(users):
    root = users["root"]
    _, value = signin.sign_in("bob", "bob-password")
    token = auth.create_token(owner="bob")[0]
    done = accounts.disable_user(actor=root, username="bob")
    assert done.disabled and done.open_sign_ins == 0 and done.api_tokens == 1
    with pytest.raises(AuthenticationFailed):
        signin.user_for(value)
    with pytest.raises(AuthenticationFailed, match="disabled"):
        auth.user_for_token(token)
    with pytest.raises(PermissionDenied, match="disabled"):
        signin.sign_in("bob", "bob-password")  # the right password, and still no sign-in
    with pytest.raises(AuthenticationFailed):
        signin.sign_in("bob", "wrong-password")  # a wrong one says nothing of the account
    with pytest.raises(PermissionDenied, match="disabled"):
        auth.create_token(owner="bob")
    assert accounts.disable_user(actor=root, username="bob").disabled_at == done.disabled_at  # again: no change
    back = accounts.enable_user(actor=root, username="bob")
    assert not back.disabled
    assert auth.user_for_token(token).username == "bob"  # the tokens come back
    with pytest.raises(AuthenticationFailed):
        signin.user_for(value)  # a console sign-in does not: it ended
    assert signin.user_for(signin.sign_in("bob", "bob-password")[1]).username == "bob"


def test_who_may_disable_whom(users, jobdeck):
    root = users["root"]
    with pytest.raises(InvalidInput, match="your own account"):
        accounts.disable_user(actor=root, username="root")
    for role in ("user", "service"):
        with pytest.raises(PermissionDenied, match="for admins"):
            accounts.disable_user(actor=auth.create_user(username=f"x-{role}", password="long-password", role=role),
                               username="bob")
        with pytest.raises(PermissionDenied):
            accounts.enable_user(actor=auth.get_user(f"x-{role}"), username="bob")
        with pytest.raises(PermissionDenied):
            accounts.list_users(actor=auth.get_user(f"x-{role}"))
    assert not users_row("bob").disabled
    assert accounts.disable_user(actor=accounts.OPERATOR, username="root").disabled  # the operator may
    with pytest.raises(NotFound):
        accounts.enable_user(actor=accounts.OPERATOR, username="nobody")


def test_the_list_of_users_counts_sign_ins_and_tokens(users):
    signin.sign_in("alice", "alice-password")
    _, ended = signin.sign_in("alice", "alice-password")
    signin.sign_out(ended)
    auth.create_token(owner="alice")
    listed = {u.username: u for u in accounts.list_users(actor=users["root"])}
    assert sorted(listed) == ["alice", "bob", "root"]
    a = listed["alice"]
    assert (a.open_sign_ins, a.api_tokens, a.role, a.disabled) == (1, 1, "user", False)
    assert a.last_seen_at is not None and a.last_seen_at.tzinfo is not None
    assert (listed["bob"].open_sign_ins, listed["bob"].last_seen_at) == (0, None)


# --- REST -------------------------------------------------------------------------------


def test_rest_routes_end_sign_ins_disable_and_enable(api):
    _, value = signin.sign_in("bob", "bob-password")
    root = api.as_("root")
    listed = api.get("/api/admin/users", headers=root).json()
    assert {u["username"]: u["open_sign_ins"] for u in listed}["bob"] == 1
    r = api.post("/api/admin/users/bob/end-sign-ins", headers=root)
    assert r.status_code == 200 and r.json() == {"username": "bob", "ended": 1}
    with pytest.raises(AuthenticationFailed):
        signin.user_for(value)
    assert api.get("/api/me", headers=api.as_("bob")).status_code == 200  # his token works on
    r = api.post("/api/admin/users/bob/disable", headers=root)
    assert r.status_code == 200 and r.json()["disabled"] is True and r.json()["disabled_at"]
    assert "disabled" in _problem(api.get("/api/me", headers=api.as_("bob")), 401)["detail"]
    body = _problem(api.post("/api/tokens", json={"username": "bob", "password": "bob-password"}), 403)
    assert "disabled" in body["detail"]
    assert api.get("/api/admin/users/bob", headers=root).json()["disabled"] is True
    r = api.post("/api/admin/users/bob/enable", headers=root)
    assert r.status_code == 200 and r.json()["disabled"] is False
    assert api.get("/api/me", headers=api.as_("bob")).status_code == 200
    _problem(api.post("/api/admin/users/nobody/disable", headers=root), 404)
    assert "own account" in _problem(api.post("/api/admin/users/root/disable", headers=root), 422)["detail"]
    for who in ("alice", "svc"):  # admins only: services are scripts, not people who manage people
        for method, url in (("GET", "/api/admin/users"), ("GET", "/api/admin/users/bob"),
                            ("POST", "/api/admin/users/bob/end-sign-ins"), ("POST", "/api/admin/users/bob/disable"),
                            ("POST", "/api/admin/users/bob/enable")):
            _problem(api.request(method, url, headers=api.as_(who)), 403)
    _problem(api.post("/api/admin/users/bob/disable"), 401)
    _problem(api.post(f"/api/admin/users/{'x' * 65}/disable", headers=root), 422)


# --- password tries: console and API together, per address ----------------------------


def test_console_and_api_password_tries_are_counted_together_per_address(api, monkeypatch):
    monkeypatch.setenv("JOBDECK_PASSWORD_TRIES", "3")  # each try costs a password hash: keep it short
    monkeypatch.setenv("JOBDECK_TRUSTED_PROXIES", "127.0.0.1")
    reload_settings()
    # Bob signs in from his usual address; a guesser elsewhere tries his password.
    signin.sign_in("bob", "bob-password", address="198.51.100.1")
    guesser = {"X-Forwarded-For": "203.0.113.9"}
    with TestClient(api.app, client=("127.0.0.1", 40000), raise_server_exceptions=False) as proxied:
        for _ in range(2):
            with pytest.raises(AuthenticationFailed):
                signin.sign_in("bob", "guess-guess", address="203.0.113.9")
        r = proxied.post("/api/tokens", json={"username": "bob", "password": "guess3"}, headers=guesser)
        assert r.status_code == 401
        # The third wrong password was the API's: the console's tries counted with it.
        r = proxied.post("/api/tokens", json={"username": "bob", "password": "bob-password"}, headers=guesser)
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
        with pytest.raises(RateLimited):
            signin.sign_in("bob", "bob-password", address="203.0.113.9")
        # Bob, at his usual address, is not locked out by the guesser: neither in the
        # console nor for a token.
        assert signin.sign_in("bob", "bob-password", address="198.51.100.1")[0].username == "bob"
        r = proxied.post("/api/tokens", json={"username": "bob", "password": "bob-password"},
                         headers={"X-Forwarded-For": "198.51.100.1"})
        assert r.status_code == 201, r.text
    # Without a trusted proxy the header is the client's own word, and ignored: the
    # address is the peer's.
    monkeypatch.setenv("JOBDECK_TRUSTED_PROXIES", "")
    reload_settings()
    with TestClient(api.app, client=("203.0.113.9", 40000), raise_server_exceptions=False) as direct:
        r = direct.post("/api/tokens", json={"username": "bob", "password": "bob-password"},
                        headers={"X-Forwarded-For": "198.51.100.1"})
        assert r.status_code == 429


# --- the operator's commands -------------------------------------------------------------


def test_operators_end_sign_ins_and_disable_and_enable_users_from_the_host(jobdeck, tmp_path, monkeypatch):
    from app.db import dispose_engines, migrate

    # A database built by the migrations, as the command builds its own on a new install.
    monkeypatch.setenv("JOBDECK_DATABASE_URL", f"sqlite:///{tmp_path / 'operator.db'}")
    dispose_engines()
    reload_settings()
    migrate()
    auth.create_user(username="bob", password="bob-password")

    def manage(*args):
        return subprocess.run([sys.executable, "-m", "app.manage", *args], cwd=ROOT, env=dict(os.environ),
                              capture_output=True, text=True, timeout=120)

    _, value = signin.sign_in("bob", "bob-password")
    token = auth.create_token(owner="bob")[0]
    done = manage("end-sign-ins", "bob")
    assert done.returncode == 0 and "1 console sign-in of bob ended" in done.stdout, done.stderr
    with pytest.raises(AuthenticationFailed):
        signin.user_for(value)
    _, value = signin.sign_in("bob", "bob-password")
    done = manage("disable-user", "bob")
    assert done.returncode == 0 and "user bob disabled" in done.stdout, done.stderr
    with pytest.raises(AuthenticationFailed):
        signin.user_for(value)
    with pytest.raises(AuthenticationFailed):
        auth.user_for_token(token)
    done = manage("enable-user", "bob")
    assert done.returncode == 0 and "user bob enabled" in done.stdout, done.stderr
    assert auth.user_for_token(token).username == "bob"
    missing = manage("disable-user", "nobody")
    assert missing.returncode == 1 and "No user nobody" in missing.stderr


# --- live pushes ------------------------------------------------------------------------


def test_the_live_listener_drops_the_tabs_of_a_user_whose_sign_ins_ended(jobdeck):
    from app.state import live

    applied = []

    class Hub(live.Hub):
        async def _apply(self, token, w, evs, burst):
            applied.append(token)

    hub = Hub()
    hub.watch("bobs-tab", live.Watch(state=object, username="bob", admin=False, owners=frozenset(["bob"])))
    hub.watch("alices-tab", live.Watch(state=object, username="alice", admin=False, owners=frozenset(["alice"])))
    burst = [{"kind": "job", "job_id": "j1", "owner": "bob", "status": "SUCCEEDED"},
             {"kind": "job", "job_id": "j2", "owner": "alice", "status": "SUCCEEDED"},
             {"kind": accounts.SIGN_INS_ENDED, "username": "bob"}]
    with concurrent.futures.ThreadPoolExecutor(1) as pool:  # a loop of its own (see test_live_listener)
        pool.submit(asyncio.run, hub._dispatch(burst)).result()
    assert applied == ["alices-tab"] and set(hub.watches) == {"alices-tab"}
