"""State of the configuration page's editing (/admin/configuration): a task's form (its
parameters a row each) and a pipeline's form (its steps a row each, and the lanes they
make), created, changed, copied and deleted through app.pipelines.config, which checks
everything; a refusal is shown at the field it names."""

from __future__ import annotations

from typing import Any

import reflex as rx

from app.errors import InvalidInput, JobdeckError
from app.pipelines import config
from app.pipelines.checks import DEFAULT_BACKEND
from app.pipelines.handlers import HANDLERS
from app.state.admin import admin_viewer
from app.state.base import refused
from app.state.admin_configuration import AdminConfigurationState
from app.state.admin_config_rows import (PIPELINE_FIELDS, TASK_FIELDS, EnvRow, LaneRow, LiveRunRow, ParamRow, StepRow,
                                         copy_name, env_rows, env_value, form_number, live_rows, moved_steps,
                                         param_row, param_value, place_env_refusal, place_refusal)
from app.state.runview import plan_graph

MAX_ROWS = 100  # parameter rows and step rows a form holds (the domain takes fewer steps)
# What a row's change may set (the page names the field; nothing else of a row is set).
_PARAM_KEYS = {"name", "flag", "default", "required", "type", "choices", "minimum", "maximum", "bool_valued"}


class ConfigEditState(rx.State):
    task_names: list[str] = []
    handler_names: list[str] = sorted(HANDLERS)
    backend_names: list[str] = []
    # The task form: task_id 0 is a new task.
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
    pipeline_open: bool = False
    pipeline_id: int = 0
    p_name: str = ""
    p_description: str = ""
    p_steps: list[StepRow] = []
    p_public: bool = False
    p_runnable: bool = True
    p_hog: str = ""
    p_hard: str = ""
    p_validators: str = ""
    p_live: str = ""  # "2 runs under way use it" when editing
    # The runs under way that use what a form edits (the newest few, links to their pages).
    live_runs: list[LiveRunRow] = []
    live_more: str = ""  # "and 5 more"
    t_live: str = ""
    p_error: str = ""
    p_field: str = ""
    # The deletion asked for: its kind (task | pipeline), its id and name; a refusal.
    del_kind: str = ""
    del_id: int = 0
    del_name: str = ""
    del_error: str = ""

    # --- the forms' fields, as typed (checked only when saved) ------------------------------

    @rx.event
    def set_t_name(self, value: str):
        self.t_name = str(value)[:4000]
        self._edited("t", "name")

    @rx.event
    def set_t_description(self, value: str):
        self.t_description = str(value)[:4000]
        self._edited("t", "description")

    @rx.event
    def set_t_backend(self, value: str):
        self.t_backend = str(value)[:4000]
        self._edited("t", "backend")

    @rx.event
    def set_t_kind(self, value: str):
        self.t_kind = str(value)[:4000]
        self._edited("t", "kind")

    @rx.event
    def set_t_command(self, value: str):
        self.t_command = str(value)[:4000]
        self._edited("t", "command")

    @rx.event
    def set_t_handler(self, value: str):
        self.t_handler = str(value)[:4000]
        self._edited("t", "handler")

    @rx.event
    def set_t_inputs(self, value: str):
        self.t_inputs = str(value)[:4000]
        self._edited("t", "input_glob")

    @rx.event
    def set_t_outputs(self, value: str):
        self.t_outputs = str(value)[:4000]
        self._edited("t", "output_glob")

    @rx.event
    def set_t_codes(self, value: str):
        self.t_codes = str(value)[:4000]
        self._edited("t", "ok_exit_codes")

    @rx.event
    def set_t_timeout(self, value: str):
        self.t_timeout = str(value)[:4000]
        self._edited("t", "timeout_s")

    @rx.event
    def set_t_retries(self, value: str):
        self.t_retries = str(value)[:4000]
        self._edited("t", "retries")

    @rx.event
    def set_t_version(self, value: str):
        self.t_version = str(value)[:4000]
        self._edited("t", "software_version")

    @rx.event
    def set_env(self, i: int, key: str, value: str):
        rows = list(self.t_env)
        if isinstance(i, int) and 0 <= i < len(rows) and key in ("name", "value"):
            setattr(rows[i], key, str(value)[:5000])
            rows[i].error = rows[i].error_field = ""
            self.t_env = rows
            self._edited("t", "environment")

    @rx.event
    def add_env(self):
        if len(self.t_env) < MAX_ROWS:
            self.t_env = [*self.t_env, EnvRow()]

    @rx.event
    def remove_env(self, i: int):
        self.t_env = [r for j, r in enumerate(self.t_env) if j != i]

    @rx.event
    def set_p_name(self, value: str):
        self.p_name = str(value)[:4000]
        self._edited("p", "name")

    @rx.event
    def set_p_description(self, value: str):
        self.p_description = str(value)[:4000]
        self._edited("p", "description")

    @rx.event
    def set_p_hog(self, value: str):
        self.p_hog = str(value)[:4000]
        self._edited("p", "queue_hog_size")

    @rx.event
    def set_p_hard(self, value: str):
        self.p_hard = str(value)[:4000]
        self._edited("p", "queue_hard_limit")

    @rx.event
    def set_p_validators(self, value: str):
        self.p_validators = str(value)[:4000]
        self._edited("p", "validators")

    @rx.event
    def set_p_public(self, value: bool):
        self.p_public = bool(value)

    @rx.event
    def set_p_runnable(self, value: bool):
        self.p_runnable = bool(value)

    def _edited(self, form: str, field: str) -> None:
        """A refusal at a field goes once the field is changed (saving checks it again)."""
        if form == "t" and self.t_field == field:
            self.t_error = self.t_field = ""
        elif form == "p" and self.p_field == field:
            self.p_error = self.p_field = ""

    # --- tasks -----------------------------------------------------------------------------

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
        self._live(task_id=task_id)
        self.task_open = True

    def _live(self, *, task_id: int = 0, pipeline_id: int = 0) -> None:
        """The runs under way that use the task or pipeline edited (nothing for a new one)."""
        self.live_runs, head, self.live_more = live_rows(task_id=task_id, pipeline_id=pipeline_id)
        self.t_live, self.p_live = (head, "") if task_id else ("", head)

    def _read_backends(self) -> None:
        from app.backends import backend_configs

        self.backend_names = sorted(backend_configs(refresh=True))

    def _find_task(self, user, name: str):
        return next((t for t in config.list_tasks(actor=user) if t.name == name), None)

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
        self._live()
        self.task_open = True

    @rx.event
    async def edit_task(self, name: str):
        user, instead = await admin_viewer(self)
        if user is None:
            return instead
        t = self._find_task(user, name)
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

    # --- pipelines -------------------------------------------------------------------------

    def _pipeline_form(self, p, *, pipeline_id: int, name: str) -> None:
        self.pipeline_id, self.p_name, self.p_description = pipeline_id, name, p.description
        self.p_steps = [StepRow(order=str(st.order), task=st.task) for st in p.steps]
        self.p_public, self.p_runnable = p.public, p.runnable
        self.p_hog = "" if p.queue_hog_size is None else str(p.queue_hog_size)
        self.p_hard = "" if p.queue_hard_limit is None else str(p.queue_hard_limit)
        self.p_validators = ", ".join(p.validators)
        self.p_error, self.p_field = "", ""
        self._live(pipeline_id=pipeline_id)
        self.pipeline_open = True

    @rx.event
    async def new_pipeline(self):
        user, instead = await admin_viewer(self)
        if user is None:
            return instead
        self.task_names = [t.name for t in config.list_tasks(actor=user)]
        self.pipeline_id, self.p_name, self.p_description = 0, "", ""
        self.p_steps = [StepRow(order="1", task="")]
        self.p_public, self.p_runnable, self.p_hog, self.p_hard, self.p_validators = False, True, "", "", ""
        self.p_error, self.p_field = "", ""
        self._live()
        self.pipeline_open = True

    @rx.event
    async def edit_pipeline(self, name: str):
        user, instead = await admin_viewer(self)
        if user is None:
            return instead
        try:
            p = config.get_pipeline(actor=user, pipeline=name)
        except JobdeckError as exc:
            return rx.toast.error(exc.message)
        self.task_names = [t.name for t in config.list_tasks(actor=user)]
        self._pipeline_form(p, pipeline_id=p.id, name=p.name)

    @rx.event
    async def copy_pipeline(self, name: str):
        user, instead = await admin_viewer(self)
        if user is None:
            return instead
        try:
            p = config.get_pipeline(actor=user, pipeline=name)
        except JobdeckError as exc:
            return rx.toast.error(exc.message)
        self.task_names = [t.name for t in config.list_tasks(actor=user)]
        taken = {x.name for x in config.list_pipelines(actor=user)}
        self._pipeline_form(p, pipeline_id=0, name=copy_name(p.name, taken))

    @rx.event
    def set_pipeline_open(self, value: bool):
        self.pipeline_open = value

    @rx.event
    def set_step(self, i: int, key: str, value: str):
        rows = list(self.p_steps)
        if isinstance(i, int) and 0 <= i < len(rows) and key in ("order", "task"):
            setattr(rows[i], key, str(value)[:200])
            if rows[i].error_field.endswith("." + key):
                rows[i].error = rows[i].error_field = ""
            self.p_steps = rows

    @rx.event
    def add_step(self):
        if len(self.p_steps) >= MAX_ROWS:
            return
        orders = [int(r.order) for r in self.p_steps if r.order.strip().isdigit()]
        self.p_steps = [*self.p_steps, StepRow(order=str(max(orders, default=0) + 1), task="")]

    @rx.event
    def remove_step(self, i: int):
        self.p_steps = [r for j, r in enumerate(self.p_steps) if j != i]

    @rx.event
    def move_step(self, source: int, target: int):
        """A step dragged onto another's row: it takes that place, numbered again (moved_steps)."""
        if isinstance(source, int) and isinstance(target, int):
            self.p_steps = moved_steps(self.p_steps, source, target)

    @rx.var
    def lanes(self) -> list[LaneRow]:
        """The steps as they would run: a lane per order number, in order; a step whose
        number is no whole number is left out (saving names it)."""
        by: dict[int, list[str]] = {}
        for r in self.p_steps:
            if r.order.strip().isdigit() and r.task:
                by.setdefault(int(r.order.strip()), []).append(r.task)
        out, before = [], None
        for o in sorted(by):
            names = by[o]
            words = (f"{names[0]} runs" if len(names) == 1 else
                     f"{', '.join(names[:-1])} and {names[-1]} run side by side")
            words += " first" if before is None else f", once order {before} has succeeded"
            out.append(LaneRow(order=str(o), tasks=names, words=words))
            before = o
        return out

    def _plan(self) -> tuple[list[dict], list[dict], int]:
        return plan_graph([(int(r.order.strip()), r.task) for r in self.p_steps
                           if r.order.strip().isdigit() and r.task])

    @rx.var
    def preview_nodes(self) -> list[dict[str, Any]]:
        """The run graph's nodes of the steps as typed (the run view's component draws them)."""
        return self._plan()[0]

    @rx.var
    def preview_edges(self) -> list[dict[str, Any]]:
        return self._plan()[1]

    @rx.var
    def preview_height(self) -> str:
        return f"{self._plan()[2]}px"

    def _pipeline_refused(self, exc: JobdeckError) -> None:
        self.p_error = exc.message
        self.p_steps, self.p_field = place_refusal(self.p_steps, exc, "steps", PIPELINE_FIELDS)

    @rx.event
    async def save_pipeline(self):
        user, instead = await admin_viewer(self, "pipeline.save")
        if user is None:
            return instead
        steps = [{"order": form_number(r.order), "task": r.task} for r in self.p_steps]
        values = dict(name=self.p_name, description=self.p_description, steps=steps,
                      queue_hog_size=form_number(self.p_hog), queue_hard_limit=form_number(self.p_hard),
                      runnable=self.p_runnable, public=self.p_public,
                      validators=[v.strip() for v in self.p_validators.split(",") if v.strip()])
        try:
            if self.pipeline_id:
                done = config.update_pipeline(actor=user, pipeline_id=self.pipeline_id, **values)
            else:
                done = config.create_pipeline(actor=user, **values)
        except JobdeckError as exc:
            self._pipeline_refused(exc)
            return
        self.pipeline_open = False
        await self._reread(user)
        return rx.toast.success(f"Pipeline {done.name} {'saved' if self.pipeline_id else 'created'}.")

    # --- deleting --------------------------------------------------------------------------

    @rx.event
    async def ask_delete(self, kind: str, name: str):
        user, instead = await admin_viewer(self)
        if user is None:
            return instead
        try:
            if kind == "task":
                found = self._find_task(user, name)
                the_id = found.id if found is not None else 0
            else:
                the_id = config.get_pipeline(actor=user, pipeline=name).id
        except JobdeckError as exc:
            return rx.toast.error(exc.message)
        if not the_id:
            return rx.toast.error(f"No {kind} {name} any more.")
        self.del_kind, self.del_id, self.del_name, self.del_error = kind, the_id, name, ""

    @rx.event
    def cancel_delete(self):
        self.del_kind, self.del_id, self.del_name, self.del_error = "", 0, "", ""

    @rx.event
    async def confirm_delete(self):
        user, instead = await admin_viewer(self, f"{self.del_kind or 'config'}.delete")
        if user is None:
            return instead
        try:
            if self.del_kind == "task":
                config.delete_task(actor=user, task_id=self.del_id)
            else:
                config.delete_pipeline(actor=user, pipeline_id=self.del_id)
        except JobdeckError as exc:
            self.del_error = exc.message
            return
        kind, name = self.del_kind, self.del_name
        self.cancel_delete()
        await self._reread(user)
        return rx.toast.success(f"{kind.capitalize()} {name} deleted.")

    async def _reread(self, user) -> None:
        page = await self.get_state(AdminConfigurationState)
        page._read(user)
