"""Cancel: a waiting job leaves its queue (or its retry schedule), a running job is
halted by its worker and stays CANCELLED, a cancelled workflow lodges no later step,
and deleting a submission as an admin cancels its live jobs first."""

import time

import pytest
import sqlalchemy as sa
from rq import SimpleWorker

from app import launch, queues, registry, retries, submissions
from app.db import session
from app.errors import NotFound, PermissionDenied, TransitionRejected
from app.models import Batch, Job, JobMessage
from tests.conftest import model_run_record, run_workers
from tests.pools import live_workers, messages, pools, set_backend, status, wait_for  # noqa: F401


def _count(model, *where):
    with session() as s:
        return s.exec(sa.select(sa.func.count()).select_from(model).where(*where)).one()[0]


def test_cancel_pending_job_leaves_its_queue_and_its_retry_schedule(users):
    root = users["root"]
    job = launch.launch_job(actor=root, job_type="SYSTEM", job_subtype="NOOP", payload={})
    assert queues.queue("system").count == 1
    launch.cancel_job(actor=root, job_id=job.id)
    assert queues.queue("system").count == 0 and not queues.redis_conn().exists(f"rq:job:{job.id}-a1")
    # a job waiting for its automatic retry leaves the schedule
    flaky = launch.launch_job(actor=root, job_type="SYSTEM", job_subtype="FLAKY", payload={"fail_attempts": 1})
    run_workers()
    assert status(flaky.id) == "PENDING" and retries.scheduled_count("system") == 1
    done = launch.cancel_job(actor=root, job_id=flaky.id)
    assert done.prev_status.value == "PENDING" and retries.scheduled_count("system") == 0
    with pytest.raises(TransitionRejected, match="already CANCELLED"):
        launch.cancel_job(actor=root, job_id=flaky.id)
    assert [m[0] for m in messages(flaky.id)][-1] == "CANCELLED"


def test_cancel_halts_a_running_job(users, pools):
    root = users["root"]
    set_backend("system", max_workers=1, idle_timeout_s=30)
    pools("--backends", "system")
    job = launch.launch_job(actor=root, job_type="SYSTEM", job_subtype="NOOP", payload={"sleep_s": 60})
    wait_for(lambda: status(job.id) == "IN_PROGRESS")
    wait_for(lambda: [w for w in live_workers() if w.current_job_id == job.id])
    t0 = time.monotonic()
    launch.cancel_job(actor=users["root"], job_id=job.id)
    wait_for(lambda: not [w for w in live_workers() if w.current_job_id == job.id], message="halted")
    print(f"running job halted {time.monotonic() - t0:.2f} s after the cancel")
    # the worker is free at once (the handler slept 60 s) and the job stays CANCELLED
    nxt = launch.launch_job(actor=root, job_type="SYSTEM", job_subtype="NOOP", payload={})
    wait_for(lambda: status(nxt.id) == "SUCCEEDED")
    assert launch.get_job(nxt.id).worker == launch.get_job(job.id).worker
    assert [m[0] for m in messages(job.id)] == ["PENDING", "DEQUEUED", "IN_PROGRESS", "CANCELLED"]
    (w,) = live_workers("system")
    assert w.jobs_done == 1 and w.jobs_failed == 0  # a cancelled job counts as neither


def test_cancelled_workflow_lodges_no_later_step(users):
    alice = users["alice"]
    item, job = registry.create_item(actor=alice, subtype="DATASET", display_name="Never lodged")
    launch.cancel_job(actor=alice, job_id=job.id)
    run_workers()
    assert _count(Job, Job.workflow_id == job.id) == 1
    assert registry.get_item(item.id).record_status == "INCOMPLETE"


def _cancelled_while_running(monkeypatch, users, name):
    """Wrap the handler `name` of worker.tasks so that its job is cancelled while it runs."""
    import worker.runner
    import worker.tasks

    real = getattr(worker.tasks, name)
    # the runner caches handlers by path: look them up afresh while the wrapper is in place
    monkeypatch.setattr(worker.runner, "_handler", worker.runner._handler.__wrapped__)

    def handler(ctx, payload):
        outcome = real(ctx, payload)
        launch.cancel_job(actor=users["root"], job_id=ctx.job_id)
        return outcome

    monkeypatch.setattr(worker.tasks, name, handler)


def test_a_step_cancelled_while_it_runs_lodges_no_later_step(users, monkeypatch):
    _cancelled_while_running(monkeypatch, users, "register_create_activity")
    item, job = registry.create_item(actor=users["alice"], subtype="DATASET", display_name="Stopped midway")
    run_workers()
    assert launch.get_job(job.id).status == "CANCELLED"
    assert _count(Job, Job.workflow_id == job.id) == 1
    assert registry.get_item(item.id).record_status != "LODGED"


def test_a_batch_submit_cancelled_while_it_runs_fans_out_nothing(users, world, monkeypatch):
    _cancelled_while_running(monkeypatch, users, "model_run_batch_submit")
    submit = launch.launch_job(actor=users["alice"], job_type="PROV_LODGE", job_subtype="MODEL_RUN_BATCH_SUBMIT",
                               payload={"records": [model_run_record(world) for _ in range(3)]})
    run_workers()
    assert launch.get_job(submit.id).status == "CANCELLED"
    assert _count(Job, Job.parent_job_id == submit.id) == 0
    assert _count(Batch, Batch.submission_job_id == submit.id) == 0


def test_delete_submission_cancels_its_live_jobs_first(users, pools):
    root, alice = users["root"], users["alice"]
    set_backend("system", max_workers=2, idle_timeout_s=30)
    pools("--backends", "system")
    batch = launch.launch_batch(actor=root, job_type="SYSTEM", job_subtype="NOOP",
                                payloads=[{"sleep_s": 60}] * 4, label="long ones", owner="alice")
    wait_for(lambda: len([w for w in live_workers("system") if w.current_job_id]) == 2, message="2 running")
    with pytest.raises(PermissionDenied):
        submissions.delete_submission(actor=alice, submission_id=batch.id)
    held = {w.name for w in live_workers("system")}
    done = submissions.delete_submission(actor=root, submission_id=batch.id)
    assert done.cancelled == 4 and done.jobs_deleted == 4 and done.batches_deleted == 1
    assert _count(Job) == 0 and _count(JobMessage) == 0 and _count(Batch) == 0
    assert queues.queue("system").count == 0
    workers = live_workers("system")
    assert {w.name for w in workers} == held and not any(w.current_job_id for w in workers)
    with pytest.raises(NotFound):
        submissions.delete_submission(actor=root, submission_id=batch.id)


def test_delete_a_batch_submission_by_any_of_its_jobs(users, world):
    alice, root = users["alice"], users["root"]
    submit = launch.launch_job(actor=alice, job_type="PROV_LODGE", job_subtype="MODEL_RUN_BATCH_SUBMIT",
                               payload={"records": [model_run_record(world, display_name=f"r{i}")
                                                    for i in range(3)]})
    # run the submission only: its batch of three is lodged, none of them ran
    SimpleWorker([queues.queue("prov")], connection=queues.redis_conn()).work(burst=True, max_jobs=1)
    assert status(submit.id) == "SUCCEEDED"
    batch_id = launch.get_job(submit.id).result["batch_id"]
    with session() as s:
        child = s.exec(sa.select(Job).where(Job.batch_id == batch_id)).scalars().first()
    sub = submissions.find_submission(submission_id=child.id)
    assert sub.root_job_id == submit.id and sub.batch_ids == [batch_id] and len(sub.job_ids) == 4
    with pytest.raises(NotFound):  # not hers to see
        submissions.cancel_submission(actor=users["bob"], submission_id=submit.id)
    cancelled = submissions.cancel_submission(actor=alice, submission_id=batch_id)
    assert len(cancelled.cancelled) == 3 and cancelled.halting == []
    assert queues.queue("prov").count == 0
    done = submissions.delete_submission(actor=root, submission_id=child.id)
    assert done.root_job_id == submit.id and done.jobs_deleted == 4 and done.cancelled == 0
    assert _count(Job, Job.id.in_(sub.job_ids)) == 0 and _count(Batch, Batch.id == batch_id) == 0
    assert _count(Job) > 0  # the registry's own workflows (the world's items) are not part of it


def test_a_job_of_a_batch_lodged_directly_belongs_to_its_batch(users):
    alice = users["alice"]
    batch = launch.launch_batch(actor=users["root"], job_type="SYSTEM", job_subtype="NOOP", payloads=[{}] * 3,
                                owner="alice")
    with session() as s:
        one = s.exec(sa.select(Job.id).where(Job.batch_id == batch.id)).scalars().first()
    sub = submissions.find_submission(submission_id=one)
    assert (sub.root_job_id, sub.batch_ids, sub.owner, len(sub.job_ids)) == (None, [batch.id], "alice", 3)
    assert len(submissions.cancel_submission(actor=alice, submission_id=one).cancelled) == 3
