"""What every REST route shares: the caller from the Bearer token, and errors as
problem details (RFC 9457)."""

from __future__ import annotations

from typing import Optional

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app import auth
from app.errors import AuthenticationFailed, JobdeckError, PermissionDenied
from app.models import User

_bearer = HTTPBearer(auto_error=False, description="A personal API token (jdk_…) from the profile page")

TITLES = {400: "Bad request", 401: "Not signed in", 403: "Forbidden", 404: "Not found",
          409: "Conflict", 413: "Payload too large", 422: "Invalid input", 429: "Too many requests",
          500: "Internal error", 503: "Service unavailable"}


def problem(status: int, detail: str, *, title: Optional[str] = None, **extra) -> JSONResponse:
    body = {"type": "about:blank", "title": title or TITLES.get(status, "Error"), "status": status,
            "detail": detail, **{k: v for k, v in extra.items() if v is not None}}
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type="application/problem+json", headers=headers)


def install_error_handlers(api: FastAPI) -> None:
    @api.exception_handler(JobdeckError)
    async def _jobdeck_error(_req: Request, exc: JobdeckError):
        return problem(exc.status_code, exc.message, **exc.detail)

    @api.exception_handler(RequestValidationError)
    async def _validation_error(_req: Request, exc: RequestValidationError):
        errors = [{"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()]
        first = errors[0] if errors else {"field": "", "message": "invalid"}
        return problem(422, f"{first['field']}: {first['message']}", errors=errors)


def current_user(creds: Optional[HTTPAuthorizationCredentials] = Depends(_bearer)) -> User:
    if creds is None:
        raise AuthenticationFailed("Send a personal API token as 'Authorization: Bearer <token>'.")
    return auth.user_for_token(creds.credentials)


def admin_user(user: User = Depends(current_user)) -> User:
    """Admins and services (Provena's admin routes accept both)."""
    if user.role not in ("admin", "service"):
        raise PermissionDenied("This route is for admins and services.")
    return user
