"""GET /api/admin/audit: the audit log, newest first, with the audit page's filters and
a keyset cursor (admins only; services are refused)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, Optional

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from app import audit
from app.api.deps import AUTH_RESPONSES, admin_user
from app.api.jobs import Cursor, _p
from app.models import User

router = APIRouter(prefix="/api/admin/audit", tags=["admin"],
                   responses={**AUTH_RESPONSES, **_p(403, d403="Not allowed for this caller (admins only)")})


class AuditEntryOut(BaseModel):
    id: int
    created_at: datetime
    actor: str
    address: str
    via: str
    action: str
    target: str
    outcome: str
    message: str
    prev_hash: str
    hash: str


class AuditPageOut(BaseModel):
    entries: list[AuditEntryOut]
    next_cursor: Optional[str] = None


@router.get("", response_model=AuditPageOut, summary="The audit log, newest first", responses=_p(400, 422))
def audit_log(actor: Optional[str] = Query(None, max_length=64, description="Only this actor's (username)"),
              action: Optional[str] = Query(None, max_length=64, description="Only this action, e.g. job.cancel"),
              target: Optional[str] = Query(None, max_length=256, description="Only actions on this target"),
              outcome: Optional[Literal["ok", "refused"]] = Query(None),
              since: Optional[datetime] = Query(None, description="At or after this time (with a time zone)"),
              until: Optional[datetime] = Query(None, description="Before this time (with a time zone)"),
              cursor: Optional[str] = Cursor, limit: int = Query(50, ge=1, le=500),
              admin: User = Depends(admin_user)) -> AuditPageOut:
    f = audit.AuditFilter(actor=actor or None, action=action or None, target=target or None,
                          outcome=outcome, since=since, until=until)
    rows, nxt = audit.entries(viewer=admin, filters=f, cursor=cursor, limit=limit)
    return AuditPageOut(entries=[AuditEntryOut(**r.model_dump()) for r in rows], next_cursor=nxt)
