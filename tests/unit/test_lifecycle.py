"""Every allowed and every refused status transition, through the one guarded
transition, with its side effects (history, timestamps, batch counts, events).

The table below is the design's state machine written out by hand, every (from, to)
pair of the seven statuses: the tests compare the code with it, never the code with
itself (a table derived from ALLOWED_FROM would pass whatever ALLOWED_FROM said)."""

import json

import pytest
import sqlalchemy as sa

from app import events, keys, lifecycle, queues
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


def _job_in_batch(status: str) -> tuple[str, str]:
    """A job in a batch of its own, the batch's counts agreeing with it."""
    with session(write=True) as s:
        batch = Batch(owner="alice", total=1, **{status.lower(): 1})
        s.add(batch)
    return _job_in(status, batch.id), batch.id


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
    assert (done.status.value, done.prev_status.value) == (dst, src)
    job = _status(job_id)
    assert (job.status, job.prev_status, job.last_message) == (dst, src, f"to {dst}")
    assert [(m.status, m.text) for m in _messages(job_id)] == [(dst, f"to {dst}")]
    assert (job.dequeued_at is not None) is (dst == "DEQUEUED")
    assert (job.started_at is not None) is (dst == "IN_PROGRESS")
    assert (job.finished_at is not None) is (dst in ("SUCCEEDED", "FAILED", "CRASHED", "CANCELLED"))
    assert job.attempt == (2 if dst == "PENDING" else 1)  # a retry is a new attempt
    batch = _row(Batch.__table__, batch_id)
    counts = {s.lower(): batch[s.lower()] for s in TO}
    assert counts == {s.lower(): int(s == dst) for s in TO}
    assert [(e["job_id"], e["status"], e["prev_status"], e["attempt"]) for e in seen.since()] == [
        (job_id, dst, src, job.attempt)]


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
