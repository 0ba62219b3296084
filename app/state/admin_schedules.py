"""State of the schedules page (/admin/schedules): every schedule with what it lodges,
when (in words, the cron expression and its time zone), its next and last firing and
missed count; pause, resume, delete; the form that makes one (a job type and its payload,
or a pipeline run with its parameters and file), refusals kept at their field; one
schedule's latest firings with the jobs they lodged. Read again every few seconds while
the page is open, so new firings and the next run show without a reload."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from datetime import datetime
from typing import Any, Optional
from zoneinfo import available_timezones

import reflex as rx
import sqlalchemy as sa

from app import pipelines, runs, schedules
from app.cron_words import describe
from app.db import session, utcnow
from app.errors import InvalidInput, JobdeckError
from app.jobtypes import SPECS
from app.models import Job, User
from app.pipelines.checks import JOB_SUBTYPE, JOB_TYPE
from app.settings import get_settings
from app.state.admin import admin_viewer
from app.state.views import exact, iso

UPLOAD_ID = "schedule-file"
FIRINGS = 20
JOB_KIND, PIPELINE_KIND = "job", "pipeline"
KIND_LABELS = ["a job type", "a pipeline run"]  # the form's choice, in the order of the kinds
# UTC first, then every zone the system knows, by name.
TIME_ZONES = ["UTC"] + sorted(z for z in available_timezones() if z != "UTC" and "/" in z and not z.startswith("Etc/"))


def relative(ts: Optional[datetime], now: datetime) -> str:
    """ "in 3 seconds", "2 minutes ago": read again with the page, so it stays true."""
    if ts is None:
        return ""
    s = (ts - now).total_seconds()
    ahead, s = s >= 0, abs(s)
    for size, unit in ((86_400, "day"), (3_600, "hour"), (60, "minute"), (1, "second")):
        if s >= size or unit == "second":
            n = int(round(s / size))
            text = "now" if unit == "second" and n == 0 else f"{n} {unit}{'' if n == 1 else 's'}"
            break
    if text == "now":
        return "now"
    return f"in {text}" if ahead else f"{text} ago"


@dataclasses.dataclass
class ScheduleRow:
    id: int = 0
    key: str = ""
    name: str = ""
    kind: str = ""  # job | pipeline
    lodges: str = ""  # the pipeline's name, or TYPE / SUBTYPE
    lodges_hint: str = ""  # the parameters and file, or the payload
    owner: str = ""
    created_by: str = ""
    cron: str = ""
    words: str = ""
    timezone: str = ""
    paused: bool = False
    next_at: str = ""
    next_exact: str = ""
    next_relative: str = ""
    last_at: str = ""
    last_exact: str = ""
    last_relative: str = ""
    last_job_id: str = ""
    missed: int = 0


@dataclasses.dataclass
class FiringRow:
    due_at: str = ""
    due_exact: str = ""
    due_relative: str = ""
    outcome: str = ""  # lodged | missed | refused
    job_id: str = ""
    job_status: str = ""
    job_summary: str = ""  # a pipeline run's: "2 of 3 steps finished"
    note: str = ""


def _hint(s: schedules.ScheduleInfo) -> str:
    if s.pipeline:
        f = s.payload.get("file") or {}
        params = s.payload.get("parameters") or {}
        given = ", ".join(f"{k}={v}" for k, v in params.items())
        return f"on {f.get('name', '?')} ({f.get('size', 0)} bytes)" + (f", {given}" if given else "")
    text = json.dumps(s.payload, sort_keys=True)
    return text if len(text) <= 120 else text[:117] + "..."


def schedule_row(s: schedules.ScheduleInfo, now: datetime) -> ScheduleRow:
    nxt = None if s.paused else s.next_at
    return ScheduleRow(
        id=s.id, key=str(s.id), name=s.name, kind=PIPELINE_KIND if s.pipeline else JOB_KIND,
        lodges=s.pipeline or f"{s.job_type} / {s.job_subtype}", lodges_hint=_hint(s), owner=s.owner,
        created_by=s.created_by, cron=s.cron, words=describe(s.cron), timezone=s.timezone, paused=s.paused,
        next_at=iso(nxt), next_exact=exact(nxt), next_relative=relative(nxt, now),
        last_at=iso(s.last_due_at), last_exact=exact(s.last_due_at), last_relative=relative(s.last_due_at, now),
        last_job_id=s.last_job_id or "", missed=s.missed)


def _statuses(job_ids: list[str]) -> dict[str, str]:
    if not job_ids:
        return {}
    with session() as s:  # by primary key: at most FIRINGS ids
        return dict(s.exec(sa.select(Job.id, Job.status).where(Job.id.in_(job_ids))).all())


def _firing_rows(admin: User, schedule_id: int, now: datetime, *, pipeline: bool) -> list[FiringRow]:
    found = schedules.firings(actor=admin, schedule_id=schedule_id, limit=FIRINGS)
    ids = [f.job_id for f in found if f.job_id]
    status, summary = {}, {}
    if pipeline:  # a run's state as a whole, not its first step's (one indexed query)
        for rid, st in runs.run_states(ids).items():
            status[rid], summary[rid] = st.status, st.summary
    else:
        status = _statuses(ids)
    return [FiringRow(due_at=iso(f.due_at), due_exact=exact(f.due_at), due_relative=relative(f.due_at, now),
                      outcome=f.outcome, job_id=f.job_id or "", job_status=status.get(f.job_id or "", ""),
                      job_summary=summary.get(f.job_id or "", ""), note=f.note) for f in found]


FIELDS = {"name", "cron", "timezone", "owner", "pipeline", "parameters", "file", "payload"}


def _at_field(field: str, kind: str) -> str:
    """The form's field a refusal is shown at: "parameters.top" at the parameters,
    "payload.sleep_s" at the payload; one the form has not, above the buttons."""
    head = field.split(".", 1)[0]
    if head in FIELDS:
        return head
    return "payload" if kind == JOB_KIND and field else ""


def _size(n: int) -> str:
    return f"{n} bytes" if n < 1024 else f"{n / 1024:.1f} KB" if n < 1024 * 1024 else f"{n / 1048576:.1f} MB"


class AdminSchedulesState(rx.State):
    rows: list[ScheduleRow] = []
    loaded: bool = False
    selected: int = 0
    firings: list[FiringRow] = []
    confirm_delete: int = 0  # the schedule whose deletion is asked for
    # the form
    form_open: bool = False
    kind: str = JOB_KIND
    job_key: str = "SYSTEM/NOOP"
    pipeline_key: str = ""
    pipeline_names: list[str] = []
    time_zone: str = "UTC"
    file_name: str = ""
    file_size: str = ""
    error: str = ""
    error_field: str = ""
    saving: bool = False
    _content: bytes = b""

    @rx.var
    def job_keys(self) -> list[str]:
        return sorted(f"{t}/{s}" for t, s in SPECS if (t, s) != (JOB_TYPE, JOB_SUBTYPE))

    @rx.var
    def time_zones(self) -> list[str]:
        return TIME_ZONES

    @rx.var
    def current(self) -> ScheduleRow:
        for r in self.rows:
            if r.id == self.selected:
                return r
        return ScheduleRow()

    @rx.var
    def deleting(self) -> ScheduleRow:
        for r in self.rows:
            if r.id == self.confirm_delete:
                return r
        return ScheduleRow()

    async def _read(self, admin: User) -> None:
        now = utcnow()
        found = await asyncio.to_thread(schedules.list_schedules, actor=admin)
        self.rows = [schedule_row(s, now) for s in found]
        if self.selected and self.selected not in {r.id for r in self.rows}:
            self.selected = 0
        self.firings = await asyncio.to_thread(_firing_rows, admin, self.selected, now,
                                               pipeline=self.current.kind == PIPELINE_KIND) if self.selected else []
        self.loaded = True

    @rx.event
    async def load(self):
        admin, instead = await admin_viewer(self)
        if admin is None:
            return instead
        wanted = self.router.url.query_parameters.get("schedule", "")  # type: ignore[attr-defined]
        if wanted.isdigit() and len(wanted) < 12:  # ?schedule=ID opens its firings; else as it was left
            self.selected = int(wanted)
        self.pipeline_names = [p.name for p in await asyncio.to_thread(pipelines.list_pipelines, actor=admin)]
        if self.pipeline_key not in self.pipeline_names:
            self.pipeline_key = self.pipeline_names[0] if self.pipeline_names else ""
        self.confirm_delete = 0
        await self._read(admin)

    @rx.event
    async def refresh(self, _moment: Any = None):
        admin, instead = await admin_viewer(self)
        if admin is None:
            return instead
        await self._read(admin)

    @rx.event
    async def show(self, schedule_id: int):
        admin, instead = await admin_viewer(self)
        if admin is None:
            return instead
        self.selected = 0 if self.selected == schedule_id else schedule_id
        await self._read(admin)

    @rx.event
    async def set_paused(self, schedule_id: int, paused: bool):
        admin, instead = await admin_viewer(self, "schedule.pause" if paused else "schedule.resume")
        if admin is None:
            return instead
        try:
            got = await asyncio.to_thread(schedules.set_paused, actor=admin, schedule_id=schedule_id, paused=paused)
        except JobdeckError as exc:
            return rx.toast.error(exc.message)
        await self._read(admin)
        return rx.toast.success(f"{got.name} {'paused: it fires no more until resumed' if paused else 'resumed'}.")

    @rx.event
    def ask_delete(self, schedule_id: int):
        self.confirm_delete = schedule_id

    @rx.event
    def set_confirm_open(self, open_: bool):
        if not open_:
            self.confirm_delete = 0

    @rx.event
    def cancel_delete(self):
        self.confirm_delete = 0

    @rx.event
    async def delete(self):
        admin, instead = await admin_viewer(self, "schedule.delete")
        if admin is None:
            return instead
        target, name, self.confirm_delete = self.confirm_delete, self.deleting.name, 0
        try:
            await asyncio.to_thread(schedules.delete_schedule, actor=admin, schedule_id=target)
        except JobdeckError as exc:
            return rx.toast.error(exc.message)
        await self._read(admin)
        return rx.toast.success(f"Schedule {name} deleted; the jobs it lodged stay.")

    # --- the form ---------------------------------------------------------------------------

    @rx.event
    def toggle_form(self):
        self.form_open = not self.form_open
        self.error, self.error_field = "", ""

    @rx.event
    def set_kind(self, kind: str):
        if kind in (JOB_KIND, PIPELINE_KIND):
            self.kind = kind
            self.error, self.error_field = "", ""

    @rx.var
    def kind_label(self) -> str:
        return KIND_LABELS[1] if self.kind == PIPELINE_KIND else KIND_LABELS[0]

    @rx.event
    def set_kind_label(self, label: str):
        self.kind = PIPELINE_KIND if label == KIND_LABELS[1] else JOB_KIND
        self.error, self.error_field = "", ""

    @rx.event
    def set_job_key(self, key: str):
        self.job_key = key

    @rx.event
    def set_pipeline_key(self, key: str):
        self.pipeline_key = key

    @rx.event
    def set_time_zone(self, zone: str):
        self.time_zone = zone

    def _forget_file(self) -> None:
        self.file_name, self.file_size, self._content = "", "", b""

    @rx.event
    async def pick_file(self, files: list[rx.UploadFile]):
        admin, instead = await admin_viewer(self)
        if admin is None:
            return instead
        self._forget_file()
        if not files:
            return
        limit = get_settings().max_upload_bytes
        data = await files[0].read(limit + 1)
        if len(data) > limit:
            self.error, self.error_field = (f"{files[0].name or 'The file'} is larger than {_size(limit)}, the "
                                            f"most a pipeline takes. Choose a smaller file."), "file"
            return rx.clear_selected_files(UPLOAD_ID)
        self.error, self.error_field = "", ""
        self.file_name, self.file_size, self._content = files[0].name or "upload", _size(len(data)), data

    @rx.event
    def clear_file(self):
        self._forget_file()
        return rx.clear_selected_files(UPLOAD_ID)

    @staticmethod
    def _json(text: str, field: str, example: str) -> Any:
        try:
            value = json.loads(text.strip() or "{}")
        except (ValueError, RecursionError):
            raise InvalidInput(f"{field} must be a JSON object, e.g. {example}.", field=field) from None
        if not isinstance(value, dict):
            raise InvalidInput(f"{field} must be a JSON object, e.g. {example}.", field=field)
        return value

    def _create(self, admin: User, form: dict[str, Any]) -> schedules.ScheduleInfo:
        common = dict(actor=admin, name=str(form.get("name", "")), cron=str(form.get("cron", "")),
                      timezone_name=self.time_zone, owner=str(form.get("owner", "")).strip() or None)
        if self.kind == PIPELINE_KIND:
            if not self.pipeline_key:
                raise InvalidInput("Choose the pipeline to run.", field="pipeline")
            params = self._json(str(form.get("parameters", "")), "parameters", '{"top": "10"}')
            if not self._content:
                raise InvalidInput("Choose the file each run reads.", field="file")
            return schedules.create_schedule(**common, pipeline=self.pipeline_key, parameters=params,
                                             file_name=self.file_name, content=self._content)
        job_type, _, job_subtype = self.job_key.partition("/")
        payload = self._json(str(form.get("payload", "")), "payload", '{"sleep_s": 1}')
        return schedules.create_schedule(**common, job_type=job_type, job_subtype=job_subtype, payload=payload)

    @rx.event
    async def create(self, form: dict[str, Any]):
        admin, instead = await admin_viewer(self, "schedule.create")
        if admin is None:
            yield instead
            return
        self.error, self.error_field, self.saving = "", "", True
        yield
        try:
            made = await asyncio.to_thread(self._create, admin, form)
        except JobdeckError as exc:
            field = str(getattr(exc, "field", None) or exc.detail.get("field") or "")
            self.error, self.saving = exc.message, False
            self.error_field = _at_field(field, self.kind)
            return
        self.saving, self.form_open, self.selected = False, False, made.id
        self._forget_file()
        await self._read(admin)
        yield [rx.clear_selected_files(UPLOAD_ID),
               rx.toast.success(f"Schedule {made.name} made; it fires next {relative(made.next_at, utcnow())}.")]
