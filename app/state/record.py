"""The job page's provenance part: download its record as PROV-JSON (the job, or its
whole run), reproduce it, compare it, and what it says of reproductions (whether a
reproduction's outputs match, once it ended)."""

from __future__ import annotations

import asyncio
import json

import reflex as rx

from app import compare, records, routes, runs
from app.db import session
from app.errors import JobdeckError, NotFound
from app.models import Job
from app.state.base import sign_in_redirect, viewer


def _verdict(match) -> str:
    return "waiting" if match is None else "match" if match else "mismatch"


class JobRecordState(rx.State):
    has_record: bool = False
    workflow: bool = False  # a step of a workflow of several jobs: its whole run can be downloaded
    reproduces: str = ""  # the job (or run) this one reproduces
    reproduces_scope: str = ""
    verdict: str = ""  # waiting | match | mismatch, of this reproduction
    reproduced_by: list[list[str]] = []  # [job id, verdict, compare page, its page]

    def _job_id(self) -> str:
        return routes.id_in(self.router.url.path)

    @rx.var
    def polling(self) -> bool:
        return self.verdict == "waiting" or any(r[1] == "waiting" for r in self.reproduced_by)

    @rx.var
    def compare_href(self) -> str:
        if self.reproduces:
            return f"/jobs/compare?a={self.reproduces}&b={self._job_id()}"
        return f"/jobs/compare?a={self._job_id()}"

    def _read(self, user) -> None:
        job_id = self._job_id()
        try:
            rec = records.record_for(user, job_id)
            self.has_record = True
            self.workflow = rec.workflow_id not in (None, job_id) or runs.is_step(rec)
        except JobdeckError:
            self.has_record = False
            with session() as s:
                job = s.get(Job, job_id)
            self.workflow = job is not None and (job.workflow_id not in (None, job_id) or runs.is_step(job))
        try:
            report = compare.reproduction_report(actor=user, job_id=job_id)
        except NotFound:
            report = {"reproduces": None, "reproduced_by": []}
        mine = report["reproduces"]
        self.reproduces = mine["of_job_id"] if mine else ""
        self.reproduces_scope = mine["scope"] if mine else ""
        self.verdict = _verdict(mine["outputs_match"]) if mine else ""
        self.reproduced_by = [[r["job_id"], _verdict(r["outputs_match"]), f"/jobs/compare?a={job_id}&b={r['job_id']}",
                               routes.job(r["job_id"])]
                              for r in report["reproduced_by"]]

    @rx.event
    async def load(self):
        user = await viewer(self)
        if user is None:
            return
        await asyncio.to_thread(self._read, user)

    @rx.event
    async def recheck(self, _now: str = ""):
        """While a reproduction runs: its verdict comes when it ends."""
        if not self.polling:
            return
        user = await viewer(self)
        if user is not None:
            try:
                await asyncio.to_thread(self._read, user)
            except Exception:  # the database is away: the next tick asks again
                pass

    @rx.event
    async def download_prov(self, workflow: bool):
        user = await viewer(self)
        if user is None:
            return await sign_in_redirect(self)
        job_id = self._job_id()
        try:
            if workflow:
                wf, recs = records.workflow_records(user, job_id)
                name = f"workflow-{wf}.prov.json"
            else:
                recs, name = [records.record_for(user, job_id)], f"job-{job_id}.prov.json"
        except JobdeckError as exc:
            return rx.toast.error(exc.message)
        return rx.download(data=json.dumps(records.prov_json(recs), indent=2), filename=name)

    @rx.event
    async def reproduce(self):
        user = await viewer(self)
        if user is None:
            return await sign_in_redirect(self)
        try:
            job, link = await asyncio.to_thread(compare.reproduce, actor=user, job_id=self._job_id())
        except JobdeckError as exc:
            return rx.toast.error(exc.message)
        what = "run" if link.scope == "workflow" else "job"
        return [rx.redirect(routes.job(job.id)),
                rx.toast.success(f"Reproduction lodged: a new {what} with the same inputs and parameters.")]
