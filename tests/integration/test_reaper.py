"""Crash, time-out and stuck-job detection with real pools and workers: a worker killed
with SIGKILL, a host that vanishes with its pool, a job over its time limit, a job a
dying worker had popped but not recorded, and jobs no worker can take."""

import os
import signal
import socket
import time

import sqlalchemy as sa

from app import launch, queues, retries
from app.db import session
from app.jobtypes import BACKENDS
from app.keys import queue_name, rq_job_id
from app.models import JobMessage
from app.workers import backend_unavailable, list_workers, stuck_jobs, stuck_reason
from tests.conftest import run_workers
from tests.pools import live_workers, messages, pools, set_backend, status, wait_for  # noqa: F401
from worker import reaper


def _flaky(root, **payload):
    return launch.launch_job(actor=root, job_type="SYSTEM", job_subtype="FLAKY",
                             payload={"fail_attempts": 0, **payload})


def _holder(job_id):
    return wait_for(lambda: next((w for w in live_workers() if w.current_job_id == job_id), None),
                    message=f"a worker holds {job_id}")


def test_killed_worker_job_is_crashed_naming_worker_and_host_then_retried(users, pools):
    root = users["root"]
    set_backend("system", max_workers=1, idle_timeout_s=30)
    pools("--backends", "system")
    job = _flaky(root, sleep_s=1.5)
    wait_for(lambda: status(job.id) == "IN_PROGRESS")
    w = _holder(job.id)
    os.kill(w.pid, signal.SIGKILL)
    killed_at = time.monotonic()
    wait_for(lambda: any(m[0] == "CRASHED" for m in messages(job.id)), message="the crash is recorded")
    print(f"crash of a SIGKILLed worker recorded in {time.monotonic() - killed_at:.2f} s")
    (crash,) = [m for m in messages(job.id) if m[0] == "CRASHED"]
    assert crash[1] == 1 and w.name in crash[2] and f"on host {w.host}" in crash[2]
    assert "killed by signal 9" in crash[2]
    # CRASHED is retried by FLAKY's policy: attempt 2 runs on a new worker and succeeds
    wait_for(lambda: status(job.id) == "SUCCEEDED", timeout=20)
    done = launch.get_job(job.id)
    assert done.attempt == 2 and done.worker != w.name
    assert [m[0] for m in messages(job.id)] == ["PENDING", "DEQUEUED", "IN_PROGRESS", "CRASHED", "PENDING",
                                                "DEQUEUED", "IN_PROGRESS", "SUCCEEDED"]
    (dead,) = [x for x in list_workers(backend="system") if x.name == w.name]
    assert dead.state == "dead" and not dead.alive


def test_vanished_host_is_detected_by_missing_heartbeats(users, pools):
    root = users["root"]
    set_backend("system", max_workers=1, idle_timeout_s=30)
    host_a = pools("--backends", "system", "--no-housekeeping")
    pools("--backends", "registry")  # another host: serves no system jobs, runs the reaper
    job = launch.launch_job(actor=root, job_type="SYSTEM", job_subtype="NOOP", payload={"sleep_s": 60})
    wait_for(lambda: status(job.id) == "IN_PROGRESS")
    w = _holder(job.id)
    host_a.kill()  # the host goes: pool and worker, nobody left to say so
    os.kill(w.pid, signal.SIGKILL)
    gone_at = time.monotonic()
    wait_for(lambda: status(job.id) == "CRASHED", timeout=30, message="the reaper saw the silence")
    print(f"vanished worker detected in {time.monotonic() - gone_at:.2f} s (time-to-live 4 s)")
    text = launch.get_job(job.id).last_message
    assert f"worker {w.name} on host {w.host} stopped sending heartbeats" in text
    (lost,) = [x for x in list_workers(backend="system") if x.name == w.name]
    assert lost.state == "lost"


def test_job_over_its_time_limit_is_stopped_and_marked_crashed(users, pools):
    root = users["root"]
    set_backend("system", max_workers=1, idle_timeout_s=30, job_timeout_s=1)
    pools("--backends", "system")
    job = launch.launch_job(actor=root, job_type="SYSTEM", job_subtype="NOOP", payload={"sleep_s": 60})
    wait_for(lambda: status(job.id) == "CRASHED", timeout=15)
    done = launch.get_job(job.id)
    assert done.last_message == "Timed out after 1 s: the job was stopped." == done.info
    assert (done.finished_at - done.started_at).total_seconds() < 30
    # the worker itself lives on and takes the next job
    nxt = launch.launch_job(actor=root, job_type="SYSTEM", job_subtype="NOOP", payload={})
    wait_for(lambda: status(nxt.id) == "SUCCEEDED")
    assert launch.get_job(nxt.id).worker == done.worker
    (w,) = live_workers("system")
    assert w.jobs_failed == 1 and w.jobs_done == 1


def test_job_popped_by_a_worker_that_died_is_queued_again(users):
    root = users["root"]
    conn = queues.redis_conn()
    q = queues.queue("system")
    # a worker popped one job (RQ moved it to its intermediate list) and died before starting it
    popped = launch.launch_job(actor=root, job_type="SYSTEM", job_subtype="NOOP", payload={})
    conn.lmove(q.key, q.intermediate_queue_key)
    # another started one (RQ marked it started, by a worker that no longer beats) and died
    started = launch.launch_job(actor=root, job_type="SYSTEM", job_subtype="NOOP", payload={})
    rq_id = rq_job_id(started.id, 1)
    conn.lrem(q.key, 0, rq_id)
    conn.hset(f"rq:job:{rq_id}", mapping={"status": "started", "worker_name": "system-1-dead@elsewhere"})
    conn.zadd(f"rq:wip:{queue_name('system')}", {f"{rq_id}:exec1": time.time() + 600})
    conn.hset("jobdeck:worker:system-1-dead@elsewhere", mapping={"state": "dead", "host": "elsewhere"})
    assert q.count == 0 and launch.reconcile_pending(grace_s=0) == 0  # RQ holds both: the reconciler waits
    seen: dict = {}
    assert reaper.recover_lost_takes(BACKENDS, seen=seen) == 1  # the started one; the popped one is noted
    time.sleep(0.05)
    assert reaper.recover_lost_takes(BACKENDS, seen=seen) == 1  # the popped one, seen twice
    assert q.count == 2
    run_workers()
    for job in (popped, started):
        assert status(job.id) == "SUCCEEDED"
        assert any(m[2].startswith("Queued again: ") for m in messages(job.id))


def test_stuck_jobs_carry_a_warning_with_the_reason(users, pools):
    root = users["root"]
    # no pool serves "system": the reason says so (the job page asks live)
    job = launch.launch_job(actor=root, job_type="SYSTEM", job_subtype="NOOP", payload={})
    time.sleep(1.1)  # JOBDECK_STUCK_AFTER_S is 1 in these tests
    job = launch.get_job(job.id)
    assert "No worker pool serves backend 'system'" in stuck_reason(job=job)
    # a pool serves it but its maximum is 0 workers
    set_backend("system", max_workers=0, idle_timeout_s=30)
    pools("--backends", "system")
    reason = "Backend 'system' is set to 0 workers"
    wait_for(lambda: any(m[0] == "PENDING" and reason in m[2] for m in messages(job.id)), timeout=20,
             message="the housekeeper warned the job")
    assert reason in stuck_reason(job=launch.get_job(job.id))
    (stuck,) = stuck_jobs()
    assert stuck.job.id == job.id and reason in stuck.reason and stuck.waiting_s >= 1
    assert launch.get_job(job.id).last_message.startswith("Stuck: " + reason)
    time.sleep(6)  # more housekeeping passes: the warning is given once
    with session() as s:
        warnings = s.exec(sa.select(sa.func.count()).select_from(JobMessage).where(
            JobMessage.job_id == job.id, JobMessage.level == "warning")).one()[0]
    assert warnings == 1
    assert live_workers() == [] and status(job.id) == "PENDING"
    # an admin raises the maximum: the job runs and is no longer stuck
    set_backend("system", max_workers=1)
    wait_for(lambda: status(job.id) == "SUCCEEDED", timeout=20)
    assert stuck_reason(job=launch.get_job(job.id)) is None and stuck_jobs() == []
    assert backend_unavailable(backend="system") is None


def test_with_redis_away_the_stuck_reason_says_so(users, monkeypatch):
    monkeypatch.setenv("JOBDECK_REDIS_URL", f"redis://127.0.0.1:{_closed_port()}/0")
    from app.settings import reload_settings

    reload_settings()
    queues.reset_connections()
    assert "Redis" in backend_unavailable(backend="system")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_missed_retry_is_swept(users):
    from app import lifecycle
    from app.lifecycle import JobStatus, Move

    root = users["root"]
    job = _flaky(root)
    # what a worker that died right after recording the failure leaves behind
    lifecycle.transition_steps(job.id, [Move(JobStatus.DEQUEUED, "Taken by worker w@h"),
                                        Move(JobStatus.IN_PROGRESS, "Started"),
                                        Move(JobStatus.FAILED, "Failed: died before the retry")])
    queues.queue("system").empty()
    assert retries.sweep_missed(older_than_s=0) == 1
    assert retries.sweep_missed(older_than_s=0) == 0
    j = launch.get_job(job.id)
    assert j.status == "PENDING" and j.attempt == 2
    assert retries.scheduled_count("system") == 1


def test_a_job_queued_again_and_run_at_once_keeps_one_final_line(users, monkeypatch):
    # The reaper queues again a job a dead worker had popped; an idle worker takes it and
    # ends it before the reaper writes its note (the reaper's process was slow to get
    # the CPU back). The note belongs to the PENDING job it queued, not to its end.
    import app.queueing

    root = users["root"]
    conn = queues.redis_conn()
    q = queues.queue("system")
    popped = launch.launch_job(actor=root, job_type="SYSTEM", job_subtype="NOOP", payload={})
    conn.lmove(q.key, q.intermediate_queue_key)
    real_enqueue = app.queueing.enqueue

    def enqueue_and_run(lodged):
        ok = real_enqueue(lodged)
        run_workers()
        return ok

    monkeypatch.setattr(app.queueing, "enqueue", enqueue_and_run)
    seen: dict = {}
    assert reaper.recover_lost_takes(BACKENDS, seen=seen) == 0  # noted
    time.sleep(0.05)
    assert reaper.recover_lost_takes(BACKENDS, seen=seen) == 1
    assert status(popped.id) == "SUCCEEDED"
    with session() as s:
        lines = list(s.exec(sa.select(JobMessage.status, JobMessage.attempt, JobMessage.text)
                            .where(JobMessage.job_id == popped.id).order_by(JobMessage.id)))
    again = [ln for ln in lines if ln.text.startswith("Queued again: ")]
    assert [(ln.status, ln.attempt) for ln in again] == [("PENDING", 1)], lines
    assert [ln.status for ln in lines].count("SUCCEEDED") == 1, lines
