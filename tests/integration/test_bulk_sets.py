"""The set-based cancel of a bulk action's chunk (app.lifecycle_sets.transition_set through
app.launch.cancel_set): mixed statuses, someone else's jobs and ids that name nothing,
jobs moved by a worker while the chunk is cancelled; afterwards each job has exactly one
CANCELLED line, the kept counts equal a recount, each batch's counts equal its jobs, the
metrics' totals grew by the jobs cancelled, waiting jobs left Redis and running ones were
told to halt. Run on both databases, with and without UPDATE … RETURNING."""

from __future__ import annotations

import json
import threading
import time

import pytest
import sqlalchemy as sa

from app import bulk_actions, counts, keys, launch, lifecycle, lifecycle_sets, metrics, queues, retries, submissions
from app.db import get_engine, session
from app.errors import TransitionRejected
from app.lifecycle import JobStatus
from app.models import Batch, Job, JobMessage
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
