"""The live listener's routing: which tab a job event reaches (Watch.wants), how a
burst is shared out among the tabs (Hub._dispatch), and how one tab's push is applied
(Hub._apply), with the changed jobs and batches read from a real database.

Reflex's side of a push is the one thing stood in for: an app object with the two
things the hub uses (the connected tokens, and modify_state handing over a tab's
state). The states are plain classes with the two methods a page defines."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import time
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from app import launch, lifecycle, queries
from app.db import session
from app.lifecycle import JobStatus
from app.models import Job, User
from app.state import live
from app.state.live import EVERYONE, Burst, Hub, Watch


def _run(coro):
    # A loop of its own in a thread of its own: an earlier browser test may have left
    # this thread with a running loop.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def _ev(owner="alice", **over) -> dict:
    """A job event of the shape Transitioned.event() publishes."""
    ev = {"kind": "job", "job_id": "j1", "status": "IN_PROGRESS", "prev_status": "DEQUEUED",
          "attempt": 1, "owner": owner, "batch_id": None, "workflow_id": None, "entity_id": None,
          "job_type": "SYSTEM", "job_subtype": "NOOP", "message": "", "at": ""}
    ev.update(over)
    return ev


def _lodged(owner="alice", job_ids=("j1",), batch_id=None) -> dict:
    return {"kind": "lodged", "owner": owner, "batch_id": batch_id, "count": len(job_ids),
            "job_ids": list(job_ids)}


class Page:
    """A page's state as the hub sees it: what each push brought, and which watch was
    current while it ran."""

    def __init__(self, fail: bool = False):
        self.pushes: list = []
        self.fail = fail

    @classmethod
    def get_full_name(cls) -> str:
        return f"test.{cls.__name__}"

    async def _live(self, events, burst):
        if self.fail:
            raise RuntimeError("this tab's push fails")
        self.pushes.append(("live", events, burst, live.current_watch()))

    async def _live_resync(self):
        self.pushes.append(("resync", None, None, live.current_watch()))


class JobsPage(Page):
    pass


class Root:
    """A root state holding the page as a substate (Reflex hands over the root when the
    page's state is not the root)."""

    def __init__(self, page: Page):
        self.page = page
        self.asked: list[type] = []

    async def get_state(self, cls):
        self.asked.append(cls)
        assert isinstance(self.page, cls)
        return self.page


class App:
    def __init__(self, roots: dict, connected=None):
        self.roots = roots
        if connected is not None:
            self.event_namespace = SimpleNamespace(token_to_sid={t: f"sid-{t}" for t in connected})

    @contextlib.asynccontextmanager
    async def modify_state(self, token):
        assert token.cls is type(self.roots[token.ident]) or isinstance(self.roots[token.ident], Root)
        yield self.roots[token.ident]


# --- Watch.wants ---------------------------------------------------------------


def test_a_user_tab_gets_only_its_own_users_jobs():
    w = Watch(state=Page, username="alice", admin=False, owners=frozenset({"alice"}))
    assert w.wants(_ev("alice"))
    assert not w.wants(_ev("bob"))
    assert not w.wants(_ev(None))
    assert not w.wants({"kind": "job", "job_id": "j1"})  # no owner: nobody's tab but an admin's


def test_a_user_tab_never_gets_another_users_job_whatever_it_shows():
    """Even a watch that names everything of bob's (as a crafted watch could) gets none of
    it: the owner check comes first."""
    w = Watch(state=Page, username="alice", admin=False, owners=frozenset({EVERYONE, "bob"}),
              job_ids=frozenset({"j1"}), batch_ids=frozenset({"b1"}), workflow_ids=frozenset({"w1"}),
              entity_ids=frozenset({"e1"}))
    assert not w.wants(_ev("bob", job_id="j1", batch_id="b1", workflow_id="w1", entity_id="e1"))
    assert not w.wants(_lodged("bob", job_ids=("j1",), batch_id="b1"))
    assert w.wants(_ev("alice", job_id="j1"))


def test_an_admin_tab_gets_every_owner_or_the_owners_it_shows():
    everyone = Watch(state=Page, username="root", admin=True, owners=frozenset({EVERYONE}))
    assert everyone.wants(_ev("alice")) and everyone.wants(_ev("bob")) and everyone.wants(_ev(None))
    one = Watch(state=Page, username="root", admin=True, owners=frozenset({"bob"}))
    assert one.wants(_ev("bob"))
    assert not one.wants(_ev("alice"))
    assert not one.wants(_ev("root"))  # an admin's own jobs only when shown
    shown = Watch(state=Page, username="root", admin=True, job_ids=frozenset({"j9"}))
    assert shown.wants(_ev("alice", job_id="j9")) and not shown.wants(_ev("alice", job_id="j1"))


def test_a_non_admin_watch_of_everyone_is_still_its_owners_only():
    w = Watch(state=Page, username="alice", admin=False, owners=frozenset({EVERYONE}))
    assert w.wants(_ev("alice")) and not w.wants(_ev("bob"))


@pytest.mark.parametrize("field,shown", [("job_ids", "job_id"), ("batch_ids", "batch_id"),
                                         ("workflow_ids", "workflow_id"), ("entity_ids", "entity_id")])
def test_a_tab_showing_one_thing_gets_that_things_events_only(field, shown):
    w = Watch(state=Page, username="alice", admin=False, **{field: frozenset({"x1"})})
    assert w.wants(_ev("alice", **{shown: "x1"}))
    assert not w.wants(_ev("alice", **{shown: "x2"}))
    assert not w.wants(_ev("alice"))  # the ids it shows are not None
    assert not w.wants(_ev("bob", **{shown: "x1"}))


def test_a_tab_showing_a_job_gets_the_lodging_that_names_it():
    w = Watch(state=Page, username="alice", admin=False, job_ids=frozenset({"j2"}))
    assert w.wants(_lodged("alice", job_ids=("j1", "j2")))
    assert not w.wants(_lodged("alice", job_ids=("j1", "j3")))
    assert not w.wants(_lodged("alice", job_ids=()))
    assert not w.wants({"kind": "lodged", "owner": "alice", "job_ids": None})
    assert not w.wants(_lodged("bob", job_ids=("j2",)))


def test_a_watch_of_nothing_gets_nothing():
    assert not Watch(state=Page, username="alice", admin=False).wants(_ev("alice"))
    assert not Watch(state=Page, username="root", admin=True).wants(_ev("alice"))


def test_job_ids_of_an_event():
    assert live.job_ids_of(_ev(job_id="j1")) == ["j1"]
    assert live.job_ids_of(_lodged(job_ids=("j1", "j2"))) == ["j1", "j2"]
    assert live.job_ids_of({"job_id": "j0", "job_ids": ["j1"]}) == ["j0", "j1"]
    assert live.job_ids_of({"job_id": None, "job_ids": None}) == []
    assert live.job_ids_of({}) == []


@pytest.fixture
def users(jobdeck):
    """Users as the routing sees them: a username and a role (rows written directly, with
    no password: hashing one costs seconds on a busy machine)."""
    with session(write=True) as s:
        made = {name: User(username=name, display_name=name, role=role, password_hash="!")
                for name, role in (("alice", "user"), ("bob", "user"), ("root", "admin"))}
        s.add_all(made.values())
    return made


def _lodge(users, owner):
    """A diagnostic job of OWNER's (lodged by an admin: users may not lodge it directly)."""
    return launch.launch_job(actor=users["root"], job_type="SYSTEM", job_subtype="NOOP", payload={}, owner=owner)


# --- Burst ---------------------------------------------------------------------


def test_a_burst_reads_every_job_and_batch_its_events_name(users):
    batch = launch.launch_batch(actor=users["root"], job_type="SYSTEM", job_subtype="NOOP", payloads=[{}, {}],
                                owner="alice")
    with session() as s:
        ids = list(s.exec(sa.select(Job.id).where(Job.batch_id == batch.id)).scalars())
    assert len(ids) == 2
    lone = _lodge(users, "alice")
    moved = lifecycle.transition(lone.id, JobStatus.DEQUEUED, message="taken")
    events = [moved.event(), _lodged("alice", job_ids=ids, batch_id=batch.id),
              _ev("alice", job_id="not-a-job")]
    burst = Burst(events)
    assert burst.job(lone.id) is None and burst.batch(batch.id) is None  # nothing read before load
    burst.load()
    assert burst.job(lone.id).status == "DEQUEUED"
    assert burst.batch(batch.id).total == 2
    for jid in ids:
        assert burst.job(jid).batch_id == batch.id
    assert burst.job("not-a-job") is None and burst.batch("not-a-batch") is None


def test_a_burst_without_batches_reads_none(jobdeck):
    burst = Burst([_ev("alice", job_id="j1", batch_id=None), _ev("alice", job_id="j2", batch_id="")])
    burst.load()
    assert burst._batches == {} and burst._jobs == {}


def test_a_bursts_memo_reads_once_per_key():
    burst = Burst([])
    calls = []

    def read(v):
        calls.append(v)
        return v * 10

    assert [burst.memo("a", lambda: read(1)), burst.memo("a", lambda: read(2)),
            burst.memo("b", lambda: read(3)), burst.memo("a", lambda: read(4))] == [10, 10, 30, 10]
    assert calls == [1, 3]
    assert burst.memo("none", lambda: None) is None and burst.memo("none", lambda: 1) is None


# --- Hub: registering tabs -------------------------------------------------------


def test_watch_and_unwatch_a_tab_by_its_token():
    hub = Hub()
    w = Watch(state=Page, username="alice", admin=False, owners=frozenset({"alice"}))
    hub.watch("t1", w)
    hub.watch("", w)  # a tab not yet connected has no token: nothing to route to
    assert hub.watches == {"t1": w}
    w2 = Watch(state=Page, username="alice", admin=False, job_ids=frozenset({"j1"}))
    hub.watch("t1", w2)
    assert hub.watches == {"t1": w2}  # a page's watch replaces what the tab showed before
    hub.unwatch("t1")
    hub.unwatch("never-watched")
    assert hub.watches == {}


def test_the_module_watch_registers_the_tab_of_a_state(monkeypatch):
    hub = Hub()
    monkeypatch.setattr(live, "hub", hub)
    state = JobsPage()
    state.router = SimpleNamespace(session=SimpleNamespace(client_token="tok-1"))
    live.watch(state, username="alice", admin=False, owners=frozenset({"alice"}))
    assert hub.watches == {"tok-1": Watch(state=JobsPage, username="alice", admin=False,
                                          owners=frozenset({"alice"}))}
    live.unwatch(state)
    assert hub.watches == {}


def test_live_tokens_are_the_apps_connected_tabs():
    hub = Hub()
    hub.app = App({}, connected=["a", "b"])
    assert hub._live_tokens() == {"a", "b"}
    hub.app = App({})  # no event namespace (not serving yet): unknown, not "none"
    assert hub._live_tokens() is None


# --- Hub._dispatch: who gets what ------------------------------------------------


def _hub(tabs: dict, connected=None) -> tuple[Hub, dict]:
    """A hub with one tab per token: token -> (watch, page)."""
    hub = Hub()
    roots = {}
    for token, (w, page) in tabs.items():
        hub.watch(token, w)
        roots[token] = page
    hub.app = App(roots, connected=list(tabs) if connected is None else connected)
    return hub, roots


def _pushes(page) -> list:
    p = page.page if isinstance(page, Root) else page
    return p.pushes


def test_each_tab_gets_only_the_events_it_wants_once_per_burst(users):
    a, b = _lodge(users, "alice"), _lodge(users, "bob")
    ev_a = lifecycle.transition(a.id, JobStatus.DEQUEUED, message="taken").event()
    ev_b = lifecycle.transition(b.id, JobStatus.DEQUEUED, message="taken").event()
    ev_a2 = lifecycle.transition(a.id, JobStatus.IN_PROGRESS, message="started").event()
    w_alice = Watch(state=Page, username="alice", admin=False, owners=frozenset({"alice"}))
    w_bob = Watch(state=Page, username="bob", admin=False, owners=frozenset({"bob"}))
    w_admin = Watch(state=Page, username="root", admin=True, owners=frozenset({EVERYONE}))
    w_job = Watch(state=JobsPage, username="bob", admin=False, job_ids=frozenset({b.id}))
    w_none = Watch(state=Page, username="carol", admin=False, owners=frozenset({"carol"}))
    tabs = {"alice": (w_alice, Page()), "bob": (w_bob, Page()), "admin": (w_admin, Page()),
            "bob-job": (w_job, Root(JobsPage())), "carol": (w_none, Page())}
    hub, roots = _hub(tabs)
    _run(hub._dispatch([ev_a, ev_b, ev_a2]))

    def got(token):
        return [(kind, [e["job_id"] + ":" + e["status"] for e in evs], w)
                for kind, evs, _burst, w in _pushes(roots[token])]

    assert got("alice") == [("live", [f"{a.id}:DEQUEUED", f"{a.id}:IN_PROGRESS"], w_alice)]
    assert got("bob") == [("live", [f"{b.id}:DEQUEUED"], w_bob)]
    assert got("admin") == [("live", [f"{a.id}:DEQUEUED", f"{b.id}:DEQUEUED", f"{a.id}:IN_PROGRESS"], w_admin)]
    assert got("bob-job") == [("live", [f"{b.id}:DEQUEUED"], w_job)]
    assert roots["bob-job"].asked == [JobsPage]  # the page's state was fetched from its root
    assert got("carol") == []
    assert hub.pushed == 4
    # Every tab got the same burst, read once, with the jobs already loaded.
    bursts = {id(p[2]) for t in ("alice", "bob", "admin", "bob-job") for p in _pushes(roots[t])}
    assert len(bursts) == 1
    burst = _pushes(roots["admin"])[0][2]
    assert burst.job(a.id).status == "IN_PROGRESS" and burst.job(b.id).status == "DEQUEUED"


def test_a_resync_reads_every_tab_again(jobdeck):
    w1 = Watch(state=Page, username="alice", admin=False, owners=frozenset({"alice"}))
    w2 = Watch(state=Page, username="carol", admin=False)  # wants nothing, is read again all the same
    hub, roots = _hub({"t1": (w1, Page()), "t2": (w2, Page())})
    _run(hub._dispatch(None))
    assert [(k, e, b, w) for k, e, b, w in roots["t1"].pushes] == [("resync", None, None, w1)]
    assert [(k, w) for k, _e, _b, w in roots["t2"].pushes] == [("resync", w2)]
    assert hub.pushed == 2


def test_a_burst_no_tab_wants_reads_nothing(jobdeck, monkeypatch):
    reads = []
    monkeypatch.setattr(queries, "jobs_by_ids", lambda ids: reads.append(ids) or {})
    w = Watch(state=Page, username="alice", admin=False, owners=frozenset({"alice"}))
    hub, roots = _hub({"t1": (w, Page())})
    _run(hub._dispatch([_ev("bob")]))
    assert reads == [] and roots["t1"].pushes == [] and hub.pushed == 0
    _run(hub._dispatch([_ev("alice")]))
    assert reads == [["j1"]] and len(roots["t1"].pushes) == 1


def test_a_failing_tab_does_not_hold_up_the_others(jobdeck, caplog):
    w = Watch(state=Page, username="alice", admin=False, owners=frozenset({"alice"}))
    hub, roots = _hub({"bad": (w, Page(fail=True)), "good": (w, Page())})
    with caplog.at_level(logging.ERROR, logger="jobdeck.live"):
        _run(hub._dispatch([_ev("alice")]))
    assert len(roots["good"].pushes) == 1
    assert hub.pushed == 1  # only pushes that went through are counted
    failed = [r for r in caplog.records if r.name == "jobdeck.live"]
    assert [r.getMessage() for r in failed] == ["live push to a tab failed"]
    assert "this tab's push fails" in str(failed[0].exc_info[1])


def test_a_burst_logs_what_it_pushed_and_how_long_it_took(jobdeck, caplog, monkeypatch):
    """The debug line that push latency is read from (the clock is the test's own)."""
    clock = iter([100.0, 100.25])
    monkeypatch.setattr(live, "time", SimpleNamespace(monotonic=time.monotonic, perf_counter=lambda: next(clock)))
    w = Watch(state=Page, username="alice", admin=False, owners=frozenset({"alice"}))
    hub, _roots = _hub({"t1": (w, Page()), "t2": (w, Page())})
    with caplog.at_level(logging.DEBUG, logger="jobdeck.live"):
        _run(hub._dispatch([_ev("alice"), _ev("alice", status="SUCCEEDED"), _ev("bob")]))
    assert [r.getMessage() for r in caplog.records if r.name == "jobdeck.live"] == [
        "pushed 3 events to 2 tabs in 250.0 ms"]


def test_tabs_are_updated_a_few_lanes_at_a_time(jobdeck, monkeypatch):
    w = Watch(state=Page, username="alice", admin=False, owners=frozenset({"alice"}))
    hub, _roots = _hub({f"t{i}": (w, Page()) for i in range(10)})
    now, most = 0, 0

    async def apply(token, w, events, burst):
        nonlocal now, most
        now += 1
        most = max(most, now)
        for _ in range(5):
            await asyncio.sleep(0)
        now -= 1
        hub.pushed += 1

    monkeypatch.setattr(hub, "_apply", apply)
    _run(hub._dispatch([_ev("alice")]))
    assert hub.pushed == 10 and most == live.PUSH_LANES == 4


def test_closed_tabs_are_dropped_when_pruning_is_due(jobdeck, monkeypatch):
    monkeypatch.setattr(live, "PRUNE_EVERY_S", 3600.0)
    w = Watch(state=Page, username="alice", admin=False, owners=frozenset({"alice"}))
    hub, roots = _hub({"open": (w, Page()), "closed": (w, Page())}, connected=["open"])
    hub._pruned = time.monotonic()  # pruned just now: not due
    _run(hub._dispatch([_ev("alice")]))
    assert set(hub.watches) == {"open", "closed"}
    assert len(roots["closed"].pushes) == 1  # a push to a closed tab is harmless meanwhile
    hub._pruned = time.monotonic() - 7200  # due
    _run(hub._dispatch([_ev("alice")]))
    assert set(hub.watches) == {"open"}
    assert len(roots["open"].pushes) == 2 and len(roots["closed"].pushes) == 1
    assert time.monotonic() - hub._pruned < 3600  # and the clock restarts


def test_no_tab_is_dropped_while_the_connected_tabs_are_unknown(jobdeck, monkeypatch):
    monkeypatch.setattr(live, "PRUNE_EVERY_S", 3600.0)
    w = Watch(state=Page, username="alice", admin=False, owners=frozenset({"alice"}))
    hub, roots = _hub({"t1": (w, Page())})
    hub.app = App(roots)  # no event namespace
    hub._pruned = time.monotonic() - 7200
    _run(hub._dispatch([_ev("alice")]))
    assert set(hub.watches) == {"t1"} and len(roots["t1"].pushes) == 1


class _TimedPubSub:
    """Messages that become available at given times (s after start), as Redis' pub/sub
    hands them to the listener."""

    def __init__(self, schedule: list[tuple[float, dict]]):
        import json

        self.t0 = time.monotonic()
        self.pending = [(at, json.dumps(ev)) for at, ev in sorted(schedule, key=lambda x: x[0])]

    async def get_message(self, timeout: float = 0.0):
        end = time.monotonic() + (timeout or 0.0)
        while True:
            now = time.monotonic() - self.t0
            if self.pending and self.pending[0][0] <= now:
                return {"data": self.pending.pop(0)[1]}
            if time.monotonic() >= end:
                return None
            await asyncio.sleep(0.01)


def test_in_a_storm_a_single_jobs_move_goes_out_at_once_and_the_storm_keeps_its_pace(monkeypatch):
    """A bulk action's chunks (events marked bulk) are paced STORM_GAP_S apart; a single
    job's move arriving meanwhile is pushed at once, with what the storm brought so far."""
    monkeypatch.setattr(live, "STORM_GAP_S", 2.0)
    bulk = [_ev(job_id=f"b{i}", status="CANCELLED", bulk=True) for i in range(live.STORM_EVENTS)]
    schedule = [(0.0, e) for e in bulk]  # a storm starts
    schedule += [(0.05, dict(e, job_id=e["job_id"] + "-2")) for e in bulk]  # and goes on
    schedule += [(0.1, _ev(job_id="someone's", status="SUCCEEDED"))]  # someone's job ends
    schedule += [(0.3, dict(e, job_id=e["job_id"] + "-3")) for e in bulk]  # the storm again
    hub, _ = _hub({})
    pushed: list[tuple[float, list[str]]] = []
    ps = _TimedPubSub(schedule)

    async def record(events):
        pushed.append((time.monotonic() - ps.t0, [e["job_id"] for e in events]))

    monkeypatch.setattr(hub, "_dispatch", record)

    async def go():
        task = asyncio.ensure_future(hub._listen(ps))
        while len(pushed) < 3 and time.monotonic() - ps.t0 < 6:
            await asyncio.sleep(0.02)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    _run(go())
    assert len(pushed) == 3, pushed
    (t1, first), (t2, second), (t3, third) = pushed
    assert len(first) == live.STORM_EVENTS and t1 < 1.0
    assert "someone's" in second and t2 < 1.0, (t2, len(second))  # not held to the gap
    assert len(third) == live.STORM_EVENTS and t3 >= 1.9  # the storm still paced
