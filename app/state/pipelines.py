"""State of the pipelines page: every pipeline with its steps, and running one on a file
the person uploads, with its parameters. Also the rows a pipeline run's steps are shown
as on the job page."""

from __future__ import annotations

import dataclasses
from typing import Any

import reflex as rx

from app import aa_compat, estimates, pipelines, routes, runs
from app.errors import JobdeckError
from app.models import Job
from app.settings import get_settings
from app.state import live
from app.state.base import AuthState, sign_in_redirect, viewer
from app.state.views import describe, duration, exact, iso
from app.validators import DESCRIPTIONS

UPLOAD_ID = "pipeline-file"


@dataclasses.dataclass
class OrderRow:
    order: int = 0
    tasks: str = ""  # "line count · sort lines"
    parallel: bool = False


@dataclasses.dataclass
class ParameterRow:
    name: str = ""
    default: str = ""
    required: bool = False
    tasks: str = ""
    type: str = "text"
    rule: str = ""  # in words: "a whole number from 1 to 100000", "one of: fast, slow"
    choices: list[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class PipelineRow:
    id: int = 0
    key: str = ""  # the id as text, for the select and buttons
    name: str = ""
    description: str = ""
    orders: list[OrderRow] = dataclasses.field(default_factory=list)
    parameters: list[ParameterRow] = dataclasses.field(default_factory=list)
    steps: int = 0
    public: bool = False
    estimate: str = ""  # "usually takes about 2 minutes", from its complete runs
    accepts: str = ""  # what its validators let through, in words; "" when anything goes


@dataclasses.dataclass
class StepRow:
    """One step of a pipeline run, as the job page lists them."""

    id: str = ""
    order: int = 0
    task: str = ""
    status: str = ""
    description: str = ""
    info: str = ""
    files: int = 0
    attempt: int = 1
    current: bool = False


@dataclasses.dataclass
class RunRow:
    """A pipeline run as a whole, as the job page of any of its steps shows it first."""

    id: str = ""  # its root's id
    name: str = ""
    status: str = ""
    description: str = ""
    summary: str = ""
    duration: str = ""


@dataclasses.dataclass
class PastRunRow:
    """One of a pipeline's past runs, as the Pipelines page lists them."""

    id: str = ""
    name: str = ""
    owner: str = ""
    status: str = ""
    description: str = ""
    summary: str = ""
    created: str = ""
    created_exact: str = ""


PAST_PAGE = 10


def past_row(r: runs.PastRun) -> PastRunRow:
    st = r.state
    status = st.status if st else "PENDING"
    return PastRunRow(id=r.id, name=r.name, owner=r.owner, status=status, description=describe(status),
                      summary=st.summary if st else "", created=iso(r.created_at), created_exact=exact(r.created_at))


def run_row(r: runs.RunState) -> RunRow:
    took = duration(r.started_at, r.finished_at) if r.started_at and r.finished_at else ""
    return RunRow(id=r.id, name=r.name, status=r.status, description=describe(r.status), summary=r.summary,
                  duration=f"ran {took}" if took else "")


def pipeline_row(p: pipelines.PipelineInfo) -> PipelineRow:
    return PipelineRow(
        id=p.id, key=str(p.id), name=p.name, description=p.description, steps=len(p.steps), public=p.public,
        estimate=estimates.estimate(p.id).text,
        orders=[OrderRow(o[0].order, " · ".join(s.task for s in o), len(o) > 1) for o in p.orders],
        parameters=[ParameterRow(r.name, r.default, r.required, ", ".join(r.tasks), r.type, r.rule, list(r.choices))
                    for r in p.parameters],
        accepts="; ".join(DESCRIPTIONS[v] for v in p.validators if v != "none" and v in DESCRIPTIONS))


def step_row(job: Job, files: int, *, current: bool = False) -> StepRow:
    return StepRow(id=job.id, order=job.step or 0, task=str((job.payload or {}).get("task") or ""),
                   status=job.status, description=describe(job.status), info=job.info or job.last_message or "",
                   files=files, attempt=job.attempt, current=current)


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} bytes"
    if n < 1024 * 1024:
        return f"{n / 1024:.1f} KB"
    return f"{n / (1024 * 1024):.1f} MB"


class PipelinesState(rx.State):
    rows: list[PipelineRow] = []
    loaded: bool = False
    selected: int = 0
    file_name: str = ""
    file_size: str = ""
    values: dict[str, str] = {}
    error: str = ""
    error_field: str = ""
    running: bool = False
    email: str = ""  # told how the run ended, when given
    past: list[PastRunRow] = []  # the chosen pipeline's past runs: the viewer's (admins: everyone's)
    past_cursor: str = ""  # the next page's, "" at the end
    past_everyone: bool = False
    _content: bytes = b""

    @rx.var
    def current(self) -> PipelineRow:
        for r in self.rows:
            if r.id == self.selected:
                return r
        return PipelineRow()

    @rx.var
    def selected_key(self) -> str:
        return str(self.selected) if self.selected else ""

    signed_in: bool = False

    @rx.event
    async def load(self):
        user = await viewer(self)
        listed = pipelines.list_pipelines(actor=user)
        if user is None:  # signed out: the public pipelines only, run anonymously
            listed = [p for p in listed if p.public]
            if not listed:
                return await sign_in_redirect(self)
        live.unwatch(self)
        self.signed_in = user is not None
        self.rows = [pipeline_row(p) for p in listed]
        wanted = self.router.url.query_parameters.get("pipeline", "")  # type: ignore[attr-defined]
        ids = [r.id for r in self.rows]
        if wanted.isdigit() and int(wanted) in ids:
            self.selected = int(wanted)
        elif self.selected not in ids:
            self.selected = ids[0] if ids else 0
        self._forget_file()
        self.values, self.error, self.error_field, self.running = {}, "", "", False
        self._past(user, fresh=True)
        self.loaded = True

    def _past(self, user, *, fresh: bool) -> None:
        """The chosen pipeline's past runs, a page at a time (none for a signed-out visitor:
        anonymous runs are reached by their address alone)."""
        if fresh:
            self.past, self.past_cursor = [], ""
        if user is None or not self.selected:
            return
        self.past_everyone = user.is_admin
        try:
            found, nxt = runs.past_runs(actor=user, pipeline_id=self.selected, cursor=self.past_cursor or None,
                                        limit=PAST_PAGE)
        except JobdeckError:
            found, nxt = [], None
        self.past = self.past + [past_row(r) for r in found]
        self.past_cursor = nxt or ""

    @rx.event
    async def more_past(self):
        user = await viewer(self)
        if user is None:
            return await sign_in_redirect(self)
        if self.past_cursor:
            self._past(user, fresh=False)

    def _forget_file(self) -> None:
        self.file_name, self.file_size, self._content = "", "", b""

    @rx.event
    async def choose(self, key: str):
        if key.isdigit() and int(key) != self.selected:
            self.selected = int(key)
            self.values, self.error, self.error_field = {}, "", ""
            self._past(await viewer(self), fresh=True)

    @rx.event
    def set_value(self, name: str, value: str):
        self.values[name] = value

    @rx.event
    def set_email(self, value: str):
        self.email = value[:1000]

    @rx.event
    async def pick_file(self, files: list[rx.UploadFile]):
        user = await viewer(self)
        if user is None and not self.current.public:
            return await sign_in_redirect(self)
        self._forget_file()
        self.error, self.error_field = "", ""
        if not files:
            return
        f = files[0]
        limit = get_settings().max_upload_bytes
        data = await f.read(limit + 1)  # no more than the limit and one byte: enough to refuse
        self.file_name = f.name or "upload"
        if len(data) > limit:
            self.error, self.error_field = (f"{self.file_name} is larger than {_size(limit)}, the most a pipeline "
                                            f"takes. Choose a smaller file."), "file"
            self.file_name = ""
            return rx.clear_selected_files(UPLOAD_ID)
        self._content = data
        self.file_size = _size(len(data))

    @rx.event
    def clear_file(self):
        self._forget_file()
        return rx.clear_selected_files(UPLOAD_ID)

    @rx.event
    async def run(self):
        user = await viewer(self)
        address = None
        if user is None:
            if not pipelines.get_pipeline(actor=None, pipeline=self.selected).public:
                return await sign_in_redirect(self)
            user = aa_compat.anonymous_user()  # a public pipeline's anonymous submitter, known by address
            address = (await self.get_state(AuthState))._client_address()
        if not self._content:
            self.error, self.error_field = "Choose a file to run the pipeline on.", "file"
            return
        self.error, self.error_field = "", ""
        params: dict[str, Any] = {k: v for k, v in self.values.items() if str(v).strip() != ""}
        try:
            job = pipelines.run_pipeline(actor=user, pipeline=self.selected, file_name=self.file_name,
                                         content=self._content, parameters=params, client_addr=address,
                                         email=self.email or None)
        except JobdeckError as exc:
            self.error, self.error_field = exc.message, str(exc.detail.get("field") or "")
            return rx.toast.error(exc.message)
        name = self.current.name
        self._forget_file()
        self.values = {}
        return [rx.clear_selected_files(UPLOAD_ID), rx.redirect(routes.job(job.id)),
                rx.toast.success(f"{name} is running; follow its steps here.")]
