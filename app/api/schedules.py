"""Admin routes for periodic jobs: list, create, read (with its latest firings), pause,
resume and delete a schedule. Each calls app.schedules, as the console does."""

from __future__ import annotations

from datetime import datetime
from typing import Optional

from fastapi import APIRouter, Depends, Path, Response
from pydantic import BaseModel, ConfigDict, Field

from app import schedules
from app.api.deps import AUTH_RESPONSES, admin_user
from app.api.jobs import _p
from app.models import User
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
    payload: dict
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
        return cls(id=s.id, name=s.name, job_type=s.job_type, job_subtype=s.job_subtype, payload=s.payload,
                   owner=s.owner, created_by=s.created_by, cron=s.cron, timezone=s.timezone, paused=s.paused,
                   created_at=s.created_at, next_at=None if s.paused else s.next_at,
                   next_runs=schedules.describe_next(s), last_due_at=s.last_due_at, last_job_id=s.last_job_id,
                   missed=s.missed,
                   firings=None if firings is None else [FiringOut(due_at=f.due_at, outcome=f.outcome,
                                                                   job_id=f.job_id, note=f.note) for f in firings])


@router.get("", response_model=list[ScheduleOut], summary="Every schedule, by name")
def list_schedules(admin: User = Depends(admin_user)) -> list[ScheduleOut]:
    return [ScheduleOut.of(s) for s in schedules.list_schedules(actor=admin)]


@router.post("", status_code=201, response_model=ScheduleOut, summary="Schedule a job type with a cron expression",
             responses=_p(404, 409, 422, d404="No such job type", d409="The name is taken"))
def create_schedule(body: ScheduleIn, response: Response, admin: User = Depends(admin_user)) -> ScheduleOut:
    got = schedules.create_schedule(actor=admin, name=body.name, job_type=body.job_type,
                                    job_subtype=body.job_subtype, payload=body.payload, cron=body.cron,
                                    timezone_name=body.timezone, owner=body.owner)
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
