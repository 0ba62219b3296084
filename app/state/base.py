"""The console's base state: who is signed in. It imports nothing else of the console,
so every page state can ask it for the viewer.

The browser keeps only a signed sign-in value (app.signin) in localStorage; every page
load and every event that needs the user checks it again, against its signature and
its sign-in's row in SQL, so a forged, expired or ended value signs no one in, and a
reload keeps the person signed in.
"""

from __future__ import annotations

from typing import Optional
from urllib.parse import quote

import reflex as rx

from app import audit, clientaddr, routes, signin
from app.errors import AuthenticationFailed, JobdeckError
from app.models import User

# Refusals an event records itself (refused): the console's counterpart of the REST
# API's refusals before the domain (app.api.auditctx), 400 included since the
# console has no 422 of its own (a form's value the domain's checks refuse is a 400).
REFUSALS = {400: "invalid input", 401: "not signed in", 403: "not allowed", 422: "invalid input"}


def refused(exc: JobdeckError, doing: str) -> str:
    """Record a refusal a console event caught and shows, once: unless the domain
    function that raised it recorded it already (audit.audited marks the error), it is
    a "request" entry with target `console <doing>`, via console and the signed-in
    user and tab's address (the context `AuthState._viewer` set for this event),
    through the flood guard. Returns the message to show."""
    if not getattr(exc, "audited", False) and exc.status_code in REFUSALS:
        audit.record_refusal(action=audit.REQUEST, target=f"console {doing}",
                             message=f"{exc.status_code} {REFUSALS[exc.status_code]}: {exc.message}")
        exc.audited = True  # shown twice (a toast and a field), recorded once
    return exc.message


class AuthState(rx.State):
    # sync: signing out in one tab signs out the others.
    sign_in_value: str = rx.LocalStorage("", name="jobdeck_sign_in", sync=True)
    username: str = ""
    display_name: str = ""
    role: str = ""

    @rx.var
    def signed_in(self) -> bool:
        return self.username != ""

    @rx.var
    def is_admin(self) -> bool:
        return self.role == "admin"

    def _forget(self) -> None:
        self.username = self.display_name = self.role = ""

    def _viewer(self) -> Optional[User]:
        """The signed-in user, checked against the signature and the database. Also
        who acts in this event, for the audit log (each event runs in its own task, so
        what is set here is this event's alone)."""
        try:
            user = signin.user_for(self.sign_in_value)
        except AuthenticationFailed:
            self._forget()
            self._audit_as(None)
            return None
        self._audit_as(user.username)
        self.username, self.display_name, self.role = user.username, user.display_name, user.role
        return user

    def _client_address(self) -> str:
        """The address of this tab's client (its websocket's peer, or what a trusted
        proxy says), for the password-guessing limits."""
        return clientaddr.client_address(self.router.session.client_ip,
                                         self.router.headers.raw_headers.get("x-forwarded-for"))

    def _audit_as(self, username: Optional[str]) -> None:
        audit.set_context(via="console", address=self._client_address(), actor=username)

    def _to_sign_in(self) -> rx.event.EventSpec:
        here = self.router.url.path.rstrip("/") or routes.JOBS
        return rx.redirect(f"{routes.SIGN_IN}?next={quote(here, safe='/')}")

    def _signed_in_as(self, user: User, value: str) -> None:
        self.sign_in_value = value
        self.username, self.display_name, self.role = user.username, user.display_name, user.role

    @rx.event
    def sign_out(self):
        # Ended on the server first: a copy of the value kept anywhere is worthless now.
        self._audit_as(self.username or None)
        signin.sign_out(self.sign_in_value)
        self.sign_in_value = ""
        self._forget()
        return [rx.redirect(routes.SIGN_IN), rx.toast.info("Signed out. Sign in again to see your jobs.")]


async def viewer(state: rx.State) -> Optional[User]:
    """The signed-in user of the client `state` belongs to, or None."""
    auth = await state.get_state(AuthState)
    return auth._viewer()


async def sign_in_redirect(state: rx.State) -> rx.event.EventSpec:
    auth = await state.get_state(AuthState)
    return auth._to_sign_in()
