"""State of the job details page: one job, its history and files, cancel and retry."""

from __future__ import annotations

import asyncio
from typing import Any, Optional

import reflex as rx


from app import estimates, files, launch, pipelines, queries, routes, runfiles, runs, workers
from app.errors import JobdeckError, NotFound
from app.lifecycle import RETRYABLE
from app.models import Batch, Item, Job, User
from app.aa_compat import anonymous_viewer
from app.db import session
from app.state import live
from app.state.base import sign_in_redirect, viewer
from app.state.pipelines import RunRow, StepRow, run_row, step_row
from app.state.runview import MAX_DOWNLOAD_BYTES, RunFileRow, file_rows, graph_of, total_of
from app.state.views import (FileRow, JobRow, MessageRow, attempt_times, file_row, job_row, message_row,
                             pretty_json)



def read_detail(job_id: str) -> dict[str, Any]:
    """Everything the page shows of a job, read in one go."""
    with session() as s:
        job = s.get(Job, job_id)
        if job is None:
            return {}
        batch = s.get(Batch, job.batch_id) if job.batch_id else None
        item = s.get(Item, job.entity_id) if job.entity_id else None
    steps = pipelines.run_overview(job.workflow_id or job.id) if job.job_type == pipelines.JOB_TYPE else []
    return {"job": job, "messages": queries.job_messages(job_id), "files": queries.job_files(job_id),
            "batch": batch, "item": item, "children": queries.job_children(job_id), "steps": steps,
            "run_files": runfiles.kept_files([j for j, _ in steps]),
            "stuck": workers.waiting_reason(job=job) or ""}


class JobState(rx.State):
    found: bool = False
    loaded: bool = False
    row: JobRow = JobRow()
    owner: str = ""
    created: str = ""
    times: list[list[str]] = []  # [label, iso, exact, duration]
    info: str = ""
    stuck: str = ""  # why no worker can take this PENDING job now (backend paused, no pool, Redis away)
    error_detail: str = ""
    payload_json: str = ""
    result_json: str = ""
    messages: list[MessageRow] = []
    files: list[FileRow] = []
    batch_label: str = ""
    item_name: str = ""
    parent_job_id: str = ""
    lodged_by: str = ""  # who lodged it when not its owner (an admin, for them)
    children: list[JobRow] = []
    worker: str = ""
    queue: str = ""
    steps: list[StepRow] = []  # a pipeline run's steps, for a PIPELINE job
    pipeline_name: str = ""
    run: RunRow = RunRow()  # the run as a whole, for a step of one
    run_nodes: list[dict[str, Any]] = []  # its steps' graph (app.state.runview)
    run_edges: list[dict[str, Any]] = []
    run_graph_height: str = "240px"
    run_files: list[RunFileRow] = []  # every file every step kept
    run_files_total: str = ""
    heading: str = ""  # the job's own name (a step's task), else its type's label
    workflow_name: str = ""  # what the Workflow field links to: the item, or the pipeline run
    workflow_href: str = ""
    workflow_class: str = ""
    estimate: str = ""  # of a pipeline run: "usually takes about 2 minutes"
    signed_out_view: bool = False  # a signed-out visitor's view of an anonymous run's step

    @rx.var
    def can_cancel(self) -> bool:
        return self.found and self.row.status in ("PENDING", "DEQUEUED", "IN_PROGRESS")

    @rx.var
    def can_retry(self) -> bool:
        return self.found and self.row.status in {s.value for s in RETRYABLE}

    def _job_id(self) -> str:
        return routes.id_in(self.router.url.path)

    def _show(self, user: User, d: dict[str, Any]) -> None:
        job: Optional[Job] = d.get("job")
        if job is None or not (job.owner == user.username or user.is_admin):
            self.found = False  # another user's job reads as no job: ids reveal nothing
            self.loaded = True
            return
        batch, item = d.get("batch"), d.get("item")
        self.found = True
        self.row = job_row(job, batch_total=batch.total if batch else 0, has_children=bool(d["children"]))
        self.owner = job.owner
        self.times = attempt_times(job)
        self.info = job.info or ""
        self.stuck = d.get("stuck", "")
        self.error_detail = (job.error_detail or "") if user.is_admin else ""
        self.payload_json = pretty_json(job.payload)
        self.result_json = pretty_json(job.result)
        self.messages = [message_row(m) for m in d["messages"]]
        self.files = [file_row(f) for f in d["files"]]
        self.batch_label = (batch.label or "batch") if batch else ""
        self.item_name = f"{item.display_name} (v{item.version})" if item else ""
        self.parent_job_id = job.parent_job_id or ""
        self.lodged_by = job.lodged_by if job.lodged_by and job.lodged_by != job.owner else ""
        self.children = [job_row(c) for c in d["children"]]
        self.worker = job.worker or ""
        self.queue = job.queue
        self.steps = [step_row(j, n, current=j.id == job.id) for j, n in d.get("steps", [])]
        self.pipeline_name = str((job.payload or {}).get("pipeline") or "") if self.steps else ""
        run = runs.state_of_steps([j for j, _ in d.get("steps", [])])
        self.run = run_row(run) if run else RunRow()
        if run:
            nodes, edges, height = graph_of([j for j, _ in d["steps"]], current_id=job.id)
            self.run_nodes, self.run_edges, self.run_graph_height = nodes, edges, f"{height}px"
            self.run_files, self.run_files_total = file_rows(d["run_files"]), total_of(d["run_files"])
        else:
            self.run_nodes, self.run_edges, self.run_files, self.run_files_total = [], [], [], ""
        self.heading = self.row.title or self.row.label
        if self.run.id:
            self.workflow_name, self.workflow_href, self.workflow_class = (
                self.run.name, routes.job(self.run.id), "run-link")
        elif job.entity_id:
            self.workflow_name, self.workflow_href, self.workflow_class = (
                self.item_name, routes.item(job.entity_id), "item-link")
        else:
            self.workflow_name = self.workflow_href = self.workflow_class = ""
        self.loaded = True

    @rx.event
    async def load(self):
        signed_in = await viewer(self)
        user = signed_in or anonymous_viewer(self._job_id())
        self.signed_out_view = signed_in is None and user is not None
        if user is None:
            return await sign_in_redirect(self)
        job_id = self._job_id()
        self.loaded = False
        # A run's root is its workflow: its page follows every step of the run.
        live.watch(self, username=user.username, admin=user.is_admin, job_ids=frozenset([job_id]),
                   workflow_ids=frozenset([job_id]))
        d = read_detail(job_id)
        wf = d["job"].workflow_id if d.get("job") is not None else None
        if d.get("steps") and wf and wf != job_id:  # a step's page follows its siblings too
            live.watch(self, username=user.username, admin=user.is_admin, job_ids=frozenset([job_id]),
                       workflow_ids=frozenset([wf]))
        self._show(user, d)
        pid = (d["job"].payload or {}).get("pipeline_id") if self.found and self.steps else None
        self.estimate = estimates.estimate(int(pid)).text if pid else ""

    @rx.event
    async def recheck_waiting(self, _now: str = ""):
        """The page's timer while the job is PENDING: why it waits changes with no event of
        the job (a backend paused or resumed, a pool started or gone, Redis away or back)."""
        if self.found and self.row.status == "PENDING" and self.queue:
            try:
                self.stuck = await asyncio.to_thread(workers.backend_unavailable, backend=self.queue) or ""
            except Exception:  # the database is away: the page keeps what it showed; the next tick asks again
                pass

    @rx.event
    async def cancel(self):
        user = await viewer(self)
        if user is None:
            return await sign_in_redirect(self)
        try:
            done = launch.cancel_job(actor=user, job_id=self._job_id())
        except JobdeckError as exc:
            return rx.toast.error(exc.message)
        self._show(user, read_detail(self._job_id()))
        return rx.toast.success(f"Job cancelled (it was {done.prev_status.value.replace('_', ' ').lower()}). "
                                f"Retry brings it back.")

    @rx.event
    async def retry(self):
        user = await viewer(self)
        if user is None:
            return await sign_in_redirect(self)
        try:
            done = launch.retry_job(actor=user, job_id=self._job_id())
        except JobdeckError as exc:
            return rx.toast.error(exc.message)
        self._show(user, read_detail(self._job_id()))
        return rx.toast.success(f"Retry lodged: attempt {done.attempt} waits for a worker.")

    @rx.event
    async def download(self, name: str):
        user = await viewer(self) or anonymous_viewer(self._job_id())
        if user is None:
            return await sign_in_redirect(self)
        try:
            jf, path = files.open_job_file(actor=user, job_id=self._job_id(), name=name)
        except NotFound as exc:
            return rx.toast.error(exc.message)
        if jf.size > MAX_DOWNLOAD_BYTES:
            return rx.toast.error(f"{name} is {jf.size // (1024 * 1024)} MB; download files this large with "
                                  f"the REST API (GET /api/jobs/{self._job_id()}/files).")
        return rx.download(data=path.read_bytes(), filename=name)

    @rx.event
    def copy_inputs(self):
        return [rx.set_clipboard(self.payload_json), rx.toast.info("Inputs copied to the clipboard.")]

    async def _live(self, events: list[dict[str, Any]], burst: live.Burst) -> None:
        job_id = self._job_id()
        w = live.current_watch()
        if w is None:
            return
        user = User(username=w.username, display_name="", role="admin" if w.admin else "user", password_hash="")
        self._show(user, burst.memo(("job-detail", job_id), lambda: read_detail(job_id)))

    async def _live_resync(self) -> None:
        await self.load()
