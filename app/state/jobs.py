"""State of the jobs panel: a keyset-paged list with filters, counts, search, live.

Two states: `JobsState` holds what the person chose (filters, search, scope) and
handles their events; `JobsListState` holds what the workers change (rows, their live
part, counts). Only memoised components read the list state, so a push re-renders the
table and the counts, not the page around them: many open tabs stay cheap for the
browser.
"""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Optional

import reflex as rx

from app import job_search, paging, queries, routes, runs
from app.counts import read as read_counts
from app.errors import JobdeckError
from app.jobtypes import SPECS
from app.models import Job, User
from app.queries import JobFilter
from app.state import address, live
from app.state.base import sign_in_redirect, viewer
from app.state.views import STATUSES, ListRow, RowLive, list_row, row_live, run_live, sort_key

PAGE_SIZE = 25
ANY = "all"
# Told the ids shown each time the panel's list is read again: states that build on the
# list (app.state.bulk_select) register here, so this state imports none of them.
_AFTER_READ: list = []


def after_read(fn):
    _AFTER_READ.append(fn)
    return fn
# (value, label) of the type filter: each type, then each type/subtype.
TYPE_OPTIONS = [(t, t) for t in sorted({t for t, _ in SPECS})] + [
    (f"{t}/{s}", f"{t} / {s}") for t, s in sorted(SPECS)]


class JobsListState(rx.State):
    rows: list[ListRow] = []
    live: dict[str, RowLive] = {}
    counts: dict[str, int] = {}
    next_cursor: str = ""
    loaded: bool = False
    search_kind: str = ""  # "job" | "batch" | "prefix" | "subject" | "none" while a search is applied
    bounded: bool = False  # the last page read stopped after looking through job_search.WINDOW jobs
    sort: str = "created"
    filtered: bool = False
    show_owner: bool = False
    # created_at|id of each row shown, to place a new job where the keyset puts it
    _keys: dict[str, str] = {}
    _limit: int = PAGE_SIZE  # how many rows the person asked to see
    # what a changed job must match to be in the list: (search text, status, type, subtype)
    _match: tuple[str, str, str, str] = ("", "", "", "")
    _search_kind: str = ""
    # the created-time range a changed job must fall in (epoch seconds; 0: no bound)
    _created: tuple[float, float] = (0.0, 0.0)

    def _matches(self, job: Job, user_scope: set[str]) -> bool:
        """Does a changed job belong in this list (scope, search, filters)?"""
        if live.EVERYONE not in user_scope and job.owner not in user_scope:
            return False
        text, status, job_type, job_subtype = self._match
        if text and self._search_kind == "prefix":
            found = job.id.startswith(text)
        elif text and self._search_kind == "subject":
            found = all(w in (job.subject or "").casefold() for w in text.casefold().split())
        else:
            found = not text or job.id == text or job.batch_id == text
        if not found or (status and job.status != status) or (job_type and job.job_type != job_type) \
                or (job_subtype and job.job_subtype != job_subtype):
            return False
        since, until = self._created
        if since or until:
            t = job.created_at.timestamp()
            return not ((since and t < since) or (until and t >= until))
        return True

    @rx.var
    def takes_every(self) -> bool:
        """Can "all matching this filter" be offered: not for an id prefix or words of a
        subject, which no bulk filter names."""
        return self.search_kind in ("", "job", "batch")

    @rx.var
    def total(self) -> int:
        return sum(self.counts.values())

    def _show(self, jobs: list[Job], *, append: bool = False, markers=None) -> None:
        new, fresh_live, keys = _rows_of(jobs, markers, self.sort)
        if append:
            have = set(self._keys)
            self.rows = self.rows + [r for r in new if r.id not in have]
            self.live = {**self.live, **fresh_live}
            self._keys = {**self._keys, **keys}
        else:
            self.rows, self.live, self._keys = new, fresh_live, keys
        self._limit = max(PAGE_SIZE, len(self._keys))

    def _insert(self, new: list[ListRow], fresh_live: dict[str, RowLive], keys: dict[str, str]) -> None:
        """Place jobs that appeared while the tab is open where the keyset puts them,
        keeping the list as long as the person asked for (a page, or more after Load
        more): the oldest rows drop off the bottom, and Load more brings them back."""
        # plain values, not Reflex's change-tracking proxies: this runs for every tab
        have = self.get_value("_keys")
        order = {**have, **keys}
        rows = sorted([*self.get_value("rows"), *(r for r in new if r.id not in have)],
                      key=lambda r: order[r.id], reverse=True)
        lives = {**self.get_value("live"), **fresh_live}
        if len(rows) > self._limit:
            rows, dropped = rows[:self._limit], rows[self._limit:]
            gone = {r.id for r in dropped}
            order = {k: v for k, v in order.items() if k not in gone}
            lives = {k: v for k, v in lives.items() if k not in gone}
            self.next_cursor = cursor_of_order_key(order[rows[-1].id], self.sort)
        self.rows, self.live, self._keys = rows, lives, order

    async def _live(self, events: list[dict[str, Any]], burst: live.Burst) -> None:
        w = live.current_watch()
        scope = set(w.owners) if w else set()
        # The burst's jobs indexed once for every tab; here only what meets this tab's
        # rows (set intersections) and the jobs newer than its last row are looked at.
        ch = burst.changed()
        changed: dict[str, RowLive] = {}
        gone: set[str] = set()
        fresh: list[Job] = []
        # plain values, not Reflex's change-tracking proxies: this runs for every tab
        keys, shown_live = self.get_value("_keys"), self.get_value("live")
        oldest = min(keys.values()) if keys and self.next_cursor else ""
        sort = self.sort
        ordered = ch.newest if sort == "created" else burst.memo(("order", sort), lambda: _in_order(ch, sort))
        placed = dict((jid, key) for key, jid in ordered) if sort != "created" else {}
        for jid in ch.ids.intersection(keys):
            job = ch.jobs[jid]
            if not self._matches(job, scope) or (sort != "created" and jid not in placed):
                gone.add(jid)  # left the filter (a status filter, say), or the order (a retry)
            elif sort != "created" and placed[jid] != keys[jid]:
                gone.add(jid)  # its place changed (started again, ran longer): placed anew below
            else:
                changed[jid] = burst.memo(("row_live", jid), lambda: row_live(job))
        for key, jid in ordered:
            if oldest and key <= oldest:
                break  # past every row a full page shows: not placed
            if (jid not in keys or jid in gone) and self._matches(ch.jobs[jid], scope):
                fresh.append(ch.jobs[jid])
        for root in ch.roots.keys() & keys.keys() - gone:
            # a run's root shows the state of the whole run: read once per burst for every tab
            run = burst.memo(("run", root), lambda: runs.run_states([root]).get(root))
            if run is not None:
                shown = changed.get(root) or shown_live.get(root)
                changed[root] = run_live(run, attempt=shown.attempt if shown else 1)
        self._follow_markers(ch)
        # Only what changed is sent: the live part of rows already shown ...
        updates = {k: v for k, v in changed.items() if k not in gone and shown_live.get(k) != v}
        if updates:
            self.live = {**shown_live, **updates}
        if gone:
            self.rows = [r for r in self.rows if r.id not in gone]
            self._keys = {k: v for k, v in self._keys.items() if k not in gone}
        # ... and new jobs, placed where the keyset order puts them.
        if fresh:
            # The same new rows for every tab: built once per burst.
            ids = tuple(sorted(j.id for j in fresh))
            self._insert(*burst.memo(("rows", sort, ids), lambda: _rows_of(fresh, None, sort)))
        if scope:
            owner = None if live.EVERYONE in scope else next(iter(scope))
            counts = burst.memo(("counts", owner), lambda: _counts(owner))
            if counts != self.counts:
                self.counts = counts

    def _follow_markers(self, ch: live.Changed) -> None:
        """The rarely changing part of rows shown: a job that lodged its next step is a
        workflow now, a batch that took more jobs has a new count."""
        keys = self.get_value("_keys")
        parents = ch.parents.intersection(keys)
        totals = ch.batch_totals
        if not parents and not totals:
            return
        rows, touched = [], False
        for r in self.get_value("rows"):
            if r.id in parents and r.marker == "standalone":
                r, touched = dataclasses.replace(r, marker="workflow"), True
            elif r.batch_id in totals and r.batch_total != totals[r.batch_id]:
                r, touched = dataclasses.replace(r, batch_total=totals[r.batch_id]), True
            rows.append(r)
        if touched:
            self.rows = rows

    async def _live_resync(self) -> None:
        page = await self.get_state(JobsState)
        await page._reload()


SORTS = {"created": "Newest created", "started": "Newest started", "duration": "Longest run"}


class JobsState(rx.State):
    """The jobs panel's filters. They live in the page's address (`/jobs?status=FAILED&
    type=PIPELINE&q=…&from=2026-12-01&to=2026-12-02&sort=duration&owner=…&all=1`, see
    app.state.address): a change of filter goes to that address, and the page's load
    reads what it shows from there, so a bookmark, the back button and a link sent to a
    colleague all show the same list. A value in the address that is no filter's is left
    out, and the page says which."""

    status_filter: str = ANY
    type_filter: str = ANY
    search: str = ""
    all_users: bool = False
    owner_filter: str = ""
    date_from: str = ""  # YYYY-MM-DD: created on or after that day (UTC)
    date_to: str = ""  # YYYY-MM-DD: created on or before that day (UTC)
    sort: str = "created"
    link_problem: str = ""  # what of the address was not a filter, and so not applied

    @rx.var
    def filtered(self) -> bool:
        return self.status_filter != ANY or self.type_filter != ANY or self.search != "" \
            or self.date_from != "" or self.date_to != ""

    def _filter(self) -> JobFilter:
        f = JobFilter()
        if self.status_filter != ANY:
            f.status = self.status_filter
        if self.type_filter != ANY:
            t, _, s = self.type_filter.partition("/")
            f.job_type, f.job_subtype = t, s or None
        f.since, f.until = created_range(self.date_from, self.date_to)
        return f

    def _scope(self, user: User) -> tuple[Optional[str], bool]:
        """(owner, all users) of the list: admins may widen it, users never."""
        if not user.is_admin:
            return None, False
        return (self.owner_filter.strip() or None), self.all_users and not self.owner_filter.strip()

    def _page(self, user: User, cursor: Optional[str] = None) -> job_search.SearchPage:
        owner, everyone = self._scope(user)
        return job_search.find_jobs(viewer=user, owner=owner, all_users=everyone, filters=self._filter(),
                                    sort=self.sort, q=self.search.strip(), cursor=cursor, limit=PAGE_SIZE)

    async def _read(self, user: User) -> None:
        lst = await self.get_state(JobsListState)
        owner, everyone = self._scope(user)
        owners = {live.EVERYONE} if everyone else {owner or user.username}
        text = self.search.strip()
        # Watch first, then read: a change between the two is pushed, not lost.
        live.watch(lst, username=user.username, admin=user.is_admin, owners=frozenset(owners),
                   job_ids=frozenset([text]) if text else frozenset(),
                   batch_ids=frozenset([text]) if text else frozenset())
        page = self._page(user)
        lst.search_kind = page.kind if text else ""
        lst._search_kind = lst.search_kind
        lst.sort = self.sort
        lst._show(page.jobs)
        lst.next_cursor = page.next_cursor or ""
        lst.bounded = page.bounded
        lst.counts = queries.status_counts(viewer=user, owner=owner, all_users=everyone)
        lst.filtered = self.filtered
        lst.show_owner = user.is_admin and (everyone or bool(owner))
        f = self._filter()
        lst._match = (text, f.status or "", f.job_type or "", f.job_subtype or "")
        lst._created = tuple(t.timestamp() if t else 0.0 for t in (f.since, f.until))
        lst.loaded = True
        for fn in _AFTER_READ:  # e.g. the selection keeps only the rows still shown
            await fn(self, {r.id for r in lst.rows})

    async def _reload(self):
        user = await viewer(self)
        if user is None:
            return await sign_in_redirect(self)
        try:
            await self._read(user)
        except JobdeckError as exc:
            return rx.toast.error(exc.message)

    def _from_address(self) -> None:
        """The filters the address names; what is not a filter's value is dropped, and said."""
        params = self.router.url.query_parameters  # type: ignore[attr-defined]
        got, problems = filters_of(dict(params))
        self.status_filter, self.type_filter = got["status"], got["type"]
        self.search, self.owner_filter, self.all_users = got["q"], got["owner"], got["all"]
        self.date_from, self.date_to, self.sort = got["from"], got["to"], got["sort"]
        self.link_problem = address.said(problems)

    def _wanted(self) -> dict[str, Any]:
        owner = self.owner_filter.strip()
        return {"status": self.status_filter, "type": self.type_filter, "q": self.search.strip(), "owner": owner,
                "all": self.all_users and not owner, "from": self.date_from, "to": self.date_to, "sort": self.sort}

    async def _go(self):
        """Show the filters now set: at their address (a history entry of its own, whose
        load reads the list), or read again when the address is the one shown."""
        shown, _ = filters_of(dict(self.router.url.query_parameters))  # type: ignore[attr-defined]
        wanted = self._wanted()
        if wanted == shown:
            return await self._reload()
        return rx.redirect(address.form(routes.JOBS, JOBS_ADDRESS, wanted))

    @rx.event
    async def load(self):
        self._from_address()
        return await self._reload()

    @rx.event
    async def refresh(self):
        out = await self._reload()
        return out or rx.toast.success("Jobs refreshed.", duration=1500)

    @rx.event
    async def load_more(self):
        user = await viewer(self)
        if user is None:
            return await sign_in_redirect(self)
        lst = await self.get_state(JobsListState)
        if not lst.next_cursor:
            return
        try:
            page = self._page(user, lst.next_cursor)
        except JobdeckError as exc:
            return rx.toast.error(exc.message)
        lst._show(page.jobs, append=True)
        lst.next_cursor = page.next_cursor or ""
        lst.bounded = page.bounded

    @rx.event
    async def set_status_filter(self, value: str):
        self.status_filter = value if value in STATUSES else ANY
        return await self._go()

    @rx.event
    async def set_type_filter(self, value: str):
        self.type_filter = value if value in dict(TYPE_OPTIONS) else ANY
        return await self._go()

    @rx.event
    async def set_sort(self, value: str):
        self.sort = value if value in SORTS else "created"
        return await self._go()

    @rx.event
    async def apply_range(self, form: dict[str, Any]):
        got, problems = address.parse(JOBS_ADDRESS, {"from": form.get("from"), "to": form.get("to")})
        if not problems and got["from"] and got["to"] and got["from"] > got["to"]:
            problems.append("the range ends before it begins")
        if problems:
            return rx.toast.error("Created: " + address.said(problems) + ".")
        self.date_from, self.date_to = got["from"], got["to"]
        return await self._go()

    @rx.event
    async def apply_search(self, form: dict[str, Any]):
        self.search = str(form.get("q", "")).strip()[:MAX_SEARCH]
        if "owner" in form:
            self.owner_filter = str(form.get("owner", "")).strip()[:MAX_SEARCH]
        return await self._go()

    @rx.event
    async def clear_filters(self):
        self.search = ""
        self.status_filter = ANY
        self.type_filter = ANY
        self.date_from = self.date_to = ""
        return await self._go()

    @rx.event
    async def set_all_users(self, value: bool):
        self.all_users = bool(value)
        if value:
            self.owner_filter = ""
        return await self._go()

    @rx.event
    async def clear_owner(self):
        self.owner_filter = ""
        self.all_users = False  # the button says "Only my jobs"
        return await self._go()


MAX_SEARCH = address.MAX_TEXT  # characters of a search or a username in the address

# What the jobs panel's address may hold (app.state.address), in the order it is written.
JOBS_ADDRESS = (
    address.Param("status", "choice", ANY, STATUSES, "status", f" (one of {', '.join(STATUSES)})"),
    address.Param("type", "choice", ANY, dict(TYPE_OPTIONS), "job type"),
    address.Param("q", what="search"),
    address.Param("owner", what="username"),
    address.Param("all", "flag", False, what="all users"),
    address.Param("from", "date", what="the range's first day"),
    address.Param("to", "date", what="the range's last day"),
    address.Param("sort", "choice", "created", SORTS, "sort", f" (one of {', '.join(SORTS)})"),
)


def filters_of(params: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The jobs panel's filters from its address, and what of it was not a filter's
    value (each left out: the view shows every status, say, instead of nothing)."""
    got, problems = address.parse(JOBS_ADDRESS, params)
    if got["from"] and got["to"] and got["from"] > got["to"]:
        problems.append(f"the range {got['from']} to {got['to']} ends before it begins")
        got["from"] = got["to"] = ""
    if got["owner"]:
        got["all"] = False  # one user's jobs, not everyone's
    return got, problems


def address_of(*, status: str = ANY, job_type: str = ANY, q: str = "", owner: str = "", everyone: bool = False,
               date_from: str = "", date_to: str = "", sort: str = "created") -> str:
    """The jobs panel's address showing these filters (only those set)."""
    return address.form(routes.JOBS, JOBS_ADDRESS, {"status": status, "type": job_type, "q": q, "owner": owner,
                                                    "all": everyone and not owner, "from": date_from,
                                                    "to": date_to, "sort": sort})


def created_range(first: str, last: str) -> tuple[Optional[datetime], Optional[datetime]]:
    """The created-time range of two days (YYYY-MM-DD, UTC; either may be empty): from
    the first day's start to the end of the last."""
    def start(day: str) -> datetime:
        return datetime.combine(date.fromisoformat(day), time(), tzinfo=timezone.utc)
    return (start(first) if first else None), (start(last) + timedelta(days=1) if last else None)


def _rows_of(jobs: list[Job], markers=None, sort: str = "created"
             ) -> tuple[list[ListRow], dict[str, RowLive], dict[str, str]]:
    """The rows of some jobs: their fixed part, their live part (a run's root: the
    run's), their keys in the list's order. Three indexed queries whatever the page."""
    totals, parents = markers or queries.job_markers(jobs)
    rows = [list_row(j, batch_total=totals.get(j.batch_id or "", 0), has_children=j.id in parents) for j in jobs]
    states = runs.run_states(j.id for j in jobs if runs.is_root(j))
    return (rows, {j.id: row_live(j, states.get(j.id)) for j in jobs},
            {j.id: order_key(j, sort) or sort_key(j) for j in jobs})


def order_key(job: Job, sort: str) -> Optional[str]:
    """A job's place in a list of order `sort`, as a string that sorts the same way
    (greatest first): None where the order leaves it out (not started, not run)."""
    if sort == "started":
        return paging.sort_key(job.started_at, job.id) if job.started_at else None
    if sort == "duration":
        return f"{job.ran_ms:019d}|{job.id}" if job.ran_ms is not None else None
    return sort_key(job)


def cursor_of_order_key(key: str, sort: str) -> str:
    """The cursor after the row whose `order_key` this is (what job_search gives out)."""
    if sort == "created":
        return paging.cursor_of_key(key)
    value, _, id_ = key.partition("|")
    if sort == "started":
        return job_search.encode("started", datetime.fromisoformat(value), id_)
    return job_search.encode("ran", int(value), id_)


def _in_order(ch: live.Changed, sort: str) -> tuple[tuple[str, str], ...]:
    """A burst's jobs in a list's order (greatest first), those the order leaves out left out."""
    keyed = ((order_key(j, sort), jid) for jid, j in ch.jobs.items())
    return tuple(sorted(((k, jid) for k, jid in keyed if k is not None), reverse=True))


def _counts(owner: Optional[str]) -> dict[str, int]:
    """Status counts of one owner's jobs, or everyone's (owner None), as kept: the tab's
    watch was checked when it was registered, so no viewer is needed here."""
    return read_counts(owner)
