"""Admin routes for users (admins only; services are refused): every user with their
console sign-ins and API tokens counted, adding a user, resetting a password, a user's
API tokens and revoking one, ending a user's console sign-ins, disabling and enabling
a user. Each calls the domain function of app.users, as the operator's
commands do."""

from __future__ import annotations

from datetime import datetime
from typing import Optional

from typing import Literal

from fastapi import APIRouter, Depends, Path, Response
from pydantic import BaseModel, ConfigDict, Field

from app import users
from app.api.deps import AUTH_RESPONSES, admin_user
from app.api.jobs import _p
from app.api.tokens import TokenOut
from app.models import User

router = APIRouter(prefix="/api/admin/users", tags=["admin"],
                   responses={**AUTH_RESPONSES, **_p(403, d403="Not allowed for this caller (admins only)")})

Username = Path(min_length=1, max_length=64, description="The user's username")


class UserAdminOut(BaseModel):
    username: str
    display_name: str
    role: str
    created_at: datetime
    disabled: bool
    disabled_at: Optional[datetime] = None
    open_sign_ins: int = Field(description="Console sign-ins that still hold")
    last_seen_at: Optional[datetime] = Field(None, description="Latest use of an open sign-in (to the minute)")
    api_tokens: int = Field(description="API tokens not revoked (refused while the user is disabled)")

    @classmethod
    def of(cls, u: users.UserSummary) -> "UserAdminOut":
        return cls(username=u.username, display_name=u.display_name, role=u.role, created_at=u.created_at,
                   disabled=u.disabled, disabled_at=u.disabled_at, open_sign_ins=u.open_sign_ins,
                   last_seen_at=u.last_seen_at, api_tokens=u.api_tokens)


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=64, description="1-64 letters, digits, or . _ - @")
    password: str = Field(min_length=8, max_length=1024, description="The first password (at least 8 characters)")
    role: Literal["user", "admin", "service"] = "user"
    display_name: str = Field("", max_length=128)


class PasswordIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    password: str = Field(min_length=8, max_length=1024, description="The new password (at least 8 characters)")


class SignInsEndedOut(BaseModel):
    username: str
    ended: int = Field(description="How many console sign-ins were open and have ended")


@router.get("", response_model=list[UserAdminOut], summary="Every user, by username")
def list_users(admin: User = Depends(admin_user)) -> list[UserAdminOut]:
    return [UserAdminOut.of(u) for u in users.list_users(actor=admin)]


@router.post("", status_code=201, response_model=UserAdminOut, summary="Add a user with a role and a first password",
             responses=_p(409, 422, d409="The username is taken"))
def add_user(body: UserIn, response: Response, admin: User = Depends(admin_user)) -> UserAdminOut:
    got = users.add_user(actor=admin, username=body.username, password=body.password, role=body.role,
                         display_name=body.display_name)
    response.headers["Location"] = f"/api/admin/users/{got.username}"
    return UserAdminOut.of(got)


@router.get("/{username}", response_model=UserAdminOut, summary="One user", responses=_p(404, 422))
def get_user(username: str = Username, admin: User = Depends(admin_user)) -> UserAdminOut:
    return UserAdminOut.of(users.user_summary(actor=admin, username=username))


@router.post("/{username}/end-sign-ins", response_model=SignInsEndedOut,
             summary="End every console sign-in of a user (their open tabs must sign in again; API tokens "
                     "keep working)", responses=_p(404, 422))
def end_sign_ins(username: str = Username, admin: User = Depends(admin_user)) -> SignInsEndedOut:
    n = users.end_sign_ins(actor=admin, username=username)
    return SignInsEndedOut(username=username.strip(), ended=n)


@router.post("/{username}/disable", response_model=UserAdminOut,
             summary="Disable a user: their console sign-ins end and their API tokens are refused until "
                     "enabled again", responses=_p(404, 422, d422="Invalid input (e.g. disabling yourself)"))
def disable_user(username: str = Username, admin: User = Depends(admin_user)) -> UserAdminOut:
    return UserAdminOut.of(users.disable_user(actor=admin, username=username))


@router.post("/{username}/enable", response_model=UserAdminOut,
             summary="Enable a disabled user: they may sign in again and their API tokens work again",
             responses=_p(404, 422))
def enable_user(username: str = Username, admin: User = Depends(admin_user)) -> UserAdminOut:
    return UserAdminOut.of(users.enable_user(actor=admin, username=username))


@router.post("/{username}/password", response_model=UserAdminOut,
             summary="Reset a user's password: their console sign-ins end (API tokens keep working)",
             responses=_p(404, 422))
def reset_password(body: PasswordIn, username: str = Username, admin: User = Depends(admin_user)) -> UserAdminOut:
    return UserAdminOut.of(users.reset_password(actor=admin, username=username, password=body.password))


@router.get("/{username}/tokens", response_model=list[TokenOut],
            summary="A user's API tokens that are not revoked (names and dates, never the tokens)",
            responses=_p(404, 422))
def user_tokens(username: str = Username, admin: User = Depends(admin_user)) -> list[TokenOut]:
    return [TokenOut(id=t.id, name=t.name, created_at=t.created_at, last_used_at=t.last_used_at)
            for t in users.user_tokens(actor=admin, username=username)]


@router.delete("/{username}/tokens/{token_id}", status_code=204, summary="Revoke one of a user's API tokens",
               responses=_p(404, 422))
def revoke_user_token(username: str = Username, token_id: int = Path(ge=1, le=2**62),
                      admin: User = Depends(admin_user)) -> Response:
    users.revoke_user_token(actor=admin, username=username, token_id=token_id)
    return Response(status_code=204)
