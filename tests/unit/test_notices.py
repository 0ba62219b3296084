"""Which ends are news (app.notices.notable): a run once when its last step ends, a batch
once when its last job ends, any other job on its own; only what took a while."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from types import SimpleNamespace as NS

from app import notices, runs

T0 = datetime(2026, 12, 2, 12, 0, tzinfo=timezone.utc)


def _job(id="j1", status="SUCCEEDED", took=10.0, **kw):
    base = dict(id=id, owner="alice", status=status, job_type="SYSTEM", job_subtype="NOOP", subject="",
                attempt=1, parent_job_id=None, batch_id=None, workflow_id=id, payload={}, created_at=T0,
                finished_at=T0 + timedelta(seconds=took))
    return NS(**{**base, **kw})


def _ev(job_id, status="SUCCEEDED"):
    return {"kind": "job", "job_id": job_id, "status": status, "owner": "alice"}


def _notable(events, jobs=(), batches=(), run_states=None, after_s=5.0, now=T0 + timedelta(seconds=60)):
    j, b = {x.id: x for x in jobs}, {x.id: x for x in batches}
    return notices.notable(events, job=j.get, batch=b.get, run_state=(run_states or {}).get, now=now,
                           after_s=after_s)


def test_a_job_that_took_a_while_is_news_and_a_quick_one_is_not():
    slow, quick = _job("slow", took=12), _job("quick", took=1, status="FAILED")
    got = _notable([_ev("slow"), _ev("quick", "FAILED")], jobs=[slow, quick])
    assert [(n.key, n.text, n.href, n.status) for n in got] == [
        ("job:slow:1", "Diagnostic no-op succeeded.", "/jobs/slow", "SUCCEEDED")]
    assert got[0].job_ids == {"slow"}


def test_a_job_not_final_in_the_database_or_a_mail_job_is_no_news():
    retried = _job("r", status="PENDING")  # the event was final, the row has moved on since
    mail = _job("m", parent_job_id="root")
    assert _notable([_ev("r"), _ev("m"), _ev("unknown")], jobs=[retried, mail]) == []


def test_a_batch_is_one_notice_when_its_last_job_ends():
    a, b = _job("a", batch_id="B"), _job("b", batch_id="B", status="FAILED")
    done = NS(id="B", owner="alice", label="nightly", created_at=T0, total=2, pending=0, dequeued=0, in_progress=0,
              succeeded=1, failed=1, crashed=0, cancelled=0)
    got = _notable([_ev("a"), _ev("b", "FAILED")], jobs=[a, b], batches=[done])
    assert [(n.key, n.text, n.status, n.batch_id) for n in got] == [
        ("batch:B", "Batch 'nightly' finished: 1 succeeded, 1 failed.", "FAILED", "B")]
    going = NS(**{**vars(done), "in_progress": 1, "failed": 0})
    assert _notable([_ev("a")], jobs=[a], batches=[going]) == []


def test_a_pipeline_run_is_one_notice_when_it_has_ended_as_a_whole():
    step = _job("s2", job_type=runs.JOB_TYPE, job_subtype=runs.RUN_SUBTYPE, workflow_id="root",
                payload={"root_job_id": "root"})
    ended = NS(id="root", name="Sorter on words.txt", status="FAILED", started_at=T0,
               finished_at=T0 + timedelta(seconds=30))
    running = NS(**{**vars(ended), "finished_at": None})
    assert _notable([_ev("s2")], jobs=[step], run_states={"root": running}) == []
    [n] = _notable([_ev("s2"), _ev("s2")], jobs=[step], run_states={"root": ended})
    assert (n.key, n.text, n.href, n.workflow_id) == ("run:root", "Pipeline run Sorter on words.txt failed.",
                                                       "/jobs/root", "root")
    quick = NS(**{**vars(ended), "finished_at": T0 + timedelta(seconds=2)})
    assert _notable([_ev("s2")], jobs=[step], run_states={"root": quick}) == []
