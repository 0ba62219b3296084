"""Personal API tokens: a signed-in script or the command-line client gets one with a
username and password (as the sign-in page does), lists and revokes its own. The
plain token is shown once; only its hash is kept. The profile page of the console
manages the same tokens."""

from __future__ import annotations

from datetime import datetime
from typing import Optional

from fastapi import APIRouter, Depends, Path, Request, Response
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import BaseModel, ConfigDict, Field

from app import auth
from app.api.deps import AUTH_RESPONSES, _bearer, client_address, current_user
from app.api.jobs import _p
from app.models import User
from app.shapes import Line

router = APIRouter(prefix="/api/tokens", tags=["tokens"])


class TokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: Line = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)
    name: Line = Field(default="", max_length=128, description="What the token is for, e.g. 'laptop CLI'")


class TokenOut(BaseModel):
    id: int
    name: str
    created_at: datetime
    last_used_at: Optional[datetime] = None


class NewToken(TokenOut):
    token: str = Field(description="The token itself: shown this once, never again.")
    username: str


@router.post("", status_code=201, response_model=NewToken, summary="Get a new API token with a password",
             responses={401: {"description": "Wrong username or password",
                              "content": {"application/problem+json": {}}},
                        429: {"description": "Too many wrong passwords for this user (from this address); "
                                             "the console's sign-ins count too",
                              "content": {"application/problem+json": {}}},
                        **_p(422, 403, d403="The user is disabled")})
def create_token(body: TokenRequest, request: Request) -> NewToken:
    user = auth.password_sign_in(body.username, body.password, address=client_address(request))
    plain, tok = auth.create_token(owner=user.username, name=body.name or "API token")
    return NewToken(id=tok.id, name=tok.name, created_at=tok.created_at, last_used_at=tok.last_used_at,
                    token=plain, username=user.username)


@router.get("", response_model=list[TokenOut], summary="Your API tokens (not the tokens themselves)",
            responses=AUTH_RESPONSES)
def list_tokens(user: User = Depends(current_user)) -> list[TokenOut]:
    return [TokenOut(id=t.id, name=t.name, created_at=t.created_at, last_used_at=t.last_used_at)
            for t in auth.list_tokens(user.username)]


@router.delete("/current", status_code=204, summary="Revoke the token this request is signed with (sign out)",
               responses=AUTH_RESPONSES)
def revoke_current_token(user: User = Depends(current_user),
                         creds: HTTPAuthorizationCredentials = Depends(_bearer)) -> Response:
    # Before /{token_id}: that path would take "current" and refuse it as no number.
    auth.revoke_token_itself(creds.credentials)
    return Response(status_code=204)


@router.delete("/{token_id}", status_code=204, summary="Revoke one of your API tokens",
               responses={**AUTH_RESPONSES, **_p(404)})
def revoke_token(token_id: int = Path(ge=1, le=2**62), user: User = Depends(current_user)) -> Response:
    auth.revoke_token(owner=user.username, token_id=token_id)
    return Response(status_code=204)
