"""Users as admins manage them: who they are and whether they are signed in, adding
them, resetting a password, their API tokens, ending their console sign-ins, disabling
and enabling them.

Every function takes the `actor` doing it: an admin (other roles are refused with
PermissionDenied) or OPERATOR, whoever runs `python -m app.manage` on the host. The
REST routes under /api/admin/users and the operator's commands call these same
functions, so the checks and messages are the same everywhere.

- Ending a user's sign-ins closes every console sign-in they have, in every browser:
  each open tab is sent to sign in on its next action or page load, and its live
  pushes stop. Their API tokens keep working (revoke those on the profile page).
- Disabling a user ends their sign-ins and refuses their API tokens and any new
  sign-in or token until they are enabled again. Their jobs, items and tokens are kept;
  enabling brings the tokens back, while a console sign-in must be made anew.
- Resetting a password ends every console sign-in made with the old one (API tokens
  keep working: revoke them one by one).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Optional, Union

import sqlalchemy as sa
from sqlmodel import select

from app import auth, events, signin
from app.audit import audited, from_args
from app.db import session, utcnow
from app.errors import InvalidInput, NotFound, PermissionDenied
from app.models import ApiToken, SignIn, User
from app.shapes import check_text

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Operator:
    """Whoever runs the setup commands on the host: trusted as an admin."""

    username: str = "the operator"


OPERATOR = Operator()
Actor = Union[User, Operator]

# The live listeners drop the open tabs of the user an event of this kind names; with
# "disabled": true, the REST event streams the user has open end too.
SIGN_INS_ENDED = "sign-ins-ended"


def disabled_event_of(ev: dict, username: str) -> bool:
    """Whether an event says that `username` was disabled."""
    return ev.get("kind") == SIGN_INS_ENDED and bool(ev.get("disabled")) and ev.get("username") == username


@dataclass(frozen=True)
class UserSummary:
    """One user as the admin users page shows it."""

    username: str
    display_name: str
    role: str
    created_at: datetime
    disabled_at: Optional[datetime]
    open_sign_ins: int  # console sign-ins that still hold
    last_seen_at: Optional[datetime]  # the latest use of any open sign-in, to the minute
    api_tokens: int  # tokens not revoked (refused while the user is disabled)

    @property
    def disabled(self) -> bool:
        return self.disabled_at is not None


def _require_admin(actor: Actor, what: str) -> None:
    if isinstance(actor, Operator):
        return
    if actor is None or actor.role != "admin":
        raise PermissionDenied(f"{what} is for admins.")


def _who(actor: Actor) -> str:
    return actor.username if isinstance(actor, Operator) else f"admin {actor.username}"


def _summaries(usernames: Optional[list[str]] = None) -> list[UserSummary]:
    now = utcnow()
    with session() as s:
        q = select(User).order_by(User.username)
        if usernames is not None:
            q = q.where(User.username.in_(usernames))
        people = list(s.exec(q))
        names = [u.username for u in people]
        sign_ins = {name: (n, seen) for name, n, seen in s.execute(
            sa.select(SignIn.username, sa.func.count(), sa.func.max(SignIn.last_seen_at))
            .where(SignIn.username.in_(names), SignIn.ended_at.is_(None), SignIn.expires_at > now)
            .group_by(SignIn.username))}
        tokens = dict(s.execute(sa.select(ApiToken.owner, sa.func.count())
                                .where(ApiToken.owner.in_(names), ApiToken.revoked_at.is_(None))
                                .group_by(ApiToken.owner)).all())
    out = []
    for u in people:
        n, seen = sign_ins.get(u.username, (0, None))
        out.append(UserSummary(username=u.username, display_name=u.display_name, role=u.role,
                               created_at=u.created_at, disabled_at=u.disabled_at, open_sign_ins=n,
                               last_seen_at=seen, api_tokens=tokens.get(u.username, 0)))
    return out


def list_users(*, actor: Actor) -> list[UserSummary]:
    """Every user, by username, with their sign-ins and tokens counted (admins)."""
    _require_admin(actor, "The list of users")
    return _summaries()


def user_summary(*, actor: Actor, username: str) -> UserSummary:
    """One user as list_users shows them (admins); NotFound for an unknown username."""
    _require_admin(actor, "Looking up a user")
    found = _summaries([(username or "").strip()])
    if not found:
        raise NotFound(f"No user {username}.")
    return found[0]


def _user(s, username: str) -> User:
    user = s.exec(select(User).where(User.username == (username or "").strip())).first()
    if user is None:
        raise NotFound(f"No user {username}.")
    return user


def _ended(username: str, why: str, *, disabled: bool = False) -> int:
    """End the sign-ins in SQL, then tell every web backend to stop its live pushes to
    the user's open tabs (and, when disabled, their event streams): a lost event costs
    pushes only, as the next action or request is refused all the same."""
    n = signin.end_sign_ins(username, why=why)
    events.publish({"kind": SIGN_INS_ENDED, "username": username, "disabled": disabled})
    return n


@audited("user.end-sign-ins", target="username")
def end_sign_ins(*, actor: Actor, username: str) -> int:
    """End every console sign-in of a user (admins). Returns how many were open; ending
    none is not an error. The user may sign in again; their API tokens are untouched."""
    _require_admin(actor, "Ending a user's sign-ins")
    with session() as s:
        user = _user(s, username)
    n = _ended(user.username, f"ended by {_who(actor)}")
    log.warning("console sign-ins of %s ended by %s: %d", user.username, _who(actor), n)
    return n


@audited("user.disable", target="username")
def disable_user(*, actor: Actor, username: str) -> UserSummary:
    """Disable a user (admins): their console sign-ins end at once, their API tokens
    are refused, and no new sign-in or token is given until enable_user. An admin may
    not disable themselves (the operator can). Disabling a disabled user changes
    nothing but ends any sign-in left."""
    _require_admin(actor, "Disabling a user")
    with session(write=True) as s:
        user = _user(s, username)
        if isinstance(actor, User) and actor.username == user.username:
            raise InvalidInput("You cannot disable your own account; another admin can.", field="username")
        if user.disabled_at is None:
            user.disabled_at = utcnow()
            s.add(user)
        name = user.username
    _ended(name, f"user disabled by {_who(actor)}", disabled=True)
    log.warning("user %s disabled by %s", name, _who(actor))
    return _summaries([name])[0]


@audited("user.enable", target="username")
def enable_user(*, actor: Actor, username: str) -> UserSummary:
    """Enable a disabled user again (admins): they may sign in, and their API tokens
    work again. Enabling an enabled user changes nothing."""
    _require_admin(actor, "Enabling a user")
    with session(write=True) as s:
        user = _user(s, username)
        if user.disabled_at is not None:
            user.disabled_at = None
            s.add(user)
        name = user.username
    log.warning("user %s enabled by %s", name, _who(actor))
    return _summaries([name])[0]


@audited("user.add", target="username")
def add_user(*, actor: Actor, username: str, password: str, role: str = "user",
             display_name: str = "") -> UserSummary:
    """Add a user with a role and a first password (admins). The username is theirs for
    good; Conflict when it is taken."""
    _require_admin(actor, "Adding a user")
    if len(display_name or "") > 128:
        raise InvalidInput("A display name is at most 128 characters.", field="display_name")
    name = check_text((display_name or "").strip(), "display_name")
    user = auth.create_user(username=username, password=password, display_name=name, role=role)
    log.warning("user %s (%s) added by %s", user.username, user.role, _who(actor))
    return _summaries([user.username])[0]


@audited("user.password-reset", target="username")
def reset_password(*, actor: Actor, username: str, password: str) -> UserSummary:
    """Give a user a new password (admins): every console sign-in made with the old one
    ends at once, in every browser; their API tokens keep working."""
    _require_admin(actor, "Resetting a password")
    with session() as s:
        name = _user(s, username).username
    auth.set_password(username=name, password=password)
    events.publish({"kind": SIGN_INS_ENDED, "username": name, "disabled": False})
    log.warning("password of %s reset by %s", name, _who(actor))
    return _summaries([name])[0]


def user_tokens(*, actor: Actor, username: str) -> list[ApiToken]:
    """A user's API tokens that are not revoked, newest first (admins): names and
    dates, never the tokens themselves (only their hashes are kept)."""
    _require_admin(actor, "A user's API tokens")
    with session() as s:
        name = _user(s, username).username
    return auth.list_tokens(name)


@audited("user.token-revoke", target=from_args(lambda a: f"{a['username']}/{a['token_id']}"))
def revoke_user_token(*, actor: Actor, username: str, token_id: int) -> None:
    """Revoke one of a user's API tokens (admins): refused from the next request on.
    NotFound when the token is not that user's or is revoked already."""
    _require_admin(actor, "Revoking a user's API token")
    with session() as s:
        name = _user(s, username).username
        tok = s.get(ApiToken, token_id)
        if tok is None or tok.owner != name or tok.revoked_at is not None:
            raise NotFound(f"{name} has no API token {token_id}.")
    auth.revoke_token(owner=name, token_id=token_id)
    log.warning("API token %s of %s revoked by %s", token_id, name, _who(actor))

