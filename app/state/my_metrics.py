"""State of a user's own metrics page (/profile/metrics): the series of app.my_metrics for
the signed-in user, read again every few seconds while the page is open (each read is
the user's kept rows of the last day, whatever the number of jobs)."""

from __future__ import annotations

import asyncio
from typing import Any

import reflex as rx

from app import my_metrics
from app.state.admin_metrics import minute_label, quantile_row
from app.state.base import sign_in_redirect, viewer


def _read(user) -> dict[str, Any]:
    m = my_metrics.read(viewer=user)
    runs = [quantile_row(r, "job_type", "ran") for r in m.run_times]
    return {"hour": [{**x, "label": minute_label(x["minute"])} for x in m.last_hour],
            "day": [{**x, "label": minute_label(x["minute"])} for x in m.last_day],
            "runs": runs, "failures": [{**f, "total": f["FAILED"] + f["CRASHED"]} for f in m.failures],
            "hour_counts": m.finished_last_hour, "day_counts": m.finished_last_day,
            "at": m.at.strftime("%H:%M:%S UTC")}


class MyMetricsState(rx.State):
    last_hour: list[dict[str, Any]] = []
    last_day: list[dict[str, Any]] = []
    run_times: list[dict[str, Any]] = []
    failures: list[dict[str, Any]] = []
    finished_hour: dict[str, int] = {}
    finished_day: dict[str, int] = {}
    read_at: str = ""
    loaded: bool = False

    @rx.var
    def hour_total(self) -> int:
        return sum(self.finished_hour.values())

    @rx.var
    def day_total(self) -> int:
        return sum(self.finished_day.values())

    async def _refresh(self, user) -> None:
        got = await asyncio.to_thread(_read, user)
        self.last_hour, self.last_day = got["hour"], got["day"]
        self.run_times, self.failures = got["runs"], got["failures"]
        self.finished_hour, self.finished_day, self.read_at = got["hour_counts"], got["day_counts"], got["at"]
        self.loaded = True

    @rx.event
    async def load(self):
        user = await viewer(self)
        if user is None:
            return await sign_in_redirect(self)
        await self._refresh(user)

    @rx.event
    async def tick(self, _now: str = ""):
        user = await viewer(self)
        if user is not None:
            await self._refresh(user)
