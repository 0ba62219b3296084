"""The listener's per-burst shortcuts pick what its per-event rules pick: a tab's events
by owner grouping (`Watch.wanted`) are those `Watch.wants` accepts, in order; a burst's
index (`Changed`) holds each job once, newest first, with its run and its parent."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

from app.state import live
from app.state.live import EVERYONE, Burst, Changed, Watch

USERS = ["alice", "bob", "carol"]


def _events(rng: random.Random, n: int) -> list[dict]:
    out = []
    for i in range(n):
        ev = {"kind": rng.choice(["job", "lodged"]), "owner": rng.choice(USERS + [None])}
        if ev["kind"] == "job":
            ev["job_id"] = f"j{rng.randrange(20)}"
        else:
            ev["job_ids"] = [f"j{rng.randrange(20)}" for _ in range(rng.randrange(1, 4))]
        if rng.random() < 0.3:
            ev["batch_id"] = f"b{rng.randrange(3)}"
        out.append(ev)
    return out


def _watch(rng: random.Random) -> Watch:
    user = rng.choice(USERS)
    admin = rng.random() < 0.4
    owners = frozenset(rng.sample(USERS + [EVERYONE], rng.randrange(0, 3)))
    ids = rng.random() < 0.5
    return Watch(state=object, username=user, admin=admin, owners=owners,
                 job_ids=frozenset(f"j{rng.randrange(20)}" for _ in range(2)) if ids else frozenset(),
                 batch_ids=frozenset({"b1"}) if ids and rng.random() < 0.5 else frozenset())


def test_wanted_picks_what_wants_accepts_in_order():
    rng = random.Random(7)
    for _ in range(500):
        events = _events(rng, rng.randrange(0, 40))
        by_owner: dict = {}
        for ev in events:
            by_owner.setdefault(ev.get("owner"), []).append(ev)
        w = _watch(rng)
        assert w.wanted(events, by_owner) == [ev for ev in events if w.wants(ev)], w


def test_a_bursts_index_holds_each_job_once_newest_first_with_its_run_and_parent():
    t0 = datetime(2026, 12, 1, tzinfo=timezone.utc)

    def job(jid, minutes, **kw):
        base = dict(id=jid, created_at=t0 + timedelta(minutes=minutes), job_type="REGISTRY", job_subtype="X",
                    workflow_id=None, parent_job_id=None)
        return SimpleNamespace(**{**base, **kw})

    jobs = {"a": job("a", 1), "b": job("b", 3, parent_job_id="a"),
            "r": job("r", 2, job_type=live.runs.JOB_TYPE, job_subtype=live.runs.RUN_SUBTYPE),
            "s": job("s", 4, job_type=live.runs.JOB_TYPE, job_subtype=live.runs.RUN_SUBTYPE, workflow_id="r")}
    burst = Burst([{"job_id": "a"}, {"job_ids": ["b", "a", "r"]}, {"job_id": "s", "batch_id": "b1"},
                   {"job_id": "gone"}])
    burst._jobs = jobs
    burst._batches = {"b1": SimpleNamespace(id="b1", total=7)}
    ch = burst.changed()
    assert burst.changed() is ch  # once per burst, whatever the number of tabs
    assert list(ch.jobs) == ["a", "b", "r", "s"] and ch.ids == {"a", "b", "r", "s"}
    assert [jid for _, jid in ch.newest] == ["s", "b", "r", "a"]
    assert ch.roots == {"r": {"r", "s"}}
    assert ch.parents == {"a"}
    assert ch.batch_totals == {"b1": 7}
    assert isinstance(ch, Changed)
