"""The selection of a list of jobs (or of submissions) and its bulk actions
(app.bulk_actions): rows ticked one by one, a shift-click range, the page, or "all N
matching this filter"; a confirmation stating the count; the summary when it is done.
A filter's bulk job is followed until it ends, its reports shown as they come.

`BulkSelection` is written once, as a mixin; each list's state says what its rows and
its filter are (the jobs panel here, a batch's view in app.state.batches, the admin
submissions in app.state.admin_submissions) and the bar is app.components.bulk_bar."""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar, Optional

import reflex as rx

from app import bulk_actions, bulk_filter
from app.errors import JobdeckError
from app.launch import job_for
from app.lifecycle import JobStatus
from app.models import User
from app.state.base import sign_in_redirect, viewer
from app.state.jobs import ANY, JobsListState, JobsState, after_read, created_range

VERB = {"cancel": "Cancel", "retry": "Retry", "delete": "Delete"}
FOLLOW_S = 0.5  # how often a followed bulk job is read
WHOLE = "cancel_submission"  # the action "cancel the whole batch" (the submission the list is)


class BulkSelection(rx.State, mixin=True):
    """A list's selection and its bulk actions. A list's state (a subclass) gives its
    rows (`_rows`), its filter as a bulk filter (`_filters`) and reads itself again
    (`_reread`); a list of submissions acts on the rows ticked as submissions
    (`_act_on_rows`), a batch's view may cancel the whole batch (`_submission`)."""

    NOUN: ClassVar[str] = "job"
    selected: list[str] = []
    every: bool = False  # "all N matching this filter" rather than the rows ticked
    matching: int = 0  # jobs the filter matches, for the "select all" offer
    matching_exact: bool = True
    asking: str = ""  # the action whose confirmation is open
    question: str = ""
    bulk_job_id: str = ""  # the bulk job being followed
    report: str = ""  # its last report
    summary: str = ""  # the last bulk action's summary
    _anchor: str = ""  # the row clicked last: a shift-click selects from it

    @rx.var
    def count(self) -> int:
        return len(self.selected)

    @rx.var
    def matching_text(self) -> str:
        return f"{self.matching:,}" if self.matching_exact else f"at least {self.matching:,}"

    async def _rows(self) -> list[str]:
        """The ids of the rows the list shows."""
        raise NotImplementedError

    async def _filters(self) -> tuple[Optional[dict[str, Any]], Optional[str]]:
        """The list's filter as a bulk filter, or (None, job id) when it shows one job."""
        raise NotImplementedError

    async def _reread(self) -> None:
        """Read the list again after an action."""
        raise NotImplementedError

    async def _submission(self) -> str:
        """The batch (or run) the list is, as a submission: "" when it is none."""
        return ""

    async def _act_on_rows(self, user: User, action: str, ids: list[str]) -> bulk_actions.Summary:
        return await asyncio.to_thread(bulk_actions.act_on_ids, actor=user, action=action, job_ids=ids)

    async def _matching(self) -> None:
        """How many jobs the panel's filter matches, in any status (as its count says)."""
        user = await viewer(self)
        filters, _ = await self._filters()
        if user is None or filters is None:
            self.matching, self.matching_exact = 0, True
            return
        try:
            got = bulk_filter.count(bulk_filter.parse(user, "delete", filters))
        except JobdeckError:
            self.matching, self.matching_exact = 0, True
            return
        self.matching, self.matching_exact = got.n, got.exact

    def _shown(self, ids: set[str]) -> None:
        """The list was read again (a filter changed, a refresh): only rows still shown stay
        selected, and "all matching" must be chosen again."""
        kept = [j for j in self.selected if j in ids]
        if kept != self.selected:
            self.selected = kept
        self.every = False

    @rx.event
    async def toggle(self, job_id: str, shift: bool = False):
        ids = await self._rows()
        if shift and self._anchor in ids and job_id in ids:
            a, b = sorted((ids.index(self._anchor), ids.index(job_id)))
            self.selected = list(dict.fromkeys([*self.selected, *ids[a:b + 1]]))
        elif job_id in self.selected:
            self.selected = [j for j in self.selected if j != job_id]
        else:
            self.selected = [*self.selected, job_id]
        self._anchor, self.every = job_id, False
        if ids and all(j in self.selected for j in ids):
            await self._matching()  # the whole page: offer every job matching the filter

    @rx.event
    async def select_page(self):
        ids = await self._rows()
        if ids and all(j in self.selected for j in ids):
            self.selected, self.every = [], False
            return
        self.selected, self.every = list(dict.fromkeys([*self.selected, *ids])), False
        await self._matching()

    @rx.event
    def select_every(self):
        self.every = True

    @rx.event
    def clear(self):
        self.selected, self.every, self._anchor = [], False, ""

    @rx.event
    def dismiss(self):
        self.summary = ""

    @rx.event
    def keep(self):
        self.asking = ""

    def _noun(self, n: int) -> str:
        return f"{self.NOUN}{'s' if n != 1 else ''}"

    @rx.event
    async def ask(self, action: str):
        user = await viewer(self)
        if user is None:
            return await sign_in_redirect(self)
        if action == WHOLE:
            sid = await self._submission()
            if not sid:
                return
            try:
                n = await asyncio.to_thread(bulk_actions.count_submission, actor=user, action="cancel",
                                            submission_id=sid)
            except JobdeckError as exc:
                return rx.toast.error(exc.message)
            if n == 0:
                return rx.toast.info("Nothing to cancel: every job of it has finished.")
            self.question = f"Cancel the whole batch: its {n:,} job{'s' if n != 1 else ''} that have not finished?"
            self.asking = action
            return
        if action not in VERB:
            return
        if not self.every:
            n = len(self.selected)
            self.question = f"{VERB[action]} the {n} selected {self._noun(n)}?"
            self.asking = action
            return
        filters, one = await self._filters()
        if filters is None:
            self.every, self.selected = False, [one] if one else self.selected
            return await self.ask(action)
        try:
            found = await asyncio.to_thread(bulk_actions.count_matching, actor=user, action=action, filters=filters)
        except JobdeckError as exc:
            return rx.toast.error(exc.message)
        if found.count.exact and found.count.n == 0:
            return rx.toast.info(f"No jobs match this filter that {action} could act on.")
        n = found.count.n
        words = f"{n:,}" if found.count.exact else f"at least {n:,}"
        self.question = f"{VERB[action]} {words} job{'s' if n != 1 else ''} ({found.filter.describe()})?"
        self.asking = action

    @rx.event
    async def confirm(self):
        user = await viewer(self)
        if user is None:
            return await sign_in_redirect(self)
        action, self.asking = self.asking, ""
        if not action:
            return
        if action == WHOLE or not self.every:
            try:
                if action == WHOLE:
                    done = await asyncio.to_thread(bulk_actions.act_on_submission, actor=user, action="cancel",
                                                   submission_id=await self._submission())
                else:
                    done = await self._act_on_rows(user, action, list(self.selected))
            except JobdeckError as exc:
                return rx.toast.error(exc.message)
            self.summary, self.selected, self.every = done.text, [], False
            await self._reread()
            return rx.toast.success(done.text)
        filters, _ = await self._filters()
        if filters is None:
            return rx.toast.error("This search is no filter a bulk action takes: tick the rows instead.")
        try:
            lodged = await asyncio.to_thread(bulk_actions.lodge_bulk, actor=user, action=action, filters=filters)
        except JobdeckError as exc:
            return rx.toast.error(exc.message)
        self.selected, self.every = [], False
        if lodged.job is None:
            return rx.toast.info("No jobs match this filter any more.")
        self.bulk_job_id, self.report, self.summary = lodged.job.id, "Waiting for a worker…", ""
        return type(self).follow

    @rx.event(background=True)
    async def follow(self):
        """Read the bulk job until it ends; then its summary, and the list again."""
        async with self:
            job_id = self.bulk_job_id
            user = await viewer(self)
        if not job_id or user is None:
            return
        while True:
            try:
                job = await asyncio.to_thread(job_for, user, job_id)
            except JobdeckError:
                job = None
            async with self:
                if self.bulk_job_id != job_id:
                    return  # another bulk action took over
                if job is None:
                    self.bulk_job_id, self.report = "", ""
                    return
                if JobStatus(job.status).is_final:
                    said = job.info or job.last_message or ""
                    self.summary = said if job.status == "SUCCEEDED" else f"The bulk job ended {job.status}: {said}"
                    self.bulk_job_id, self.report = "", ""
                    await self._reread()
                    return rx.toast.success(self.summary) if job.status == "SUCCEEDED" \
                        else rx.toast.error(self.summary)
                self.report = job.last_message or ""
            await asyncio.sleep(FOLLOW_S)


class JobsSelectionState(BulkSelection, rx.State):
    """The jobs panel's selection: its rows, its filters and scope, its search."""

    async def _rows(self) -> list[str]:
        lst = await self.get_state(JobsListState)
        return [r.id for r in lst.rows]

    async def _filters(self) -> tuple[Optional[dict[str, Any]], Optional[str]]:
        """The panel's filter as a bulk filter, or (None, job id) when it shows one job."""
        page, lst = await self.get_state(JobsState), await self.get_state(JobsListState)
        user = await viewer(self)
        f: dict[str, Any] = {}
        if page.status_filter != ANY:
            f["status"] = page.status_filter
        if page.type_filter != ANY:
            t, _, s = page.type_filter.partition("/")
            f["job_type"] = t
            if s:
                f["job_subtype"] = s
        if user is not None:
            owner, everyone = page._scope(user)
            if owner:
                f["owner"] = owner
            elif everyone:
                f["all_users"] = True
        since, until = created_range(page.date_from, page.date_to)
        if since:
            f["since"] = since.isoformat()
        if until:
            f["until"] = until.isoformat()
        text = page.search.strip()
        if text and lst.search_kind == "job":
            return None, text
        if text and lst.search_kind == "batch":
            f["batch_id"] = text
        if text and lst.search_kind not in ("job", "batch"):
            # an id prefix or words of a subject are no bulk filter: never act on more than shown
            return None, None
        return f, None

    async def _reread(self) -> None:
        page = await self.get_state(JobsState)
        await page._reload()


@after_read
async def _keep_shown(page: rx.State, ids: set[str]) -> None:
    picked = await page.get_state(JobsSelectionState)
    picked._shown(ids)
