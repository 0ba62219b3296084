"""State of the users page (/admin/users): every user with their sign-ins and tokens,
adding a user, resetting a password, a user's tokens (revoke), ending sign-ins,
disabling and enabling. Each action calls app.users, as the REST API does."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import reflex as rx

from app import users as accounts
from app.auth import ROLES
from app.errors import InvalidInput, JobdeckError
from app.state.admin import AdminPage, admin_viewer
from app.state.views import exact, iso


@dataclasses.dataclass
class UserRow:
    username: str = ""
    display_name: str = ""
    role: str = ""
    disabled: bool = False
    open_sign_ins: int = 0
    api_tokens: int = 0
    last_seen: str = ""
    last_seen_exact: str = ""
    created: str = ""
    created_exact: str = ""


@dataclasses.dataclass
class TokenRow:
    id: int = 0
    name: str = ""
    created: str = ""
    created_exact: str = ""
    last_used: str = ""
    last_used_exact: str = ""


def _row(u: accounts.UserSummary) -> UserRow:
    return UserRow(username=u.username, display_name=u.display_name, role=u.role, disabled=u.disabled,
                   open_sign_ins=u.open_sign_ins, api_tokens=u.api_tokens, last_seen=iso(u.last_seen_at),
                   last_seen_exact=exact(u.last_seen_at), created=iso(u.created_at), created_exact=exact(u.created_at))


class AdminUsersState(AdminPage, rx.State):
    rows: list[UserRow] = []
    loaded: bool = False
    roles: list[str] = list(ROLES)
    # adding a user
    adding: bool = False
    new_user_error: str = ""
    new_user_field: str = ""
    # resetting a password
    resetting: str = ""
    reset_error: str = ""
    # a user's tokens
    tokens_of: str = ""
    tokens: list[TokenRow] = []

    async def _refresh(self, user) -> None:
        self.rows = [_row(u) for u in await asyncio.to_thread(accounts.list_users, actor=user)]
        self.loaded = True


    async def _act(self, fn, doing: str, done: str, **kw):
        user, instead = await admin_viewer(self, doing)
        if user is None:
            return instead
        try:
            await asyncio.to_thread(fn, actor=user, **kw)
        except JobdeckError as exc:
            return rx.toast.error(exc.message)
        await self._refresh(user)
        return rx.toast.success(done)

    @rx.event
    async def disable(self, username: str):
        return await self._act(accounts.disable_user, "user.disable",
                               f"{username} is disabled: their sign-ins ended and their API tokens are refused "
                               f"until enabled.", username=username)

    @rx.event
    async def enable(self, username: str):
        return await self._act(accounts.enable_user, "user.enable",
                               f"{username} is enabled again: they may sign in, and their API tokens work again.",
                               username=username)

    @rx.event
    async def end_sign_ins(self, username: str):
        return await self._act(accounts.end_sign_ins, "user.end-sign-ins",
                               f"Every console sign-in of {username} has ended.", username=username)

    # --- adding ------------------------------------------------------------------------------

    @rx.event
    def set_adding(self, value: bool):
        self.adding = value
        self.new_user_error = self.new_user_field = ""

    @rx.event
    async def add(self, form: dict[str, Any]):
        user, instead = await admin_viewer(self, "user.add")
        if user is None:
            return instead
        values = {k: str(form.get(k, "")) for k in ("username", "display_name", "role", "password")}
        try:
            got = await asyncio.to_thread(accounts.add_user, actor=user, username=values["username"].strip(),
                                          password=values["password"], role=values["role"] or "user",
                                          display_name=values["display_name"])
        except InvalidInput as exc:
            self.new_user_error, self.new_user_field = exc.message, exc.field or ""
            return
        except JobdeckError as exc:
            self.new_user_error, self.new_user_field = exc.message, "username"
            return
        self.adding = False
        self.new_user_error = self.new_user_field = ""
        await self._refresh(user)
        return rx.toast.success(f"{got.username} added as {got.role}; they can sign in now.")

    # --- resetting a password --------------------------------------------------------------------

    @rx.event
    def open_reset(self, username: str):
        self.resetting, self.reset_error = username, ""

    @rx.event
    def set_reset_open(self, value: bool):
        if not value:
            self.resetting, self.reset_error = "", ""

    @rx.event
    async def save_password(self, form: dict[str, Any]):
        user, instead = await admin_viewer(self, "user.password-reset")
        if user is None:
            return instead
        name = self.resetting
        try:
            await asyncio.to_thread(accounts.reset_password, actor=user, username=name,
                                    password=str(form.get("password", "")))
        except JobdeckError as exc:
            self.reset_error = exc.message
            return
        self.resetting, self.reset_error = "", ""
        await self._refresh(user)
        return rx.toast.success(f"New password set for {name}; their console sign-ins have ended.")

    # --- tokens ------------------------------------------------------------------------------------

    async def _read_tokens(self, user, username: str) -> None:
        self.tokens = [TokenRow(id=t.id, name=t.name, created=iso(t.created_at), created_exact=exact(t.created_at),
                                last_used=iso(t.last_used_at), last_used_exact=exact(t.last_used_at))
                       for t in await asyncio.to_thread(accounts.user_tokens, actor=user, username=username)]

    @rx.event
    async def show_tokens(self, username: str):
        user, instead = await admin_viewer(self)
        if user is None:
            return instead
        try:
            await self._read_tokens(user, username)
        except JobdeckError as exc:
            return rx.toast.error(exc.message)
        self.tokens_of = username

    @rx.event
    def set_tokens_open(self, value: bool):
        if not value:
            self.tokens_of, self.tokens = "", []

    @rx.event
    async def revoke(self, token_id: int):
        user, instead = await admin_viewer(self, "user.token-revoke")
        if user is None:
            return instead
        name = self.tokens_of
        try:
            await asyncio.to_thread(accounts.revoke_user_token, actor=user, username=name, token_id=token_id)
        except JobdeckError as exc:
            return rx.toast.error(exc.message)
        await self._read_tokens(user, name)
        await self._refresh(user)
        return rx.toast.success(f"Token revoked: {name}'s scripts using it are refused from now on.")
