"""The configuration page's pipeline form (/admin/configuration): a pipeline's steps a row
each (reordered by number or by dragging one onto another), the lanes they make and
their graph before anything is saved, created, changed and copied through
app.pipelines.config, which checks everything; a refusal is shown at the field it
names."""

from __future__ import annotations

from typing import Any

import reflex as rx

from app.errors import JobdeckError
from app.pipelines import config
from app.state.admin import admin_viewer
from app.state.admin_config_edit import MAX_ROWS, ConfigForm
from app.state.admin_config_rows import (PIPELINE_FIELDS, LaneRow, StepRow, copy_name, form_number, moved_steps,
                                         place_refusal)
from app.state.runview import plan_graph


class PipelineEditState(ConfigForm, rx.State):
    task_names: list[str] = []
    # pipeline_id 0 is a new pipeline.
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
    p_error: str = ""
    p_field: str = ""  # the field the refusal names when the form shows it; "" above the form

    # --- the form's fields, as typed (checked only when saved) ------------------------------

    @rx.event
    def set_p_name(self, value: str):
        self.p_name = str(value)[:4000]
        self._edited("name")

    @rx.event
    def set_p_description(self, value: str):
        self.p_description = str(value)[:4000]
        self._edited("description")

    @rx.event
    def set_p_hog(self, value: str):
        self.p_hog = str(value)[:4000]
        self._edited("queue_hog_size")

    @rx.event
    def set_p_hard(self, value: str):
        self.p_hard = str(value)[:4000]
        self._edited("queue_hard_limit")

    @rx.event
    def set_p_validators(self, value: str):
        self.p_validators = str(value)[:4000]
        self._edited("validators")

    @rx.event
    def set_p_public(self, value: bool):
        self.p_public = bool(value)

    @rx.event
    def set_p_runnable(self, value: bool):
        self.p_runnable = bool(value)

    def _edited(self, field: str) -> None:
        """A refusal at a field goes once the field is changed (saving checks it again)."""
        if self.p_field == field:
            self.p_error = self.p_field = ""

    # --- pipelines -------------------------------------------------------------------------

    def _pipeline_form(self, p, *, pipeline_id: int, name: str) -> None:
        self.pipeline_id, self.p_name, self.p_description = pipeline_id, name, p.description
        self.p_steps = [StepRow(order=str(st.order), task=st.task) for st in p.steps]
        self.p_public, self.p_runnable = p.public, p.runnable
        self.p_hog = "" if p.queue_hog_size is None else str(p.queue_hog_size)
        self.p_hard = "" if p.queue_hard_limit is None else str(p.queue_hard_limit)
        self.p_validators = ", ".join(p.validators)
        self.p_error, self.p_field = "", ""
        self.p_live = self._live_runs(pipeline_id=pipeline_id)
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
        self.p_live = self._live_runs()
        self.pipeline_open = True

    @rx.event
    async def edit_pipeline(self, name: str):
        return await self._open_pipeline(name, copy=False)

    @rx.event
    async def copy_pipeline(self, name: str):
        return await self._open_pipeline(name, copy=True)

    async def _open_pipeline(self, name: str, *, copy: bool):
        """The form filled from a saved pipeline: to edit it, or as a new one named after it."""
        user, instead = await admin_viewer(self)
        if user is None:
            return instead
        try:
            p = config.get_pipeline(actor=user, pipeline=name)
        except JobdeckError as exc:
            return rx.toast.error(exc.message)
        self.task_names = [t.name for t in config.list_tasks(actor=user)]
        if copy:
            taken = {x.name for x in config.list_pipelines(actor=user)}
            self._pipeline_form(p, pipeline_id=0, name=copy_name(p.name, taken))
        else:
            self._pipeline_form(p, pipeline_id=p.id, name=p.name)

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

