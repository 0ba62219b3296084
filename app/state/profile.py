"""State of the profile page: who you are, and your personal API tokens. A new token
is shown once, right after it is made; only its hash is kept."""

from __future__ import annotations

import dataclasses
from typing import Any

import reflex as rx

from app import auth, signin
from app.errors import InvalidInput, JobdeckError
from app.state.base import AuthState, sign_in_redirect, viewer
from app.state.views import exact, iso


@dataclasses.dataclass
class TokenRow:
    id: int = 0
    name: str = ""
    created: str = ""
    created_exact: str = ""
    last_used: str = ""
    last_used_exact: str = ""


def _row(t) -> TokenRow:
    return TokenRow(id=t.id, name=t.name or "API token", created=iso(t.created_at), created_exact=exact(t.created_at),
                    last_used=iso(t.last_used_at), last_used_exact=exact(t.last_used_at))


class ProfileState(rx.State):
    tokens: list[TokenRow] = []
    loaded: bool = False
    # the token just made: shown once, forgotten when the dialog closes or the page reloads
    new_token: str = ""
    new_token_name: str = ""
    form_error: str = ""
    revoke_id: int = 0
    revoke_name: str = ""
    password_error: str = ""
    password_field: str = ""  # the field the error is about: current | new | again

    async def _reload(self):
        user = await viewer(self)
        if user is None:
            return await sign_in_redirect(self)
        self.tokens = [_row(t) for t in auth.list_tokens(user.username)]
        self.loaded = True

    @rx.event
    async def load(self):
        self.new_token = self.new_token_name = self.form_error = ""
        self.revoke_id, self.revoke_name = 0, ""
        self.password_error = self.password_field = ""
        return await self._reload()

    @rx.event
    async def create(self, form: dict[str, Any]):
        user = await viewer(self)
        if user is None:
            return await sign_in_redirect(self)
        name = str(form.get("name", "")).strip()
        if not name:
            self.form_error = "Give the token a name that says where it is used, e.g. 'laptop CLI'."
            return
        if len(name) > 128:
            self.form_error = "A token name has at most 128 characters."
            return
        try:
            plain, _ = auth.create_token(owner=user.username, name=name)
        except JobdeckError as exc:
            self.form_error = exc.message
            return
        self.form_error = ""
        self.new_token, self.new_token_name = plain, name
        return await self._reload()

    @rx.event
    async def change_password(self, form: dict[str, Any]):
        user = await viewer(self)
        if user is None:
            return await sign_in_redirect(self)
        current, new, again = (str(form.get(k, "")) for k in ("current", "new", "again"))
        try:
            if new != again:
                raise InvalidInput("The new password and its repetition differ.", field="again")
            changed = auth.change_password(username=user.username, current=current, new=new)
        except JobdeckError as exc:
            self.password_error, self.password_field = exc.message, getattr(exc, "field", "") or ""
            return
        self.password_error = self.password_field = ""
        # The old sign-ins end with the old hash; this tab gets a new one and stays signed in.
        auth_state = await self.get_state(AuthState)
        auth_state._signed_in_as(changed, signin.issue(changed, address=auth_state._client_address()))
        return rx.toast.success("Password changed. Other browsers signed in as you must sign in again.")

    @rx.event
    def dismiss_new_token(self):
        self.new_token = self.new_token_name = ""

    @rx.event
    def ask_revoke(self, token_id: int, name: str):
        self.revoke_id, self.revoke_name = token_id, name

    @rx.event
    def keep(self):
        self.revoke_id, self.revoke_name = 0, ""

    @rx.event
    async def revoke(self):
        user = await viewer(self)
        if user is None:
            return await sign_in_redirect(self)
        name, token_id = self.revoke_name, self.revoke_id
        self.revoke_id, self.revoke_name = 0, ""
        try:
            auth.revoke_token(owner=user.username, token_id=token_id)
        except JobdeckError as exc:
            await self._reload()
            return rx.toast.error(exc.message)
        await self._reload()
        return rx.toast.success(f"Token {name!r} revoked: scripts using it are refused from now on.")
