"""State of the admin metrics page (/admin/metrics): the series of app.dashboard, read
again every few seconds while the page is open (each read is a handful of aggregate
rows and one Redis round trip, whatever the number of jobs)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import reflex as rx

from app import dashboard
from app.state.admin import AdminPage, REDIS_DOWN, seconds_text

PRIORITY_COLORS = {"high": "var(--red-9)", "normal": "var(--indigo-9)", "low": "var(--gray-8)"}


def minute_label(iso: str) -> str:
    return datetime.fromisoformat(iso).strftime("%H:%M")


def span_text(s) -> str:
    s = s or 0.0
    return seconds_text(s) if s >= 1 else f"{s * 1000:.0f} ms"


def quantile_row(r: dict, name: str, count: str) -> dict[str, Any]:
    """A p50/p95 chart's bar pair and its words, from a series' row."""
    return {name: r[name], count: r[count], "p50": round(r["p50_s"] or 0.0, 3), "p95": round(r["p95_s"] or 0.0, 3),
            "p50_text": span_text(r["p50_s"]), "p95_text": span_text(r["p95_s"])}


def _read(user) -> dict[str, Any]:
    d = dashboard.read(viewer=user)
    hour = [{**m, "label": minute_label(m["minute"])} for m in d.last_hour]
    day = [{**m, "label": minute_label(m["minute"])} for m in d.last_day]
    runs = [quantile_row(r, "job_type", "ran") for r in d.run_times]
    fails = [{**f, "name": f"{f['job_type']} / {f['job_subtype']}", "total": f["FAILED"] + f["CRASHED"]}
             for f in d.failures]
    waits = [quantile_row(w, "backend", "started") for w in d.waits]
    workers = [{**m, "label": minute_label(m["minute"])} for m in d.workers]
    return {"hour": hour, "day": day, "waits": waits, "worker_failures": d.worker_failures, "workers": workers,
            "depth": d.queue_depth or [], "error": "" if d.queue_depth is not None else REDIS_DOWN, "runs": runs,
            "failures": fails, "finished": d.finished_last_hour, "at": d.at.strftime("%H:%M:%S UTC")}


class AdminMetricsState(AdminPage, rx.State):
    last_hour: list[dict[str, Any]] = []
    last_day: list[dict[str, Any]] = []
    queue_depth: list[dict[str, Any]] = []
    run_times: list[dict[str, Any]] = []
    failures: list[dict[str, Any]] = []
    waits: list[dict[str, Any]] = []
    worker_failures: list[dict[str, Any]] = []
    workers: list[dict[str, Any]] = []
    finished: dict[str, int] = {}
    read_at: str = ""
    error: str = ""
    loaded: bool = False

    @rx.var
    def finished_total(self) -> int:
        return sum(self.finished.values())

    @rx.var
    def workers_now(self) -> str:
        """The last sampled minute's busy and idle workers, in words."""
        for m in reversed(self.workers):
            if m.get("busy") is not None:
                return f"at {m.get('label', '')}, {m['busy']:.1f} busy and {m['idle']:.1f} idle on average"
        return "no sample yet"

    @rx.var
    def queued_total(self) -> int:
        return sum(int(q.get("total", 0)) for q in self.queue_depth)

    async def _refresh(self, user) -> None:
        got = await asyncio.to_thread(_read, user)
        self.last_hour, self.last_day = got["hour"], got["day"]
        self.queue_depth, self.run_times, self.failures = got["depth"], got["runs"], got["failures"]
        self.finished, self.read_at, self.error = got["finished"], got["at"], got["error"]
        self.waits, self.worker_failures, self.workers = got["waits"], got["worker_failures"], got["workers"]
        self.loaded = True

