"""The set-based bulk actions (app.lifecycle_sets.transition_set through app.launch's
cancel_set and retry_set): mixed statuses, someone else's jobs and ids that name nothing,
jobs moved by a worker while the chunk is cancelled; afterwards each job has exactly one
CANCELLED line, the kept counts equal a recount, each batch's counts equal its jobs, the
metrics' totals grew by the jobs cancelled, waiting jobs left Redis and running ones were
told to halt. A bulk retry and a bulk delete are checked against the per-job path they
replace, on twin jobs: the same outcomes, rows, history, queues, events and aggregates.
Run on both databases, with and without UPDATE … RETURNING."""

from __future__ import annotations

import json
import threading
import time

import pytest
import sqlalchemy as sa

from app import (bulk_actions, counts, keys, launch, lifecycle, lifecycle_sets, metrics, queues, retries,
                 submissions)
from app.db import get_engine, session
from app.errors import PermissionDenied, TransitionRejected
from app.lifecycle import JobStatus
from app.models import Batch, Job, JobFile, JobMessage
from app.settings import get_settings
from bench import per_job
from tests.conftest import run_workers
from tests.pools import messages, status

S = JobStatus
_job, _msg, _batch = Job.__table__, JobMessage.__table__, Batch.__table__


@pytest.fixture(params=["returning", "read-then-update"])
def way(request, jobdeck, monkeypatch):
    """Each test twice: with UPDATE … RETURNING, and as a database without it moves a set."""
    if request.param == "read-then-update":
        monkeypatch.setattr(get_engine().dialect, "update_returning", False)
    return request.param


def exact() -> dict:
    """The kept counts equal a full recount, and every batch's counts equal its jobs."""
    with get_engine().connect() as conn:
        kept, full = counts.kept(conn), counts.recount(conn)
        assert kept == full, f"kept {kept} != recount {full}"
        for b in conn.execute(sa.select(_batch)).all():
            actual = dict(conn.execute(sa.select(_job.c.status, sa.func.count()).where(_job.c.batch_id == b.id)
                                       .group_by(_job.c.status)).all())
            assert {s.value: getattr(b, s.value.lower()) for s in S} == {s.value: actual.get(s.value, 0) for s in S}
            assert b.total == sum(actual.values())
    return full


def cancelled_total() -> tuple[int, int]:
    """(jobs cancelled, of which ran) in the metrics' running totals."""
    rows = [t for t in metrics.totals() if t.status == "CANCELLED"]
    return sum(t.n for t in rows), sum(t.ran for t in rows)


def noops(actor, n: int, owner=None) -> list[str]:
    return [launch.launch_job(actor=actor, job_type="SYSTEM", job_subtype="NOOP", payload={}, owner=owner).id
            for _ in range(n)]


def test_a_chunk_of_mixed_statuses_cancels_the_live_jobs_of_the_actor_only(users, way):
    alice, root = users["alice"], users["root"]
    finished = noops(root, 1, owner="alice") + [launch.launch_job(
        actor=root, job_type="SYSTEM", job_subtype="NOOP", payload={"outcome": "fail"}, owner="alice").id]
    run_workers()
    assert [status(j) for j in finished] == ["SUCCEEDED", "FAILED"]
    batch = launch.launch_batch(actor=root, job_type="SYSTEM", job_subtype="NOOP", payloads=[{}] * 4, owner="alice")
    with session() as s:
        in_batch = sorted(s.connection().execute(sa.select(_job.c.id).where(_job.c.batch_id == batch.id)).scalars())
    taken, running = in_batch[0], in_batch[1]
    lifecycle.transition(taken, S.DEQUEUED, message="taken")
    lifecycle.transition_steps(running, [lifecycle.Move(S.DEQUEUED, "taken"), lifecycle.Move(S.IN_PROGRESS, "run")])
    waiting = in_batch[2:] + noops(root, 2, owner="alice")
    bobs = noops(root, 2, owner="bob")
    before = exact()
    n_before, ran_before = cancelled_total()
    mine_before = mine_and_all()[1]["CANCELLED"]
    ps = queues.redis_conn().pubsub(ignore_subscribe_messages=True)
    ps.subscribe(keys.events_channel())
    ids = [*waiting, taken, running, *finished, *bobs, "no-such-job"]

    out = bulk_actions.cancel_jobs(actor=alice, job_ids=ids)

    assert (out.acted, out.already_final, out.not_yours, out.looked_at) == (6, 2, 3, 11)
    assert {j for j, o in out.outcomes.items() if o == "cancelled"} == {*waiting, taken, running}
    assert [status(j) for j in bobs] == ["PENDING", "PENDING"]  # someone else's are left alone
    for j in [*waiting, taken, running]:
        history = messages(j)
        assert [m[0] for m in history].count("CANCELLED") == 1 and history[-1][0] == "CANCELLED"
        assert "bulk action" in history[-1][2]
        assert launch.get_job(j).last_message == history[-1][2] and launch.get_job(j).finished_at is not None
    assert launch.get_job(running).prev_status == "IN_PROGRESS" and launch.get_job(taken).prev_status == "DEQUEUED"
    full = exact()
    assert full[("alice", "CANCELLED")] == before.get(("alice", "CANCELLED"), 0) + 6
    assert before[("alice", "PENDING")] == 4 and ("alice", "PENDING") not in full  # none left
    assert full[(counts.EVERYONE, "PENDING")] == 2  # bob's
    # the metrics: six ended, one of them had started running
    assert cancelled_total() == (n_before + 6, ran_before + 1)
    assert mine_and_all()[1]["CANCELLED"] == mine_before + 6  # alice's own, as each single cancel keeps them
    # Redis: the waiting ones left their queue and their RQ hashes; the worker holding a
    # job is told to halt it (the flag its heartbeat reads), as a single cancel does
    queued = set(queues.redis_conn().lrange("rq:queue:" + keys.queue_name("system", keys.NORMAL), 0, -1))
    # (the two moved by hand here were never taken off the queue by a worker)
    assert {keys.rq_job_id(j, 1).encode() for j in (*bobs, taken, running)} == queued
    assert not any(queues.redis_conn().exists(f"rq:job:{keys.rq_job_id(j, 1)}") for j in waiting)
    for j in (taken, running):
        assert queues.redis_conn().get(keys.halt_key(j)) == b"1:cancelled"
    assert not queues.redis_conn().exists(keys.halt_key(waiting[0]))
    # one event per job moved, published together after the commit
    got, deadline = [], time.monotonic() + 2.0
    while len(got) < 6 and time.monotonic() < deadline:
        m = ps.get_message(timeout=0.2)  # None also for the subscription's own reply
        if m is not None:
            got.append(json.loads(m["data"]))
    ps.close()
    assert sorted(e["job_id"] for e in got if e["kind"] == "job") == sorted([*waiting, taken, running])
    assert all(e["status"] == "CANCELLED" for e in got if e["kind"] == "job")
    # and again: nothing is live, nothing moves, nothing is counted twice
    again = bulk_actions.cancel_jobs(actor=alice, job_ids=ids)
    assert (again.acted, again.already_final, again.not_yours) == (0, 8, 3)
    assert exact() == full and cancelled_total() == (n_before + 6, ran_before + 1)


def test_an_admin_cancels_anyones_and_a_retry_schedule_is_forgotten(users, way):
    root = users["root"]
    flaky = launch.launch_job(actor=root, job_type="SYSTEM", job_subtype="FLAKY", payload={"fail_attempts": 1},
                              owner="bob")
    run_workers()
    assert status(flaky.id) == "PENDING" and retries.scheduled_count("system") == 1
    alices = noops(root, 3, owner="alice")
    out = bulk_actions.cancel_jobs(actor=root, job_ids=[flaky.id, *alices])
    assert (out.acted, out.not_yours) == (4, 0)
    assert retries.scheduled_count("system") == 0 and queues.queue("system").count == 0
    assert launch.get_job(flaky.id).attempt == 2 and status(flaky.id) == "CANCELLED"
    exact()


def test_jobs_moved_by_a_worker_meanwhile_are_skipped_as_already_final(users, way):
    """A worker runs half the jobs to the end while the set is cancelled: each job ends
    exactly once (CANCELLED or SUCCEEDED), the summary says which, the counts follow."""
    alice, root = users["alice"], users["root"]
    batch = launch.launch_batch(actor=root, job_type="SYSTEM", job_subtype="NOOP", payloads=[{}] * 120,
                                owner="alice")
    with session() as s:
        ids = list(s.connection().execute(sa.select(_job.c.id).where(_job.c.batch_id == batch.id)
                                          .order_by(_job.c.id)).scalars())
    runs = ids[::2]
    going = threading.Event()  # the worker has ended a few: the cancel overlaps a worker under way
    ran: list[str] = []

    def worker() -> None:
        for j in runs:
            try:
                lifecycle.transition_steps(j, [lifecycle.Move(S.DEQUEUED, "taken"), lifecycle.Move(S.IN_PROGRESS, "run")])
                lifecycle.transition(j, S.SUCCEEDED, message="done")
                ran.append(j)
            except TransitionRejected:
                pass  # cancelled first: the worker's write is refused, as the runner's is
            if len(ran) >= 3:
                going.set()
        going.set()

    t = threading.Thread(target=worker)
    t.start()
    assert going.wait(30)
    total = bulk_actions.Summary("cancel")
    for i in range(0, len(ids), 10):  # chunks of 10, as the bulk job walks
        total.add(bulk_actions.cancel_jobs(actor=alice, job_ids=list(reversed(ids))[i:i + 10], bulk_job_id="test"))
    t.join()
    final = {j: status(j) for j in ids}
    assert set(final.values()) <= {"CANCELLED", "SUCCEEDED"}
    assert sorted(j for j, s in final.items() if s == "SUCCEEDED") == sorted(ran)
    assert total.acted == len(ids) - len(ran) and total.already_final == len(ran) and total.not_yours == 0
    for j in ids:
        ends = [m[0] for m in messages(j) if m[0] in ("CANCELLED", "SUCCEEDED")]
        assert ends == [final[j]]
    full = exact()
    assert full[("alice", "CANCELLED")] == total.acted and full[("alice", "SUCCEEDED")] == len(ran)


def test_a_batch_cancelled_as_a_submission_ends_once_and_tells_its_address_once(users, way):
    alice = users["alice"]
    batch = launch.launch_batch(actor=users["root"], job_type="SYSTEM", job_subtype="NOOP", payloads=[{}] * 30,
                                owner="alice", email="ada@example.org")
    done = submissions.cancel_submission(actor=alice, submission_id=batch.id)
    assert len(done.cancelled) == 30 and done.halting == []
    exact()
    with session() as s:
        mails = s.connection().execute(sa.select(_job.c.id, _job.c.payload).where(
            _job.c.job_subtype == "SEND_EMAIL")).all()
    assert len(mails) == 1 and "30 cancelled" in mails[0].payload["body"]
    # a second cancel finds nothing of the batch live (only that mail, lodged about it)
    assert submissions.cancel_submission(actor=alice, submission_id=batch.id).cancelled == [mails[0].id]
    exact()


def test_a_set_bigger_than_one_statement_is_refused_before_anything_moves(users, way):
    ids = noops(users["root"], 2)
    with pytest.raises(ValueError, match="at most"):
        lifecycle_sets.transition_set(ids * 600 + [f"x{i}" for i in range(lifecycle_sets.MAX_SET)],
                                      S.CANCELLED, message="too many")
    assert [status(j) for j in ids] == ["PENDING", "PENDING"]
    assert lifecycle_sets.transition_set([], S.CANCELLED, message="none") == lifecycle_sets.SetMoved([], {})


def test_submissions_ticked_are_each_cancelled_whole_and_others_read_as_not_yours(users, way):
    root, alice = users["root"], users["alice"]
    mine = launch.launch_batch(actor=root, job_type="SYSTEM", job_subtype="NOOP", payloads=[{}] * 3, owner="alice")
    lone = noops(root, 1, owner="alice")[0]
    bobs = launch.launch_batch(actor=root, job_type="SYSTEM", job_subtype="NOOP", payloads=[{}] * 2, owner="bob")
    out = bulk_actions.act_on_submissions(actor=alice, action="cancel", submission_ids=[mine.id, lone, bobs.id, "nope"])
    assert (out.acted, out.already_final, out.not_yours, out.looked_at) == (4, 0, 2, 6)
    assert status(lone) == "CANCELLED"
    with session() as s:
        left = dict(s.connection().execute(sa.select(_job.c.owner, sa.func.count()).where(_job.c.status == "PENDING")
                                           .group_by(_job.c.owner)).all())
    assert left == {"bob": 2}
    exact()
    with pytest.raises(Exception, match="for admins"):
        bulk_actions.act_on_submissions(actor=alice, action="delete", submission_ids=[mine.id])
    with pytest.raises(Exception, match="retry its jobs with a filter"):
        bulk_actions.act_on_submissions(actor=root, action="retry", submission_ids=[mine.id])


# --- retry and delete: set-based against the per-job path ---------------------------------


# The per-job path each set-based chunk replaces, audited as a bulk call is.
retry_one_by_one = per_job.as_bulk_call("retry", per_job.retry_one_by_one)
delete_one_by_one = per_job.as_bulk_call("delete", per_job.delete_one_by_one)


ROLES = ("failed", "failed_high", "crashed", "cancelled", "succeeded", "pending", "taken", "running",
         "in_batch_failed", "in_batch_ok", "with_file", "bobs_failed", "bobs_pending")


def twins(users) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """Two identical sets of jobs in every status (alice's, some in a batch, one at high
    priority, one with a stored file; two of bob's), role -> id, and each batch's id."""
    root = users["root"]

    def one(owner="alice", **payload):
        return launch.launch_job(actor=root, job_type="SYSTEM", job_subtype="NOOP", payload=payload,
                                 owner=owner, priority=payload.pop("priority", None)).id

    sides, batches = [], {}
    for side in ("a", "b"):
        r = {"failed": one(outcome="fail"), "failed_high": one(outcome="fail", priority="high"),
             "crashed": one(outcome="crash"), "cancelled": one(), "succeeded": one(),
             "with_file": one(outcome="fail"), "bobs_failed": one("bob", outcome="fail")}
        batch = launch.launch_batch(actor=root, job_type="SYSTEM", job_subtype="NOOP", owner="alice",
                                    payloads=[{"outcome": "fail"}, {}], label=side)
        r["in_batch_failed"], r["in_batch_ok"] = [j.id for j in batch_jobs(batch.id)]
        batches[side] = batch.id
        launch.cancel_job(actor=root, job_id=r["cancelled"])
        sides.append(r)
    run_workers()
    for r in sides:
        r["pending"], r["taken"], r["running"], r["bobs_pending"] = (one(), one(), one(), one("bob"))
        lifecycle.transition(r["taken"], S.DEQUEUED, message="taken")
        lifecycle.transition_steps(r["running"], [lifecycle.Move(S.DEQUEUED, "taken"),
                                                  lifecycle.Move(S.IN_PROGRESS, "run")])
        path = get_settings().files_dir / f"{r['with_file']}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("output")
        with get_engine().begin() as conn:
            conn.execute(sa.insert(JobFile.__table__).values(job_id=r["with_file"], name="out.txt", size=6,
                                                             sha256="0" * 64, stored_path=str(path)))
    a, b = sides
    assert {k: status(v) for k, v in a.items()} == {k: status(v) for k, v in b.items()}
    assert status(a["crashed"]) == "CRASHED" and status(a["in_batch_failed"]) == "FAILED"
    return a, b, batches


def batch_jobs(batch_id: str) -> list:
    with session() as s:
        return list(s.connection().execute(sa.select(_job).where(_job.c.batch_id == batch_id)
                                           .order_by(_job.c.batch_row)).all())


def seen_as(role_ids: dict[str, str]) -> dict[str, tuple]:
    """What each role's job reads as (None once gone): status, attempt, last message, its
    history (times and ids aside), and whether its new attempt waits on its priority's queue."""
    out = {}
    for role, j in role_ids.items():
        with session() as s:
            row = s.connection().execute(sa.select(_job).where(_job.c.id == j)).first()
        if row is None:
            out[role] = None
            continue
        queued = {p for p in keys.PRIORITIES if keys.rq_job_id(j, row.attempt).encode() in
                  queues.redis_conn().lrange("rq:queue:" + keys.queue_name("system", p), 0, -1)}
        out[role] = (row.status, row.attempt, row.prev_status, row.last_message, messages(j), sorted(queued))
    return out


def mine_and_all() -> tuple:
    """The aggregates an end keeps: everyone's totals by status, alice's own last hour."""
    from app import my_metrics

    totals = sorted((t.status, t.n, t.ran) for t in metrics.totals())
    return totals, my_metrics.read(viewer=users_alice()).finished_last_hour


def users_alice():
    from app.auth import find_user

    return find_user("alice")


def job_events(ps) -> list[tuple]:
    """What the events channel carried since the last call: a marker published now bounds
    it, so nothing is waited for on a timeout."""
    from app import events

    events.publish({"kind": "test-marker"})
    got = []
    while True:
        m = ps.get_message(timeout=5)
        assert m is not None, "the marker did not arrive"
        if m["type"] != "message":
            continue  # the subscription's own reply
        e = json.loads(m["data"])
        if e["kind"] == "test-marker":
            return got
        got.append((e["kind"], e.get("status"), e.get("attempt")) if e["kind"] == "job" else (e["kind"], e["count"]))


def listen():
    ps = queues.redis_conn().pubsub()
    ps.subscribe(keys.events_channel())
    return ps


def order(r: dict[str, str]) -> list[str]:
    """Every role's id, bob's among them, and an id that names no job, in one order."""
    return [r[k] for k in ROLES[:6]] + ["no-such-job"] + [r[k] for k in ROLES[6:]]


def test_a_set_based_retry_does_what_retrying_one_by_one_did(users, way, monkeypatch):
    """Twin jobs in every status, some in a batch, one at high priority, bob's and a
    forged id: alice retries one twin one job at a time (launch.retry_job, as the bulk
    retry did) and the other set-based, across set boundaries (MAX_SET 4). The same
    outcomes and summary, the same rows, history and queue of each job, the same events
    and batch counts; the kept counts equal a recount; one audit entry a call."""
    from app.audit import AuditFilter, entries

    alice = users["alice"]
    a, b, batches = twins(users)
    before = exact()
    ps = listen()
    old = retry_one_by_one(actor=alice, job_ids=order(a))
    old_events = job_events(ps)
    counted = exact()
    monkeypatch.setattr(lifecycle_sets, "MAX_SET", 4)
    new = bulk_actions.retry_jobs(actor=alice, job_ids=order(b))
    new_events = job_events(ps)
    ps.close()

    assert new.result() == old.result()
    assert new.text == "6 retried, 5 not FAILED, CRASHED or CANCELLED, 3 not yours"
    assert [new.outcomes[j] for j in order(b)] == [old.outcomes[j] for j in order(a)]
    assert {j for j, o in new.outcomes.items() if o == "retried"} == {
        b[k] for k in ("failed", "failed_high", "crashed", "cancelled", "in_batch_failed", "with_file")}
    assert {j for j, o in new.outcomes.items() if o == "not_yours"} == {b["bobs_failed"], b["bobs_pending"],
                                                                         "no-such-job"}
    assert seen_as(b) == seen_as(a)
    assert seen_as(b)["failed_high"][5] == ["high"] and seen_as(b)["failed"][5] == ["normal"]
    assert seen_as(b)["crashed"][:4] == ("PENDING", 2, "CRASHED", "Retry requested by alice: attempt 2")
    assert sorted(new_events) == sorted(old_events) and len(new_events) == 6
    assert [(j.status, j.attempt) for j in batch_jobs(batches["b"])] == [
        (j.status, j.attempt) for j in batch_jobs(batches["a"])]
    full = exact()
    assert full[("alice", "PENDING")] - counted[("alice", "PENDING")] == 6
    assert counted[("alice", "PENDING")] - before[("alice", "PENDING")] == 6
    said = [e.message for e in entries(viewer=users["root"], filters=AuditFilter(action="jobs.retry"))[0]]
    assert said == [new.text, old.text]
    assert entries(viewer=users["root"], filters=AuditFilter(action="job.retry"))[0] == []
    # the new attempts run for real, from their queues
    run_workers()
    assert status(b["failed"]) == "FAILED" and status(b["succeeded"]) == "SUCCEEDED"
    assert launch.get_job(b["failed_high"]).attempt == 2 and status(b["pending"]) == "SUCCEEDED"
    exact()


def test_a_set_based_delete_does_what_deleting_one_by_one_did(users, way, monkeypatch):
    """The same twins deleted by an admin one job at a time (launch.cancel_job for each
    live one, as the bulk delete did) and set-based across set boundaries: the same
    outcomes, the live ones cancelled first (the metrics and alice's own kept as each
    cancel keeps them), the running ones told to halt, one retried meanwhile kept; the
    rest gone with their history and files, the batch with its last job; counts exact."""
    root = users["root"]
    a, b, batches = twins(users)
    retried_meanwhile = []

    def wait_let_go(job_ids, _deadline):  # someone retries a job while the workers let go
        again = [j for j in job_ids if j in (a["running"], b["running"])]
        for j in again:
            retried_meanwhile.append(launch.retry_job(actor=root, job_id=j).job_id)

    monkeypatch.setattr(submissions, "wait_let_go", wait_let_go)
    aggregates = [mine_and_all()]
    ps = listen()
    old = delete_one_by_one(actor=root, job_ids=order(a))
    old_events = job_events(ps)
    aggregates.append(mine_and_all())
    monkeypatch.setattr(lifecycle_sets, "MAX_SET", 4)
    new = bulk_actions.delete_jobs(actor=root, job_ids=order(b))
    new_events = job_events(ps)
    aggregates.append(mine_and_all())
    ps.close()

    assert new.result() == old.result()
    assert new.text == "12 deleted (4 cancelled first), 1 not yours, 1 live again, kept"
    assert [new.outcomes[j] for j in order(b)] == [old.outcomes[j] for j in order(a)]
    assert retried_meanwhile == [a["running"], b["running"]]
    assert seen_as(b) == seen_as(a)
    assert [k for k, v in seen_as(b).items() if v is not None] == ["running"]
    assert seen_as(b)["running"][:3] == ("PENDING", 2, "CANCELLED")
    for side in (a, b):
        assert not (get_settings().files_dir / f"{side['with_file']}.txt").exists()
        with session() as s:
            conn = s.connection()
            gone = [side[k] for k in ROLES if k != "running"]
            assert conn.execute(sa.select(sa.func.count()).where(_msg.c.job_id.in_(gone))).scalar() == 0
            assert conn.execute(sa.select(sa.func.count()).select_from(JobFile.__table__)
                                .where(JobFile.__table__.c.job_id == side["with_file"])).scalar() == 0
            assert conn.execute(sa.select(sa.func.count()).where(_batch.c.id.in_(batches.values()))).scalar() == 0
    # each cancel before the removal kept the metrics, everyone's and alice's own, alike
    (t0, mine0), (t1, mine1), (t2, mine2) = aggregates
    cancelled = [{s: n for s, n, _r in t if s == "CANCELLED"}.get("CANCELLED", 0) for t in (t0, t1, t2)]
    assert cancelled[2] - cancelled[1] == cancelled[1] - cancelled[0] == 4
    assert mine2["CANCELLED"] - mine1["CANCELLED"] == mine1["CANCELLED"] - mine0["CANCELLED"] == 3
    assert sorted(new_events) == sorted(old_events)
    assert sorted(e for e in new_events if e[0] == "job") == sorted(
        [("job", "CANCELLED", 1)] * 4 + [("job", "PENDING", 2)])
    # the running ones' workers were told to halt; nothing of the waiting ones is left in Redis
    assert queues.redis_conn().get(keys.halt_key(b["taken"])) == b"1:cancelled"
    left = queues.redis_conn().lrange("rq:queue:" + keys.queue_name("system", keys.NORMAL), 0, -1)
    assert keys.rq_job_id(b["pending"], 1).encode() not in left
    assert keys.rq_job_id(b["running"], 2).encode() in left
    exact()


def test_a_user_cannot_delete_and_a_bulk_retry_of_nothing_retryable_moves_nothing(users, way):
    alice = users["alice"]
    live = noops(users["root"], 3, owner="alice")
    with pytest.raises(PermissionDenied):
        bulk_actions.delete_jobs(actor=alice, job_ids=live)
    before = exact()
    out = bulk_actions.retry_jobs(actor=alice, job_ids=[*live, "forged-id"])
    assert out.text == "0 retried, 3 not FAILED, CRASHED or CANCELLED, 1 not yours"
    assert [status(j) for j in live] == ["PENDING"] * 3 and exact() == before
