"""State of the worker status page (/admin/workers): every worker seen in the last hour
and every pool, read from their heartbeats again every few seconds."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import datetime
from typing import Any, Optional

import reflex as rx

from app import queues, workers
from app.state.admin import AdminPage, REDIS_DOWN, seconds_text
from app.state.views import exact

STATE_COLORS = {"busy": "blue", "idle": "green", "starting": "cyan", "stopping": "amber", "stopped": "gray",
                "dead": "red", "lost": "orange"}
STATE_HINTS = {
    "busy": "Running a job now.",
    "idle": "Waiting for work; it stops by itself after its backend's idle timeout.",
    "starting": "Started, not yet taking jobs.",
    "stopping": "Finishing its job before it stops.",
    "stopped": "Stopped by itself (idle timeout) or by its pool.",
    "dead": "Its process ended unexpectedly; its job was marked CRASHED.",
    "lost": "No heartbeat lately: its host may be down or cut off.",
}


def ago(now: float, ts: Optional[datetime]) -> str:
    return f"{seconds_text(now - ts.timestamp())} ago" if ts else ""


@dataclasses.dataclass
class WorkerRow:
    name: str = ""
    host: str = ""
    pid: str = ""
    backend: str = ""
    state: str = ""
    job_id: str = ""
    job_for: str = ""  # how long it has run its current job
    done: int = 0
    failed: int = 0
    beat: str = ""
    beat_exact: str = ""
    up_for: str = ""
    exit_reason: str = ""
    alive: bool = True


@dataclasses.dataclass
class PoolRow:
    pool_id: str = ""
    host: str = ""
    pid: str = ""
    backends: str = ""
    beat: str = ""


def _read() -> dict[str, Any]:
    try:
        now = workers.redis_now()
        found = workers.list_workers()
        pools = workers.list_pools()
    except queues.REDIS_ERRORS:
        return {"error": REDIS_DOWN}
    rows = [WorkerRow(
        name=w.name, host=w.host, pid=str(w.pid or ""), backend=w.backend, state=w.state,
        job_id=w.current_job_id or "", job_for=seconds_text(now - w.job_since.timestamp()) if w.job_since else "",
        done=w.jobs_done, failed=w.jobs_failed, beat=ago(now, w.last_heartbeat), beat_exact=exact(w.last_heartbeat),
        up_for=seconds_text(now - w.started_at.timestamp()) if w.started_at else "", exit_reason=w.exit_reason,
        alive=w.alive) for w in found]
    return {"error": "", "workers": rows,
            "pools": [PoolRow(p.pool_id, p.host, str(p.pid or ""), ", ".join(p.backends), ago(now, p.last_heartbeat))
                      for p in pools]}


class AdminWorkersState(AdminPage, rx.State):
    workers: list[WorkerRow] = []
    pools: list[PoolRow] = []
    show_gone: bool = True
    error: str = ""
    loaded: bool = False

    @rx.var
    def shown(self) -> list[WorkerRow]:
        return self.workers if self.show_gone else [w for w in self.workers if w.alive]

    @rx.var
    def summary(self) -> str:
        alive = [w for w in self.workers if w.alive]
        busy = sum(w.state == "busy" for w in alive)
        idle = sum(w.state == "idle" for w in alive)
        other = len(alive) - busy - idle
        return (f"{len(alive)} live workers: {busy} busy, {idle} idle" + (f", {other} starting or stopping" if other
                                                                          else "") + f"; {len(self.pools)} pool{'' if len(self.pools) == 1 else 's'}")

    async def _refresh(self, _user) -> None:
        got = await asyncio.to_thread(_read)
        self.error = got["error"]
        if not got["error"]:
            self.workers, self.pools = got["workers"], got["pools"]
        self.loaded = True


    @rx.event
    def set_show_gone(self, value: bool):
        self.show_gone = bool(value)

