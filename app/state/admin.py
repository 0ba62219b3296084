"""State of the admin overview (/admin): each backend's queue, workers and settings
(changed here), every user's job counts, and the stuck jobs. Also the guard of every
admin page: signed in, and an admin.

Worker heartbeats are not job events, so the admin pages read again every few seconds
(a timer on the page asks) instead of waiting for pushes.
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any, Optional

import reflex as rx

from app import backends, queries, queues, retention, workers
from app.errors import InvalidInput, JobdeckError, PermissionDenied
from app.lifecycle import JobStatus
from app.models import User
from app.state.base import refused, sign_in_redirect, viewer
from app.state.views import label_of

REDIS_DOWN = ("The queue server (Redis) does not answer: queues and workers cannot be read. Lodged jobs are "
              "kept and queued once it is back.")
EDIT_FIELDS = list(backends.EDITABLE)


ADMINS_ONLY = "The admin console is for admins."


async def admin_viewer(state: rx.State, changing: str = "") -> tuple[Optional[User], Any]:
    """(the admin, None), or (None, what to do instead): send a signed-out person to
    sign in; a signed-in user who is no admin gets nothing (the page says admins only).

    `changing` names an event that would change something (`backend.delete`): a
    non-admin's try at it never reaches the domain function, whose own refusal would be
    recorded, so it is recorded here, as the REST API records a 403 before the domain
    (through `refused`: once, via console, folded when repeated). A read (a page load,
    a form opened) passes no name: the page showing "admins only" is no change tried."""
    user = await viewer(state)
    if user is None:
        return None, await sign_in_redirect(state)
    if not user.is_admin:
        if changing:
            refused(PermissionDenied(ADMINS_ONLY), changing)
        return None, None
    return user, None


class AdminPage(rx.State, mixin=True):
    """What every admin page's state does on its load and on its timer: check that the
    viewer is an admin (else send them to sign in, or show nothing), then read the page
    again through its `_refresh(admin)`."""

    async def _refresh(self, user: User) -> None:
        raise NotImplementedError

    @rx.event
    async def load(self):
        user, instead = await admin_viewer(self)
        if user is None:
            return instead
        await self._refresh(user)

    @rx.event
    async def tick(self, _now: str = ""):
        """The page's timer: read again while the page is open."""
        user, _ = await admin_viewer(self)
        if user is not None:
            await self._refresh(user)


def seconds_text(s: Optional[float]) -> str:
    """A span for people: 45 s, 3 min, 2.5 h."""
    if s is None:
        return ""
    s = max(0.0, s)
    if s < 90:
        return f"{s:.0f} s"
    if s < 5400:
        return f"{s / 60:.0f} min"
    if s < 172_800:
        return f"{s / 3600:.1f} h"
    return f"{s / 86_400:.0f} days"


@dataclasses.dataclass
class BackendRow:
    name: str = ""
    max_workers: int = 0
    idle_timeout_s: int = 0
    idle_timeout: str = ""
    job_timeout_s: int = 0  # 0: each job type's own limit
    job_timeout: str = ""
    workers: int = 0
    busy: int = 0
    idle: int = 0
    queued: int = 0
    # waiting on each of its queues, in the order its workers take them
    queued_high: int = 0
    queued_normal: int = 0
    queued_low: int = 0
    scheduled: int = 0
    served_by: str = ""
    can_wake: bool = False
    unavailable: str = ""


def backend_row(b: workers.BackendStatus) -> BackendRow:
    return BackendRow(
        name=b.name, max_workers=b.max_workers, idle_timeout_s=b.idle_timeout_s,
        idle_timeout=seconds_text(b.idle_timeout_s), job_timeout_s=b.job_timeout_s or 0,
        job_timeout=seconds_text(b.job_timeout_s) if b.job_timeout_s else "each job type's own",
        workers=b.workers, busy=b.busy, idle=b.idle, queued=b.queued, scheduled=b.scheduled,
        queued_high=b.queued_by_priority.get("high", 0), queued_normal=b.queued_by_priority.get("normal", 0),
        queued_low=b.queued_by_priority.get("low", 0),
        served_by=", ".join(b.served_by), can_wake=b.can_wake, unavailable=b.unavailable or "")


@dataclasses.dataclass
class StuckRow:
    job_id: str = ""
    label: str = ""
    job_type: str = ""
    job_subtype: str = ""
    owner: str = ""
    backend: str = ""
    waiting: str = ""
    reason: str = ""


@dataclasses.dataclass
class CountRow:
    status: str = ""
    aa_name: str = ""
    count: int = 0


def _read(user: User) -> dict[str, Any]:
    """Everything the overview shows (runs in a thread: Redis and SQL)."""
    counts = queries.status_counts(viewer=user, all_users=True)
    out: dict[str, Any] = {"counts": [CountRow(s.value, s.aa_name, counts.get(s.value, 0)) for s in JobStatus],
                           "retention": retention.policy().describe()}
    try:
        out["backends"] = [backend_row(b) for b in workers.backend_status()]
        out["stuck"] = [StuckRow(job_id=s.job.id, label=label_of(s.job.job_type, s.job.job_subtype),
                                 job_type=s.job.job_type, job_subtype=s.job.job_subtype, owner=s.job.owner,
                                 backend=s.job.queue, waiting=seconds_text(s.waiting_s), reason=s.reason)
                        for s in workers.stuck_jobs()]
        out["error"] = ""
    except queues.REDIS_ERRORS:
        out["error"] = REDIS_DOWN
    return out


class AdminState(AdminPage, rx.State):
    backends: list[BackendRow] = []
    counts: list[CountRow] = []
    stuck: list[StuckRow] = []
    error: str = ""
    retention: str = ""  # what the housekeeper removes, and when (JOBDECK_RETAIN_DAYS…)
    loaded: bool = False
    # the backend being changed ("" when the dialog is closed) and its form
    editing: str = ""
    edit_values: dict[str, str] = {}
    edit_error: str = ""
    edit_field: str = ""

    @rx.var
    def total(self) -> int:
        return sum(c.count for c in self.counts)

    async def _refresh(self, user: User) -> None:
        got = await asyncio.to_thread(_read, user)
        self.counts = got["counts"]
        self.retention = got["retention"]
        self.error = got["error"]
        if not got["error"]:
            self.backends, self.stuck = got["backends"], got["stuck"]
        self.loaded = True


    @rx.event
    async def wake(self, name: str):
        user, instead = await admin_viewer(self, "backend.wake")
        if user is None:
            return instead
        try:
            done = await asyncio.to_thread(workers.wake_backend, actor=user, backend=name)
        except JobdeckError as exc:
            return rx.toast.error(exc.message)
        await self._refresh(user)
        return rx.toast.success(done.message)

    # --- changing a backend --------------------------------------------------------------

    @rx.event
    def open_edit(self, name: str):
        row = next((b for b in self.backends if b.name == name), None)
        if row is None:
            return
        self.editing = name
        self.edit_values = {"max_workers": str(row.max_workers), "idle_timeout_s": str(row.idle_timeout_s),
                            "job_timeout_s": str(row.job_timeout_s)}
        self.edit_error = self.edit_field = ""

    @rx.event
    def set_edit_open(self, value: bool):
        if not value:
            self.editing = ""
            self.edit_error = self.edit_field = ""

    @rx.event
    async def save_edit(self, form: dict[str, Any]):
        user, instead = await admin_viewer(self, "backend.save")
        if user is None:
            return instead
        name = self.editing
        values = {k: str(form.get(k, "")).strip() for k in EDIT_FIELDS}
        self.edit_values = values
        for k, v in values.items():
            if v == "":
                self.edit_error, self.edit_field = f"{backends.EDITABLE[k][0]} is required.", k
                return
        try:
            got = backends.update_backend(actor=user, name=name, **values)
        except InvalidInput as exc:
            self.edit_error, self.edit_field = exc.message, exc.field or ""
            return
        except JobdeckError as exc:
            self.edit_error, self.edit_field = exc.message, ""
            return
        self.editing = ""
        self.edit_error = self.edit_field = ""
        await self._refresh(user)
        limit = f"{got.job_timeout_s} s" if got.job_timeout_s else "each job type's own"
        return rx.toast.success(f"Backend {name} saved: at most {got.max_workers} workers, idle timeout "
                                f"{got.idle_timeout_s} s, job time limit {limit}. Pools and workers "
                                f"apply it at once.")
