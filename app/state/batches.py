"""State of the batches list and of one batch's view, both live."""

from __future__ import annotations

from typing import Any, Optional

import reflex as rx

from app import bulk, launch, queries, routes
from app.errors import JobdeckError, NotFound
from app.lifecycle import JobStatus
from app.models import Batch, Job, User
from app.state import address, live
from app.state.base import sign_in_redirect, viewer
from app.state.bulk_select import BulkSelection
from app.state.views import BatchRow, ListRow, RowLive, batch_row, list_row, row_live

PAGE_SIZE = 25
BATCH_PAGE_SIZE = 50
FAILED = {JobStatus.FAILED.value, JobStatus.CRASHED.value}


class BatchesState(rx.State):
    rows: list[BatchRow] = []
    next_cursor: str = ""
    all_users: bool = False
    loaded: bool = False

    async def _reload(self):
        user = await viewer(self)
        if user is None:
            return await sign_in_redirect(self)
        everyone = self.all_users and user.is_admin
        live.watch(self, username=user.username, admin=user.is_admin,
                   owners=frozenset([live.EVERYONE if everyone else user.username]))
        batches, cursor = queries.list_batches(viewer=user, all_users=everyone, limit=PAGE_SIZE)
        self.rows = [batch_row(b) for b in batches]
        self.next_cursor = cursor or ""
        self.loaded = True

    @rx.event
    async def load(self):
        return await self._reload()

    @rx.event
    async def load_more(self):
        user = await viewer(self)
        if user is None:
            return await sign_in_redirect(self)
        batches, cursor = queries.list_batches(viewer=user, all_users=self.all_users and user.is_admin,
                                               cursor=self.next_cursor or None, limit=PAGE_SIZE)
        have = {r.id for r in self.rows}
        self.rows = self.rows + [batch_row(b) for b in batches if b.id not in have]
        self.next_cursor = cursor or ""

    @rx.event
    async def set_all_users(self, value: bool):
        self.all_users = bool(value)
        return await self._reload()

    async def _live(self, events: list[dict[str, Any]], burst: live.Burst) -> None:
        ids = {ev["batch_id"] for ev in events if ev.get("batch_id")}
        if not ids:
            return
        rows = list(self.rows)
        index = {r.id: i for i, r in enumerate(rows)}
        fresh = []
        for bid in ids:
            b = burst.batch(bid)
            if b is None:
                continue
            if bid in index:
                rows[index[bid]] = batch_row(b)
            elif not rows or b.created_at.isoformat() > rows[0].created:
                fresh.append(batch_row(b))  # a new batch: on top
        self.rows = sorted(fresh, key=lambda r: r.created, reverse=True) + rows

    async def _live_resync(self) -> None:
        await self._reload()


# What the batch view's address may hold: only its failed and crashed jobs.
BATCH_ADDRESS = (address.Param("failures", "flag", False, what="failures only"),)


class BatchState(rx.State):
    found: bool = False
    loaded: bool = False
    batch: BatchRow = BatchRow()
    jobs: list[ListRow] = []
    live: dict[str, RowLive] = {}
    next_cursor: str = ""
    failures_only: bool = False
    retrying: bool = False
    link_problem: str = ""  # what of the address was no filter's value (app.state.address)

    def _batch_id(self) -> str:
        return routes.id_in(self.router.url.path)

    def _read(self, user: User) -> None:
        batch_id = self._batch_id()
        try:
            b = queries.get_batch(viewer=user, batch_id=batch_id)
        except NotFound:
            self.found, self.loaded = False, True
            live.unwatch(self)
            return
        live.watch(self, username=user.username, admin=user.is_admin, batch_ids=frozenset([batch_id]))
        page = queries.batch_jobs_in_order(viewer=user, batch_id=batch_id, failures_only=self.failures_only,
                                           limit=BATCH_PAGE_SIZE)
        self.batch = batch_row(b)
        self.jobs = [list_row(j, batch_total=b.total) for j in page.jobs]
        self.live = {j.id: row_live(j) for j in page.jobs}
        self.next_cursor = page.next_cursor or ""
        self.found, self.loaded = True, True

    async def _reload(self):
        user = await viewer(self)
        if user is None:
            return await sign_in_redirect(self)
        self._read(user)

    @rx.event
    async def load(self):
        self.loaded = False
        got, problems = address.parse(BATCH_ADDRESS, self.router.url.query_parameters)  # type: ignore[attr-defined]
        self.failures_only, self.link_problem = got["failures"], address.said(problems)
        picked = await self.get_state(BatchSelectionState)
        picked.selected, picked.every, picked.summary = [], False, ""  # another batch's were for it
        return await self._reload()

    @rx.event
    async def load_more(self):
        user = await viewer(self)
        if user is None:
            return await sign_in_redirect(self)
        page = queries.batch_jobs_in_order(viewer=user, batch_id=self._batch_id(),
                                           failures_only=self.failures_only, cursor=self.next_cursor or None,
                                           limit=BATCH_PAGE_SIZE)
        have = set(self.live)
        self.jobs = self.jobs + [list_row(j, batch_total=self.batch.total) for j in page.jobs if j.id not in have]
        self.live = {**self.live, **{j.id: row_live(j) for j in page.jobs}}
        self.next_cursor = page.next_cursor or ""

    @rx.event
    async def set_failures_only(self, value: bool):
        """At its own address (`/batches/<id>?failures=1`): back shows every job again."""
        self.failures_only = bool(value)
        to = address.moved(routes.batch(self._batch_id()), BATCH_ADDRESS,
                           self.router.url.query_parameters, {"failures": self.failures_only})  # type: ignore[attr-defined]
        if to:
            return rx.redirect(to)
        done = await self._reload()
        picked = await self.get_state(BatchSelectionState)
        picked._shown({r.id for r in self.jobs})
        return done

    def _all_jobs(self, user: User, failures_only: bool = False) -> list[Job]:
        out, cursor = [], None
        while True:
            page = queries.batch_jobs_in_order(viewer=user, batch_id=self._batch_id(),
                                               failures_only=failures_only, cursor=cursor, limit=500)
            out.extend(page.jobs)
            if not page.next_cursor:
                return out
            cursor = page.next_cursor

    @rx.event
    async def retry_failed(self):
        user = await viewer(self)
        if user is None:
            return await sign_in_redirect(self)
        failed = self._all_jobs(user, failures_only=True)
        done, refused = 0, []
        for j in failed:
            try:
                launch.retry_job(actor=user, job_id=j.id)
                done += 1
            except JobdeckError as exc:  # moved on meanwhile (another tab retried it)
                refused.append(exc.message)
        self._read(user)
        if not failed:
            return rx.toast.info("No failed jobs to retry in this batch.")
        msg = f"Retrying {done} failed job{'s' if done != 1 else ''}; the progress bar follows them."
        return rx.toast.success(msg) if not refused else rx.toast.warning(
            f"{msg} {len(refused)} could not be retried: {refused[0]}")

    @rx.event
    async def download_csv(self):
        user = await viewer(self)
        if user is None:
            return await sign_in_redirect(self)
        try:
            queries.get_batch(viewer=user, batch_id=self._batch_id())
        except NotFound as exc:
            return rx.toast.error(exc.message)
        text = bulk.batch_csv(self._all_jobs(user))
        return rx.download(data=text.encode(), filename=f"batch-{self._batch_id()[:8]}.csv",
                           mime_type="text/csv")

    async def _live(self, events: list[dict[str, Any]], burst: live.Burst) -> None:
        batch_id = self._batch_id()
        b: Batch | None = burst.batch(batch_id)
        if b is not None and batch_row(b) != self.batch:
            self.batch = batch_row(b)
        updates: dict[str, RowLive] = {}
        new_failure = False
        added: dict[str, Job] = {}  # jobs lodged into the batch after the page read it
        for ev in events:
            for jid in live.job_ids_of(ev):
                job = burst.job(jid)
                if job is None or job.batch_id != batch_id:
                    continue
                if job.id in self.live:
                    if self.live[job.id] != (now := row_live(job)):
                        updates[job.id] = now
                elif self.failures_only:
                    new_failure = new_failure or job.status in FAILED
                elif self.jobs and not self.next_cursor:
                    # lodged into the batch since: it takes the batch's last row, so it goes
                    # last once every page is shown (before that, Load more brings it)
                    added[job.id] = job
        if updates:
            self.live = {**self.live, **updates}
        if added:  # in the batch's order
            fresh = sorted(added.values(), key=lambda j: (j.batch_row or 0, j.id))
            self.jobs = self.jobs + [list_row(j, batch_total=self.batch.total) for j in fresh]
            self.live = {**self.live, **{j.id: row_live(j) for j in fresh}}
        if self.failures_only and any(u.status not in FAILED for u in updates.values()):
            self.jobs = [r for r in self.jobs if self.live[r.id].status in FAILED]
        if new_failure or (any(ev.get("kind") == "lodged" for ev in events) and not self.jobs):
            w = live.current_watch()
            if w is not None:
                self._read(User(username=w.username, display_name="", role="admin" if w.admin else "user",
                                password_hash=""))

    async def _live_resync(self) -> None:
        await self._reload()


class BatchSelectionState(BulkSelection, rx.State):
    """A batch's view's selection (app.state.bulk_select): its rows; every job matching
    is the batch's (its failures only when the view shows those); the whole batch
    cancelled in one action."""

    async def _rows(self) -> list[str]:
        page = await self.get_state(BatchState)
        return [r.id for r in page.jobs]

    async def _filters(self) -> tuple[Optional[dict[str, Any]], Optional[str]]:
        page = await self.get_state(BatchState)
        f: dict[str, Any] = {"batch_id": page._batch_id()}
        if page.failures_only:
            f["status"] = sorted(FAILED)
        return f, None

    async def _reread(self) -> None:
        page = await self.get_state(BatchState)
        await page._reload()
        self._shown({r.id for r in page.jobs})

    async def _submission(self) -> str:
        page = await self.get_state(BatchState)
        return page._batch_id() if page.found else ""
