"""What every REST route shares: the caller from the Bearer token (within its fair-use
rate), and errors as problem details (RFC 9457)."""

from __future__ import annotations

import logging
from typing import Optional

import sqlalchemy as sa
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException as StarletteHTTPException

from app import auth, clientaddr
import app.api.auditctx as auditctx
from app import ratelimit
from app.errors import AuthenticationFailed, JobdeckError, PermissionDenied
from app.models import User

log = logging.getLogger(__name__)

_bearer = HTTPBearer(auto_error=False, description="A personal API token (jdk_…) from the profile page")

TITLES = {400: "Bad request", 401: "Not signed in", 403: "Forbidden", 404: "Not found",
          405: "Method not allowed", 409: "Conflict", 413: "Payload too large",
          415: "Unsupported media type", 422: "Invalid input", 429: "Too many requests",
          500: "Internal error", 503: "Service unavailable"}

# Shown in the OpenAPI document for every route that takes a token.
AUTH_RESPONSES = {401: {"description": "No valid token", "content": {"application/problem+json": {}}},
                  429: {"description": "Over the token's rate limit", "content": {"application/problem+json": {}}}}


def problem(status: int, detail: str, *, title: Optional[str] = None, headers: Optional[dict] = None,
            **extra) -> JSONResponse:
    body = {"type": "about:blank", "title": title or TITLES.get(status, "Error"), "status": status,
            "detail": detail, **{k: v for k, v in extra.items() if v is not None}}
    headers = dict(headers or {})
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return JSONResponse(body, status_code=status, media_type="application/problem+json", headers=headers or None)


def install_error_handlers(api: FastAPI) -> None:
    @api.exception_handler(JobdeckError)
    async def _jobdeck_error(req: Request, exc: JobdeckError):
        await auditctx.refused(req, exc.status_code, exc.message, exc)
        headers = None
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            headers = {"Retry-After": str(retry_after)}
        detail = dict(exc.detail)
        if getattr(exc, "field", None):  # a caller may have made the field more precise
            detail["field"] = exc.field
        return problem(exc.status_code, exc.message, headers=headers, **detail)

    @api.exception_handler(RequestValidationError)
    async def _validation_error(req: Request, exc: RequestValidationError):
        errors = [{"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()]
        first = errors[0] if errors else {"field": "", "message": "invalid"}
        if exc.errors() and exc.errors()[0].get("type") == "json_invalid":
            return problem(400, f"The request body is not valid JSON: {first['message']}.", field="body")
        await auditctx.refused(req, 422, f"{first['field']}: {first['message']}")
        return problem(422, f"{first['field']}: {first['message']}", field=first["field"], errors=errors)

    @api.exception_handler(StarletteHTTPException)
    async def _http_error(req: Request, exc: StarletteHTTPException):
        detail = exc.detail if isinstance(exc.detail, str) else TITLES.get(exc.status_code, "Error")
        await auditctx.refused(req, exc.status_code, detail)
        return problem(exc.status_code, detail, headers=getattr(exc, "headers", None))

    @api.exception_handler(sa.exc.OperationalError)
    async def _db_down(_req: Request, exc: sa.exc.OperationalError):
        log.error("database error: %s", exc)
        return problem(503, "The database did not answer; try again shortly.", headers={"Retry-After": "5"})

    @api.exception_handler(Exception)
    async def _unexpected(_req: Request, exc: Exception):
        log.exception("unexpected error in a REST route")
        return problem(500, f"An internal error occurred ({type(exc).__name__}); it has been logged.")


def current_user(creds: Optional[HTTPAuthorizationCredentials] = Depends(_bearer)) -> User:
    if creds is None:
        raise AuthenticationFailed("Send a personal API token as 'Authorization: Bearer <token>'.")
    user = auth.user_for_token(creds.credentials)
    ratelimit.check_token(creds.credentials)
    return user


def client_address(request: Request) -> str:
    """The caller's address: the connection's peer, or what a trusted proxy forwarded
    (JOBDECK_TRUSTED_PROXIES)."""
    return clientaddr.client_address(request.client.host if request.client else "",
                                     request.headers.getlist("x-forwarded-for"))


def admin_user(user: User = Depends(current_user)) -> User:
    """Admins and services (Provena's admin routes accept both)."""
    if user.role not in ("admin", "service"):
        raise PermissionDenied("This route is for admins and services.")
    return user
