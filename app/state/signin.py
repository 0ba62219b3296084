"""State of the sign-in page."""

from __future__ import annotations

from typing import Any

import reflex as rx

from app import routes, signin
from app.errors import AuthenticationFailed, PermissionDenied, RateLimited
from app.state import live
from app.state.base import AuthState


def _safe_next(target: str) -> str:
    # Only a path of this site: an open redirect would make the sign-in page a lure.
    return routes.safe_next(target)


class SignInState(rx.State):
    error: str = ""
    busy: bool = False

    @rx.event
    async def load(self):
        live.unwatch(self)
        self.error = ""
        auth = await self.get_state(AuthState)
        if auth._viewer() is not None:  # signed in already: go where the person was heading
            return rx.redirect(_safe_next(self.router.url.query_parameters.get("next", "")))

    @rx.event
    async def sign_in(self, form: dict[str, Any]):
        username = str(form.get("username", "")).strip()
        password = str(form.get("password", ""))
        if not username or not password:
            self.error = "Enter your username and password."
            return
        auth = await self.get_state(AuthState)
        auth._audit_as(None)
        try:
            user, value = signin.sign_in(username, password, address=auth._client_address())
        except (AuthenticationFailed, PermissionDenied, RateLimited) as exc:
            self.error = exc.message
            return
        self.error = ""
        auth._signed_in_as(user, value)
        return [rx.redirect(_safe_next(self.router.url.query_parameters.get("next", ""))),
                rx.toast.success(f"Signed in as {user.display_name}.")]
