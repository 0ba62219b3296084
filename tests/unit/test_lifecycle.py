"""Every allowed and every forbidden status transition, through the one guarded
transition, with its side effects (history, timestamps, batch counts, events)."""

import itertools
import json

import pytest
import sqlalchemy as sa

from app import lifecycle
from app.db import session, utcnow, write_conn
from app.errors import NotFound, TransitionRejected
from app.lifecycle import ALLOWED_FROM, FINAL, JobStatus
from app.models import Batch, Job, JobMessage

ALL = list(JobStatus)
PAIRS = list(itertools.product(ALL, ALL))


def _job_in(status: JobStatus, batch_id=None, attempt=1) -> str:
    job = Job(owner="alice", job_type="SYSTEM", job_subtype="NOOP", status=status.value, attempt=attempt,
              batch_id=batch_id)
    with session(write=True) as s:
        s.add(job)
    return job.id


def _status(job_id):
    with session() as s:
        return s.get(Job, job_id)


def test_state_machine_matches_the_design():
    assert ALLOWED_FROM[JobStatus.DEQUEUED] == {JobStatus.PENDING}
    assert ALLOWED_FROM[JobStatus.IN_PROGRESS] == {JobStatus.DEQUEUED}
    for final in (JobStatus.SUCCEEDED, JobStatus.FAILED):
        assert ALLOWED_FROM[final] == {JobStatus.IN_PROGRESS}
    assert ALLOWED_FROM[JobStatus.CANCELLED] == {JobStatus.PENDING, JobStatus.DEQUEUED, JobStatus.IN_PROGRESS}
    assert ALLOWED_FROM[JobStatus.PENDING] == {JobStatus.FAILED, JobStatus.CRASHED, JobStatus.CANCELLED}
    assert not any(JobStatus.SUCCEEDED in srcs for srcs in ALLOWED_FROM.values()), "SUCCEEDED is for ever"


@pytest.mark.parametrize("src,dst", PAIRS, ids=[f"{a.value}->{b.value}" for a, b in PAIRS])
def test_transition(jobdeck, src, dst):
    job_id = _job_in(src)
    if src in ALLOWED_FROM[dst]:
        done = lifecycle.transition(job_id, dst, message=f"to {dst.value}")
        job = _status(job_id)
        assert job.status == dst.value and done.prev_status == src
        assert job.last_message == f"to {dst.value}"
        with session() as s:
            msgs = list(s.exec(sa.select(JobMessage).where(JobMessage.job_id == job_id)).scalars())
        assert [m.status for m in msgs] == [dst.value]
        if dst is JobStatus.DEQUEUED:
            assert job.dequeued_at is not None
        if dst is JobStatus.IN_PROGRESS:
            assert job.started_at is not None
        if dst in FINAL:
            assert job.finished_at is not None
        if dst is JobStatus.PENDING:
            assert job.attempt == 2 and job.finished_at is None
    else:
        with pytest.raises(TransitionRejected):
            lifecycle.transition(job_id, dst, message="must not happen")
        job = _status(job_id)
        assert job.status == src.value and job.attempt == 1
        with session() as s:
            assert s.exec(sa.select(sa.func.count()).select_from(JobMessage)
                          .where(JobMessage.job_id == job_id)).one()[0] == 0


def test_duplicate_write_is_rejected(jobdeck):
    job_id = _job_in(JobStatus.IN_PROGRESS)
    lifecycle.transition(job_id, JobStatus.SUCCEEDED, message="done", values={"result": {"x": 1}})
    with pytest.raises(TransitionRejected):
        lifecycle.transition(job_id, JobStatus.SUCCEEDED, message="done again")
    with pytest.raises(TransitionRejected):
        lifecycle.transition(job_id, JobStatus.FAILED, message="late failure")
    job = _status(job_id)
    assert job.status == "SUCCEEDED" and job.result == {"x": 1}


def test_stale_attempt_cannot_move_a_retried_job(jobdeck):
    job_id = _job_in(JobStatus.CRASHED)
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
    a, b = _job_in(JobStatus.PENDING, "b1"), _job_in(JobStatus.PENDING, "b1")
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
    job_id = _job_in(JobStatus.PENDING)
    lifecycle.transition(job_id, JobStatus.DEQUEUED, message="taken")
    msg = pubsub.get_message(timeout=2)
    event = json.loads(msg["data"])
    assert event["job_id"] == job_id and event["status"] == "DEQUEUED" and event["prev_status"] == "PENDING"
    pubsub.close()


def test_concurrent_writers_only_one_wins(jobdeck):
    """Two workers race to take the same PENDING job: exactly one succeeds."""
    from concurrent.futures import ThreadPoolExecutor

    job_id = _job_in(JobStatus.PENDING)

    def take(i):
        try:
            lifecycle.transition(job_id, JobStatus.DEQUEUED, message=f"worker {i}")
            return True
        except TransitionRejected:
            return False

    with ThreadPoolExecutor(8) as ex:
        won = list(ex.map(take, range(8)))
    assert won.count(True) == 1
