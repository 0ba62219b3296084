"""Console sign-in values: signed, bounded in time, bound to the password."""

from __future__ import annotations

import time

import pytest

from app import auth, signin
from app.errors import AuthenticationFailed


def test_a_sign_in_value_names_its_user(users):
    user, value = signin.sign_in("alice", "alice-password")
    assert user.username == "alice"
    assert signin.user_for(value).username == "alice"
    assert "alice-password" not in value


def test_a_wrong_password_gives_no_value(users):
    with pytest.raises(AuthenticationFailed, match="Wrong username or password"):
        signin.sign_in("alice", "bob-password")


@pytest.mark.parametrize("mangle", [
    lambda v: "",
    lambda v: "garbage",
    lambda v: v[:-2] + ("AA" if not v.endswith("AA") else "BB"),  # signature altered
    lambda v: v.split(".")[0] + "x." + v.split(".")[1],  # body altered
    lambda v: v + ".extra",
])
def test_an_altered_value_signs_no_one_in(users, mangle):
    _, value = signin.sign_in("alice", "alice-password")
    with pytest.raises(AuthenticationFailed):
        signin.user_for(mangle(value))


def test_a_value_claiming_another_user_fails_its_signature(users):
    import base64
    import json

    _, value = signin.sign_in("alice", "alice-password")
    body, sig = value.split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    claims["u"] = "root"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    with pytest.raises(AuthenticationFailed):
        signin.user_for(f"{forged}.{sig}")


def test_a_value_expires(users, jobdeck):
    _, value = signin.sign_in("alice", "alice-password")
    later = time.time() + jobdeck.session_days * 86400 + 5
    with pytest.raises(AuthenticationFailed, match="expired"):
        signin.user_for(value, now=later)


def test_a_password_change_ends_the_sign_ins_made_with_the_old_one(users):
    from app.db import session
    from app.models import User
    from sqlmodel import select

    _, value = signin.sign_in("alice", "alice-password")
    with session(write=True) as s:
        u = s.exec(select(User).where(User.username == "alice")).one()
        u.password_hash = auth.hash_password("a-new-password")
    with pytest.raises(AuthenticationFailed):
        signin.user_for(value)


def test_the_key_is_kept_in_the_data_dir_when_not_set(users, jobdeck, monkeypatch):
    monkeypatch.delenv("JOBDECK_SECRET_KEY", raising=False)
    _, value = signin.sign_in("alice", "alice-password")
    assert (jobdeck.data_dir / "secret_key").exists()
    assert signin.user_for(value).username == "alice"
