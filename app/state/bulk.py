"""State of bulk model-run registration: template, upload, row-by-row check, lodge."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timezone
from typing import Any, Optional

import reflex as rx

from app import bulk, routes
from app.errors import JobdeckError
from app.state import live
from app.state.base import refused, sign_in_redirect, viewer

UPLOAD_ID = "model-runs-csv"
PREVIEW_ROWS = 20
MAX_CSV_BYTES = 5 * 1024 * 1024


async def read_upload(f: Any, limit: int = MAX_CSV_BYTES) -> Optional[bytes]:
    """The uploaded file's bytes, or None when it is larger than `limit`: no more than
    the limit and one byte is ever read, so a huge file costs no memory to refuse."""
    data = await f.read(limit + 1)
    return None if len(data) > limit else data


@dataclasses.dataclass
class ProblemRow:
    line: int = 0
    column: str = ""
    message: str = ""


@dataclasses.dataclass
class PreviewRow:
    display_name: str = ""
    inputs: int = 0
    outputs: int = 0
    start: str = ""
    end: str = ""


def _day(ts: int) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%d %H:%M")


class BulkState(rx.State):
    file_name: str = ""
    rows: int = 0
    problems: list[ProblemRow] = []
    summary: str = ""  # "3 problems in 2 rows"
    preview: list[PreviewRow] = []
    ready: int = 0  # records that passed, when the whole file did
    checking: bool = False
    lodging: bool = False
    _records: list[dict[str, Any]] = []
    # workflow templates to offer Provena's template of: [id, name]
    workflows: list[list[str]] = []
    workflow_id: str = ""

    @rx.var
    def checked(self) -> bool:
        return self.file_name != ""

    @rx.event
    async def load(self):
        user = await viewer(self)
        if user is None:
            return await sign_in_redirect(self)
        live.unwatch(self)
        self._clear()
        from app.provena_registry import newest_items

        self.workflows = [[w.id, w.display_name] for w in newest_items("MODEL_RUN_WORKFLOW_TEMPLATE")]
        if self.workflow_id not in {w[0] for w in self.workflows}:
            self.workflow_id = self.workflows[0][0] if self.workflows else ""

    @rx.event
    def set_workflow_id(self, value: str):
        self.workflow_id = value

    @rx.event
    async def download_workflow_template(self):
        """Provena's CSV template of the chosen workflow template: a column per dataset
        template, deferred resource key and annotation."""
        from app import provena_csv
        from app.db import session

        user = await viewer(self)
        if user is None:
            return await sign_in_redirect(self)
        if not self.workflow_id:
            return rx.toast.error("Choose a workflow template first.")
        try:
            with session() as s:
                text = provena_csv.template_csv(s.connection(), self.workflow_id)
        except JobdeckError as exc:
            return rx.toast.error(exc.message)
        return rx.download(data=text.encode(), filename=f"model-runs-{self.workflow_id}.csv", mime_type="text/csv")

    def _clear(self) -> None:
        self.file_name, self.rows, self.ready, self.summary = "", 0, 0, ""
        self.problems, self.preview, self._records = [], [], []

    @rx.event
    def start_over(self):
        self._clear()
        return rx.clear_selected_files(UPLOAD_ID)

    @rx.event
    async def download_template(self):
        user = await viewer(self)
        if user is None:
            return await sign_in_redirect(self)
        return rx.download(data=bulk.template_csv().encode(), filename="model-runs-template.csv",
                           mime_type="text/csv")

    @rx.event
    async def check(self, files: list[rx.UploadFile]):
        user = await viewer(self)
        if user is None:
            return await sign_in_redirect(self)
        self._clear()
        if not files:
            return rx.toast.error("Choose a CSV file to check.")
        f = files[0]
        data = await read_upload(f)
        self.file_name = f.name or "upload.csv"
        if data is None:
            self.problems = [ProblemRow(0, "", f"The file is larger than {MAX_CSV_BYTES // (1024 * 1024)} MB; "
                                               f"split it into several files.")]
            self.summary = "1 problem in the file"
            return
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            self.problems = [ProblemRow(0, "", "The file is not UTF-8 text: save it as CSV (UTF-8) and try again.")]
            self.summary = "1 problem in the file"
            return
        got = bulk.check_model_runs_csv(text)
        self.rows = got.rows
        self.summary = got.summary
        self.problems = [ProblemRow(p.line, p.column, p.message) for p in got.problems]
        self._records = got.records
        self.ready = len(got.records)
        self.preview = [PreviewRow(r["display_name"], len(r.get("inputs") or []), len(r.get("outputs") or []),
                                   _day(r["start_time"]), _day(r["end_time"])) for r in got.records[:PREVIEW_ROWS]]
        if self.problems:
            return rx.toast.error(f"{got.summary[:1].upper()}{got.summary[1:]}; nothing was lodged.")

    @rx.event
    async def lodge(self, form: dict[str, Any]):
        user = await viewer(self)
        if user is None:
            return await sign_in_redirect(self)
        if not self._records or self.problems:
            return rx.toast.error("Check a file without problems first.")
        label = str(form.get("label", "")).strip() or f"{len(self._records)} model runs from {self.file_name}"
        try:
            batch = bulk.register_model_runs(actor=user, records=self._records, label=label)
        except JobdeckError as exc:
            return rx.toast.error(refused(exc, "bulk.lodge"))
        n = len(self._records)
        self._clear()
        return [rx.redirect(routes.batch(batch.id)),
                rx.toast.success(f"Lodged {n} model run registrations as one batch; follow them here.")]
