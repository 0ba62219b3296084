"""Admin routes for periodic jobs: list, create, read (with its latest firings), pause,
resume and delete a schedule. Each calls app.schedules, as the console does. A job
type's schedule is made from a JSON body; a pipeline run's from a multipart form that
carries its input file (docs/api.md)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Optional

from fastapi import APIRouter, Depends, Header, Path, Request, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from app import schedules
from app.api.deps import AUTH_RESPONSES, admin_user
from app.api.jobs import _p
from app.api.pipelines import _parameters
from app.errors import InvalidInput, PayloadTooLarge, UnsupportedMediaType
from app.payloads import invalid_input
from app.models import User
from app.settings import get_settings
from app.shapes import FreeJSON

router = APIRouter(prefix="/api/admin/schedules", tags=["admin"],
                   responses={**AUTH_RESPONSES, **_p(403, d403="Not allowed for this caller (admins only)")})

ScheduleId = Path(ge=1, le=2**62, description="The schedule's id")


class ScheduleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64)
    job_type: str = Field(min_length=1, max_length=64)
    job_subtype: str = Field(min_length=1, max_length=64)
    payload: FreeJSON = Field(default_factory=dict)
    cron: str = Field(min_length=1, max_length=128, examples=["*/15 * * * *", "0 3 * * 1-5"],
                      description="5 fields (minute hour day month weekday), or 6 with seconds last")
    timezone: str = Field("UTC", max_length=64, examples=["Australia/Sydney"])
    owner: Optional[str] = Field(None, max_length=64, description="Whose jobs it lodges (default: you)")


class PipelineScheduleForm(BaseModel):
    """The fields of a pipeline run's schedule, sent as multipart/form-data."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64)
    pipeline: str = Field(min_length=1, max_length=64, description="The pipeline's name or id")
    parameters: str = Field("{}", max_length=20_000, description='The run\'s parameters as JSON, e.g. {"top": "10"}')
    cron: str = Field(min_length=1, max_length=128, description="5 fields, or 6 with seconds last")
    timezone: str = Field("UTC", max_length=64)
    owner: Optional[str] = Field(None, max_length=64, description="Whose runs it lodges (default: you)")
    file: bytes = Field(description="The input file each firing's run reads (a copy per run)")


class FiringOut(BaseModel):
    due_at: datetime
    outcome: str = Field(description="lodged, missed (in a downtime: not run) or refused")
    job_id: Optional[str] = None
    note: str = ""


class ScheduleOut(BaseModel):
    id: int
    name: str
    job_type: str
    job_subtype: str
    pipeline: Optional[str] = Field(None, description="A pipeline run's schedule: the pipeline it runs")
    payload: dict = Field(description="A job type's payload; a pipeline run's parameters and kept file")
    owner: str
    created_by: str
    cron: str
    timezone: str
    paused: bool
    created_at: datetime
    next_at: Optional[datetime] = Field(None, description="The next firing (none while paused)")
    next_runs: list[datetime] = Field(default_factory=list, description="The next three firings")
    last_due_at: Optional[datetime] = None
    last_job_id: Optional[str] = None
    missed: int = Field(description="Firings that fell in a downtime and were not run")
    firings: Optional[list[FiringOut]] = None

    @classmethod
    def of(cls, s: schedules.ScheduleInfo, firings=None) -> "ScheduleOut":
        payload = s.payload
        if s.pipeline:  # where the file is kept is the server's business
            payload = {"parameters": s.payload.get("parameters") or {},
                       "file": {k: v for k, v in (s.payload.get("file") or {}).items() if k != "folder"}}
        return cls(id=s.id, name=s.name, job_type=s.job_type, job_subtype=s.job_subtype, pipeline=s.pipeline,
                   payload=payload,
                   owner=s.owner, created_by=s.created_by, cron=s.cron, timezone=s.timezone, paused=s.paused,
                   created_at=s.created_at, next_at=None if s.paused else s.next_at,
                   next_runs=schedules.describe_next(s), last_due_at=s.last_due_at, last_job_id=s.last_job_id,
                   missed=s.missed,
                   firings=None if firings is None else [FiringOut(due_at=f.due_at, outcome=f.outcome,
                                                                   job_id=f.job_id, note=f.note) for f in firings])


@router.get("", response_model=list[ScheduleOut], summary="Every schedule, by name")
def list_schedules(admin: User = Depends(admin_user)) -> list[ScheduleOut]:
    return [ScheduleOut.of(s) for s in schedules.list_schedules(actor=admin)]


def _schema_of(model) -> dict:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    schema.pop("$defs", None)
    return schema


_CREATE_BODY = {
    "required": True,
    "content": {
        "application/json": {"schema": _schema_of(ScheduleIn)},
        "multipart/form-data": {"schema": {**_schema_of(PipelineScheduleForm),
                                           "properties": {**PipelineScheduleForm.model_json_schema()["properties"],
                                                          "file": {"type": "string", "format": "binary"}}}},
    },
}


async def _form(request: Request) -> tuple[PipelineScheduleForm, str, bytes]:
    limit = get_settings().max_upload_bytes
    form = await request.form(max_files=1, max_fields=len(PipelineScheduleForm.model_fields),
                              max_part_size=64_000)
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise InvalidInput("A pipeline run's schedule takes its input as the multipart part 'file'.", field="file")
    content = await upload.read(limit + 1)
    if len(content) > limit:
        raise PayloadTooLarge(f"{upload.filename or 'The file'} is larger than {limit} bytes, the most a pipeline "
                              f"takes (JOBDECK_MAX_UPLOAD_BYTES).", field="file")
    items = [(k, v) for k, v in form.multi_items() if k != "file"]
    fields: dict[str, Any] = dict(items)
    if len(fields) != len(items):  # which of two names would be kept is no one's guess to make
        twice = sorted({k for k, _ in items if sum(1 for x, _ in items if x == k) > 1})
        raise InvalidInput(f"Each form field is sent once; {', '.join(twice)[:100]} came more than once.",
                           field="body")
    try:
        body = PipelineScheduleForm.model_validate({**fields, "file": b""})
    except ValidationError as exc:
        raise invalid_input(exc, what="schedule") from None
    return body, upload.filename or "", content


@router.post("", status_code=201, response_model=ScheduleOut,
             summary="Schedule a job type (JSON) or a pipeline run on a file (multipart) with a cron expression",
             openapi_extra={"requestBody": _CREATE_BODY},
             responses=_p(400, 404, 409, 413, 415, 422, d404="No such job type or pipeline", d409="The name is taken",
                          d400="A pipeline run's parameter, file or validator refused it (the detail names "
                               "the field); nothing is kept",
                          d413="The file is larger than JOBDECK_MAX_UPLOAD_BYTES"))
async def create_schedule(request: Request, response: Response,
                          content_type: str = Header("application/json", include_in_schema=False),
                          admin: User = Depends(admin_user)) -> ScheduleOut:
    kind = content_type.split(";")[0].strip().lower()
    if kind == "multipart/form-data":
        form, file_name, content = await _form(request)
        got = await run_in_threadpool(lambda: schedules.create_schedule(
            actor=admin, name=form.name, pipeline=form.pipeline, parameters=_parameters(form.parameters),
            file_name=file_name, content=content, cron=form.cron, timezone_name=form.timezone, owner=form.owner))
    elif kind in ("application/json", ""):
        raw = await request.body()
        try:
            data = json.loads(raw or b"null")
        except (ValueError, RecursionError):
            raise InvalidInput("The request body is not valid JSON.", field="body") from None
        try:
            body = ScheduleIn.model_validate(data)
        except ValidationError as exc:
            raise invalid_input(exc, prefix="body", what="schedule") from None
        got = await run_in_threadpool(lambda: schedules.create_schedule(
            actor=admin, name=body.name, job_type=body.job_type, job_subtype=body.job_subtype,
            payload=body.payload, cron=body.cron, timezone_name=body.timezone, owner=body.owner))
    else:
        raise UnsupportedMediaType(f"Send a job type's schedule as application/json, a pipeline run's as "
                                   f"multipart/form-data, not {kind[:60]!r}.")
    response.headers["Location"] = f"/api/admin/schedules/{got.id}"
    return ScheduleOut.of(got)


@router.get("/{schedule_id}", response_model=ScheduleOut, summary="One schedule with its latest firings",
            responses=_p(404, 422))
def get_schedule(schedule_id: int = ScheduleId, admin: User = Depends(admin_user)) -> ScheduleOut:
    got = schedules.get_schedule(actor=admin, schedule_id=schedule_id)
    return ScheduleOut.of(got, schedules.firings(actor=admin, schedule_id=schedule_id))


@router.post("/{schedule_id}/pause", response_model=ScheduleOut, summary="Pause a schedule (no firing until resumed)",
             responses=_p(404, 422))
def pause(schedule_id: int = ScheduleId, admin: User = Depends(admin_user)) -> ScheduleOut:
    return ScheduleOut.of(schedules.set_paused(actor=admin, schedule_id=schedule_id, paused=True))


@router.post("/{schedule_id}/resume", response_model=ScheduleOut,
             summary="Resume a schedule: it fires next at its first time after now", responses=_p(404, 422))
def resume(schedule_id: int = ScheduleId, admin: User = Depends(admin_user)) -> ScheduleOut:
    return ScheduleOut.of(schedules.set_paused(actor=admin, schedule_id=schedule_id, paused=False))


@router.delete("/{schedule_id}", status_code=204, summary="Remove a schedule (the jobs it lodged stay)",
               responses=_p(404, 422))
def delete(schedule_id: int = ScheduleId, admin: User = Depends(admin_user)) -> Response:
    schedules.delete_schedule(actor=admin, schedule_id=schedule_id)
    return Response(status_code=204)
