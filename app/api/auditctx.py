"""Who acts through the REST API, for the audit log: every request runs with the audit
context "api" and the caller's address (app.clientaddr: a trusted proxy's forwarding
honoured), so each domain function it reaches records where it came from."""

from __future__ import annotations

from app import audit, clientaddr


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
