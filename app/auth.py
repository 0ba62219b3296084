"""Users, passwords and API tokens.

Passwords are hashed with Argon2 (pwdlib). API tokens are long random strings shown
once; only their SHA-256 is stored, which is enough for secrets of that entropy and
keeps each request's check cheap. A disabled user (User.disabled_at set, app.users)
gets no new sign-in or token, and their tokens are refused while it lasts.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Optional

import sqlalchemy as sa
from pwdlib import PasswordHash
from sqlmodel import select

from app import ratelimit
from app import audit
from app.audit import audited
from app.db import get_engine, session, utcnow, write_conn
from app.errors import AuthenticationFailed, Conflict, InvalidInput, NotFound, PermissionDenied
from app.models import ApiToken, SignIn, User
from app.shapes import text_problem

ROLES = ("user", "admin", "service")
TOKEN_PREFIX = "jdk_"
LAST_USED_GRANULARITY = timedelta(seconds=60)
_hasher = PasswordHash.recommended()
# Checked against when the username is unknown, so both paths cost the same time.
_DUMMY_HASH = _hasher.hash("not-a-password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def create_user(*, username: str, password: str, display_name: str = "", role: str = "user") -> User:
    username = (username or "").strip()
    if not username or len(username) > 64 or not all(c.isalnum() or c in "._-@" for c in username):
        raise InvalidInput("A username is 1-64 letters, digits, or . _ - @.", field="username")
    if role not in ROLES:
        raise InvalidInput(f"Unknown role {role!r}; roles: {', '.join(ROLES)}.", field="role")
    _check_password(password)
    with session(write=True) as s:
        if s.exec(select(User).where(User.username == username)).first():
            raise Conflict(f"User {username!r} exists already.")
        user = User(username=username, display_name=display_name or username, role=role,
                    password_hash=hash_password(password))
        s.add(user)
        s.flush()
        s.refresh(user)
        return user


def _check_password(password: str, field: str = "password") -> None:
    if len(password or "") < 8:
        raise InvalidInput("A password needs at least 8 characters.", field=field)


def set_password(*, username: str, password: str) -> User:
    """Give a user a new password (an operator's command). Console sign-ins made with
    the old one end: each carries a fingerprint of the hash it was made with, and their
    rows are closed in the same transaction (so the list of open sign-ins stays true)."""
    _check_password(password)
    with session(write=True) as s:
        user = s.exec(select(User).where(User.username == username)).first()
        if user is None:
            raise NotFound(f"No user {username}.")
        user.password_hash = hash_password(password)
        s.add(user)
        s.execute(sa.update(SignIn).where(SignIn.username == username, SignIn.ended_at.is_(None))
                  .values(ended_at=utcnow(), ended_why="password changed"))
        s.flush()
        s.refresh(user)
        return user


@audited("password.change", target="username", actor="username")
def change_password(*, username: str, current: str, new: str) -> User:
    """A person changes their own password: the current one first."""
    try:
        authenticate(username, current)
    except AuthenticationFailed:
        raise InvalidInput("The current password is wrong.", field="current") from None
    _check_password(new, "new")
    if new == current:
        raise InvalidInput("The new password is the same as the current one.", field="new")
    return set_password(username=username, password=new)


def get_user(username: str) -> User:
    with session() as s:
        user = s.exec(select(User).where(User.username == username)).first()
    if user is None:
        raise NotFound(f"No user {username}.")
    return user


def authenticate(username: str, password: str) -> User:
    """The user whose password this is, or AuthenticationFailed (same message for an
    unknown user and a wrong password)."""
    name = (username or "").strip()
    # A name with control characters names no one (and PostgreSQL refuses NUL).
    with session() as s:
        user = None if text_problem(name) else s.exec(select(User).where(User.username == name)).first()
    ok = _hasher.verify(password or "", user.password_hash if user else _DUMMY_HASH)
    if not user or not ok:
        raise AuthenticationFailed("Wrong username or password.")
    return user


DISABLED = "This account is disabled; ask an admin to enable it."


@audited("sign-in", target="username", actor="username")
def password_sign_in(username: str, password: str, *, address: str) -> User:
    """A sign-in with a password, the console's or POST /api/tokens': the user whose
    password this is, counted against the password-guessing limits for the client
    `address` (app.ratelimit; RateLimited past them, before any hash is checked).
    A wrong password is AuthenticationFailed and counts; a right one does not. A
    disabled user is refused (PermissionDenied) even with the right password."""
    attempt = ratelimit.password_try(username, address)
    user = authenticate(username, password)
    attempt.succeeded()
    if user.disabled:
        raise PermissionDenied(DISABLED)
    return user


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@audited("token.create", target=lambda a, r: f"{a['owner']}/{r[1].id}" if r else a["owner"], actor="owner")
def create_token(*, owner: str, name: str = "") -> tuple[str, ApiToken]:
    """A new API token; the plain text is returned once and never stored."""
    if get_user(owner).disabled:
        raise PermissionDenied(DISABLED)
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with session(write=True) as s:
        tok = ApiToken(token_hash=_token_hash(plain), owner=owner, name=name[:128])
        s.add(tok)
        s.flush()
        s.refresh(tok)
        audit.note(target=f"{owner}/{tok.id}")  # so its entry commits with the token
    return plain, tok


def token_owner(token: str) -> Optional[str]:
    """Whose token this is, revoked or not (None when unknown): who a refused request
    claims to be, for the audit log. Reads only."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    t = ApiToken.__table__
    with get_engine().connect() as conn:
        return conn.execute(sa.select(t.c.owner).where(t.c.token_hash == _token_hash(token))).scalar()


def user_for_token(token: str) -> User:
    if not token or not token.startswith(TOKEN_PREFIX):
        raise AuthenticationFailed("The token is missing or not a Jobdeck API token.")
    with session() as s:
        tok = s.exec(select(ApiToken).where(ApiToken.token_hash == _token_hash(token))).first()
        if tok is None or tok.revoked_at is not None:
            raise AuthenticationFailed("The token is unknown or was revoked.")
        user = s.exec(select(User).where(User.username == tok.owner)).first()
    if user is None:
        raise AuthenticationFailed("The token's user no longer exists.")
    if user.disabled:
        # Refused while the user is disabled, not revoked: enabling the user again
        # brings the tokens back (the user's scripts need no new ones).
        raise AuthenticationFailed("The token's user is disabled; ask an admin to enable it.")
    now = utcnow()
    # "Last used" to the minute: a write on every request would queue each API call
    # behind the workers' transactions on SQLite.
    if tok.last_used_at is None or now - tok.last_used_at > LAST_USED_GRANULARITY:
        t = ApiToken.__table__
        with write_conn() as conn:
            conn.execute(sa.update(t).where(t.c.id == tok.id).values(last_used_at=now))
    return user


def list_tokens(owner: str) -> list[ApiToken]:
    with session() as s:
        return list(s.exec(select(ApiToken).where(ApiToken.owner == owner, ApiToken.revoked_at.is_(None))
                           .order_by(ApiToken.created_at.desc())))


@audited("token.revoke", target=audit.from_args(lambda a: f"{a['owner']}/{a['token_id']}"), actor="owner")
def revoke_token(*, owner: str, token_id: int) -> None:
    with session(write=True) as s:
        tok = s.get(ApiToken, token_id)
        if tok is None or tok.owner != owner:
            raise NotFound(f"No token {token_id}.")
        tok.revoked_at = utcnow()


def revoke_token_itself(token: str) -> None:
    """Revoke the token that signs this request (a client's sign-out), whoever made it."""
    with session(write=True) as s:
        tok = s.exec(select(ApiToken).where(ApiToken.token_hash == _token_hash(token))).first()
        if tok is None or tok.revoked_at is not None:
            raise AuthenticationFailed("The token is unknown or was revoked.")
        tok.revoked_at = utcnow()


def find_user(username: str) -> Optional[User]:
    try:
        return get_user(username)
    except NotFound:
        return None
