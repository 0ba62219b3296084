"""Admins manage users without a shell: add one with a role, reset a password (the old
sign-ins end, tokens keep working), list and revoke a user's API tokens. Through the
domain (app.users) and the REST API under /api/admin/users; others are refused."""

from __future__ import annotations

import pytest

from app import auth, signin
from app import users as accounts
from app.errors import AuthenticationFailed, Conflict, InvalidInput, NotFound, PermissionDenied


def _problem(r, status):
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    return r.json()


def test_an_admin_adds_a_user_who_can_sign_in_with_that_role(users):
    got = accounts.add_user(actor=users["root"], username="carol", password="carol-password",
                            role="service", display_name="Carol C.")
    assert (got.username, got.role, got.display_name, got.disabled) == ("carol", "service", "Carol C.", False)
    assert auth.authenticate("carol", "carol-password").role == "service"
    with pytest.raises(Conflict):
        accounts.add_user(actor=users["root"], username="carol", password="another-password")
    with pytest.raises(PermissionDenied):
        accounts.add_user(actor=users["alice"], username="dave", password="dave-password")
    with pytest.raises(InvalidInput) as bad:
        accounts.add_user(actor=users["root"], username="eve", password="eve-password", display_name="Eve\x1b[31m")
    assert bad.value.field == "display_name"
    assert auth.find_user("dave") is None and auth.find_user("eve") is None


def test_a_password_reset_ends_the_old_sign_ins_but_not_the_tokens(users):
    root = users["root"]
    _, value = signin.sign_in("alice", "alice-password", address="10.0.0.1")
    token, _ = auth.create_token(owner="alice", name="laptop")
    assert signin.user_for(value).username == "alice"
    got = accounts.reset_password(actor=root, username="alice", password="a-new-password")
    assert got.open_sign_ins == 0
    with pytest.raises(AuthenticationFailed):
        signin.user_for(value)
    assert auth.user_for_token(token).username == "alice"
    assert auth.authenticate("alice", "a-new-password").username == "alice"
    with pytest.raises(InvalidInput):
        accounts.reset_password(actor=root, username="alice", password="short")
    with pytest.raises(NotFound):
        accounts.reset_password(actor=root, username="nobody", password="long-enough-1")


def test_an_admin_sees_and_revokes_a_users_tokens_and_only_theirs(users):
    root = users["root"]
    alice_token, a = auth.create_token(owner="alice", name="laptop")
    _, b = auth.create_token(owner="bob", name="bob's")
    assert [t.name for t in accounts.user_tokens(actor=root, username="alice")] == ["laptop"]
    with pytest.raises(NotFound):  # bob's token, asked for as alice's
        accounts.revoke_user_token(actor=root, username="alice", token_id=b.id)
    accounts.revoke_user_token(actor=root, username="alice", token_id=a.id)
    assert accounts.user_tokens(actor=root, username="alice") == []
    with pytest.raises(AuthenticationFailed):
        auth.user_for_token(alice_token)
    with pytest.raises(NotFound):  # revoked already
        accounts.revoke_user_token(actor=root, username="alice", token_id=a.id)
    with pytest.raises(PermissionDenied):
        accounts.user_tokens(actor=users["bob"], username="alice")


@pytest.fixture
def api(service_api):
    return service_api


def test_the_rest_routes_add_reset_list_and_revoke(api):
    r = api.post("/api/admin/users", headers=api.as_("root"),
                 json={"username": "carol", "password": "carol-password", "role": "admin"})
    assert r.status_code == 201 and r.json()["role"] == "admin" and r.headers["Location"] == "/api/admin/users/carol"
    _problem(api.post("/api/admin/users", headers=api.as_("root"),
                      json={"username": "carol", "password": "carol-password"}), 409)
    for bad in ({"username": "x y", "password": "long-enough-1"}, {"username": "zed", "password": "short"},
                {"username": "zed", "password": "long-enough-1", "role": "root"},
                {"username": "zed", "password": "long-enough-1", "is_admin": True},
                {"username": "z" * 65, "password": "long-enough-1"}):
        _problem(api.post("/api/admin/users", headers=api.as_("root"), json=bad), 422)
    assert auth.find_user("zed") is None
    _problem(api.post("/api/admin/users", headers=api.as_("alice"),
                      json={"username": "mallory", "password": "long-enough-1"}), 403)
    _problem(api.post("/api/admin/users", headers=api.as_("svc"),
                      json={"username": "mallory", "password": "long-enough-1"}), 403)
    assert auth.find_user("mallory") is None

    r = api.post("/api/admin/users/carol/password", headers=api.as_("root"), json={"password": "carol-new-pass"})
    assert r.status_code == 200 and auth.authenticate("carol", "carol-new-pass")
    _problem(api.post("/api/admin/users/nobody/password", headers=api.as_("root"),
                      json={"password": "long-enough-1"}), 404)

    _, tok = auth.create_token(owner="carol", name="script")
    listed = api.get("/api/admin/users/carol/tokens", headers=api.as_("root")).json()
    assert [(t["id"], t["name"]) for t in listed] == [(tok.id, "script")] and "token" not in listed[0]
    _problem(api.delete(f"/api/admin/users/alice/tokens/{tok.id}", headers=api.as_("root")), 404)  # not alice's
    _problem(api.delete("/api/admin/users/carol/tokens/99999999999999999999", headers=api.as_("root")), 422)
    assert api.delete(f"/api/admin/users/carol/tokens/{tok.id}", headers=api.as_("root")).status_code == 204
    assert api.get("/api/admin/users/carol/tokens", headers=api.as_("root")).json() == []
