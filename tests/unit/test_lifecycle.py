"""Every allowed and every refused status transition, through the one guarded
transition, with its side effects (history, timestamps, batch counts, events).

The table below is the design's state machine written out by hand, every (from, to)
pair of the seven statuses: the tests compare the code with it, never the code with
itself (a table derived from ALLOWED_FROM would pass whatever ALLOWED_FROM said)."""

import json
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa

from app import counts, events, keys, lifecycle, lifecycle_sets, queues
from app.db import session, write_conn
from app.errors import NotFound, TransitionRejected
from app.lifecycle import ALLOWED_FROM, FINAL, RETRYABLE, JobStatus
from app.models import Batch, Job, JobMessage

Y, n = True, False
# to:          PENDING DEQUEUED IN_PROGRESS SUCCEEDED FAILED CRASHED CANCELLED
TO = ("PENDING", "DEQUEUED", "IN_PROGRESS", "SUCCEEDED", "FAILED", "CRASHED", "CANCELLED")
TABLE = {  # from: may it become each status of TO, in that order
    "PENDING":     (n, Y, n, n, n, n, Y),
    "DEQUEUED":    (n, n, Y, n, n, Y, Y),
    "IN_PROGRESS": (n, n, n, Y, Y, Y, Y),
    "SUCCEEDED":   (n, n, n, n, n, n, n),
    "FAILED":      (Y, n, n, n, n, n, n),
    "CRASHED":     (Y, n, n, n, n, n, n),
    "CANCELLED":   (Y, n, n, n, n, n, n),
}
PAIRS = [(src, dst, ok) for src, row in TABLE.items() for dst, ok in zip(TO, row)]
ALLOWED = [(s, d) for s, d, ok in PAIRS if ok]
REFUSED = [(s, d) for s, d, ok in PAIRS if not ok]


def _ids(pairs):
    return [f"{a}->{b}" for a, b in pairs]


def test_the_table_names_every_pair_of_the_seven_statuses():
    assert [s.value for s in JobStatus] == list(TO) == list(TABLE)
    assert all(len(row) == len(TO) for row in TABLE.values())
    assert (len(ALLOWED), len(REFUSED)) == (12, 37)


def test_the_state_machine_is_the_table():
    for src, dst, ok in PAIRS:
        assert lifecycle.can_move(src, dst) is ok, f"{src} -> {dst}"
        assert lifecycle.can_move(JobStatus(src), JobStatus(dst)) is ok, f"{src} -> {dst}"
        assert (JobStatus(src) in ALLOWED_FROM[JobStatus(dst)]) is ok, f"{src} -> {dst}"
    assert set(ALLOWED_FROM) == set(JobStatus)
    assert {s.value for s in FINAL} == {"SUCCEEDED", "FAILED", "CRASHED", "CANCELLED"}
    assert {s.value for s in RETRYABLE} == {"FAILED", "CRASHED", "CANCELLED"}
    assert [s.value for s in JobStatus if s.is_final] == ["SUCCEEDED", "FAILED", "CRASHED", "CANCELLED"]


def _job_in(status: str, batch_id=None, attempt=1) -> str:
    job = Job(owner="alice", job_type="SYSTEM", job_subtype="NOOP", status=status, attempt=attempt,
              batch_id=batch_id)
    with session(write=True) as s:
        s.add(job)
    return job.id


T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
# What a job carries from earlier attempts: a retry clears it, any other move keeps it.
EARLIER = {"result": {"old": 1}, "info": "old info", "error_detail": "old trace", "progress": 0.5,
           "worker": "w-old", "dequeued_at": T0, "started_at": T0, "finished_at": T0}


def _job_in_batch(status: str) -> tuple[str, str]:
    """A job in a batch of its own (the batch's counts agreeing with it), in a workflow and
    about an item, with what earlier attempts left."""
    with session(write=True) as s:
        batch = Batch(owner="alice", total=1, **{status.lower(): 1})
        s.add(batch)
    job = Job(owner="alice", job_type="SYSTEM", job_subtype="NOOP", status=status, attempt=1,
              batch_id=batch.id, workflow_id="wf-1", entity_id="item-1", payload={"sleep_s": 0.0},
              **EARLIER)
    with session(write=True) as s:
        s.add(job)
    return job.id, batch.id


def _status(job_id):
    with session() as s:
        return s.get(Job, job_id)


def _row(table, row_id) -> dict:
    with write_conn() as conn:
        return dict(conn.execute(sa.select(table).where(table.c.id == row_id)).one()._mapping)


def _messages(job_id) -> list[JobMessage]:
    with session() as s:
        return list(s.exec(sa.select(JobMessage).where(JobMessage.job_id == job_id)).scalars())


class Events:
    """What the events channel carried: a marker published after the act bounds it, so
    "nothing was published" is read without waiting on a timeout."""

    def __init__(self):
        self.pubsub = queues.redis_conn().pubsub()
        self.pubsub.subscribe(keys.events_channel())
        assert self.pubsub.get_message(timeout=5)["type"] == "subscribe"

    def since(self) -> list[dict]:
        events.publish({"kind": "test-marker"})
        got = []
        while True:
            msg = self.pubsub.get_message(timeout=5)
            assert msg is not None, "the marker did not arrive"
            ev = json.loads(msg["data"])
            if ev.get("kind") == "test-marker":
                self.pubsub.close()
                return got
            got.append(ev)


@pytest.mark.parametrize("src,dst", ALLOWED, ids=_ids(ALLOWED))
def test_an_allowed_transition(jobdeck, src, dst):
    job_id, batch_id = _job_in_batch(src)
    seen = Events()
    done = lifecycle.transition(job_id, dst, message=f"to {dst}")
    job = _status(job_id)
    now = job.updated_at
    assert now > T0 and done.at_dt == now and done.at == now.isoformat()
    attempt = 2 if dst == "PENDING" else 1  # a retry is a new attempt
    assert (job.status, job.prev_status, job.last_message, job.attempt) == (dst, src, f"to {dst}", attempt)
    assert (done.job_id, done.status.value, done.prev_status.value, done.attempt, done.owner, done.batch_id,
            done.workflow_id, done.entity_id, done.job_type, done.job_subtype, done.message, done.payload) == (
        job_id, dst, src, attempt, "alice", batch_id, "wf-1", "item-1", "SYSTEM", "NOOP", f"to {dst}",
        {"sleep_s": 0.0})
    assert [(m.status, m.text, m.level, m.attempt, m.at) for m in _messages(job_id)] == [
        (dst, f"to {dst}", "info", attempt, now)]
    kept = {c: getattr(job, c) for c in EARLIER}
    if dst == "PENDING":  # a clean slate for the new attempt
        assert kept == {c: None for c in EARLIER}
    else:
        assert kept == {**EARLIER, "dequeued_at": now if dst == "DEQUEUED" else T0,
                        "started_at": now if dst == "IN_PROGRESS" else T0,
                        "finished_at": now if dst in ("SUCCEEDED", "FAILED", "CRASHED", "CANCELLED") else T0}
    batch = _row(Batch.__table__, batch_id)
    counts = {s.lower(): batch[s.lower()] for s in TO}
    assert counts == {s.lower(): int(s == dst) for s in TO} and batch["total"] == 1
    assert seen.since() == [{
        "kind": "job", "job_id": job_id, "status": dst, "prev_status": src, "attempt": attempt,
        "owner": "alice", "batch_id": batch_id, "workflow_id": "wf-1", "entity_id": "item-1",
        "job_type": "SYSTEM", "job_subtype": "NOOP", "message": f"to {dst}", "at": now.isoformat()}]


@pytest.mark.parametrize("src,dst", REFUSED, ids=_ids(REFUSED))
def test_a_refused_transition_changes_nothing(jobdeck, src, dst):
    """Refused with and without the attempt guard: the row, its batch and its history
    stay as they were, and nothing is published."""
    job_id, batch_id = _job_in_batch(src)
    job_before, batch_before = _row(Job.__table__, job_id), _row(Batch.__table__, batch_id)
    seen = Events()
    for attempt in (None, 1):
        with pytest.raises(TransitionRejected, match=f"a {src} job cannot become {dst}") as refused:
            lifecycle.transition(job_id, dst, message="must not happen", attempt=attempt,
                                 values={"info": "must not be written"})
        assert (refused.value.detail["status"], refused.value.detail["attempt"]) == (src, 1)
        assert _row(Job.__table__, job_id) == job_before
    assert _row(Batch.__table__, batch_id) == batch_before
    assert _messages(job_id) == []
    assert seen.since() == []


def test_duplicate_write_is_rejected(jobdeck):
    job_id = _job_in("IN_PROGRESS")
    lifecycle.transition(job_id, JobStatus.SUCCEEDED, message="done", values={"result": {"x": 1}})
    with pytest.raises(TransitionRejected):
        lifecycle.transition(job_id, JobStatus.SUCCEEDED, message="done again")
    with pytest.raises(TransitionRejected):
        lifecycle.transition(job_id, JobStatus.FAILED, message="late failure")
    job = _status(job_id)
    assert job.status == "SUCCEEDED" and job.result == {"x": 1}


def test_stale_attempt_cannot_move_a_retried_job(jobdeck):
    job_id = _job_in("CRASHED")
    lifecycle.transition(job_id, JobStatus.PENDING, message="retry")  # attempt 2
    lifecycle.transition(job_id, JobStatus.DEQUEUED, attempt=2, message="taken")
    lifecycle.transition(job_id, JobStatus.IN_PROGRESS, attempt=2, message="started")
    # A worker still running attempt 1 finishes late: refused.
    with pytest.raises(TransitionRejected, match="stale"):
        lifecycle.transition(job_id, JobStatus.SUCCEEDED, attempt=1, message="late")
    assert _status(job_id).status == "IN_PROGRESS"


def test_unknown_job(jobdeck):
    with pytest.raises(NotFound):
        lifecycle.transition("no-such-job", JobStatus.DEQUEUED, message="x")


def test_batch_counts_follow_transitions(jobdeck):
    with session(write=True) as s:
        s.add(Batch(id="b1", owner="alice", total=2, pending=2))
    a, b = _job_in("PENDING", "b1"), _job_in("PENDING", "b1")
    for to in (JobStatus.DEQUEUED, JobStatus.IN_PROGRESS, JobStatus.SUCCEEDED):
        lifecycle.transition(a, to, message=to.value)
    lifecycle.transition(b, JobStatus.CANCELLED, message="stop")
    with session() as s:
        batch = s.get(Batch, "b1")
    assert (batch.total, batch.pending, batch.succeeded, batch.cancelled) == (2, 0, 1, 1)
    assert batch.dequeued == batch.in_progress == 0


def test_event_published_after_commit(jobdeck):
    from app import keys, queues

    pubsub = queues.redis_conn().pubsub()
    pubsub.subscribe(keys.events_channel())
    pubsub.get_message(timeout=1)  # subscribe confirmation
    job_id = _job_in("PENDING")
    lifecycle.transition(job_id, JobStatus.DEQUEUED, message="taken")
    msg = pubsub.get_message(timeout=2)
    event = json.loads(msg["data"])
    assert event["job_id"] == job_id and event["status"] == "DEQUEUED" and event["prev_status"] == "PENDING"
    pubsub.close()


def test_concurrent_writers_only_one_wins(jobdeck):
    """Two workers race to take the same PENDING job: exactly one succeeds."""
    from concurrent.futures import ThreadPoolExecutor

    job_id = _job_in("PENDING")

    def take(i):
        try:
            lifecycle.transition(job_id, JobStatus.DEQUEUED, message=f"worker {i}")
            return True
        except TransitionRejected:
            return False

    with ThreadPoolExecutor(8) as ex:
        won = list(ex.map(take, range(8)))
    assert won.count(True) == 1


def test_a_move_keeps_its_level_and_sets_the_columns_it_is_given(jobdeck):
    job_id, _ = _job_in_batch("IN_PROGRESS")
    done = lifecycle.transition(job_id, JobStatus.FAILED, message="no such item", level="warning",
                                values={"info": "no such item", "result": {"n": 2}, "entity_id": "item-2"})
    job = _status(job_id)
    assert (job.status, job.info, job.result, job.entity_id) == ("FAILED", "no such item", {"n": 2}, "item-2")
    assert [(m.level, m.text) for m in _messages(job_id)] == [("warning", "no such item")]
    assert done.entity_id == "item-2" and done.event()["entity_id"] == "item-2"


def test_also_runs_in_the_transaction_of_the_move(jobdeck):
    """What `also` writes commits with the move; if it fails, the move is undone too and
    nothing is published."""
    job_id, batch_id = _job_in_batch("IN_PROGRESS")
    seen = Events()
    calls = []

    def also(conn, done):
        calls.append((done.job_id, done.status.value, done.prev_status.value))
        conn.execute(sa.update(Job.__table__).where(Job.__table__.c.id == job_id).values(info="written by also"))

    lifecycle.transition(job_id, JobStatus.SUCCEEDED, message="done", also=also)
    assert calls == [(job_id, "SUCCEEDED", "IN_PROGRESS")]
    assert (_status(job_id).status, _status(job_id).info) == ("SUCCEEDED", "written by also")
    assert [e["status"] for e in seen.since()] == ["SUCCEEDED"]

    job_id, batch_id = _job_in_batch("IN_PROGRESS")
    job_before, batch_before = _row(Job.__table__, job_id), _row(Batch.__table__, batch_id)
    seen = Events()

    def failing(conn, done):
        raise RuntimeError("the next step could not be lodged")

    with pytest.raises(RuntimeError):
        lifecycle.transition(job_id, JobStatus.SUCCEEDED, message="done", also=failing)
    assert _row(Job.__table__, job_id) == job_before and _row(Batch.__table__, batch_id) == batch_before
    assert _messages(job_id) == [] and seen.since() == []


def test_a_move_not_to_publish_is_recorded_and_not_published(jobdeck):
    job_id, _ = _job_in_batch("PENDING")
    seen = Events()
    lifecycle.transition(job_id, JobStatus.DEQUEUED, message="taken", publish=False)
    assert _status(job_id).status == "DEQUEUED" and len(_messages(job_id)) == 1
    assert seen.since() == []


def test_several_moves_commit_together_each_with_its_history_and_event(jobdeck):
    job_id, batch_id = _job_in_batch("PENDING")
    seen = Events()
    done = lifecycle.transition_steps(job_id, [lifecycle.Move(JobStatus.DEQUEUED, "taken"),
                                               lifecycle.Move(JobStatus.IN_PROGRESS, "started", "debug")],
                                      attempt=1)
    assert [(d.prev_status.value, d.status.value) for d in done] == [("PENDING", "DEQUEUED"),
                                                                     ("DEQUEUED", "IN_PROGRESS")]
    assert [(m.status, m.text, m.level) for m in sorted(_messages(job_id), key=lambda m: m.id)] == [
        ("DEQUEUED", "taken", "info"), ("IN_PROGRESS", "started", "debug")]
    assert [(e["prev_status"], e["status"]) for e in seen.since()] == [("PENDING", "DEQUEUED"),
                                                                       ("DEQUEUED", "IN_PROGRESS")]
    batch = _row(Batch.__table__, batch_id)
    assert (batch["pending"], batch["dequeued"], batch["in_progress"]) == (0, 0, 1)


def test_a_take_and_start_in_one_statement_leave_the_row_as_two_moves_would(jobdeck):
    """The worker's take and start are folded into one guarded UPDATE: the row ends as
    the two moves one by one leave it (prev_status the status the last step left, both
    stamps, the take's values), the owner counts follow."""
    job_id, _ = _job_in_batch("PENDING")
    before = counts.read("alice")
    lifecycle.transition_steps(job_id, [lifecycle.Move(JobStatus.DEQUEUED, "taken", values={"worker": "w1"}),
                                        lifecycle.Move(JobStatus.IN_PROGRESS, "started")], attempt=1)
    row = _row(Job.__table__, job_id)
    assert (row["status"], row["prev_status"], row["worker"], row["last_message"]) == (
        "IN_PROGRESS", "DEQUEUED", "w1", "started")
    assert row["dequeued_at"] == row["started_at"] == row["updated_at"] > T0  # stamped anew, in one statement
    assert row["finished_at"] == T0  # a move that does not end the job leaves it as it was
    after = counts.read("alice")
    assert (after["PENDING"], after["IN_PROGRESS"]) == (before["PENDING"] - 1, before["IN_PROGRESS"] + 1)


@pytest.mark.parametrize("status, attempt, why", [
    ("CANCELLED", 1, "a CANCELLED job cannot become DEQUEUED"),
    ("PENDING", 2, "attempt 2 is stale"),
])
def test_a_folded_take_refused_names_why_and_writes_nothing(jobdeck, status, attempt, why):
    job_id, batch_id = _job_in_batch(status)
    job_before, batch_before = _row(Job.__table__, job_id), _row(Batch.__table__, batch_id)
    seen = Events()
    with pytest.raises(TransitionRejected, match=why):
        lifecycle.transition_steps(job_id, [lifecycle.Move(JobStatus.DEQUEUED, "taken", values={"worker": "w"}),
                                            lifecycle.Move(JobStatus.IN_PROGRESS, "started")], attempt=attempt)
    assert _row(Job.__table__, job_id) == job_before and _row(Batch.__table__, batch_id) == batch_before
    assert _messages(job_id) == [] and seen.since() == []


def test_moves_that_come_back_to_the_status_they_left_keep_the_batch_counts(jobdeck):
    """Cancelled and retried in one commit: the batch still counts the job as pending."""
    job_id, batch_id = _job_in_batch("PENDING")
    before = _row(Batch.__table__, batch_id)
    lifecycle.transition_steps(job_id, [lifecycle.Move(JobStatus.CANCELLED, "stop"),
                                        lifecycle.Move(JobStatus.PENDING, "again")])
    assert _status(job_id).attempt == 2
    assert _row(Batch.__table__, batch_id) == before


def test_a_retry_then_a_take_in_one_commit_guards_the_new_attempt(jobdeck):
    job_id, _ = _job_in_batch("CRASHED")
    done = lifecycle.transition_steps(job_id, [lifecycle.Move(JobStatus.PENDING, "retry"),
                                               lifecycle.Move(JobStatus.DEQUEUED, "taken")], attempt=1)
    assert [d.attempt for d in done] == [2, 2]
    assert [(m.status, m.attempt) for m in sorted(_messages(job_id), key=lambda m: m.id)] == [
        ("PENDING", 2), ("DEQUEUED", 2)]


def test_a_failed_step_undoes_the_steps_before_it(jobdeck):
    job_id, batch_id = _job_in_batch("PENDING")
    job_before, batch_before = _row(Job.__table__, job_id), _row(Batch.__table__, batch_id)
    seen = Events()
    with pytest.raises(TransitionRejected, match="a DEQUEUED job cannot become SUCCEEDED"):
        lifecycle.transition_steps(job_id, [lifecycle.Move(JobStatus.DEQUEUED, "taken"),
                                            lifecycle.Move(JobStatus.SUCCEEDED, "done")])
    assert _row(Job.__table__, job_id) == job_before and _row(Batch.__table__, batch_id) == batch_before
    assert _messages(job_id) == [] and seen.since() == []


def test_a_job_outside_any_batch_moves_without_batch_counts(jobdeck):
    with session(write=True) as s:
        s.add(Batch(id="other", owner="alice", total=1, pending=1))
    job_id = _job_in("PENDING")
    lifecycle.transition(job_id, JobStatus.DEQUEUED, message="taken")
    assert _status(job_id).status == "DEQUEUED"
    assert (_row(Batch.__table__, "other")["pending"], _row(Batch.__table__, "other")["dequeued"]) == (1, 0)


def test_a_stale_attempt_is_named_only_when_the_status_would_allow_the_move(jobdeck):
    job_id = _job_in("IN_PROGRESS", attempt=2)
    with pytest.raises(TransitionRejected, match="attempt 1 is stale \\(the job is on attempt 2\\)") as stale:
        lifecycle.transition(job_id, JobStatus.SUCCEEDED, attempt=1, message="late")
    assert (stale.value.detail["status"], stale.value.detail["attempt"]) == ("IN_PROGRESS", 2)
    with pytest.raises(TransitionRejected, match="a IN_PROGRESS job cannot become DEQUEUED"):
        lifecycle.transition(job_id, JobStatus.DEQUEUED, attempt=1, message="late")
    with pytest.raises(TransitionRejected, match="a IN_PROGRESS job cannot become DEQUEUED"):
        lifecycle.transition(job_id, JobStatus.DEQUEUED, attempt=2, message="wrong")
    assert lifecycle.transition(job_id, JobStatus.SUCCEEDED, attempt=2, message="on time").attempt == 2


def test_an_unknown_job_is_not_found_with_or_without_an_attempt(jobdeck):
    with pytest.raises(NotFound, match="No job nope."):
        lifecycle.transition("nope", JobStatus.CANCELLED, message="x", attempt=1)


def test_add_message_appends_history_without_a_status_change(jobdeck):
    job_id = _job_in("IN_PROGRESS", attempt=3)
    with write_conn() as conn:
        conn.execute(sa.update(Job.__table__).where(Job.__table__.c.id == job_id).values(updated_at=T0))
    lifecycle.add_message(job_id, "half way", level="warning")
    assert _status(job_id).updated_at > T0  # the row says it changed
    with write_conn() as conn:
        lifecycle.add_message(job_id, "in the caller's transaction", conn=conn)
    job = _status(job_id)
    assert (job.status, job.attempt, job.last_message) == ("IN_PROGRESS", 3, "in the caller's transaction")
    assert [(m.text, m.level, m.status, m.attempt) for m in sorted(_messages(job_id), key=lambda m: m.id)] == [
        ("half way", "warning", "IN_PROGRESS", 3), ("in the caller's transaction", "info", "IN_PROGRESS", 3)]
    with pytest.raises(NotFound, match="No job nope."):
        lifecycle.add_message("nope", "x")
    assert _messages("nope") == []


def test_what_each_status_means():
    assert [(s.value, s.aa_name) for s in JobStatus] == [
        ("PENDING", "SUBMITTED"), ("DEQUEUED", "RUNNING"), ("IN_PROGRESS", "RUNNING"), ("SUCCEEDED", "COMPLETE"),
        ("FAILED", "ERROR"), ("CRASHED", "CRASH"), ("CANCELLED", "CANCELLED")]
    assert all(s.description.endswith(".") for s in JobStatus)


@pytest.mark.parametrize("dst", TO)
def test_a_set_moves_exactly_what_the_table_allows(jobdeck, dst):
    """transition_set on a job in each of the seven statuses (and an id of no job):
    those the table lets become `dst` move, each written as one transition writes it;
    the rest keep their row, batch and history, and are skipped with their status."""
    jobs = {src: _job_in_batch(src) for src in TO}
    before = {src: (_row(Job.__table__, j), _row(Batch.__table__, b)) for src, (j, b) in jobs.items()}
    seen = Events()
    moved = lifecycle_sets.transition_set([j for j, _b in jobs.values()] + ["no-such-job"], dst,
                                          message=f"to {dst}")
    may = {src for src in TO if TABLE[src][TO.index(dst)]}
    assert [d.job_id for d in moved.done] == [jobs[src][0] for src in TO if src in may]  # in the order given
    assert moved.skipped == {**{jobs[src][0]: src for src in TO if src not in may}, "no-such-job": None}
    for src, (job_id, batch_id) in jobs.items():
        job, batch = _row(Job.__table__, job_id), _row(Batch.__table__, batch_id)
        if src not in may:
            assert (job, batch) == before[src] and _messages(job_id) == []
            continue
        attempt = 2 if dst == "PENDING" else 1
        assert (job["status"], job["prev_status"], job["last_message"], job["attempt"]) == (dst, src, f"to {dst}",
                                                                                         attempt)
        assert [(m.status, m.text, m.attempt) for m in _messages(job_id)] == [(dst, f"to {dst}", attempt)]
        assert {s.lower(): batch[s.lower()] for s in TO} == {s.lower(): int(s == dst) for s in TO}
    got = seen.since()
    assert [(e["job_id"], e["prev_status"], e["status"]) for e in got] == [
        (jobs[src][0], src, dst) for src in TO if src in may]
