"""State of the queues page (/admin/queues): per backend the jobs waiting in its queues
in the order its workers take them, a page at a time, read again every 3 s; purge
(the whole queue, or one job) and one-click pause and resume."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import reflex as rx

from app import backends, queue_admin, queues
from app.db import utcnow
from app.errors import JobdeckError
from app.state.admin import AdminPage, REDIS_DOWN, admin_viewer, seconds_text
from app.state.views import exact

PAGE = 25


@dataclasses.dataclass
class QueueRow:
    position: int = 0
    priority: str = ""
    job_id: str = ""
    status: str = ""
    owner: str = ""
    kind: str = ""  # type / subtype
    subject: str = ""
    waiting: str = ""  # for how long
    since_exact: str = ""


def _read(user, backend: str, offset: int) -> dict[str, Any]:
    names = sorted(backends.backend_configs())
    backend = backend if backend in names else ("system" if "system" in names else names[0])
    try:
        page = queue_admin.read_queue(viewer=user, backend=backend, offset=offset, limit=PAGE)
        if not page.jobs and offset:  # the queue shrank under this page: back to its head
            page = queue_admin.read_queue(viewer=user, backend=backend, offset=0, limit=PAGE)
    except queues.REDIS_ERRORS:
        return {"error": REDIS_DOWN, "names": names, "backend": backend}
    now = utcnow()
    rows = [QueueRow(w.position, w.priority, w.job_id, w.status, w.owner, f"{w.job_type} / {w.job_subtype}",
                     w.subject, seconds_text((now - w.waiting_since).total_seconds()) if w.waiting_since else "",
                     exact(w.waiting_since)) for w in page.jobs]
    return {"error": "", "names": names, "backend": backend, "rows": rows, "offset": page.offset,
            "next_offset": page.next_offset if page.next_offset is not None else -1, "depth": page.depth,
            "total": page.total, "paused": page.backend.paused, "max_workers": page.backend.max_workers}


class AdminQueuesState(AdminPage, rx.State):
    backend_names: list[str] = []
    backend: str = ""
    rows: list[QueueRow] = []
    offset: int = 0
    next_offset: int = -1
    depth: dict[str, int] = {}
    total: int = 0
    paused: bool = False
    max_workers: int = 0
    error: str = ""
    loaded: bool = False
    confirm_purge: bool = False

    @rx.var
    def showing(self) -> str:
        if not self.rows:
            return "No job is waiting."
        return f"{self.rows[0].position}-{self.rows[-1].position} of {self.total} waiting"

    async def _refresh(self, user) -> None:
        got = await asyncio.to_thread(_read, user, self.backend, self.offset)
        self.backend_names, self.backend, self.error = got["names"], got["backend"], got["error"]
        if not got["error"]:
            self.rows, self.offset, self.next_offset = got["rows"], got["offset"], got["next_offset"]
            self.depth, self.total = got["depth"], got["total"]
            self.paused, self.max_workers = got["paused"], got["max_workers"]
        self.loaded = True


    @rx.event
    async def select(self, name: str):
        user, instead = await admin_viewer(self)
        if user is None:
            return instead
        self.backend, self.offset = name, 0
        await self._refresh(user)

    @rx.event
    async def page(self, forward: bool):
        user, instead = await admin_viewer(self)
        if user is None:
            return instead
        self.offset = self.next_offset if forward and self.next_offset >= 0 else max(0, self.offset - PAGE)
        await self._refresh(user)

    @rx.event
    async def pause(self, resume: bool):
        user, instead = await admin_viewer(self, "backend.resume" if resume else "backend.pause")
        if user is None:
            return instead
        change = backends.resume_backend if resume else backends.pause_backend
        try:
            cfg = await asyncio.to_thread(change, actor=user, name=self.backend)
        except JobdeckError as exc:
            return rx.toast.error(exc.message)
        await self._refresh(user)
        return rx.toast.success(f"Backend {cfg.name!r} resumed: up to {cfg.max_workers} workers." if resume else
                                f"Backend {cfg.name!r} paused: no worker takes its jobs until it is resumed.")

    @rx.event
    def set_confirm_purge(self, value: bool):
        self.confirm_purge = bool(value)

    @rx.event
    async def purge(self, job_id: str = ""):
        user, instead = await admin_viewer(self, "backend.purge")
        if user is None:
            return instead
        self.confirm_purge = False
        try:
            done = await asyncio.to_thread(queue_admin.purge_queue, actor=user, backend=self.backend,
                                           job_ids=[job_id] if job_id else None)
        except JobdeckError as exc:
            return rx.toast.error(exc.message)
        except queues.REDIS_ERRORS:
            return rx.toast.error(REDIS_DOWN)
        await self._refresh(user)
        more = f"; {done.remaining} still waiting (purge again)" if done.remaining else ""
        return rx.toast.success(f"Purged {len(done.cancelled)} job{'' if len(done.cancelled) == 1 else 's'} "
                                f"from {done.backend!r}: each ended CANCELLED{more}.")
