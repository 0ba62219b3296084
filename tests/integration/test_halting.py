"""Halting through a real pool and the project's own workers: a job its worker has taken
off the queue but not yet started, cancelled; and a handler that ignores the halt,
which costs its worker process (the pool starts another), on a cancel and on a time
limit."""

from __future__ import annotations

from app import launch, lifecycle, queues
from app.workers import list_workers
from tests.pools import live_workers, messages, pools, set_backend, status, wait_for  # noqa: F401
from worker.heartbeat import HARD_EXIT_CODE


def _holder(job_id):
    return wait_for(lambda: next((w for w in live_workers() if w.current_job_id == job_id), None),
                    message=f"a worker holds {job_id}")


def test_cancel_of_a_job_its_worker_has_taken_but_not_started(users, pools, monkeypatch):
    """Taken and started are recorded in one commit, so between the worker's take from
    the queue and that commit the job still reads PENDING. A cancel then wins: the
    worker's take is refused, the handler never runs, the worker lets go of it."""
    root = users["root"]
    set_backend("system", max_workers=1, idle_timeout_s=60)
    job = launch.launch_job(actor=root, job_type="SYSTEM", job_subtype="NOOP", payload={"sleep_s": 60})
    held: dict = {}
    real = lifecycle.transition

    def cancel_held_open(job_id, to, **kw):
        # The cancel's transaction (it holds the database's write lock) stays open until a
        # worker has taken the job from its queue; the worker's take then waits behind it.
        def until_a_worker_took_it(conn, done):
            pools("--backends", "system", "--no-housekeeping")  # no pool until now: the job waited
            held["worker"] = _holder(job_id)
        return real(job_id, to, also=until_a_worker_took_it, **kw)

    monkeypatch.setattr(lifecycle, "transition", cancel_held_open)
    done = launch.cancel_job(actor=root, job_id=job.id)
    monkeypatch.setattr(lifecycle, "transition", real)
    assert done.prev_status.value == "PENDING"
    worker = held["worker"]
    assert queues.queue("system").count == 0  # the worker had it, not the queue

    # The worker lets go without running it; the job stays CANCELLED.
    wait_for(lambda: [w for w in live_workers("system") if w.name == worker.name and not w.current_job_id
                      and w.state == "idle"], message="the worker let go of the job")
    assert status(job.id) == "CANCELLED"
    assert [m[0] for m in messages(job.id)] == ["PENDING", "CANCELLED"]  # never taken, never started
    assert launch.get_job(job.id).started_at is None
    (w,) = live_workers("system")
    assert w.name == worker.name and w.jobs_done == 0 and w.jobs_failed == 0
    q = queues.queue("system")
    # RQ clears its started registry as the worker finishes the take, a moment after it reads idle.
    wait_for(lambda: queues.redis_conn().llen(q.intermediate_queue_key) == 0 and q.started_job_registry.count == 0,
             message="RQ's lists let go of the job")
    # ... and takes the next job.
    nxt = launch.launch_job(actor=root, job_type="SYSTEM", job_subtype="NOOP", payload={})
    wait_for(lambda: status(nxt.id) == "SUCCEEDED")
    assert launch.get_job(nxt.id).worker == worker.name


def test_a_handler_that_ignores_a_cancel_costs_its_worker_and_stays_cancelled(users, pools):
    root = users["root"]
    set_backend("system", max_workers=1, idle_timeout_s=60)
    pools("--backends", "system")
    job = launch.launch_job(actor=root, job_type="SYSTEM", job_subtype="NOOP",
                            payload={"sleep_s": 60, "ignore_halt": True})
    wait_for(lambda: status(job.id) == "IN_PROGRESS")
    stubborn = _holder(job.id)
    launch.cancel_job(actor=root, job_id=job.id)
    # The halt is ignored: past the grace the worker process exits, and the pool sees it die.
    wait_for(lambda: next((w for w in list_workers(backend="system") if w.name == stubborn.name
                           and w.state == "dead"), None), message="the stubborn worker was replaced")
    (gone,) = [w for w in list_workers(backend="system") if w.name == stubborn.name]
    assert gone.exit_reason == f"exited: job {job.id} did not stop (cancelled)"
    assert status(job.id) == "CANCELLED"
    assert [m[0] for m in messages(job.id)] == ["PENDING", "DEQUEUED", "IN_PROGRESS", "CANCELLED"]
    # The pool starts another worker for the next job.
    nxt = launch.launch_job(actor=root, job_type="SYSTEM", job_subtype="NOOP", payload={})
    wait_for(lambda: status(nxt.id) == "SUCCEEDED", timeout=20)
    assert launch.get_job(nxt.id).worker != stubborn.name
    assert status(job.id) == "CANCELLED"  # the reaper found nothing to add


def test_a_handler_that_ignores_its_time_limit_costs_its_worker_and_is_crashed(users, pools):
    root = users["root"]
    set_backend("system", max_workers=1, idle_timeout_s=60, job_timeout_s=1)
    pool = pools("--backends", "system")
    job = launch.launch_job(actor=root, job_type="SYSTEM", job_subtype="NOOP",
                            payload={"sleep_s": 60, "ignore_halt": True})
    wait_for(lambda: status(job.id) == "IN_PROGRESS")
    stubborn = _holder(job.id)
    wait_for(lambda: status(job.id) == "CRASHED", timeout=20, message="recorded CRASHED")
    done = launch.get_job(job.id)
    assert done.info == (f"Timed out after 1 s: the job was stopped. It did not respond, so its worker "
                         f"{stubborn.name} on host {stubborn.host} was stopped; the pool starts another.")
    assert [m[0] for m in messages(job.id)] == ["PENDING", "DEQUEUED", "IN_PROGRESS", "CRASHED"]  # NOOP: no retry
    wait_for(lambda: next((w for w in list_workers(backend="system") if w.name == stubborn.name
                           and w.state == "dead"), None), message="the stubborn worker exited")
    (gone,) = [w for w in list_workers(backend="system") if w.name == stubborn.name]
    assert gone.exit_reason == f"exited: job {job.id} did not stop (timeout)"
    nxt = launch.launch_job(actor=root, job_type="SYSTEM", job_subtype="NOOP", payload={})
    wait_for(lambda: status(nxt.id) == "SUCCEEDED", timeout=20)
    assert launch.get_job(nxt.id).worker != stubborn.name
    assert len([m for m in messages(job.id) if m[0] == "CRASHED"]) == 1  # recorded once, not by the reaper too
    assert f"exited: exit code {HARD_EXIT_CODE}" in pool.text()
