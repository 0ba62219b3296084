"""Live pushes: one Redis pub/sub listener per web backend process routes job events to
the browser tabs that show them.

Each page's on_load registers a *watch* for its tab (client token): which state to
update and what it shows (the jobs of some owners, a job, a batch, a workflow). The
listener reads events in bursts; for each burst it reads every changed job and batch
once from the database, then updates the states of the tabs concerned, each once, with
`app.modify_state`. Only owners and admins are ever sent a job's changes.

The database stays the source of truth: a lost event costs a push, and a tab that
reconnects runs its on_load again (Reflex rehydrates), which reads the database and
registers the watch anew. After the listener itself reconnects to Redis, every watched
tab is read again.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import json
import logging
import time
from typing import Any, Callable, Optional

import redis.asyncio as aioredis
import reflex as rx

from app import keys, notices, paging, queries, runs
from app.db import utcnow
from app.lifecycle import FINAL, JobStatus
from app.models import Batch, Job
from app.settings import get_settings
from app.users import SIGN_INS_ENDED

log = logging.getLogger("jobdeck.live")

BURST = 500  # events applied together at most
# How long a burst that holds a lodging waits, at most, for what follows it: an idle
# worker takes and starts a lodged job a few ms later, and both then reach each tab as
# one push, not two. The burst leaves as soon as every job lodged in it has started.
COALESCE_S = 0.02
# a lodged job in these has not been taken and started yet
WAITING = (JobStatus.PENDING.value, JobStatus.DEQUEUED.value)
# A burst this large means more follow (a bulk action's chunks of 500, a big batch's
# lodging): until the storm passes the listener gathers what arrives for STORM_GAP_S
# before the next push, so a tab gets a few pushes a second, not one per chunk (each
# push re-renders the tab's counts and rows: twenty a second kept a browser busy).
STORM_EVENTS = 200
STORM_GAP_S = 0.5
STORM_BURST = 5000
PUSH_LANES = 4  # tabs updated at once
PRUNE_EVERY_S = 2.0  # how often closed tabs are dropped (a push to one is a no-op meanwhile)
EVERYONE = "*"
_FINAL = frozenset(s.value for s in FINAL)
# A run's or batch's end can be read by two bursts (its last two jobs ended close
# together, the first burst read both): the notice is sent once within this long.
NOTICED_TTL_S = 120.0


@dataclasses.dataclass(frozen=True)
class Watch:
    """What one tab shows. `owners`: the jobs of these owners (EVERYONE for all, for
    admins); the id sets: single jobs, batches, workflows and items shown."""

    state: type
    username: str
    admin: bool
    owners: frozenset[str] = frozenset()
    job_ids: frozenset[str] = frozenset()
    batch_ids: frozenset[str] = frozenset()
    workflow_ids: frozenset[str] = frozenset()
    entity_ids: frozenset[str] = frozenset()

    def wants(self, ev: dict[str, Any]) -> bool:
        owner = ev.get("owner")
        if not (self.admin or owner == self.username):
            return False
        if EVERYONE in self.owners or owner in self.owners:
            return True
        return (ev.get("job_id") in self.job_ids or ev.get("batch_id") in self.batch_ids
                or ev.get("workflow_id") in self.workflow_ids or ev.get("entity_id") in self.entity_ids
                or bool(self.job_ids.intersection(ev.get("job_ids") or ())))

    def wanted(self, events: list[dict[str, Any]], by_owner: dict[Any, list[dict[str, Any]]]) -> list[dict[str, Any]]:
        """The events of a burst this tab wants (as `wants` picks them), in their order;
        a list of some owners' jobs, what most tabs show, takes its owners' events from
        the burst's grouping rather than testing each event."""
        if self.admin and EVERYONE in self.owners:
            return events
        if not (self.job_ids or self.batch_ids or self.workflow_ids or self.entity_ids):
            owners = (self.owners if self.admin
                      else {self.username} if EVERYONE in self.owners else self.owners & {self.username})
            if len(owners) == 1:
                return by_owner.get(next(iter(owners)), [])
            return [ev for ev in events if ev.get("owner") in owners]
        return [ev for ev in events if self.wants(ev)]


# The watch of the tab being updated, for its state's _live (set per tab, per push).
_current: contextvars.ContextVar[Optional["Watch"]] = contextvars.ContextVar("jobdeck_watch", default=None)


def current_watch() -> Optional["Watch"]:
    """What the tab whose state is being updated shows."""
    return _current.get()


def job_ids_of(ev: dict[str, Any]) -> list[str]:
    """The jobs an event is about: a transition names one, a lodging several."""
    return ([ev["job_id"]] if ev.get("job_id") else []) + list(ev.get("job_ids") or ())


class Burst:
    """The events of one burst and what they changed, read once for every tab."""

    def __init__(self, events: list[dict[str, Any]]):
        self.events = events
        self._jobs: dict[str, Job] = {}
        self._batches: dict[str, Batch] = {}
        self._memo: dict[Any, Any] = {}

    def load(self) -> None:
        """Read the changed jobs and batches: two queries by primary key."""
        job_ids: list[str] = []
        batch_ids: set[str] = set()
        for ev in self.events:
            job_ids.extend(job_ids_of(ev))
            if ev.get("batch_id"):
                batch_ids.add(ev["batch_id"])
        self._jobs = queries.jobs_by_ids(job_ids)
        self._batches = queries.batches_by_ids(list(batch_ids))

    def job(self, job_id: str) -> Optional[Job]:
        return self._jobs.get(job_id)

    def batch(self, batch_id: str) -> Optional[Batch]:
        return self._batches.get(batch_id)

    def changed(self) -> "Changed":
        """The burst's jobs indexed once for every tab (a bulk action's burst holds
        hundreds, and twenty tabs each looping over them cost more than the reads)."""
        return self.memo(Changed, lambda: Changed.of(self))

    def memo(self, key: Any, fn: Callable[[], Any]) -> Any:
        """Read something once per burst however many tabs need it (a workflow graph,
        status counts). These are indexed reads of a millisecond or two: run inline, as
        a thread hop costs more than the read on a busy machine."""
        if key not in self._memo:
            self._memo[key] = fn()
        return self._memo[key]


@dataclasses.dataclass(frozen=True)
class Changed:
    """A burst's jobs, read from it once: a tab intersects these with what it shows
    (set operations, not a loop over every event per tab)."""

    jobs: dict[str, Job]  # id -> job, in the order the events name them
    ids: frozenset[str]
    newest: tuple[tuple[str, str], ...]  # (keyset key, id), newest first
    roots: dict[str, frozenset[str]]  # a run's root -> its steps in the burst
    parents: frozenset[str]  # the jobs that lodged one of these (a workflow now)
    batch_totals: dict[str, int]  # batch id -> its job count now

    @staticmethod
    def of(burst: "Burst") -> "Changed":
        jobs: dict[str, Job] = {}
        totals: dict[str, int] = {}
        for ev in burst.events:
            for jid in job_ids_of(ev):
                if jid not in jobs:
                    job = burst.job(jid)
                    if job is not None:
                        jobs[jid] = job
            batch = burst.batch(ev.get("batch_id") or "")
            if batch is not None:
                totals[batch.id] = batch.total
        roots: dict[str, set[str]] = {}
        for jid, job in jobs.items():
            root = runs.root_of(job)
            if root:
                roots.setdefault(root, set()).add(jid)
        newest = tuple(sorted(((paging.sort_key(j.created_at, jid), jid) for jid, j in jobs.items()), reverse=True))
        return Changed(jobs=jobs, ids=frozenset(jobs), newest=newest,
                       roots={r: frozenset(v) for r, v in roots.items()},
                       parents=frozenset(j.parent_job_id for j in jobs.values() if j.parent_job_id),
                       batch_totals=totals)


class Hub:
    """The watches of this process's tabs and the one listener that serves them."""

    def __init__(self) -> None:
        self.watches: dict[str, Watch] = {}
        self.tabs: dict[str, str] = {}  # token -> the user signed in there (notices)
        self.notice_state: Optional[type] = None  # app.state.notices registers its state
        self._noticed: dict[str, float] = {}
        self.app: Any = None
        self.connected = asyncio.Event()
        self.pushed = 0
        self._pruned = 0.0

    def watch(self, token: str, watch: Watch) -> None:
        if token:
            self.watches[token] = watch
            self.tabs[token] = watch.username

    def tab(self, token: str, username: str) -> None:
        """A tab of `username` that shows notices (every page does)."""
        if token and username:
            self.tabs[token] = username

    def unwatch(self, token: str) -> None:
        self.watches.pop(token, None)

    def _live_tokens(self) -> Optional[set[str]]:
        """The tabs connected to this process. With several web backends Reflex's token
        map also caches tabs connected elsewhere (it looks them up to forward a push): a
        tab that reconnected to another backend is that backend's to update, not ours."""
        try:
            tm = self.app.event_namespace._token_manager
            return {t for t, rec in tm.token_to_socket.items() if rec.instance_id == tm.instance_id}
        except Exception:
            pass
        try:
            return set(self.app.event_namespace.token_to_sid)
        except Exception:
            return None

    async def run(self, app: Any) -> None:
        """The lifespan task: subscribe, and after any Redis failure subscribe again and
        have every watched tab read its page afresh (events may have been missed)."""
        self.app = app
        first = True
        while True:
            conn = aioredis.Redis.from_url(get_settings().redis_url, socket_connect_timeout=2,
                                           health_check_interval=15)
            try:
                async with conn.pubsub(ignore_subscribe_messages=True) as ps:
                    await ps.subscribe(keys.events_channel())
                    self.connected.set()
                    if not first:
                        await self._dispatch(None)
                    first = False
                    await self._listen(ps)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis away: keep trying, pages stay as they are
                self.connected.clear()
                log.warning("live pushes paused, Redis did not answer: %s", exc)
                await asyncio.sleep(1.0)
            finally:
                try:
                    await conn.aclose()
                except Exception:
                    pass

    async def _listen(self, ps: Any) -> None:
        calm_at = 0.0  # during a storm: the next push leaves no earlier than this
        while True:
            msg = await ps.get_message(timeout=30.0)
            if msg is None:
                continue
            events: list[dict[str, Any]] = []
            until = None  # set once the burst holds a lodging: wait briefly for its take
            untaken: set[str] = set()  # lodged in this burst, not yet seen started
            cap = BURST
            storm = time.monotonic() < calm_at
            single = False  # a move of one job, not of a set: during a storm it ends the gap
            if storm:
                until, cap = calm_at, STORM_BURST
                untaken.add("")  # wait the whole gap: only a single job's move ends it early
            while msg is not None:
                try:
                    ev = json.loads(msg["data"])
                    events.append(ev)
                    if ev.get("kind") == "lodged":
                        untaken.update(ev.get("job_ids") or ())
                        if until is None:
                            until = time.monotonic() + COALESCE_S
                    elif ev.get("kind") == "job":
                        single = single or not ev.get("bulk")
                        if ev.get("status") not in WAITING:
                            untaken.discard(ev.get("job_id"))
                except (ValueError, TypeError):
                    log.warning("ignored a malformed event: %r", msg.get("data"))
                if len(events) >= cap:
                    break
                # Every job lodged here is running already: no reason to wait longer. In a
                # storm, a single job's move (someone's job running) goes out with what the
                # storm brought so far: the gap paces the storm, not the rest.
                wait = (max(0.0, until - time.monotonic()) if until is not None and untaken
                        and not (storm and single) else 0)
                msg = await ps.get_message(timeout=wait)
            if events:
                if len(events) >= STORM_EVENTS:
                    calm_at = time.monotonic() + STORM_GAP_S
                elif not (storm and single):
                    calm_at = 0.0  # over; a single job's push in the middle of one leaves it on
                try:
                    await self._dispatch(events)
                except Exception:
                    log.exception("live push failed for a burst of %d events", len(events))

    async def _dispatch(self, events: Optional[list[dict[str, Any]]]) -> None:
        """Apply a burst to every tab it concerns (or, with None, re-read every tab)."""
        if time.monotonic() - self._pruned > PRUNE_EVERY_S:
            self._pruned = time.monotonic()
            live = self._live_tokens()
            if live is not None:
                for token in [t for t in self.watches if t not in live]:
                    del self.watches[token]  # the tab closed; a reconnect registers again
                for token in [t for t in self.tabs if t not in live]:
                    del self.tabs[token]
        if events:
            # A user whose sign-ins ended (or who was disabled) gets no more pushes; their
            # tabs' next action or page load sends them to sign in.
            ended = {ev.get("username") for ev in events if ev.get("kind") == SIGN_INS_ENDED}
            if ended:
                events = [ev for ev in events if ev.get("kind") != SIGN_INS_ENDED]
                for token in [t for t, w in self.watches.items() if w.username in ended]:
                    del self.watches[token]
                for token in [t for t, u in self.tabs.items() if u in ended]:
                    del self.tabs[token]
        targets: list[tuple[str, Watch, Optional[list[dict[str, Any]]]]] = []
        by_owner: dict[Any, list[dict[str, Any]]] = {}
        for ev in events or ():
            by_owner.setdefault(ev.get("owner"), []).append(ev)
        for token, w in list(self.watches.items()):
            if events is None:
                targets.append((token, w, None))
            else:
                mine = w.wanted(events, by_owner)
                if mine:
                    targets.append((token, w, mine))
        # The final transitions of users with a tab here: what ended may be news elsewhere.
        users = set(self.tabs.values()) if events and self.notice_state is not None else set()
        finals = [ev for ev in events or () if ev.get("kind") == "job" and ev.get("status") in _FINAL
                  and ev.get("owner") in users]
        if not targets and not finals:
            return
        burst = Burst(events or [])
        started = time.perf_counter()
        if events:
            burst.load()
        if finals:
            await self._notify(finals, burst)
        # A few tabs at a time: each tab's push leaves as soon as its state is done (all at
        # once, every tab would wait for the last), and a tab busy with an event of its
        # own holds up only its lane.
        lanes = asyncio.Semaphore(PUSH_LANES)

        async def lane(token: str, w: Watch, evs: Optional[list[dict[str, Any]]]) -> None:
            async with lanes:
                await self._apply(token, w, evs, burst)

        await asyncio.gather(*(lane(token, w, evs) for token, w, evs in targets))
        log.debug("pushed %d events to %d tabs in %.1f ms", len(events or []), len(targets),
                  (time.perf_counter() - started) * 1000)

    async def _notify(self, finals: list[dict[str, Any]], burst: Burst) -> None:
        """Tell the owners' tabs that do not show it that a job, batch or run ended."""
        # Every run a final step of the burst belongs to, read in one query.
        rids = {runs.root_of(j) for j in map(burst.job, (ev.get("job_id") or "" for ev in finals))
                if j is not None and runs.is_step(j)}
        states = runs.run_states(rids) if rids else {}
        run_state = states.get

        found = notices.notable(finals, job=burst.job, batch=burst.batch, run_state=run_state, now=utcnow(),
                                after_s=get_settings().notice_after_s)
        now = time.monotonic()
        self._noticed = {k: t for k, t in self._noticed.items() if now - t < NOTICED_TTL_S}
        for n in found:
            if n.key in self._noticed:
                continue
            self._noticed[n.key] = now
            for token, username in list(self.tabs.items()):
                if username == n.owner and not _shows(self.watches.get(token), n):
                    await self._tell(token, n)

    async def _tell(self, token: str, n: notices.Notice) -> None:
        try:
            async with self.app.modify_state(rx.BaseStateToken(ident=token, cls=self.notice_state)) as root:
                st = root if isinstance(root, self.notice_state) else await root.get_state(self.notice_state)
                st._add(n)
        except Exception:
            log.exception("a notice to a tab failed")

    async def _apply(self, token: str, w: Watch, events: Optional[list[dict[str, Any]]], burst: Burst) -> None:
        _current.set(w)  # this task's own context: each tab's push runs in a task of its own
        try:
            async with self.app.modify_state(rx.BaseStateToken(ident=token, cls=w.state)) as root:
                page = root if isinstance(root, w.state) else await root.get_state(w.state)
                if events is None:
                    await page._live_resync()
                else:
                    await page._live(events, burst)
            self.pushed += 1
        except Exception:
            log.exception("live push to a tab failed")


def _shows(w: Optional[Watch], n: notices.Notice) -> bool:
    """Whether a tab's page shows what a notice is about (its end is seen there)."""
    if w is None:
        return False
    if EVERYONE in w.owners or n.owner in w.owners:
        return True  # a jobs panel lists it
    return (bool(w.job_ids & n.job_ids) or (n.batch_id and n.batch_id in w.batch_ids)
            or (n.workflow_id and n.workflow_id in w.workflow_ids))


hub = Hub()


async def listen(app: Any) -> None:
    """Registered with app.register_lifespan_task: the one listener of this process."""
    await hub.run(app)


def watch(state: rx.State, **what: Any) -> None:
    """Register what the tab of `state` shows (replaces what it showed before)."""
    token = state.router.session.client_token
    hub.watch(token, Watch(state=type(state), **what))


def unwatch(state: rx.State) -> None:
    hub.unwatch(state.router.session.client_token)
