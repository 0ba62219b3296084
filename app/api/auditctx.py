"""Who acts through the REST API, for the audit log: every request runs with the audit
context "api" and the caller's address (app.clientaddr: a trusted proxy's forwarding
honoured), so each domain function it reaches records where it came from. A changing
request refused before any domain function (401, 403, 422) is recorded here, in the one
place every error handler passes through, as the action "request"; so is a submission
Analytics Automated's routes refuse (app.api.aa answers those itself, in A_A's words,
and its invalid input is a 400)."""

from __future__ import annotations

from typing import Optional

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from app import audit, auth, clientaddr
from app.audit import REQUEST


class AuditContext:
    """ASGI middleware: a pure one, so the context it sets is the one the route (run in
    a worker thread with a copy of it) sees."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        peer = (scope.get("client") or ("", 0))[0]
        forwarded = [v.decode("latin-1") for k, v in scope.get("headers", []) if k == b"x-forwarded-for"]
        token = audit.set_context(via="api", address=clientaddr.client_address(peer, forwarded))
        try:
            await self.app(scope, receive, send)
        finally:
            audit.reset_context(token)


# --- refusals before the domain ----------------------------------------------------------

CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
REFUSALS = {401: "not signed in", 403: "not allowed", 422: "invalid input"}
# A_A answers invalid input with 400 (its wire format): the same refusal in its words.
AA_REFUSALS = {400: "invalid input", **REFUSALS}
ANONYMOUS = "anonymous"


def _claimed(request: Request) -> str:
    """Who the request says it is: its token's owner (even a revoked token's), else
    anonymous. Read only: a refusal writes nothing but its entry."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return ANONYMOUS
    try:
        return auth.token_owner(token.strip()) or ANONYMOUS
    except Exception:  # the database away: the refusal is still recorded
        return ANONYMOUS


def _record(request: Request, status: int, message: str, words: str) -> None:
    audit.record_refusal(action=REQUEST, target=f"{request.method} {request.url.path}", actor=_claimed(request),
                         message=f"{status} {words}: {message}")


async def refused(request: Request, status: int, message: str, exc: Optional[BaseException] = None, *,
                  kinds: dict[int, str] = REFUSALS) -> None:
    """Record a changing request refused with one of `kinds` (401, 403 or 422; called
    by every error handler of the API, app.api.deps, and with AA_REFUSALS by A_A's
    submission route), unless the domain function it reached recorded it already
    (audit.audited marks the error). Reads are not recorded."""
    if request.method not in CHANGING or status not in kinds or getattr(exc, "audited", False):
        return
    await run_in_threadpool(_record, request, status, message, kinds[status])
