"""The worker pool against a real Redis and real worker processes: workers start when a
backend's queue has work and stop after its idle timeout; several pools share a
backend's maximum; a wake-up pre-warms a backend; stopping the pool stops its workers
and halts what they still run; the worker status admins see."""

import time

import pytest

from app import launch, queues
from app.errors import InvalidInput
from app.workers import backend_status, list_workers, redis_now, wake_backend
from tests.pools import live_workers, messages, pool_looked_again, pools, set_backend, status, wait_for  # noqa: F401


def _noop(root, **payload):
    return launch.launch_job(actor=root, job_type="SYSTEM", job_subtype="NOOP", payload=payload)


def test_workers_start_on_demand_and_stop_when_idle(users, pools):
    root = users["root"]
    set_backend("system", max_workers=2, idle_timeout_s=1)
    pool = pools("--backends", "system")
    wait_for(lambda: [b for b in backend_status() if b.name == "system" and b.served_by], message="pool up")
    assert live_workers() == []  # nothing to do: no worker
    t0 = time.monotonic()
    job = _noop(root)
    wait_for(lambda: status(job.id) == "SUCCEEDED", message="the job ran")
    print(f"from zero workers: lodged to SUCCEEDED in {time.monotonic() - t0:.2f} s")
    # a worker counts its job once its end has committed: a moment after the row says so
    (w,) = wait_for(lambda: [w for w in list_workers() if w.backend == "system" and w.jobs_done == 1],
                    message="the worker counted its job")
    assert [x.name for x in list_workers() if x.backend == "system"] == [w.name]
    assert w.pid and w.host and w.name.startswith("system-") and w.jobs_failed == 0
    assert w.last_heartbeat is not None
    assert messages(job.id)[1][2] == f"Taken by worker {w.name}"
    # idle for 1 s: the worker stops by itself, down to zero
    wait_for(lambda: not live_workers(), message="the idle worker stopped")
    (gone,) = list_workers(backend="system")
    assert gone.state == "stopped" and gone.exit_reason == "idle timeout"
    # and a new job starts a new one
    again = _noop(root, outcome="fail")
    wait_for(lambda: status(again.id) == "FAILED")
    busy = wait_for(lambda: [w for w in list_workers(backend="system") if w.jobs_failed == 1],
                    message="a new worker counted the failed job")
    assert len(busy) == 1 and busy[0].name != w.name
    assert pool.stop() == 0


def test_pools_on_three_hosts_never_start_more_than_the_maximum(users, pools):
    """Each pool may start one worker, the backend allows two: the hosts share the two
    slots (Redis), so two of them serve and the third starts none while both are busy."""
    root = users["root"]
    set_backend("system", max_workers=2, idle_timeout_s=30)
    for host in ("host-a", "host-b", "host-c"):
        pools("--backends", "system", "--workers", "1", host=host)
    # long enough to be seen running (a shorter one may record its start with its end)
    jobs = [_noop(root, sleep_s=0.8) for _ in range(10)]
    most_workers = most_running = 0

    def all_done_sampling_the_most_at_once() -> bool:
        nonlocal most_workers, most_running
        most_workers = max(most_workers, len(live_workers("system")))
        statuses = [status(j.id) for j in jobs]
        most_running = max(most_running, statuses.count("IN_PROGRESS") + statuses.count("DEQUEUED"))
        return set(statuses) == {"SUCCEEDED"}

    wait_for(all_done_sampling_the_most_at_once, timeout=30, message="the ten jobs ran")
    assert most_workers == 2 and most_running == 2
    served = {w.host for w in list_workers(backend="system") if w.jobs_done}
    assert len(served) >= 2 and served <= {"host-a", "host-b", "host-c"}  # one worker per pool: two hosts took part


def test_a_change_of_a_backend_reaches_the_workers_already_running(users, pools):
    """Workers forked with the old settings follow an admin's change too: a lower
    maximum stops the idle workers past it, 0 pauses the backend, a shorter idle
    timeout stops a worker that waits."""
    root = users["root"]
    set_backend("system", max_workers=2, idle_timeout_s=300)
    pool = pools("--backends", "system")
    first = [_noop(root, sleep_s=1) for _ in range(2)]
    wait_for(lambda: len(live_workers("system")) == 2, message="two workers for two jobs")
    wait_for(lambda: {status(j.id) for j in first} == {"SUCCEEDED"})

    set_backend("system", max_workers=1)
    wait_for(lambda: len(live_workers("system")) == 1, timeout=20, message="one worker gave way")
    (gave_way,) = [w for w in list_workers(backend="system") if not w.alive]
    assert gave_way.exit_reason == "backend system now has at most 1 worker(s)"

    set_backend("system", max_workers=0)
    wait_for(lambda: not live_workers("system"), timeout=20, message="the paused backend's idle worker stopped")
    assert {w.exit_reason for w in list_workers(backend="system")} == {
        "backend system now has at most 1 worker(s)", "backend system is paused (max workers 0)"}
    held = _noop(root)
    since = redis_now(queues.redis_conn())  # the job is on its queue
    assert pool_looked_again(pool, since) == 0  # the pool saw the job and started nobody: paused
    assert status(held.id) == "PENDING" and not live_workers("system")

    set_backend("system", max_workers=1)
    wait_for(lambda: status(held.id) == "SUCCEEDED", timeout=20, message="resumed, the job ran")
    (worker,) = live_workers("system")
    set_backend("system", idle_timeout_s=1)  # it was forked to wait 300 s
    wait_for(lambda: not live_workers("system"), timeout=20, message="the shorter idle timeout applied")
    (stopped,) = [w for w in list_workers(backend="system") if w.name == worker.name]
    assert stopped.exit_reason == "idle timeout"


def test_wake_up_prewarms_a_backend(users, pools):
    alice = users["alice"]
    set_backend("system", max_workers=1, idle_timeout_s=30)
    with pytest.raises(InvalidInput, match="no wake-up job"):
        wake_backend(actor=alice, backend="nowhere")
    pools("--backends", "system")
    woke = wake_backend(actor=alice, backend="system")
    assert woke.job is not None and woke.job.job_subtype == "SYSTEM_WAKE_UP" and woke.job.owner == "alice"
    wait_for(lambda: status(woke.job.id) == "SUCCEEDED")
    assert "is awake on" in launch.get_job(woke.job.id).info
    wait_for(lambda: [w for w in live_workers("system") if w.state == "idle"], message="an idle worker")
    again = wake_backend(actor=alice, backend="system")
    assert again.job is None and "awake already" in again.message


def test_stopping_the_pool_stops_idle_workers_and_halts_running_jobs(users, pools):
    root = users["root"]
    set_backend("system", max_workers=2, idle_timeout_s=60)
    pool = pools("--backends", "system")
    long = launch.launch_job(actor=root, job_type="SYSTEM", job_subtype="FLAKY",
                             payload={"fail_attempts": 0, "sleep_s": 60})
    wait_for(lambda: status(long.id) == "IN_PROGRESS")
    quick = _noop(root)
    wait_for(lambda: status(quick.id) == "SUCCEEDED")
    assert len(live_workers("system")) == 2
    t0 = time.monotonic()
    assert pool.stop() == 0  # grace 1 s, then the running job is halted
    print(f"pool stopped in {time.monotonic() - t0:.2f} s with a 60 s job running")
    assert live_workers() == []
    job = launch.get_job(long.id)
    # the halt is a crash, so FLAKY's policy gives it another attempt, queued for the next pool
    assert job.status == "PENDING" and job.attempt == 2
    crashed = [m for m in messages(long.id) if m[0] == "CRASHED"]
    assert len(crashed) == 1 and "shut down before the job finished" in crashed[0][2]
    assert {w.state for w in list_workers(backend="system")} == {"stopped"}
    assert "pool" in pool.text() and "stopped" in pool.text()
    launch.cancel_job(actor=root, job_id=long.id)


def test_a_pause_holds_every_job_lodged_after_it_and_a_resume_reaches_the_pool_at_once(users, pools):
    """Save returns, then a job is lodged at once: the idle worker that pops it puts it
    back and stops, so it stays PENDING on its queue. A resume is announced to the pool
    (which here reads the settings on its own only once an hour), so the job runs."""
    from app import queues
    from app.backends import update_backend

    root = users["root"]
    set_backend("system", max_workers=2, idle_timeout_s=300)
    pools("--backends", "system", "--settings-every", "3600")
    warm = _noop(root)
    wait_for(lambda: status(warm.id) == "SUCCEEDED", message="a worker ran the first job")
    (idle,) = wait_for(lambda: [w for w in live_workers("system") if w.state == "idle"], message="an idle worker")

    t0 = time.monotonic()
    update_backend(actor=root, name="system", max_workers=0)
    held = [_noop(root) for _ in range(3)]  # lodged the moment Save returned
    wait_for(lambda: not live_workers("system"), message="the idle worker stopped")
    print(f"paused: the idle worker stopped {time.monotonic() - t0:.2f} s after Save")
    # the idle worker stopped for the pause; on a loaded machine the pool may have
    # started a second one for the first job meanwhile, which stops for the same reason
    gone = {w.name: w for w in list_workers(backend="system")}
    assert idle.name in gone and len(gone) <= 2
    assert {w.exit_reason for w in gone.values()} == {"backend system is paused (max workers 0)"}
    assert [status(j.id) for j in held] == ["PENDING"] * 3
    assert [m[0] for j in held for m in messages(j.id)] == ["PENDING"] * 3  # never taken
    rq_ids = [i.decode() for i in queues.redis_conn().lrange(queues.queue("system").key, 0, -1)]
    assert rq_ids == [f"{j.id}-a1" for j in held]  # all three on the queue, in their order
    time.sleep(1)  # nothing else takes them meanwhile
    assert not live_workers("system") and [status(j.id) for j in held] == ["PENDING"] * 3

    t0 = time.monotonic()
    update_backend(actor=root, name="system", max_workers=1)
    wait_for(lambda: all(status(j.id) == "SUCCEEDED" for j in held), timeout=20, message="resumed, the jobs ran")
    print(f"resumed: the jobs ran {time.monotonic() - t0:.2f} s after Save")
    first = launch.get_job(held[0].id)
    assert first.started_at <= launch.get_job(held[1].id).started_at <= launch.get_job(held[2].id).started_at


def test_a_worker_slow_to_start_looks_at_its_queue_before_its_idle_timeout_counts(jobdeck):
    """The idle timeout counts from when a worker is ready to take a job, not from its fork:
    on a loaded host a start can outlast a 1 s timeout, and the worker started for a
    waiting job must not stop before it has looked at its queue."""
    from worker.heartbeat import Life

    set_backend("system", max_workers=2, idle_timeout_s=1)
    life = Life(backend="system", max_workers=2, name="system-slow-start", idle_timeout_s=1)
    time.sleep(1.2)  # the imports and connections of a slow start
    life.idle()  # ready: about to look at its queues
    assert life.why_stop(time.monotonic()) is None
    time.sleep(1.1)
    assert life.why_stop(time.monotonic()) == "idle timeout"
