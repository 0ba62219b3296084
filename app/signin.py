"""Console sign-ins: a signed value the browser keeps across reloads.

The value names the user, when it was issued and a fingerprint of the user's password
hash, and carries an HMAC-SHA256 over all three. Nothing secret is stored in the
browser; a forged or altered value fails the signature, an old one fails its age, and a
password change ends every sign-in made with the old password.

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
from functools import lru_cache

from app import auth, ratelimit
from app.errors import AuthenticationFailed
from app.models import User
from app.settings import get_settings


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


def issue(user: User, *, now: float | None = None) -> str:
    """A sign-in value for this user."""
    body = _b64(json.dumps({"u": user.username, "t": int(now or time.time()), "p": _fingerprint(user)},
                           separators=(",", ":")).encode())
    return f"{body}.{_sign(body)}"


def sign_in(username: str, password: str) -> tuple[User, str]:
    """Check the password (Argon2) and return the user with a new sign-in value. After
    too many wrong passwords for a username in a minute, RateLimited instead."""
    ratelimit.check_failed_sign_ins(username)
    try:
        user = auth.authenticate(username, password)
    except AuthenticationFailed:
        ratelimit.count_failed_sign_in(username)
        raise
    return user, issue(user)


def user_for(value: str, *, now: float | None = None) -> User:
    """The user a sign-in value stands for, or AuthenticationFailed."""
    expired = AuthenticationFailed("Your sign-in has expired; sign in again.")
    if not value or value.count(".") != 1:
        raise expired
    body, sig = value.split(".")
    if not hmac.compare_digest(sig, _sign(body)):
        raise expired
    try:
        claims = json.loads(_unb64(body))
        username, issued, fp = claims["u"], float(claims["t"]), claims["p"]
    except (ValueError, KeyError, TypeError):
        raise expired from None
    age = (now or time.time()) - issued
    if age < -60 or age > get_settings().session_days * 86400:
        raise expired
    user = auth.find_user(username)
    if user is None or not hmac.compare_digest(fp, _fingerprint(user)):
        raise expired
    return user
