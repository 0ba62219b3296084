"""A big batch is lodged in chunks, each its own transaction enqueued as it commits: the
rows are numbered on across chunks, the counts add up, the first jobs can run while the
rest are lodged, and the batch reads as lodging until its last chunk is in."""

import pytest
import sqlalchemy as sa

from app import counts, launch, queues
from app.api.schemas import BatchOut
from app.db import session
from app.errors import InvalidInput
from app.models import Batch, Job, JobMessage
from tests.conftest import run_workers


def _batch(batch_id: str) -> Batch:
    with session() as s:
        return s.get(Batch, batch_id)


def test_a_big_batch_is_lodged_in_chunks_each_enqueued_as_it_commits(users, monkeypatch):
    monkeypatch.setattr(launch, "BATCH_CHUNK", 7)
    seen = []  # before each further chunk: what the batch's readers see, and what is queued
    real = launch.add_to_batch

    def add_to_batch(conn, **kw):
        out = BatchOut.of(_batch(kw["batch_id"]))  # read apart from the chunk's transaction
        seen.append((kw["first_row"], out.lodged, out.total, queues.queue("system").count))
        return real(conn, **kw)

    monkeypatch.setattr(launch, "add_to_batch", add_to_batch)
    batch = launch.launch_batch(actor=users["root"], job_type="SYSTEM", job_subtype="NOOP",
                                payloads=[{}] * 30, label="thirty")
    assert seen == [(8, 7, 30, 7), (15, 14, 30, 14), (22, 21, 30, 21), (29, 28, 30, 28)]
    assert queues.queue("system").count == 30
    with session() as s:
        rows = sorted(s.exec(sa.select(Job.batch_row).where(Job.batch_id == batch.id)).scalars())
        kept, recounted = counts.kept(s.connection()), counts.recount(s.connection())
    assert rows == list(range(1, 31))
    assert kept == recounted
    b = _batch(batch.id)
    assert (b.total, b.pending) == (30, 30)
    run_workers()
    assert _batch(batch.id).succeeded == 30


def test_a_batch_cut_short_by_a_failing_chunk_says_how_many_were_lodged(users, monkeypatch):
    monkeypatch.setattr(launch, "BATCH_CHUNK", 10)
    real = launch.add_to_batch
    calls = []

    def add_to_batch(conn, **kw):
        calls.append(kw["first_row"])
        if len(calls) == 2:
            raise sa.exc.OperationalError("INSERT", {}, Exception("the database went away"))
        return real(conn, **kw)

    monkeypatch.setattr(launch, "add_to_batch", add_to_batch)
    with pytest.raises(sa.exc.OperationalError):
        launch.launch_batch(actor=users["root"], job_type="SYSTEM", job_subtype="NOOP", payloads=[{}] * 35)
    with session() as s:
        b = s.exec(sa.select(Batch)).scalars().one()
        n = s.execute(sa.select(sa.func.count()).select_from(Job).where(Job.batch_id == b.id)).scalar()
    assert calls == [11, 21] and n == 20
    assert (b.total, b.pending) == (20, 20)  # not lodging forever
    assert BatchOut.of(b).lodged == b.total


def test_a_batch_past_the_limit_is_refused_before_anything_is_written(users, monkeypatch):
    monkeypatch.setattr(launch, "MAX_BATCH", 20)
    with pytest.raises(InvalidInput) as refused:
        launch.launch_batch(actor=users["root"], job_type="SYSTEM", job_subtype="NOOP", payloads=[{}] * 21)
    assert "at most 20 jobs" in refused.value.message and refused.value.field == "payloads"
    with session() as s:
        assert s.execute(sa.select(sa.func.count()).select_from(Batch)).scalar() == 0


def test_a_bad_payload_late_in_a_big_batch_writes_nothing(users, monkeypatch):
    monkeypatch.setattr(launch, "BATCH_CHUNK", 5)
    payloads = [{"fail_attempts": 0}] * 12 + [{"fail_attempts": "many"}]
    with pytest.raises(InvalidInput) as refused:
        launch.launch_batch(actor=users["root"], job_type="SYSTEM", job_subtype="FLAKY", payloads=payloads)
    assert refused.value.field.startswith("payloads.12")
    with session() as s:
        assert s.execute(sa.select(sa.func.count()).select_from(Job)).scalar() == 0


def test_a_batch_written_in_id_order_is_queued_in_its_own_order(users):
    # The rows go to the database sorted by id (cheaper on every index); the queue, the
    # rows' numbers and each job's first history line keep the order the batch was given.
    batch = launch.launch_batch(actor=users["root"], job_type="SYSTEM", job_subtype="NOOP",
                                payloads=[{"sleep_s": i / 1000} for i in range(40)], label="forty")
    with session() as s:
        jobs = list(s.exec(sa.select(Job).where(Job.batch_id == batch.id).order_by(Job.batch_row)).scalars())
        lines = dict(s.exec(sa.select(JobMessage.job_id, sa.func.count()).where(
            JobMessage.job_id.in_([j.id for j in jobs])).group_by(JobMessage.job_id)).all())
    assert [j.payload["sleep_s"] for j in jobs] == [i / 1000 for i in range(40)]
    assert [j.id for j in jobs] != sorted(j.id for j in jobs)  # 40 random ids: never already in order
    queued = [rq_id.rsplit("-a", 1)[0] for rq_id in queues.queue("system").get_job_ids()]
    assert queued == [j.id for j in jobs]
    assert lines == {j.id: 1 for j in jobs}
