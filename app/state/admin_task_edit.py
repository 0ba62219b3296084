"""The configuration page's task form (/admin/configuration): a task's fields, its
parameters a row each and its environment variables, created, changed and copied
through app.pipelines.config, which checks everything; a refusal is shown at the field
it names."""

from __future__ import annotations

import reflex as rx

from app.errors import InvalidInput, JobdeckError
from app.pipelines import config
from app.pipelines.checks import DEFAULT_BACKEND
from app.pipelines.handlers import HANDLERS
from app.state.admin import admin_viewer
from app.state.admin_config_edit import MAX_ROWS, ConfigForm, find_task
from app.state.admin_config_rows import (TASK_FIELDS, EnvRow, ParamRow, copy_name, env_rows, env_value, form_number,
                                         param_row, param_value, place_env_refusal, place_refusal)
from app.state.base import refused

# What a row's change may set (the page names the field; nothing else of a row is set).
_PARAM_KEYS = {"name", "flag", "default", "required", "type", "choices", "minimum", "maximum", "bool_valued"}


class TaskEditState(ConfigForm, rx.State):
    handler_names: list[str] = sorted(HANDLERS)
    backend_names: list[str] = []
    # task_id 0 is a new task.
    task_open: bool = False
    task_id: int = 0
    t_name: str = ""
    t_description: str = ""
    t_backend: str = DEFAULT_BACKEND
    t_kind: str = "command"
    t_command: str = ""
    t_handler: str = ""
    t_inputs: str = ""
    t_outputs: str = ""
    t_codes: str = "0"
    t_timeout: str = "600"
    t_params: list[ParamRow] = []
    t_env: list[EnvRow] = []
    t_retries: str = "0"
    t_version: str = ""
    t_error: str = ""
    t_field: str = ""  # the field the refusal names when the form shows it; "" above the form
    # The pipeline form: pipeline_id 0 is a new pipeline.
    t_live: str = ""  # "2 runs under way use it" when editing

    # --- the form's fields, as typed (checked only when saved) ------------------------------

    @rx.event
    def set_t_name(self, value: str):
        self.t_name = str(value)[:4000]
        self._edited("name")

    @rx.event
    def set_t_description(self, value: str):
        self.t_description = str(value)[:4000]
        self._edited("description")

    @rx.event
    def set_t_backend(self, value: str):
        self.t_backend = str(value)[:4000]
        self._edited("backend")

    @rx.event
    def set_t_kind(self, value: str):
        self.t_kind = str(value)[:4000]
        self._edited("kind")

    @rx.event
    def set_t_command(self, value: str):
        self.t_command = str(value)[:4000]
        self._edited("command")

    @rx.event
    def set_t_handler(self, value: str):
        self.t_handler = str(value)[:4000]
        self._edited("handler")

    @rx.event
    def set_t_inputs(self, value: str):
        self.t_inputs = str(value)[:4000]
        self._edited("input_glob")

    @rx.event
    def set_t_outputs(self, value: str):
        self.t_outputs = str(value)[:4000]
        self._edited("output_glob")

    @rx.event
    def set_t_codes(self, value: str):
        self.t_codes = str(value)[:4000]
        self._edited("ok_exit_codes")

    @rx.event
    def set_t_timeout(self, value: str):
        self.t_timeout = str(value)[:4000]
        self._edited("timeout_s")

    @rx.event
    def set_t_retries(self, value: str):
        self.t_retries = str(value)[:4000]
        self._edited("retries")

    @rx.event
    def set_t_version(self, value: str):
        self.t_version = str(value)[:4000]
        self._edited("software_version")

    @rx.event
    def set_env(self, i: int, key: str, value: str):
        rows = list(self.t_env)
        if isinstance(i, int) and 0 <= i < len(rows) and key in ("name", "value"):
            setattr(rows[i], key, str(value)[:5000])
            rows[i].error = rows[i].error_field = ""
            self.t_env = rows
            self._edited("environment")

    @rx.event
    def add_env(self):
        if len(self.t_env) < MAX_ROWS:
            self.t_env = [*self.t_env, EnvRow()]

    @rx.event
    def remove_env(self, i: int):
        self.t_env = [r for j, r in enumerate(self.t_env) if j != i]

    def _edited(self, field: str) -> None:
        """A refusal at a field goes once the field is changed (saving checks it again)."""
        if self.t_field == field:
            self.t_error = self.t_field = ""

    def _task_form(self, t, *, task_id: int, name: str) -> None:
        self.task_id, self.t_name = task_id, name
        self.t_description, self.t_backend, self.t_kind = t.description, t.backend, t.kind
        self.t_command, self.t_handler = t.command, t.handler
        self.t_inputs, self.t_outputs = t.input_glob, t.output_glob
        self.t_codes, self.t_timeout = t.ok_exit_codes, str(t.timeout_s)
        self.t_params = [param_row(p) for p in t.parameters]
        self.t_env, self.t_retries, self.t_version = env_rows(t.environment), str(t.retries), t.software_version
        self._read_backends()
        self.t_error = self.t_field = ""
        self.t_live = self._live_runs(task_id=task_id)
        self.task_open = True

    def _read_backends(self) -> None:
        from app.backends import backend_configs

        self.backend_names = sorted(backend_configs(refresh=True))

    @rx.event
    async def new_task(self):
        user, instead = await admin_viewer(self)
        if user is None:
            return instead
        self.task_id = 0
        self.t_name = self.t_description = self.t_command = self.t_handler = self.t_inputs = self.t_outputs = ""
        self.t_backend, self.t_kind, self.t_codes, self.t_timeout = DEFAULT_BACKEND, "command", "0", "600"
        self._read_backends()
        self.t_params, self.t_error, self.t_field = [], "", ""
        self.t_env, self.t_retries, self.t_version = [], "0", ""
        self.t_live = self._live_runs()
        self.task_open = True

    @rx.event
    async def edit_task(self, name: str):
        user, instead = await admin_viewer(self)
        if user is None:
            return instead
        t = find_task(user, name)
        if t is None:
            return rx.toast.error(f"No task {name} any more.")
        self._task_form(t, task_id=t.id, name=t.name)

    @rx.event
    async def copy_task(self, name: str):
        user, instead = await admin_viewer(self)
        if user is None:
            return instead
        tasks = config.list_tasks(actor=user)
        t = next((t for t in tasks if t.name == name), None)
        if t is None:
            return rx.toast.error(f"No task {name} any more.")
        self._task_form(t, task_id=0, name=copy_name(t.name, {x.name for x in tasks}))

    @rx.event
    def set_task_open(self, value: bool):
        self.task_open = value

    @rx.event
    def set_param(self, i: int, key: str, value):
        """A parameter row's field as typed; only the row's own fields (a page sends the key)."""
        rows = list(self.t_params)
        if isinstance(i, int) and 0 <= i < len(rows) and key in _PARAM_KEYS:
            value = bool(value) if key in ("required", "bool_valued") else str(value)[:4000]
            setattr(rows[i], key, value)
            if rows[i].error_field.endswith("." + key):
                rows[i].error = rows[i].error_field = ""
            self.t_params = rows

    @rx.event
    def add_param(self):
        if len(self.t_params) < MAX_ROWS:  # the domain says how many it takes; this bounds the form
            self.t_params = [*self.t_params, ParamRow()]

    @rx.event
    def remove_param(self, i: int):
        self.t_params = [r for j, r in enumerate(self.t_params) if j != i]

    def _task_refused(self, exc: JobdeckError) -> None:
        self.t_error = exc.message
        self.t_params, self.t_field = place_refusal(self.t_params, exc, "parameters", TASK_FIELDS)
        self.t_env, on_row = place_env_refusal(self.t_env, exc)
        if (exc.field or "").startswith("environment"):  # on its row, or under the variables
            self.t_field = exc.field if on_row else "environment"

    @rx.event
    async def save_task(self):
        user, instead = await admin_viewer(self, "task.save")
        if user is None:
            return instead
        values = dict(name=self.t_name, description=self.t_description, backend=self.t_backend,
                      kind=self.t_kind, command=self.t_command, handler=self.t_handler, input_glob=self.t_inputs,
                      output_glob=self.t_outputs, ok_exit_codes=self.t_codes, timeout_s=form_number(self.t_timeout),
                      parameters=[param_value(r) for r in self.t_params], retries=form_number(self.t_retries),
                      software_version=self.t_version)
        values["environment"], self.t_env = env_value(self.t_env)
        if any(r.error for r in self.t_env):
            why = InvalidInput("A variable of the environment is refused (see its row).", field="environment.rows")
            self.t_error, self.t_field = refused(why, "task.save"), why.field
            return
        try:
            if self.task_id:
                done = config.update_task(actor=user, task_id=self.task_id, **values)
            else:
                done = config.create_task(actor=user, **values)
        except JobdeckError as exc:
            self._task_refused(exc)
            return
        self.task_open = False
        await self._reread(user)
        return rx.toast.success(f"Task {done.name} {'saved' if self.task_id else 'created'}.")

