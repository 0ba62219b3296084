"""State of the configuration page (/admin/configuration): backends, tasks and pipelines
as configured; the whole configuration downloaded as one YAML document, and a document
uploaded, checked (a dry run: what it would create, change and remove) and applied."""

from __future__ import annotations

import dataclasses

import reflex as rx

from app import config_import, configuration
from app.config_yaml import MAX_BYTES
from app.errors import JobdeckError
from app.state.admin import admin_viewer, seconds_text
from app.state.bulk import read_upload
from app.state.views import exact, iso


@dataclasses.dataclass
class BackendConfigRow:
    name: str = ""
    description: str = ""
    max_workers: int = 0
    idle_timeout: str = ""
    job_timeout: str = ""
    created: str = ""
    created_exact: str = ""
    built_in: bool = False  # job types run on it: never deleted
    paused: bool = False


@dataclasses.dataclass
class TaskRow:
    name: str = ""
    description: str = ""
    backend: str = ""
    kind: str = ""
    runs: str = ""  # the command template or the handler's dotted path
    inputs: str = ""
    outputs: str = ""
    ok_exit_codes: str = ""
    timeout: str = ""
    parameters: str = ""
    environment: str = ""  # "LC_ALL=C, TZ=UTC"
    retries: int = 0
    software_version: str = ""


@dataclasses.dataclass
class PipelineRow:
    name: str = ""
    description: str = ""
    steps: str = ""  # "1. a, b (in parallel) → 2. c"
    step_count: int = 0
    fair_use: str = ""  # its soft and hard limits, its own or the global ones
    runnable: bool = True
    public: bool = False
    validators: str = ""  # "seq, pdb_file"; "" for none


@dataclasses.dataclass
class ChangeRow:
    kind: str = ""  # backend | task | pipeline
    name: str = ""
    action: str = ""  # create | change | remove
    fields: str = ""  # "command, timeout_s"


IMPORT_UPLOAD_ID = "config-yaml"


def _steps(p) -> str:
    parts = []
    for i, group in enumerate(p.orders, start=1):
        names = [st.task for st in group]
        parts.append(f"{i}. {', '.join(names)}" + (" (in parallel)" if len(names) > 1 else ""))
    return " → ".join(parts)


def _fair_use(p) -> str:
    """E.g. "lower priority from 10, refused at 15 (global)"; 0 reads "off"."""
    from app.fairuse import limits_for

    lim = limits_for(p)
    own = p.queue_hog_size is not None or p.queue_hard_limit is not None
    soft = f"lower priority from {lim.hog_size}" if lim.hog_size else "no soft limit"
    hard = f"refused at {lim.hard_limit}" if lim.hard_limit else "no hard limit"
    return f"{soft}, {hard} ({'its own' if own else 'global'})"


def _param(p) -> str:
    text = f"{p.flag} {p.name}".strip() if p.flag else p.name
    if p.default:
        text += f"={p.default}"
    return text + (" (required)" if p.required else "") + (" (bool_valued)" if p.bool_valued else "")


class AdminConfigurationState(rx.State):
    backends: list[BackendConfigRow] = []
    tasks: list[TaskRow] = []
    pipelines: list[PipelineRow] = []
    loaded: bool = False
    # The document chosen for import: its name, the dry run's answer, the refusal.
    import_file: str = ""
    check_summary: str = ""
    changes: list[ChangeRow] = []
    import_error: str = ""
    import_field: str = ""
    checked_ok: bool = False
    _document: bytes = b""

    @rx.event
    async def load(self):
        user, instead = await admin_viewer(self)
        if user is None:
            return instead
        self._read(user)

    @rx.event
    async def download(self):
        user, instead = await admin_viewer(self)
        if user is None:
            return instead
        text = config_import.export_configuration(actor=user)
        return rx.download(data=text.encode("utf-8"), filename="jobdeck-config.yaml", mime_type="application/yaml")

    def _forget_check(self) -> None:
        self.check_summary, self.changes, self.checked_ok = "", [], False
        self.import_error = self.import_field = ""

    @rx.event
    async def pick(self, files: list[rx.UploadFile]):
        """Keep the chosen document (nothing is checked or written yet)."""
        user, instead = await admin_viewer(self)
        if user is None:
            return instead
        self._forget_check()
        if not files:
            return rx.toast.error("Choose a YAML file to import.")
        data = await read_upload(files[0], MAX_BYTES)
        self.import_file = files[0].name or "configuration.yaml"
        if data is None:
            self._document = b""
            self.import_error = f"{self.import_file} is larger than {MAX_BYTES} bytes, the most an import reads."
            return
        self._document = data

    @rx.event
    async def check(self):
        """The dry run: what an import of the chosen document would do."""
        user, instead = await admin_viewer(self)
        if user is None:
            return instead
        self._forget_check()
        if not self._document:
            self.import_error = "Choose a YAML file first."
            return
        try:
            done = config_import.check_import(actor=user, content=self._document)
        except JobdeckError as exc:
            self.import_error, self.import_field = exc.message, getattr(exc, "field", None) or ""
            return
        self._show(done)
        self.checked_ok = True

    @rx.event
    async def apply(self):
        user, instead = await admin_viewer(self, "config.import")
        if user is None:
            return instead
        if not self._document or not self.checked_ok:
            self.import_error = "Check the document before applying it."
            return
        try:
            done = config_import.import_configuration(actor=user, content=self._document)
        except JobdeckError as exc:
            self._forget_check()
            self.import_error, self.import_field = exc.message, getattr(exc, "field", None) or ""
            return
        name = self.import_file
        self._forget_check()
        self.import_file, self._document = "", b""
        self._read(user)
        return [rx.clear_selected_files(IMPORT_UPLOAD_ID),
                rx.toast.success(f"Configuration imported from {name}: {done.summary}.")]

    @rx.event
    def start_over(self):
        self._forget_check()
        self.import_file, self._document = "", b""
        return rx.clear_selected_files(IMPORT_UPLOAD_ID)

    def _show(self, done: config_import.ImportResult) -> None:
        self.check_summary = done.summary
        self.changes = [ChangeRow(kind=c.kind, name=c.name, action=c.action, fields=", ".join(c.fields))
                        for c in done.changes]

    def _read(self, user) -> None:
        from app.backends import backend_configs
        from app.jobtypes import BACKENDS

        conf = configuration.read_configuration(actor=user)
        rows = {b.name: b for b in conf.backends}
        # Every backend, a built-in one without a row too (with the settings that apply to it).
        self.backends = [BackendConfigRow(
            name=name, description=rows[name].description if name in rows else "", max_workers=c.max_workers,
            idle_timeout=seconds_text(c.idle_timeout_s),
            job_timeout=seconds_text(c.job_timeout_s) if c.job_timeout_s else "each job type's own",
            created=iso(rows[name].created_at) if name in rows else "",
            created_exact=exact(rows[name].created_at) if name in rows else "",
            built_in=name in BACKENDS, paused=c.paused)
            for name, c in sorted(backend_configs(refresh=True).items())]
        self.tasks = [TaskRow(
            name=t.name, description=t.description, backend=t.backend, kind=t.kind,
            runs=t.command if t.kind == "command" else t.handler, inputs=t.input_glob, outputs=t.output_glob,
            ok_exit_codes=t.ok_exit_codes, timeout=seconds_text(t.timeout_s),
            parameters=", ".join(_param(p) for p in t.parameters),
            environment=", ".join(f"{k}={v[:40]}" for k, v in sorted(t.environment.items())), retries=t.retries,
            software_version=t.software_version) for t in conf.tasks]
        self.pipelines = [PipelineRow(name=p.name, description=p.description, steps=_steps(p),
                                      step_count=len(p.steps), fair_use=_fair_use(p), runnable=p.runnable,
                                      public=p.public, validators=", ".join(p.validators))
                          for p in conf.pipelines]
        self.loaded = True
