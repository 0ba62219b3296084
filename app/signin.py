"""Console sign-ins: a signed value the browser keeps across reloads, and a record of
each sign-in on the server.

Every sign-in is a row of the `signin` table (app.models.SignIn) with a random id. The
browser's value names the user, that id, when it was issued and a fingerprint of the
user's password hash, and carries an HMAC-SHA256 over all four. Nothing secret is
stored in the browser; a forged or altered value fails the signature, an old one fails
its age, and a password change ends every sign-in made with the old password. The row
is what makes a sign-in end for good: signing out, an admin ending a user's sign-ins
and disabling a user close it, and a copy of the value is worthless from then on, in
every browser and on every web backend (the rows are in SQL, which they all share).

The key is JOBDECK_SECRET_KEY; without it one random key is created in the data
directory (shared by every backend on that host; several hosts must set the variable).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Optional

import sqlalchemy as sa
from sqlmodel import select

from app import auth
from app.audit import audited, from_args
from app.db import session, utcnow, write_conn
from app.errors import AuthenticationFailed
from app.models import SignIn, User
from app.settings import get_settings

# "Last seen" to the minute: a write on every page load would queue each tab's events
# behind the workers' transactions on SQLite.
LAST_SEEN_GRANULARITY = timedelta(seconds=60)


@lru_cache(maxsize=4)
def _key_for(secret: str, data_dir: str) -> bytes:
    if secret:
        return secret.encode()
    path = os.path.join(data_dir, "secret_key")
    os.makedirs(data_dir, exist_ok=True)
    try:
        # O_EXCL: two backends starting together agree on the first key written.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _ in range(50):
            with open(path, "rb") as f:
                key = f.read().strip()
            if key:
                return key
            time.sleep(0.01)
        raise RuntimeError(f"{path} is empty; delete it or set JOBDECK_SECRET_KEY")
    key = secrets.token_urlsafe(48).encode()
    with os.fdopen(fd, "wb") as f:
        f.write(key)
    return key


def _key() -> bytes:
    s = get_settings()
    return _key_for(s.secret_key, str(s.data_dir))


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _fingerprint(user: User) -> str:
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]


def _sign(body: str) -> str:
    return _b64(hmac.new(_key(), body.encode(), hashlib.sha256).digest())


def _at(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, timezone.utc)


def issue(user: User, *, address: str = "", now: float | None = None) -> str:
    """Open a new sign-in for this user (a row) and return its value for the browser.
    The user's sign-ins that have expired are dropped on the way."""
    issued = now or time.time()
    row = SignIn(id=secrets.token_urlsafe(24), username=user.username, created_at=_at(issued),
                 expires_at=_at(issued + get_settings().session_days * 86400), last_seen_at=_at(issued),
                 address=(address or "")[:64])
    with session(write=True) as s:
        s.execute(sa.delete(SignIn).where(SignIn.username == user.username, SignIn.expires_at < _at(issued)))
        s.add(row)
    body = _b64(json.dumps({"u": user.username, "s": row.id, "t": int(issued), "p": _fingerprint(user)},
                           separators=(",", ":")).encode())
    return f"{body}.{_sign(body)}"


def sign_in(username: str, password: str, *, address: str = "") -> tuple[User, str]:
    """Check the password (Argon2, within the password-guessing limits of app.ratelimit
    for `address`, the client's) and return the user with a new sign-in value.
    AuthenticationFailed for a wrong password, RateLimited past a limit,
    PermissionDenied for a disabled user."""
    user = auth.password_sign_in(username, password, address=address)
    return user, issue(user, address=address)


def _claims(value: str) -> Optional[dict]:
    """The claims of a value whose signature holds, else None."""
    if not value or value.count(".") != 1:
        return None
    body, sig = value.split(".")
    if not hmac.compare_digest(sig, _sign(body)):
        return None
    try:
        claims = json.loads(_unb64(body))
        if not all(isinstance(claims.get(k), str) for k in ("u", "s", "p")):
            return None  # a value from before sign-ins had rows names none: sign in again
        claims["t"] = float(claims["t"])
        return claims
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def user_for(value: str, *, now: float | None = None) -> User:
    """The user a sign-in value stands for, or AuthenticationFailed: the signature, the
    age, the sign-in's row (open, of that user), the password fingerprint and the user
    (still there, not disabled) are all checked, every time."""
    expired = AuthenticationFailed("Your sign-in has expired; sign in again.")
    claims = _claims(value)
    if claims is None:
        raise expired
    at = now or time.time()
    age = at - claims["t"]
    if age < -60 or age > get_settings().session_days * 86400:
        raise expired
    with session() as s:
        found = s.exec(select(SignIn, User).join(User, User.username == SignIn.username)
                       .where(SignIn.id == claims["s"])).first()
    if found is None:
        raise expired
    row, user = found
    if row.username != claims["u"] or row.expires_at <= _at(at):
        raise expired
    if row.ended_at is not None:
        raise AuthenticationFailed("Your sign-in has ended; sign in again.")
    if user.disabled:
        raise AuthenticationFailed("This account is disabled.")
    if not hmac.compare_digest(claims["p"], _fingerprint(user)):
        raise expired
    if row.last_seen_at is None or _at(at) - row.last_seen_at > LAST_SEEN_GRANULARITY:
        t = SignIn.__table__
        with write_conn() as conn:
            conn.execute(sa.update(t).where(t.c.id == row.id).values(last_seen_at=_at(at)))
    return user


def _signed_out(args: dict) -> str:
    """Whose sign-in a sign-out ends (the value's claims; '' for a forged one)."""
    return (_claims(args.get("value") or "") or {}).get("u", "")


@audited("sign-out", target=from_args(_signed_out), actor=from_args(_signed_out))
def sign_out(value: str) -> bool:
    """End the sign-in this value stands for (the browser's sign-out). True when an
    open sign-in was ended; a value that is altered, or ended already, ends nothing."""
    claims = _claims(value)
    if claims is None:
        return False
    t = SignIn.__table__
    with write_conn() as conn:
        done = conn.execute(sa.update(t).where(t.c.id == claims["s"], t.c.username == claims["u"],
                                               t.c.ended_at.is_(None))
                            .values(ended_at=utcnow(), ended_why="signed out"))
    return done.rowcount > 0


def end_sign_ins(username: str, *, why: str) -> int:
    """End every open sign-in of a user, in every browser; `why` is kept with each
    (e.g. "ended by admin root"). Returns how many were open. No permission check:
    callers are app.users (admins) and the operator's commands."""
    t = SignIn.__table__
    with write_conn() as conn:
        done = conn.execute(sa.update(t).where(t.c.username == username, t.c.ended_at.is_(None),
                                               t.c.expires_at > utcnow())
                            .values(ended_at=utcnow(), ended_why=why[:128]))
    return done.rowcount


def open_sign_ins(username: str) -> list[SignIn]:
    """A user's sign-ins that still hold (not ended, not expired), newest first."""
    with session() as s:
        return list(s.exec(select(SignIn).where(SignIn.username == username, SignIn.ended_at.is_(None),
                                                SignIn.expires_at > utcnow())
                           .order_by(SignIn.created_at.desc())))
