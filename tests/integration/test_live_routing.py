"""Which tabs the live listener updates: the real `Hub._dispatch` (and `_apply`, and the
burst's reads) on the events real jobs of two users published on Redis. Only a job's
owner and admins are ever sent its changes, whatever else a tab's watch names (a
session id typed into the search box, the URL of someone else's job or item)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import time
from typing import Any

import redis

from app import keys, launch, registry
from app.settings import get_settings
from app.state import live
from tests.conftest import run_workers


class Tab:
    """Stands for a page's state in one browser tab: records what the listener gives it."""

    def __init__(self, token: str, got: dict[str, list]):
        self.token, self.got = token, got

    async def _live(self, events: list[dict[str, Any]], burst: live.Burst) -> None:
        # What the page would read to update itself: the burst's jobs, loaded once.
        self.got[self.token].append(("live", events, {j: burst.job(j) for e in events for j in live.job_ids_of(e)},
                                     live.current_watch()))

    async def _live_resync(self) -> None:
        self.got[self.token].append(("resync", None, {}, live.current_watch()))


class Sockets:
    def __init__(self, tokens):
        self.token_to_sid = {t: f"sid-{t}" for t in tokens}


class App:
    """The part of the Reflex app the listener uses: the open tabs and their states."""

    def __init__(self, open_tokens):
        self.event_namespace = Sockets(open_tokens)
        self.got: dict[str, list] = {t: [] for t in open_tokens}

    @contextlib.asynccontextmanager
    async def modify_state(self, token):
        yield Tab(token.ident, self.got)


def _events_of(lodge) -> list[dict[str, Any]]:
    """Subscribe, lodge and run the jobs; return every event published meanwhile."""
    sub = redis.Redis.from_url(get_settings().redis_url).pubsub()
    sub.subscribe(keys.events_channel())
    try:
        confirmed = sub.get_message(timeout=5.0)  # Redis has the subscription: nothing is missed
        assert confirmed and confirmed["type"] == "subscribe", confirmed
        lodge()
        run_workers()
        got, quiet_since = [], time.monotonic()
        while time.monotonic() - quiet_since < 1.0:  # until the channel has been quiet a second
            msg = sub.get_message(timeout=0.2)
            if msg and msg["type"] == "message":
                got.append(json.loads(msg["data"]))
                quiet_since = time.monotonic()
        return got
    finally:
        sub.close()


def _in_a_loop(coro):
    # A loop of its own in a thread of its own: an earlier test (Playwright's sync API)
    # may have left this thread with a running loop.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def _jobs_seen(app: App, token: str) -> set[str]:
    return {jid for kind, evs, _, _ in app.got[token] if kind == "live" for e in evs for jid in live.job_ids_of(e)}


def test_each_tab_gets_its_owners_jobs_and_admins_get_everyones(users):
    bob, root = users["bob"], users["root"]
    made: dict[str, Any] = {}

    def lodge():
        noop = dict(actor=root, job_type="SYSTEM", job_subtype="NOOP", payload={})
        made["alice_job"] = launch.launch_job(owner="alice", **noop).id
        made["bob_job"] = launch.launch_job(owner="bob", **noop).id
        # bob's item: its create workflow's jobs name the item (entity) and the workflow
        made["bob_item"], create = registry.create_item(actor=bob, subtype="DATASET", display_name="bob's gauges")
        made["bob_flow"] = create.workflow_id

    events = _events_of(lodge)
    alice_job, bob_job = made["alice_job"], made["bob_job"]
    item_id = made["bob_item"].id
    by_owner: dict[str, set[str]] = {"alice": set(), "bob": set()}
    for e in events:
        for jid in live.job_ids_of(e):
            by_owner[e["owner"]].add(jid)
    assert alice_job in by_owner["alice"] and bob_job in by_owner["bob"] and len(by_owner["bob"]) >= 3, events
    assert any(e.get("entity_id") == item_id for e in events), "bob's item workflow named no entity"

    W = live.Watch
    watches = {
        # the jobs panel of each, and an admin's "All users"
        "alice-jobs": W(state=Tab, username="alice", admin=False, owners=frozenset({"alice"})),
        "bob-jobs": W(state=Tab, username="bob", admin=False, owners=frozenset({"bob"})),
        "root-all": W(state=Tab, username="root", admin=True, owners=frozenset({live.EVERYONE})),
        # alice's panel searched for bob's session id; alice at the URL of bob's job (it
        # reads as not found) and of bob's item: their watches name bob's job and item
        "alice-search": W(state=Tab, username="alice", admin=False, owners=frozenset({"alice"}),
                          job_ids=frozenset({bob_job}), batch_ids=frozenset({bob_job})),
        "alice-at-bobs-job": W(state=Tab, username="alice", admin=False, job_ids=frozenset({bob_job}),
                               workflow_ids=frozenset({bob_job})),
        "alice-at-bobs-item": W(state=Tab, username="alice", admin=False, entity_ids=frozenset({item_id}),
                                workflow_ids=frozenset({made["bob_flow"]})),
        # an admin at bob's job: that job only
        "root-at-bobs-job": W(state=Tab, username="root", admin=True, job_ids=frozenset({bob_job}),
                              workflow_ids=frozenset({bob_job})),
        # a tab closed since it registered: dropped, sent nothing
        "closed": W(state=Tab, username="root", admin=True, owners=frozenset({live.EVERYONE})),
    }
    hub = live.Hub()
    hub.app = App([t for t in watches if t != "closed"])
    for token, w in watches.items():
        hub.watch(token, w)

    _in_a_loop(hub._dispatch(events))

    seen = {t: _jobs_seen(hub.app, t) for t in hub.app.got}
    assert seen["alice-jobs"] == by_owner["alice"]
    assert seen["bob-jobs"] == by_owner["bob"]
    assert seen["root-all"] == by_owner["alice"] | by_owner["bob"]
    assert seen["alice-search"] == by_owner["alice"]  # her own jobs, never bob's it names
    assert "alice-at-bobs-job" not in _pushed(hub.app)
    assert "alice-at-bobs-item" not in _pushed(hub.app)
    assert seen["root-at-bobs-job"] == {bob_job}
    assert "closed" not in hub.watches
    # Each tab got one push for the burst, with the jobs read from the database, and its
    # own watch to update itself by.
    for token in _pushed(hub.app):
        [(kind, evs, jobs, watch)] = hub.app.got[token]
        assert watch is watches[token]
        if not watch.admin:
            assert {e["owner"] for e in evs} == {watch.username}
            assert {j.owner for j in jobs.values()} == {watch.username}
        assert jobs and all(j is not None for j in jobs.values())

    # After the listener reconnects to Redis, every open tab reads its page again.
    for got in hub.app.got.values():
        got.clear()
    _in_a_loop(hub._dispatch(None))
    assert {t for t, got in hub.app.got.items() if [k for k, *_ in got] == ["resync"]} == set(hub.app.got)


def _pushed(app: App) -> set[str]:
    return {t for t, got in app.got.items() if got}
