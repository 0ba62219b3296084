"""State of the configuration page's backend editor (/admin/configuration): a backend
created, changed, duplicated and deleted through app.backends, which checks everything
as the API does; a refusal is shown at the field it names, a deletion's at the dialog."""

from __future__ import annotations

import reflex as rx

from app import backends
from app.errors import JobdeckError
from app.state.admin import admin_viewer
from app.state.admin_configuration import AdminConfigurationState
from app.state.admin_config_rows import form_number

# The fields the form shows: a refusal naming another one is shown above the form.
BACKEND_FIELDS = {"name", "description", "max_workers", "idle_timeout_s", "job_timeout_s"}


def copy_backend_name(name: str, taken: set[str]) -> str:
    """A backend's name is its queues' name: "gpu-copy", "gpu-copy-2", ..."""
    base = f"{name}-copy"[:58]
    out, n = base, 2
    while out in taken:
        out, n = f"{base}-{n}", n + 1
    return out


class BackendEditState(rx.State):
    open: bool = False
    editing: str = ""  # the backend's name when changing one; "" for a new backend
    b_name: str = ""
    b_description: str = ""
    b_workers: str = ""
    b_idle: str = ""
    b_limit: str = ""
    b_error: str = ""
    b_field: str = ""
    del_name: str = ""
    del_error: str = ""

    @rx.event
    def set_b_name(self, value: str):
        self.b_name = str(value)[:200]
        self._edited("name")

    @rx.event
    def set_b_description(self, value: str):
        self.b_description = str(value)[:4000]
        self._edited("description")

    @rx.event
    def set_b_workers(self, value: str):
        self.b_workers = str(value)[:40]
        self._edited("max_workers")

    @rx.event
    def set_b_idle(self, value: str):
        self.b_idle = str(value)[:40]
        self._edited("idle_timeout_s")

    @rx.event
    def set_b_limit(self, value: str):
        self.b_limit = str(value)[:40]
        self._edited("job_timeout_s")

    @rx.event
    def set_open(self, value: bool):
        self.open = bool(value)

    def _edited(self, field: str) -> None:
        if self.b_field == field:
            self.b_error = self.b_field = ""

    def _form(self, cfg, *, name: str, editing: str, description: str) -> None:
        self.editing, self.b_name, self.b_description = editing, name, description
        self.b_workers, self.b_idle = str(cfg.max_workers), str(cfg.idle_timeout_s)
        self.b_limit = str(cfg.job_timeout_s or 0)
        self.b_error = self.b_field = ""
        self.open = True

    @rx.event
    async def new_backend(self):
        user, instead = await admin_viewer(self)
        if user is None:
            return instead
        self._form(backends.default_config(""), name="", editing="", description="")

    @rx.event
    async def edit_backend(self, name: str):
        user, instead = await admin_viewer(self)
        if user is None:
            return instead
        cfg = backends.backend_configs(refresh=True).get(name)
        if cfg is None:
            return rx.toast.error(f"No backend {name} any more.")
        self._form(cfg, name=name, editing=name, description=backends.description_of(name))

    @rx.event
    async def copy_backend(self, name: str):
        user, instead = await admin_viewer(self)
        if user is None:
            return instead
        known = backends.backend_configs(refresh=True)
        cfg = known.get(name)
        if cfg is None:
            return rx.toast.error(f"No backend {name} any more.")
        self._form(cfg, name=copy_backend_name(name, set(known)), editing="", description=backends.description_of(name))

    @rx.event
    async def save_backend(self):
        user, instead = await admin_viewer(self, "backend.save")
        if user is None:
            return instead
        values = dict(description=self.b_description, max_workers=form_number(self.b_workers),
                      idle_timeout_s=form_number(self.b_idle), job_timeout_s=form_number(self.b_limit))
        try:
            if self.editing:
                backends.update_backend(actor=user, name=self.editing, **values)
            else:
                backends.create_backend(actor=user, name=self.b_name, **values)
        except JobdeckError as exc:
            field = getattr(exc, "field", None) or ""
            self.b_error, self.b_field = exc.message, field if field in BACKEND_FIELDS else ""
            return
        self.open = False
        await self._reread(user)
        name = self.editing or self.b_name.strip()
        return rx.toast.success(f"Backend {name} {'saved' if self.editing else 'created'}.")

    @rx.event
    async def ask_delete(self, name: str):
        user, instead = await admin_viewer(self)
        if user is None:
            return instead
        self.del_name, self.del_error = name, ""

    @rx.event
    def cancel_delete(self):
        self.del_name, self.del_error = "", ""

    @rx.event
    async def confirm_delete(self):
        user, instead = await admin_viewer(self, "backend.delete")
        if user is None:
            return instead
        try:
            backends.delete_backend(actor=user, name=self.del_name)
        except JobdeckError as exc:
            self.del_error = exc.message
            return
        name = self.del_name
        self.cancel_delete()
        await self._reread(user)
        return rx.toast.success(f"Backend {name} deleted.")

    async def _reread(self, user) -> None:
        page = await self.get_state(AdminConfigurationState)
        page._read(user)
