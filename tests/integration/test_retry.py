"""Retry policies: a job type retries FAILED and/or CRASHED up to its maximum with a
growing backoff (kept in RQ's scheduled registry until due); manual retry makes a new
attempt; the history keeps every attempt; registry and provenance crashes are retried
after 2 s, then 4 s, through a real pool."""

import time
from datetime import datetime, timezone

from rq.registry import ScheduledJobRegistry

from app import launch, queues, retries
from app.jobtypes import BACKENDS, NO_RETRY, RETRY_CRASHES, RetryPolicy, spec_for
from app.keys import rq_job_id
from tests.conftest import model_run_record, run_workers
from tests.pools import messages, pools, status  # noqa: F401  (pools: a fixture)


def _run_until_final(job_id: str, timeout: float = 20.0) -> None:
    """Run the queues dry, moving due retries onto them, until the job is final."""
    deadline = time.monotonic() + timeout
    while status(job_id) not in ("SUCCEEDED", "FAILED", "CRASHED", "CANCELLED"):
        assert time.monotonic() < deadline, f"job {job_id} still {status(job_id)}"
        retries.release_due(BACKENDS)
        run_workers()
        time.sleep(0.1)


def _due_in(job_id: str, attempt: int) -> float:
    reg = ScheduledJobRegistry(queue=queues.queue("system"))
    when = reg.get_scheduled_time(rq_job_id(job_id, attempt))
    return (when - datetime.now(timezone.utc)).total_seconds()


def test_policies_and_backoff():
    assert spec_for("SYSTEM", "NOOP").retry == NO_RETRY and not NO_RETRY.retries("FAILED", 1)
    reg = spec_for("REGISTRY", "REGISTER_CREATE_ACTIVITY").retry
    assert reg == RETRY_CRASHES and reg.retries("CRASHED", 2) and not reg.retries("CRASHED", 3)
    assert not reg.retries("FAILED", 1)  # a request that is wrong stays failed
    p = RetryPolicy(max_attempts=5, backoff_s=2, backoff_factor=3, max_backoff_s=10)
    assert [p.delay_before(n) for n in (2, 3, 4, 5)] == [2, 6, 10, 10]
    assert "up to 5 attempts" in p.describe() and NO_RETRY.describe() == "no automatic retry"


def test_flaky_job_is_retried_with_backoff_until_it_succeeds(users):
    root = users["root"]
    job = launch.launch_job(actor=root, job_type="SYSTEM", job_subtype="FLAKY", payload={"fail_attempts": 2})
    run_workers()
    j = launch.get_job(job.id)
    assert j.status == "PENDING" and j.attempt == 2
    assert queues.queue("system").count == 0 and retries.scheduled_count("system") == 1
    assert 0 < _due_in(job.id, 2) <= 2.0  # first backoff: 1 s, rounded up to RQ's whole seconds
    assert launch.reconcile_pending(grace_s=0) == 0  # a scheduled attempt counts as queued
    _run_until_final(job.id)
    j = launch.get_job(job.id)
    assert j.status == "SUCCEEDED" and j.attempt == 3 and j.result == {"attempt": 3}
    history = messages(job.id)
    assert [(s, a) for s, a, _ in history] == [
        ("PENDING", 1), ("DEQUEUED", 1), ("IN_PROGRESS", 1), ("FAILED", 1),
        ("PENDING", 2), ("DEQUEUED", 2), ("IN_PROGRESS", 2), ("FAILED", 2),
        ("PENDING", 3), ("DEQUEUED", 3), ("IN_PROGRESS", 3), ("SUCCEEDED", 3)]
    assert history[4][2] == "Retrying automatically after FAILED: attempt 2 of 3, starting in 1 s"
    assert history[8][2] == "Retrying automatically after FAILED: attempt 3 of 3, starting in 2 s"


def test_policy_gives_up_after_its_maximum_and_manual_retry_makes_a_new_attempt(users):
    root = users["root"]
    job = launch.launch_job(actor=root, job_type="SYSTEM", job_subtype="FLAKY",
                            payload={"fail_attempts": 9, "outcome": "crash"})
    _run_until_final(job.id)
    j = launch.get_job(job.id)
    assert j.status == "CRASHED" and j.attempt == 3 and "RuntimeError" in j.info
    assert retries.scheduled_count("system") == 0 and queues.queue("system").count == 0
    again = launch.retry_job(actor=root, job_id=job.id)
    assert again.attempt == 4 and "Retry requested by root: attempt 4" in again.message
    run_workers()
    j = launch.get_job(job.id)
    assert j.status == "CRASHED" and j.attempt == 4  # beyond the policy's maximum: no automatic retry
    assert [a for s, a, _ in messages(job.id) if s == "CRASHED"] == [1, 2, 3, 4]


def test_a_registry_failure_is_not_retried(users, world):
    alice = users["alice"]
    rec = model_run_record(world, workflow_template_id=world["rain"].id)  # a dataset, not a template
    job = launch.launch_job(actor=alice, job_type="PROV_LODGE", job_subtype="MODEL_RUN_PROV_LODGE",
                            payload={"record": rec})
    run_workers()
    j = launch.get_job(job.id)
    assert j.status == "FAILED" and j.attempt == 1 and retries.scheduled_count("prov") == 0


def test_registry_and_provenance_crashes_are_retried_after_2_s_then_4_s(postgres_db, pools):
    """As the README says: a registry and a provenance job, each crashed twice for real (its
    worker killed with SIGKILL while the handler waits on the items table the test holds
    locked; PostgreSQL, so that the jobs' own rows stay free), start their next attempts
    2 s, then 4 s after the retry is lodged, read from each job's history."""
    import os
    import signal

    import sqlalchemy as sa

    from app import auth, registry
    from app.db import get_engine, session
    from app.models import TABLES, Activity, Item, JobMessage
    from tests.pools import live_workers, set_backend, wait_for

    TABLES.create_all(get_engine())
    alice = auth.create_user(username="alice", password="alice-password")
    root = auth.create_user(username="root", password="root-password", role="admin")
    for b in ("registry", "prov"):
        set_backend(b, max_workers=1, idle_timeout_s=30)
    pools("--backends", "registry,prov")
    done_item, done_job = registry.create_item(actor=alice, subtype="DATASET", display_name="Lodged already")
    wait_for(lambda: registry.get_item(done_item.id).record_status == "LODGED", timeout=30)
    activity_id = launch.get_job(done_job.id).result["activity_id"]

    # The jobs are lodged while their backends are paused, then the items table is locked
    # (both handlers read their item before they write anything), then the backends resume.
    for b in ("registry", "prov"):
        set_backend(b, max_workers=0)
    wait_for(lambda: not live_workers(), timeout=30, message="the paused backends' workers stopped")
    _, reg_job = registry.create_item(actor=alice, subtype="DATASET", display_name="Crashed twice")
    prov_job = launch.launch_job(actor=root, job_type="PROV_LODGE", job_subtype="LODGE_CREATE_ACTIVITY",
                                 payload={"item_id": done_item.id, "activity_id": activity_id})
    jobs = [reg_job.id, prov_job.id]
    locker = get_engine().connect()
    locker.begin()
    locker.execute(sa.text(f'LOCK TABLE "{Item.__table__.name}" IN ACCESS EXCLUSIVE MODE'))
    for b in ("registry", "prov"):
        set_backend(b, max_workers=1)
    try:
        for attempt in (1, 2):
            def held():
                holders = {w.current_job_id: w for w in live_workers()
                           if w.current_job_id in jobs and w.current_attempt == attempt}
                ok = all(launch.get_job(j).status == "IN_PROGRESS" and launch.get_job(j).attempt == attempt
                         for j in jobs)
                return [holders[j] for j in jobs] if ok and len(holders) == 2 else None

            for w in wait_for(held, timeout=40, message=f"attempt {attempt} of both jobs runs"):
                os.kill(w.pid, signal.SIGKILL)
            wait_for(lambda: all(launch.get_job(j).status == "PENDING" and launch.get_job(j).attempt == attempt + 1
                                 for j in jobs), timeout=30, message=f"attempt {attempt} crashed and was retried")
    finally:
        locker.rollback()
        locker.close()
    wait_for(lambda: all(launch.get_job(j).status == "SUCCEEDED" for j in jobs), timeout=40,
             message="attempt 3 of both succeeded")
    # One Create activity per item: the killed attempts wrote none of their own.
    with session() as s:
        activities = s.connection().execute(sa.select(Activity.item_id).where(Activity.kind == "Create")).all()
    assert sorted(a for (a,) in activities) == sorted({done_item.id, launch.get_job(reg_job.id).entity_id})

    t = JobMessage.__table__
    for job_id in jobs:
        with session() as s:
            h = s.connection().execute(sa.select(t.c.status, t.c.attempt, t.c.text, t.c.at)
                                       .where(t.c.job_id == job_id).order_by(t.c.id)).all()
        assert [(m.status, m.attempt) for m in h] == [
            ("PENDING", 1), ("DEQUEUED", 1), ("IN_PROGRESS", 1), ("CRASHED", 1),
            ("PENDING", 2), ("DEQUEUED", 2), ("IN_PROGRESS", 2), ("CRASHED", 2),
            ("PENDING", 3), ("DEQUEUED", 3), ("IN_PROGRESS", 3), ("SUCCEEDED", 3)], h
        assert all("killed by signal 9" in h[i].text for i in (3, 7))
        for crashed, retried, taken, wait in ((h[3], h[4], h[5], 2), (h[7], h[8], h[9], 4)):
            assert retried.text.endswith(f"starting in {wait} s")
            waited = (taken.at - retried.at).total_seconds()
            # never early; the generous upper bound only says the wait is not far longer
            # (RQ keeps whole seconds, the pool looks every 0.5 s, then forks a worker)
            print(f"{job_id}: attempt {crashed.attempt + 1} taken {waited:.2f} s after its retry (policy {wait} s)")
            assert wait <= waited < wait + 10, (job_id, crashed.attempt, waited)
