"""Console sign-in values: signed, bounded in time, bound to the password, and each
one a sign-in recorded on the server that signing out ends for good."""

from __future__ import annotations

import time

import pytest

from app import auth, signin
from app.errors import AuthenticationFailed, InvalidInput


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
    _, other = signin.sign_in("bob", "bob-password")
    with pytest.raises(InvalidInput, match="current password is wrong"):
        auth.change_password(username="alice", current="bob-password", new="a-new-password")
    with pytest.raises(InvalidInput, match="at least 8"):
        auth.change_password(username="alice", current="alice-password", new="short")
    auth.change_password(username="alice", current="alice-password", new="a-new-password")
    with pytest.raises(AuthenticationFailed):
        signin.user_for(value)
    assert signin.open_sign_ins("alice") == []  # their rows say so too
    assert signin.user_for(other).username == "bob"  # another user's sign-in is untouched
    with pytest.raises(AuthenticationFailed):
        signin.sign_in("alice", "alice-password")
    assert signin.sign_in("alice", "a-new-password")[0].username == "alice"
    with session() as s:  # stored as an Argon2 hash, never as given
        stored = s.exec(select(User).where(User.username == "alice")).one().password_hash
    assert stored.startswith("$argon2") and "a-new-password" not in stored


def test_wrong_passwords_are_limited_per_username_right_ones_are_not(users, monkeypatch):
    from app.errors import RateLimited
    from app.settings import reload_settings

    monkeypatch.setenv("JOBDECK_PASSWORD_TRIES", "4")  # each try costs a password hash: keep it short
    reload_settings()
    for _ in range(4 + 3):  # signing in often is never held up
        signin.sign_in("bob", "bob-password", address="198.51.100.1")
    for _ in range(4):
        with pytest.raises(AuthenticationFailed):
            signin.sign_in("alice", "guess-guess", address="198.51.100.1")
    with pytest.raises(RateLimited, match="Too many wrong passwords for this user"):
        signin.sign_in("alice", "alice-password", address="198.51.100.1")  # even the right one, for a while
    assert signin.sign_in("bob", "bob-password", address="198.51.100.1")[0].username == "bob"


def test_signing_out_ends_the_sign_in_on_the_server(users):
    _, value = signin.sign_in("alice", "alice-password")
    _, elsewhere = signin.sign_in("alice", "alice-password")  # another browser of hers
    copy = str(value)
    assert signin.sign_out(value) is True
    with pytest.raises(AuthenticationFailed, match="ended"):
        signin.user_for(copy)  # a copy kept anywhere is worthless now
    assert signin.user_for(elsewhere).username == "alice"  # her other sign-in holds
    assert signin.sign_out(copy) is False  # ended already
    assert signin.sign_out("garbage") is False
    assert [r.address for r in signin.open_sign_ins("alice")] == [""]


def test_a_value_naming_no_sign_in_signs_no_one_in(users):
    import json

    from app.db import session
    from app.models import SignIn

    user, value = signin.sign_in("alice", "alice-password")
    # Signed with the key, as values were before sign-ins had rows: it names none.
    claims = {"u": "alice", "t": int(time.time()), "p": signin._fingerprint(user)}
    body = signin._b64(json.dumps(claims).encode())
    with pytest.raises(AuthenticationFailed):
        signin.user_for(f"{body}.{signin._sign(body)}")
    claims["s"] = "no-such-sign-in"
    body = signin._b64(json.dumps(claims).encode())
    with pytest.raises(AuthenticationFailed):
        signin.user_for(f"{body}.{signin._sign(body)}")
    with session(write=True) as s:  # the row gone (e.g. expired and pruned): the value is too
        s.delete(s.get(SignIn, signin._claims(value)["s"]))
    with pytest.raises(AuthenticationFailed):
        signin.user_for(value)


def test_operators_add_users_and_set_passwords_with_the_manage_command(jobdeck, tmp_path, monkeypatch):
    import os
    import subprocess
    import sys

    from app.db import dispose_engines
    from app.settings import reload_settings
    from tests.conftest import ROOT

    # A database the command makes itself, as on a new install (it applies the migrations).
    monkeypatch.setenv("JOBDECK_DATABASE_URL", f"sqlite:///{tmp_path / 'operator.db'}")
    dispose_engines()
    reload_settings()

    def manage(*args, password="service-secret"):
        env = {**os.environ, "JOBDECK_PASSWORD": password}
        return subprocess.run([sys.executable, "-m", "app.manage", *args], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=60)

    made = manage("create-user", "harvester", "--role", "service", "--name", "Nightly harvester")
    assert made.returncode == 0, made.stderr
    assert "user harvester created (service)" in made.stdout
    user = auth.authenticate("harvester", "service-secret")
    assert (user.role, user.display_name, user.may_launch_any) == ("service", "Nightly harvester", True)
    again = manage("create-user", "harvester")
    assert again.returncode == 1 and "exists already" in again.stderr
    short = manage("create-user", "newbie", password="short")
    assert short.returncode == 1 and "at least 8 characters" in short.stderr
    assert auth.find_user("newbie") is None
    changed = manage("set-password", "harvester", password="another-secret")
    assert changed.returncode == 0 and "password of harvester changed" in changed.stdout
    assert auth.authenticate("harvester", "another-secret").username == "harvester"
    assert manage("set-password", "nobody").returncode == 1


def test_the_key_is_kept_in_the_data_dir_when_not_set(users, jobdeck, monkeypatch):
    monkeypatch.delenv("JOBDECK_SECRET_KEY", raising=False)
    _, value = signin.sign_in("alice", "alice-password")
    assert (jobdeck.data_dir / "secret_key").exists()
    assert signin.user_for(value).username == "alice"
