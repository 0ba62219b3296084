"""The configuration as one YAML document (admins): `GET /api/admin/config` exports
backends, tasks and pipelines; `PUT /api/admin/config` imports a document (checked whole,
then written in one transaction), `?dry_run=true` says what it would create, change
and remove without writing. The routes call app.config_import, as the console does."""

from __future__ import annotations

from typing import Optional

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from app import config_import
from app.api.deps import AUTH_RESPONSES, admin_user
from app.api.jobs import _p
from app.config_yaml import MAX_BYTES
from app.errors import PayloadTooLarge, UnsupportedMediaType
from app.models import User

router = APIRouter(prefix="/api/admin", tags=["admin"], responses={**AUTH_RESPONSES, **_p(403)})

YAML = "application/yaml"
_ITEMS = {"type": "array", "items": {"type": "object"}}
# The document's shape as OpenAPI can say it (docs/admin.md has every key).
DOCUMENT = {"type": "object", "properties": {"version": {"type": "integer", "enum": [1]}, "backends": _ITEMS,
                                             "tasks": _ITEMS, "pipelines": _ITEMS}}
READ_TYPES = {"application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml", "text/plain",
              "application/json", "application/octet-stream"}


class ChangeOut(BaseModel):
    kind: str = Field(description="backend | task | pipeline")
    name: str
    action: str = Field(description="create | change | remove")
    fields: list[str] = Field(description="The fields a change changes")


class ImportOut(BaseModel):
    applied: bool = Field(description="False for a dry run: nothing was written")
    summary: str = Field(examples=["1 created, 2 changed, 0 removed, 9 unchanged"])
    created: int
    changed: int
    removed: int
    unchanged: int
    changes: list[ChangeOut]

    @classmethod
    def of(cls, r: config_import.ImportResult) -> "ImportOut":
        return cls(applied=r.applied, summary=r.summary, created=r.count("create"), changed=r.count("change"),
                   removed=r.count("remove"), unchanged=r.unchanged,
                   changes=[ChangeOut(kind=c.kind, name=c.name, action=c.action, fields=c.fields) for c in r.changes])


@router.get("/config", summary="The whole configuration (backends, tasks, pipelines) as one YAML document",
            response_class=Response,
            responses={200: {"content": {YAML: {"schema": DOCUMENT}},
                             "description": "The document; the same configuration always gives the same bytes"}})
def export_config(admin: User = Depends(admin_user)) -> Response:
    text = config_import.export_configuration(actor=admin)
    return Response(text.encode("utf-8"), media_type=f"{YAML}; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="jobdeck-config.yaml"'})


@router.put("/config", response_model=ImportOut,
            summary="Import a configuration document (admins): checked whole, then written in one transaction",
            openapi_extra={"requestBody": {"required": True, "content": {
                YAML: {"schema": DOCUMENT}, "text/plain": {"schema": {"type": "string"}}}}},
            responses=_p(400, 409, 413, 415, 422,
                         d400="The document is not readable YAML, or uses what a configuration may not (aliases, "
                              "tags, duplicate keys, deep nesting); the detail names the path and line",
                         d409="A task or pipeline it would remove is used by a run under way, or a backend it would "
                              "remove runs a task or has jobs waiting or running",
                         d413=f"The document is larger than {MAX_BYTES} bytes",
                         d422="A value is refused; `field` names its path, e.g. tasks[2].parameters[0].flag",
                         d403="Not allowed for this caller (services may export, not import)"))
async def import_config(request: Request,
                        dry_run: bool = Query(False, description="Check and say what would change; write nothing"),
                        admin: User = Depends(admin_user)) -> ImportOut:
    kind: Optional[str] = (request.headers.get("content-type") or "").split(";")[0].strip().lower() or None
    if kind is not None and kind not in READ_TYPES:
        raise UnsupportedMediaType(f"Send the document as {YAML} (or text/plain), not {kind}.")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BYTES:
            raise PayloadTooLarge(f"The configuration document is larger than {MAX_BYTES} bytes.", field="document")
    if dry_run:
        done = await run_in_threadpool(lambda: config_import.check_import(actor=admin, content=body))
    else:
        done = await run_in_threadpool(lambda: config_import.import_configuration(actor=admin, content=body))
    return ImportOut.of(done)
