"""What the configuration page's task and pipeline forms share (the runs under way that
use what a form edits; the page read again after a save), and deleting a task or a
pipeline, through app.pipelines.config, which refuses what may not go (a task a
pipeline names, or one an old run under way still needs), said in the dialog."""

from __future__ import annotations

import reflex as rx

from app.errors import JobdeckError
from app.pipelines import config
from app.state.admin import admin_viewer
from app.state.admin_config_rows import LiveRunRow, live_rows
from app.state.admin_configuration import AdminConfigurationState

MAX_ROWS = 100  # parameter rows and step rows a form holds (the domain takes fewer steps)


class ConfigForm(rx.State, mixin=True):
    """A form's list of the runs under way that use what it edits (the newest few, links
    to their pages), and the page read again once it saved."""

    live_runs: list[LiveRunRow] = []
    live_more: str = ""  # "and 5 more"

    def _live_runs(self, *, task_id: int = 0, pipeline_id: int = 0) -> str:
        """Read the runs under way of the task or pipeline edited (nothing for a new one);
        what the form says of them ("2 runs under way use it")."""
        self.live_runs, head, self.live_more = live_rows(task_id=task_id, pipeline_id=pipeline_id)
        return head

    async def _reread(self, user) -> None:
        await reread(self, user)


async def reread(state: rx.State, user) -> None:
    """The configuration page's lists read again (after a save or a deletion)."""
    page = await state.get_state(AdminConfigurationState)
    page._read(user)


def find_task(user, name: str):
    return next((t for t in config.list_tasks(actor=user) if t.name == name), None)


class ConfigDeleteState(rx.State):
    # The deletion asked for: its kind (task | pipeline), its id and name; a refusal.
    del_kind: str = ""
    del_id: int = 0
    del_name: str = ""
    del_error: str = ""

    @rx.event
    async def ask_delete(self, kind: str, name: str):
        user, instead = await admin_viewer(self)
        if user is None:
            return instead
        try:
            if kind == "task":
                found = find_task(user, name)
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
        user, instead = await admin_viewer(self, "task.delete" if self.del_kind == "task" else "pipeline.delete")
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
        await reread(self, user)
        return rx.toast.success(f"{kind.capitalize()} {name} deleted.")

