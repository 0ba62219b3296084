"""Admin routes for users (admins only; services are refused): every user with their
console sign-ins and API tokens counted, ending a user's console sign-ins, disabling
and enabling a user. Each calls the domain function of app.users, as the operator's
commands do."""

from __future__ import annotations

from datetime import datetime
from typing import Optional

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, Field

from app import users
from app.api.deps import AUTH_RESPONSES, admin_user
from app.api.jobs import _p
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


class SignInsEndedOut(BaseModel):
    username: str
    ended: int = Field(description="How many console sign-ins were open and have ended")


@router.get("", response_model=list[UserAdminOut], summary="Every user, by username")
def list_users(admin: User = Depends(admin_user)) -> list[UserAdminOut]:
    return [UserAdminOut.of(u) for u in users.list_users(actor=admin)]


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
