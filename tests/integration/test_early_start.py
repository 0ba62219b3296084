"""A job whose effects commit with its outcome runs before its start is recorded
(worker/early.py), with the project's own worker in burst mode (its watch thread
included): a quick one costs one write transaction and still tells its whole history;
a longer one shows IN_PROGRESS while it runs; one cancelled before its start was
recorded leaves no trace of its run, and is halted if it is still running."""

import logging
import threading
import time

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from app import launch
from app.db import get_engine, session
from app.models import Job
from tests.conftest import run_workers
from tests.pools import messages, status
from worker import early, heartbeat


def _noop(actor, **payload):
    return launch.launch_job(actor=actor, job_type="SYSTEM", job_subtype="NOOP", payload=payload)


def _row(job_id):
    with session() as s:
        return s.connection().execute(sa.select(Job.__table__).where(Job.__table__.c.id == job_id)).first()


def _run_counting_writes() -> int:
    writes = []

    def on_begin(conn):
        if conn.get_execution_options().get("jobdeck_write"):
            writes.append(1)

    event.listen(get_engine(), "begin", on_begin)
    try:
        run_workers()
    finally:
        event.remove(get_engine(), "begin", on_begin)
    return len(writes)


def test_a_quick_job_is_taken_started_and_ended_in_one_commit(users):
    root = users["root"]
    job = _noop(root)
    writes = _run_counting_writes()
    assert status(job.id) == "SUCCEEDED"
    assert writes == 1, f"{writes} write transactions for one quick job"
    history = messages(job.id)
    assert [(st, a) for st, a, _ in history] == [("PENDING", 1), ("DEQUEUED", 1), ("IN_PROGRESS", 1),
                                                ("SUCCEEDED", 1)]
    assert history[1][2].startswith("Taken by worker ")
    row = _row(job.id)
    assert row.lodged_at <= row.dequeued_at == row.started_at <= row.finished_at
    assert abs(row.ran_ms - (row.finished_at - row.started_at).total_seconds() * 1000) <= 1  # julianday rounds
    assert row.worker and row.worker in history[1][2]


def test_a_longer_job_shows_in_progress_while_it_runs(users):
    root = users["root"]
    job = _noop(root, sleep_s=0.9)  # below 1 s: no progress reports, so only the watch records the start
    seen = []

    def watch():
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and status(job.id) != "SUCCEEDED":
            seen.append(status(job.id))
            time.sleep(0.05)

    t = threading.Thread(target=watch)
    t.start()
    run_workers()
    t.join()
    assert "IN_PROGRESS" in seen, seen
    row = _row(job.id)
    assert (row.finished_at - row.started_at).total_seconds() >= 0.85
    assert [st for st, _, _ in messages(job.id)] == ["PENDING", "DEQUEUED", "IN_PROGRESS", "SUCCEEDED"]


def _cancel_once_running(actor, job_id, after_s):
    def go():
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            life = heartbeat.current()
            if life is not None and life.job_id == job_id and life.phase == "running":
                break
            time.sleep(0.01)
        time.sleep(after_s)
        launch.cancel_job(actor=actor, job_id=job_id)
    t = threading.Thread(target=go)
    t.start()
    return t


def test_a_job_cancelled_before_its_start_was_recorded_leaves_no_trace_of_its_run(users, monkeypatch):
    alice = users["alice"]
    monkeypatch.setattr(early, "EARLY_S", 30.0)  # the run ends with its start still unrecorded
    job = _noop(users["root"], sleep_s=0.6)
    t = _cancel_once_running(users["root"], job.id, 0.1)
    run_workers()
    t.join()
    assert status(job.id) == "CANCELLED"
    assert [st for st, _, _ in messages(job.id)] == ["PENDING", "CANCELLED"]
    assert _row(job.id).result is None and alice


def test_a_run_whose_start_is_refused_is_halted(users, monkeypatch, caplog):
    monkeypatch.setattr(early, "EARLY_S", 0.4)
    job = _noop(users["root"], sleep_s=0.95)
    t = _cancel_once_running(users["root"], job.id, 0.05)
    with caplog.at_level(logging.INFO, logger="worker"):
        run_workers()
    t.join()
    assert status(job.id) == "CANCELLED"
    assert [st for st, _, _ in messages(job.id)] == ["PENDING", "CANCELLED"]
    said = [r.getMessage() for r in caplog.records]
    assert any("halting job" in m and "(cancelled)" in m for m in said), said


@pytest.mark.parametrize("outcome", ["fail", "crash"])
def test_a_quick_job_that_fails_or_crashes_records_its_start_with_its_end(users, outcome):
    job = _noop(users["root"], outcome=outcome)
    writes = _run_counting_writes()  # NOOP is never retried: its end is the last write
    want = "FAILED" if outcome == "fail" else "CRASHED"
    assert status(job.id) == want and writes == 1
    assert [st for st, _, _ in messages(job.id)] == ["PENDING", "DEQUEUED", "IN_PROGRESS", want]
