"""State of the submissions page (/admin/submissions): every user's submissions newest
first (keyset "load more"), a username filter, cancel and delete behind a confirmation,
rows selected for bulk actions (the selection of app.state.bulk_select), live: rows
follow their jobs' events and new submissions appear on top."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any, ClassVar, Optional

import reflex as rx

from app import bulk_actions, queries, routes, runs, submissions
from app.errors import JobdeckError
from app.lifecycle import JobStatus
from app.models import User
from app.state import address, live
from app.state.admin import admin_viewer
from app.state.bulk_select import BulkSelection
from app.state.views import describe, exact, iso, label_of

PAGE_SIZE = 25
LIVE = {s.value for s in JobStatus if not s.is_final}


@dataclasses.dataclass
class SubmissionRow:
    id: str = ""
    kind: str = "job"  # job | batch
    owner: str = ""
    job_type: str = ""
    job_subtype: str = ""
    label: str = ""
    kind_text: str = ""  # "PIPELINE / RUN_TASK", or what it is in words ("Pipeline run")
    subject: str = ""  # the item or model run it is about
    status: str = ""
    aa_status: str = ""
    description: str = ""
    jobs: int = 0
    finished: int = 0
    last_message: str = ""
    created: str = ""
    created_exact: str = ""
    created_key: str = ""  # (created_at, id), newest first
    href: str = ""
    batch_ids: list[str] = dataclasses.field(default_factory=list)
    live: bool = False


def submission_row(s: submissions.SubmissionSummary, subject: str = "") -> SubmissionRow:
    kind_label = label_of(s.job_type, s.job_subtype) if s.job_type else "Empty batch"
    label, kind_text, subject = kind_label, f"{s.job_type} / {s.job_subtype}", s.title or subject
    if s.kind == "batch":
        label = f"{s.label or 'Batch'} · {s.jobs} × {kind_label}"
    elif s.job_type == runs.JOB_TYPE and s.title:  # a pipeline run, named after its pipeline and upload
        label, kind_text, subject = s.title, "Pipeline run", ""
    return SubmissionRow(
        id=s.id, kind=s.kind, owner=s.owner, job_type=s.job_type, job_subtype=s.job_subtype,
        label=label, kind_text=kind_text, subject=subject,
        status=s.status, aa_status=s.aa_status, description=describe(s.status), jobs=s.jobs,
        finished=s.finished, last_message=s.last_message, created=iso(s.created_at),
        created_exact=exact(s.created_at), created_key=f"{iso(s.created_at)}|{s.id}",
        href=routes.batch(s.id) if s.kind == "batch" else routes.job(s.id), batch_ids=list(s.batch_ids),
        live=s.status in LIVE)


def submission_rows(found: list[submissions.SubmissionSummary]) -> list[SubmissionRow]:
    """Rows with the names of the items they are about (one query)."""
    items = queries.items_by_ids([s.entity_id for s in found if s.entity_id])
    return [submission_row(s, items[s.entity_id].display_name if s.entity_id in items else "") for s in found]


def _plural(n: int, word: str, words: str = "") -> str:
    return f"{n} {word if n == 1 else (words or word + 's')}"


# What the submissions page's address may hold (app.state.address): `?owner=alice`.
SUBMISSIONS_ADDRESS = (address.Param("owner", what="username"),)


class AdminSubmissionsState(rx.State):
    """Every user's submissions; the username shown lives in the page's address."""

    rows: list[SubmissionRow] = []
    next_cursor: str = ""
    owner_filter: str = ""
    link_problem: str = ""  # what of the address was no filter's value, and so not applied
    loaded: bool = False
    # the action waiting for confirmation: "cancel" | "delete" | ""
    confirm_kind: str = ""
    confirm_id: str = ""
    confirm_label: str = ""
    working: bool = False

    def _watch(self, user: User) -> None:
        owners = frozenset([self.owner_filter]) if self.owner_filter else frozenset([live.EVERYONE])
        live.watch(self, username=user.username, admin=True, owners=owners)

    async def _reload(self, user: User) -> None:
        self._watch(user)
        page = await asyncio.to_thread(submissions.list_submissions, viewer=user, owner=self.owner_filter or None,
                                       limit=PAGE_SIZE)
        self.rows = submission_rows(page.submissions)
        self.next_cursor = page.next_cursor or ""
        self.loaded = True
        picked = await self.get_state(SubmissionsSelectionState)
        picked._shown({r.id for r in self.rows})

    @rx.event
    async def load(self):
        user, instead = await admin_viewer(self)
        if user is None:
            return instead
        got, problems = address.parse(SUBMISSIONS_ADDRESS, self.router.url.query_parameters)  # type: ignore[attr-defined]
        self.owner_filter, self.link_problem = got["owner"], address.said(problems)
        self.confirm_kind = ""
        await self._reload(user)

    @rx.event
    async def refresh(self):
        user, instead = await admin_viewer(self)
        if user is None:
            return instead
        await self._reload(user)
        return rx.toast.success("Submissions refreshed.", duration=1500)

    @rx.event
    async def load_more(self):
        user, instead = await admin_viewer(self)
        if user is None:
            return instead
        if not self.next_cursor:
            return
        try:
            page = await asyncio.to_thread(submissions.list_submissions, viewer=user,
                                           owner=self.owner_filter or None, cursor=self.next_cursor,
                                           limit=PAGE_SIZE)
        except JobdeckError as exc:
            return rx.toast.error(exc.message)
        have = {r.id for r in self.rows}
        self.rows = self.rows + submission_rows([s for s in page.submissions if s.id not in have])
        self.next_cursor = page.next_cursor or ""

    @rx.event
    async def apply_owner(self, form: dict[str, Any]):
        user, instead = await admin_viewer(self)
        if user is None:
            return instead
        owner = str(form.get("owner", "")).strip()
        _, problems = address.parse(SUBMISSIONS_ADDRESS, {"owner": owner})
        if problems:
            return rx.toast.error(f"Username: {address.said(problems)}.")
        self.owner_filter = owner
        return await self._go(user)

    @rx.event
    async def clear_owner(self):
        user, instead = await admin_viewer(self)
        if user is None:
            return instead
        self.owner_filter = ""
        return await self._go(user)

    async def _go(self, user: User):
        """The username shown at its own address (back returns to the one before)."""
        to = address.moved(routes.ADMIN_SUBMISSIONS, SUBMISSIONS_ADDRESS,
                           self.router.url.query_parameters, {"owner": self.owner_filter})  # type: ignore[attr-defined]
        if to:
            return rx.redirect(to)
        await self._reload(user)

    # --- cancel and delete -------------------------------------------------------------

    @rx.event
    def ask(self, kind: str, submission_id: str):
        row = next((r for r in self.rows if r.id == submission_id), None)
        if row is None or kind not in ("cancel", "delete"):
            return
        self.confirm_kind, self.confirm_id = kind, submission_id
        self.confirm_label = f"{row.label} of {row.owner}"

    @rx.event
    def set_confirm_open(self, value: bool):
        if not value and not self.working:
            self.confirm_kind = ""

    async def _reread(self, user: User, submission_id: str) -> None:
        found = await asyncio.to_thread(submissions.submission_summaries, viewer=user, ids=[submission_id])
        fresh = {r.id: r for r in submission_rows(list(found.values()))}
        self.rows = [fresh.get(r.id, r) for r in self.rows]

    @rx.event
    async def confirm(self):
        user, instead = await admin_viewer(self, f"submission.{self.confirm_kind or 'change'}")
        if user is None:
            yield instead
            return
        kind, sid = self.confirm_kind, self.confirm_id
        if not kind or self.working:
            return
        self.working = True
        yield  # show the dialog busy: deleting waits for the workers of running jobs to let go
        try:
            if kind == "cancel":
                done = await asyncio.to_thread(submissions.cancel_submission, actor=user, submission_id=sid)
                await self._reread(user, sid)
                if not done.cancelled:
                    message = "Nothing to cancel: every job of this submission had finished."
                else:
                    message = f"Submission cancelled: {_plural(len(done.cancelled), 'job')} stopped"
                    message += f" ({len(done.halting)} halted while running)." if done.halting else "."
            else:
                gone = await asyncio.to_thread(submissions.delete_submission, actor=user, submission_id=sid)
                self.rows = [r for r in self.rows if r.id != sid]
                message = (f"Submission deleted: {_plural(gone.jobs_deleted, 'job')}, "
                           f"{_plural(gone.batches_deleted, 'batch', 'batches')}, "
                           f"{_plural(gone.files_deleted, 'file')} removed")
                message += (f"; {_plural(gone.cancelled, 'live job')} cancelled first." if gone.cancelled else ".")
        except JobdeckError as exc:
            self.working = False
            self.confirm_kind = ""
            yield rx.toast.error(exc.message)
            return
        self.working = False
        self.confirm_kind = ""
        yield rx.toast.success(message)

    # --- live ----------------------------------------------------------------------------

    async def _live(self, events: list[dict[str, Any]], burst: live.Burst) -> None:
        w = live.current_watch()
        if w is None or not w.admin:
            return
        index: dict[str, str] = {}
        for r in self.rows:
            index[r.id] = r.id
            for b in r.batch_ids:
                index[b] = r.id
        touched: set[str] = set()
        deleted: set[str] = set()
        new = False
        for ev in events:
            if ev.get("kind") == "deleted":
                deleted |= {ev.get("root_job_id"), *(ev.get("batch_ids") or [])}
                continue
            ids = [ev.get("workflow_id"), ev.get("job_id"), ev.get("batch_id"), *(ev.get("job_ids") or [])]
            hit = {index[i] for i in ids if i and i in index}
            touched |= hit
            if hit:
                continue
            for jid in [ev.get("job_id"), *(ev.get("job_ids") or [])]:
                job = burst.job(jid) if jid else None
                if job is not None and job.parent_job_id is None and job.batch_id is None:
                    new = True
            batch = burst.batch(ev["batch_id"]) if ev.get("batch_id") else None
            if batch is not None and batch.submission_job_id is None:
                new = True
        user = User(username=w.username, display_name="", role="admin", password_hash="")
        rows = [r for r in self.rows if r.id not in deleted]
        if touched:
            key = ("submissions", tuple(sorted(touched)))
            found = burst.memo(key, lambda: submission_rows(list(
                submissions.submission_summaries(viewer=user, ids=sorted(touched)).values())))
            fresh = {r.id: r for r in found}
            rows = [fresh.get(r.id, r) for r in rows]
        if new:
            owner = self.owner_filter or None
            top_rows = burst.memo(("submissions-top", owner), lambda: submission_rows(submissions.list_submissions(
                viewer=user, owner=owner, limit=PAGE_SIZE).submissions))
            top = rows[0].created_key if rows else ""
            have = {r.id for r in rows}
            rows = [r for r in top_rows if r.id not in have and r.created_key > top] + rows
        self.rows = rows

    async def _live_resync(self) -> None:
        w = live.current_watch()
        if w is not None and w.admin:
            await self._reload(User(username=w.username, display_name="", role="admin", password_hash=""))


class SubmissionsSelectionState(BulkSelection, rx.State):
    """The submissions page's selection (app.state.bulk_select): the rows ticked are
    cancelled or deleted each as one unit; "all matching" is every job of the
    submissions the username filter shows (that user's, or everyone's), by a bulk job."""

    NOUN: ClassVar[str] = "submission"

    async def _rows(self) -> list[str]:
        page = await self.get_state(AdminSubmissionsState)
        return [r.id for r in page.rows]

    async def _filters(self) -> tuple[Optional[dict[str, Any]], Optional[str]]:
        page = await self.get_state(AdminSubmissionsState)
        return ({"owner": page.owner_filter} if page.owner_filter else {"all_users": True}), None

    async def _act_on_rows(self, user: User, action: str, ids: list[str]) -> bulk_actions.Summary:
        return await asyncio.to_thread(bulk_actions.act_on_submissions, actor=user, action=action,
                                       submission_ids=ids)

    async def _reread(self) -> None:
        user, _ = await admin_viewer(self)
        if user is not None:
            page = await self.get_state(AdminSubmissionsState)
            await page._reload(user)
