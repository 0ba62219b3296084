"""Periodic jobs: admins schedule a job type, or a pipeline run on a file kept with the
schedule (app.pipelines.scheduled), with a cron expression in a time zone; the
housekeeper lodges each firing (its "schedules" duty, every second).

Each firing is lodged exactly once, however many pools run: only the pool holding the
housekeeping lease fires, and each firing's job carries an idempotency key made of the
schedule and the firing's time (unique per owner in SQL), so a second housekeeper that
took the lease over mid-firing finds the job the first one lodged instead of lodging
another; its firing row is unique per (schedule, time) too.

A firing is late, not missed, while it is at most GRACE_S old (a slow tick); older ones
fell in a downtime (no housekeeper ran): they are not run, but recorded as one missed
firing row saying how many and from when to when, and counted on the schedule. Cron
expressions have 5 fields, or 6 with seconds last (croniter's form); one that never
fires (e.g. 30 February) is refused.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Optional
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from croniter import CroniterBadCronError, CroniterBadDateError, CroniterNotAlphaError, croniter
from sqlmodel import select

from app import auth, launch
from app.audit import audited
from app.db import insert_ignore, session, utcnow, write_conn
from app.errors import Conflict, InvalidInput, JobdeckError, NotFound, PermissionDenied
from app.jobtypes import spec_for, validate_payload
from app.models import Schedule, ScheduleFiring, User
from app.pipelines import scheduled
from app.pipelines.checks import JOB_SUBTYPE, JOB_TYPE
from app.shapes import check_text

log = logging.getLogger(__name__)

GRACE_S = 10.0  # a firing this late is still lodged; older, it was missed
MAX_LATE_PER_TICK = 20  # late firings lodged in one tick (a per-second schedule after a slow tick)
MAX_DUE_PER_TICK = 100  # schedules looked at in one tick
_fire = ScheduleFiring.__table__
_sched = Schedule.__table__


@dataclass
class ScheduleInfo:
    id: int
    name: str
    job_type: str
    job_subtype: str
    pipeline: Optional[str]  # a pipeline run's schedule: the pipeline (payload: parameters, file)
    payload: dict
    owner: str
    created_by: str
    cron: str
    timezone: str
    paused: bool
    created_at: datetime
    next_at: Optional[datetime]
    last_due_at: Optional[datetime]
    last_job_id: Optional[str]
    missed: int


def _info(s: Schedule) -> ScheduleInfo:
    return ScheduleInfo(s.id, s.name, s.job_type, s.job_subtype, s.pipeline, dict(s.payload or {}), s.owner,
                        s.created_by,
                        s.cron, s.timezone, s.paused, s.created_at, s.next_at, s.last_due_at, s.last_job_id,
                        s.missed)


def _admin(actor: User) -> None:
    if actor is None or actor.role != "admin":
        raise PermissionDenied("Schedules are for admins.")


def _zone(name: Any) -> ZoneInfo:
    text = str(name or "UTC").strip()
    try:
        if not text or len(text) > 64 or ".." in text or text.startswith("/"):
            raise ValueError
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(f"Unknown time zone {text[:64]!r}; use a name such as UTC or Australia/Sydney.",
                           field="timezone") from None


def next_after(cron: str, zone: ZoneInfo, after: datetime) -> datetime:
    """The first firing strictly after `after` (UTC in, UTC out)."""
    it = croniter(cron, after.astimezone(zone), max_years_between_matches=5)
    return it.get_next(datetime).astimezone(timezone.utc)


def _cron(value: Any, zone: ZoneInfo) -> str:
    text = " ".join(str(value or "").split())
    if not text or len(text) > 128 or len(text.split()) not in (5, 6):
        raise InvalidInput("A cron expression has 5 fields (minute hour day month weekday), or 6 with seconds "
                           "last, e.g. */15 * * * * or * * * * * */10.", field="cron")
    try:
        next_after(text, zone, utcnow())
    except CroniterBadDateError:  # (a kind of CroniterBadCronError: first)
        raise InvalidInput(f"The cron expression {text!r} never fires (no date matches it within 5 years).",
                           field="cron") from None
    except (CroniterBadCronError, CroniterNotAlphaError, ValueError, KeyError) as exc:
        raise InvalidInput(f"The cron expression {text!r} is not valid: {exc}.", field="cron") from None
    return text


def _name(value: Any) -> str:
    name = check_text(str(value or "").strip(), "name")
    if not 1 <= len(name) <= 64:
        raise InvalidInput("A schedule's name is 1-64 characters.", field="name")
    return name


def _taken(name: str) -> None:
    with session() as s:
        if s.exec(select(Schedule.id).where(Schedule.name == name)).first() is not None:
            raise Conflict(f"A schedule named {name!r} exists already.", field="name")


@audited("schedule.create", target="name")
def create_schedule(*, actor: User, name: str, job_type: str = "", job_subtype: str = "", payload: Any = None,
                    cron: str, timezone_name: str = "UTC", owner: Optional[str] = None,
                    pipeline: Optional[Any] = None, parameters: Any = None, file_name: str = "",
                    content: Optional[bytes] = None) -> ScheduleInfo:
    """Schedule a job type, or with `pipeline` a run of it on the file given (`file_name`,
    `content`) with `parameters` (admins): everything checked as a lodging (or the run's
    submission) would be, and the cron expression must fire; the first firing is the
    next one after now. Nothing is kept when a check fails."""
    _admin(actor)
    name = _name(name)
    zone = _zone(timezone_name)
    cron = _cron(cron, zone)
    owner = check_text((owner or actor.username).strip(), "owner")  # never a NUL into a query
    if auth.find_user(owner) is None:
        raise InvalidInput(f"No user {owner!r} to lodge the jobs for.", field="owner")
    _taken(name)  # before a file is kept
    if pipeline is not None and str(pipeline).strip():
        check_text(str(pipeline), "pipeline")
        if content is None:
            raise InvalidInput("A pipeline run's schedule is made with its input file.", field="file")
        pipeline_name, kept = scheduled.prepare(actor=actor, pipeline=pipeline, parameters=parameters,
                                                file_name=file_name, content=content)
        job_type, job_subtype, discard = JOB_TYPE, JOB_SUBTYPE, lambda: scheduled.discard(kept)
    else:
        spec = spec_for(job_type, job_subtype)
        job_type, job_subtype, pipeline_name = spec.job_type, spec.job_subtype, None
        kept, discard = validate_payload(spec, payload if payload is not None else {}).model_dump(mode="json"), None
    try:
        with session(write=True) as s:
            row = Schedule(name=name, job_type=job_type, job_subtype=job_subtype, pipeline=pipeline_name,
                           payload=kept, owner=owner, created_by=actor.username, cron=cron, timezone=zone.key,
                           next_at=next_after(cron, zone, utcnow()))
            s.add(row)
            s.flush()
            s.refresh(row)
            info = _info(row)
    except sa.exc.IntegrityError:
        if discard:
            discard()
        raise Conflict(f"A schedule named {name!r} exists already.", field="name") from None
    except BaseException:
        if discard:
            discard()
        raise
    log.warning("schedule %s (%s %s) created by %s", name, cron, pipeline_name or f"{job_type}/{job_subtype}",
                actor.username)
    return info


def list_schedules(*, actor: User) -> list[ScheduleInfo]:
    _admin(actor)
    with session() as s:
        return [_info(r) for r in s.exec(select(Schedule).order_by(Schedule.name))]


def get_schedule(*, actor: User, schedule_id: int) -> ScheduleInfo:
    _admin(actor)
    with session() as s:
        row = s.get(Schedule, schedule_id)
        if row is None:
            raise NotFound(f"No schedule {schedule_id}.")
        return _info(row)


def firings(*, actor: User, schedule_id: int, limit: int = 20) -> list[ScheduleFiring]:
    """A schedule's latest firings, newest first: lodged (with the job), missed, refused."""
    get_schedule(actor=actor, schedule_id=schedule_id)
    with session() as s:
        return list(s.exec(select(ScheduleFiring).where(ScheduleFiring.schedule_id == schedule_id)
                           .order_by(ScheduleFiring.due_at.desc()).limit(max(1, min(limit, 200)))))


@audited("schedule.pause_or_resume", target="schedule_id")
def set_paused(*, actor: User, schedule_id: int, paused: bool) -> ScheduleInfo:
    """Pause (no firing until resumed) or resume a schedule. Resuming fires next at the
    first time after now: the firings of the pause are not run afterwards."""
    _admin(actor)
    with session(write=True) as s:
        row = s.get(Schedule, schedule_id)
        if row is None:
            raise NotFound(f"No schedule {schedule_id}.")
        if row.paused != paused:
            row.paused = paused
            if not paused:
                row.next_at = next_after(row.cron, ZoneInfo(row.timezone), utcnow())
            s.add(row)
        s.flush()
        s.refresh(row)
        info = _info(row)
    log.warning("schedule %s %s by %s", info.name, "paused" if paused else "resumed", actor.username)
    return info


@audited("schedule.delete", target="schedule_id")
def delete_schedule(*, actor: User, schedule_id: int) -> None:
    """Remove a schedule and its firings' rows (the jobs it lodged stay)."""
    _admin(actor)
    with write_conn() as conn:
        kept = conn.execute(sa.select(_sched.c.pipeline, _sched.c.payload).where(_sched.c.id == schedule_id)).first()
        conn.execute(sa.delete(_fire).where(_fire.c.schedule_id == schedule_id))
        if conn.execute(sa.delete(_sched).where(_sched.c.id == schedule_id)).rowcount == 0:
            raise NotFound(f"No schedule {schedule_id}.")
    if kept is not None and kept.pipeline:
        scheduled.discard(kept.payload or {})  # after the commit: its runs have their own copies
    log.warning("schedule %s deleted by %s", schedule_id, actor.username)


# --- firing (the housekeeper's duty) -------------------------------------------------------------


def _record(schedule_id: int, due: datetime, outcome: str, *, job_id: Optional[str] = None, note: str = "") -> None:
    with write_conn() as conn:
        conn.execute(insert_ignore(_fire, conn.dialect.name).values(
            schedule_id=schedule_id, due_at=due, outcome=outcome, job_id=job_id, note=note[:1000], at=utcnow()))


def _lodge(row: Schedule, due: datetime) -> None:
    try:
        creator = auth.get_user(row.created_by)
        if creator.role != "admin" or creator.disabled_at is not None:
            raise PermissionDenied(f"{row.created_by}, who made this schedule, is no longer an active admin; "
                                   f"an admin must make it anew.")
        key = f"schedule/{row.id}/{due.strftime('%Y%m%dT%H%M%SZ')}"
        if row.pipeline:
            job = scheduled.lodge(actor=creator, schedule_name=row.name, pipeline=row.pipeline, owner=row.owner,
                                  payload=row.payload or {}, key=key)
        else:
            job = launch.launch_job(actor=creator, job_type=row.job_type, job_subtype=row.job_subtype,
                                    payload=row.payload, owner=row.owner, idempotency_key=key)
    except JobdeckError as exc:
        _record(row.id, due, "refused", note=exc.message)
        log.warning("schedule %s: firing at %s refused: %s", row.name, due.isoformat(), exc.message)
        return
    _record(row.id, due, "lodged", job_id=job.id)
    with write_conn() as conn:
        conn.execute(sa.update(_sched).where(_sched.c.id == row.id).values(last_job_id=job.id))


def fire_due(now: Optional[datetime] = None) -> int:
    """Lodge every firing that is due (late by at most GRACE_S); record the older ones as
    missed. Returns how many jobs were lodged."""
    now = now or utcnow()
    with session() as s:
        due = list(s.exec(select(Schedule).where(Schedule.paused.is_(False), Schedule.next_at <= now)
                          .order_by(Schedule.next_at).limit(MAX_DUE_PER_TICK)))
    lodged = 0
    for row in due:
        zone = ZoneInfo(row.timezone)
        times, t = [], row.next_at
        while t <= now and len(times) < 100_000:
            times.append(t)
            t = next_after(row.cron, zone, t)
        late = [x for x in times if (now - x).total_seconds() <= GRACE_S][-MAX_LATE_PER_TICK:]
        missed = [x for x in times if x not in late]
        if missed:
            _record(row.id, missed[-1], "missed",
                    note=f"{len(missed)} firing(s) missed from {missed[0].isoformat()} to {missed[-1].isoformat()}: "
                         f"no housekeeper ran then; they were not run afterwards.")
            log.warning("schedule %s: %d firing(s) missed (%s to %s)", row.name, len(missed),
                        missed[0].isoformat(), missed[-1].isoformat())
        for x in late:
            _lodge(row, x)
            lodged += 1
        with write_conn() as conn:  # only if no one moved it on meanwhile (a second housekeeper)
            conn.execute(sa.update(_sched).where(_sched.c.id == row.id, _sched.c.next_at == row.next_at)
                         .values(next_at=t, last_due_at=times[-1], missed=_sched.c.missed + len(missed)))
    return lodged


def describe_next(info: ScheduleInfo, count: int = 3) -> list[datetime]:
    """The next `count` firings after now (for the console and the API)."""
    if info.paused:
        return []
    out, t, zone = [], utcnow(), ZoneInfo(info.timezone)
    for _ in range(count):
        t = next_after(info.cron, zone, t)
        out.append(t)
    return out

