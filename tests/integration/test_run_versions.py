"""A pipeline run keeps the version of its tasks it was lodged with, against a real Redis
server and real RQ workers: a task edited (command, environment, software version)
while a run is under way changes nothing of that run (a step waiting on its queue, a
step not yet lodged), each step's record names the version it ran, and the runs the
task's form listed as under way are exactly those; a run lodged after the save runs
the new one; a step retried after its task was fixed runs the run's version again and
says so; a step whose payload carries no version (a run lodged before runs kept them)
runs its task as saved, its record's sha256 that of the same definition kept by a
run; a version whose backend was deleted since waits on its task's backend now; a
schedule's firing and Run again take the version saved when each is lodged; a step
lodged directly may not bring a version of its own."""

from __future__ import annotations

import signal

import pytest
import sqlalchemy as sa
from sqlmodel import select

from app import backends, compare, launch, pipelines, records, runs
from app.db import session, write_conn
from app.models import Job, JobMessage
from tests.conftest import run_workers

TEXT = b"alpha\nbeta\n"
LATER = "later"  # a backend run_workers leaves alone: its steps wait until the test runs them


def _history(job_id: str) -> list[str]:
    with session() as s:
        return [m.text for m in s.exec(select(JobMessage).where(JobMessage.job_id == job_id).order_by(JobMessage.id))]


def _run_backend(name: str) -> None:
    """Run one backend's queues dry with the project's worker, as run_workers does the
    job types' backends (its signal handlers put back afterwards)."""
    from worker.pool import work

    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1)}
    try:
        work(burst=True, backends=[name])
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


def _two_steps(root):
    """A pipeline of two orders: a copy on the pipeline backend, then a greeting on LATER."""
    backends.create_backend(actor=root, name=LATER, max_workers=1)
    pipelines.create_task(actor=root, name="copy", command="cp {input} {output_dir}/copy.txt", output_glob="*.txt")
    greet = pipelines.create_task(actor=root, name="greet", backend=LATER, command="printenv GREETING",
                                  environment={"GREETING": "hello v1"}, software_version="greeter 1")
    info = pipelines.create_pipeline(actor=root, name="Greeting", steps=[{"order": 1, "task": "copy"},
                                                                          {"order": 2, "task": "greet"}])
    return info, greet


def _edit_greet(root, greet) -> None:
    pipelines.update_task(actor=root, task_id=greet.id, name="greet", backend=LATER, command="printenv FAREWELL",
                          environment={"FAREWELL": "bye v2"}, software_version="greeter 2")


def test_a_run_under_way_runs_the_version_it_was_lodged_with_and_a_new_run_the_new_one(users):
    root, alice = users["root"], users["alice"]
    info, greet = _two_steps(root)

    # Run A: step 1 done, step 2 lodged and waiting. Run B: lodged, step 1 not yet run.
    a = pipelines.run_pipeline(actor=alice, pipeline=info.id, file_name="a.txt", content=TEXT, parameters={})
    run_workers()
    a_copy, a_greet = pipelines.run_steps(a.id)
    assert (a_copy.status, a_greet.status, a_greet.queue) == ("SUCCEEDED", "PENDING", LATER)
    b = pipelines.run_pipeline(actor=alice, pipeline=info.id, file_name="b.txt", content=TEXT, parameters={})
    kept = a.payload["tasks"][str(greet.id)]
    assert (kept["command"], kept["environment"], kept["software_version"]) == (
        "printenv GREETING", {"GREETING": "hello v1"}, "greeter 1")
    assert a_greet.payload["tasks"] == a.payload["tasks"] == b.payload["tasks"]  # every step carries them

    # What the task's form lists as the runs under way on the definition it is about to change.
    listed, n = runs.live_run_list(task_id=greet.id)
    assert n == 2 and {r.id for r in listed} == {a.id, b.id}
    _edit_greet(root, greet)

    run_workers()  # B's step 1; its step 2 is lodged after the save, from B's version
    _run_backend(LATER)
    for run in (a, b):
        first, second = pipelines.run_steps(run.id)
        assert (first.status, second.status) == ("SUCCEEDED", "SUCCEEDED"), second.info
        assert second.result["stdout"] == "hello v1\n"  # the old command and environment
        assert any(t.startswith("Running: printenv GREETING") for t in _history(second.id))
        assert ("Task greet was changed since this run was lodged; the step runs the version this run was "
                "lodged with (run the pipeline again for the new one).") in _history(second.id)
        told = records.record_for(alice, second.id).code["task"]
        assert (told["command"], told["environment"], told["software_version"]) == (
            "printenv GREETING", {"GREETING": "hello v1"}, "greeter 1")
    assert runs.live_run_list(task_id=greet.id) == ([], 0)

    # A run lodged after the save runs the new version, and its record says so.
    c = pipelines.run_pipeline(actor=alice, pipeline=info.id, file_name="c.txt", content=TEXT, parameters={})
    run_workers()
    _run_backend(LATER)
    c_greet = pipelines.run_steps(c.id)[1]
    assert c_greet.status == "SUCCEEDED" and c_greet.result["stdout"] == "bye v2\n"
    assert not any(t.startswith("Task greet was changed") for t in _history(c_greet.id))
    new = records.record_for(alice, c_greet.id).code["task"]
    assert (new["command"], new["environment"], new["software_version"]) == (
        "printenv FAREWELL", {"FAREWELL": "bye v2"}, "greeter 2")
    old = records.record_for(alice, pipelines.run_steps(a.id)[1].id).code["task"]
    assert old["sha256"] == records.record_for(alice, pipelines.run_steps(b.id)[1].id).code["task"]["sha256"]
    assert old["sha256"] != new["sha256"]


def test_a_step_retried_after_its_task_was_fixed_runs_the_run_s_version_and_a_new_run_the_fix(users):
    root, alice = users["root"], users["alice"]
    broken = pipelines.create_task(actor=root, name="tool", command="sh -c 'echo v1 broken >&2; exit 3'",
                                   software_version="tool 1")
    info = pipelines.create_pipeline(actor=root, name="Tool", steps=[{"order": 1, "task": "tool"}])
    run = pipelines.run_pipeline(actor=alice, pipeline=info.id, file_name="a.txt", content=TEXT, parameters={})
    run_workers()
    assert launch.get_job(run.id).status == "FAILED"

    pipelines.update_task(actor=root, task_id=broken.id, name="tool", command="echo fixed",
                          software_version="tool 2")
    launch.retry_job(actor=alice, job_id=run.id)
    run_workers()
    step = launch.get_job(run.id)
    # A run is one version from start to end: the retry ran the broken command again.
    assert (step.status, step.attempt) == ("FAILED", 2)
    assert step.info == "tool: sh exited with code 3; accepted: 0."
    said = _history(run.id)
    assert ("Task tool was changed since this run was lodged; the step runs the version this run was lodged "
            "with (run the pipeline again for the new one).") in said
    rec = records.record_for(alice, run.id)
    assert [a["attempt"] for a in rec.attempts] == [1, 2]
    assert (rec.code["task"]["command"], rec.code["task"]["software_version"]) == (
        "sh -c 'echo v1 broken >&2; exit 3'", "tool 1")

    # Running it again (the run card's Run again) lodges a new run with the fixed task.
    again = compare.run_again(actor=alice, job_id=run.id)
    run_workers()
    fixed = launch.get_job(again.id)
    assert fixed.status == "SUCCEEDED" and fixed.result["stdout"] == "fixed\n"
    assert records.record_for(alice, again.id).code["task"]["software_version"] == "tool 2"


def _without_versions(root_id: str) -> None:
    """Make a run's steps look lodged before runs kept their tasks: no `tasks` in their payloads."""
    with write_conn() as conn:
        t = Job.__table__
        for jid, payload in conn.execute(sa.select(t.c.id, t.c.payload).where(t.c.workflow_id == root_id)).all():
            conn.execute(sa.update(t).where(t.c.id == jid)
                         .values(payload={k: v for k, v in payload.items() if k != "tasks"}))


def test_a_step_whose_payload_carries_no_version_runs_its_task_as_saved(users):
    root, alice = users["root"], users["alice"]
    info, greet = _two_steps(root)
    kept = pipelines.run_pipeline(actor=alice, pipeline=info.id, file_name="a.txt", content=TEXT, parameters={})
    old = pipelines.run_pipeline(actor=alice, pipeline=info.id, file_name="b.txt", content=TEXT, parameters={})
    _without_versions(old.id)
    run_workers()
    _run_backend(LATER)
    # Same definition, read from the run's version or from the task: the same record, the same sha256.
    by_version = records.record_for(alice, pipelines.run_steps(kept.id)[1].id).code["task"]
    by_task = records.record_for(alice, pipelines.run_steps(old.id)[1].id).code["task"]
    assert by_version == by_task and by_version["software_version"] == "greeter 1"
    assert "retries" not in by_task and "description" not in by_task  # fields only there when set, as before

    # An edit reaches an old-style run's step not yet started, as it always did.
    again = pipelines.run_pipeline(actor=alice, pipeline=info.id, file_name="c.txt", content=TEXT, parameters={})
    _without_versions(again.id)
    _edit_greet(root, greet)
    run_workers()
    copy, second = pipelines.run_steps(again.id)
    assert not second.payload.get("tasks")  # lodged by an old-style step: old-style too
    _run_backend(LATER)
    second = launch.get_job(second.id)
    assert second.status == "SUCCEEDED" and second.result["stdout"] == "bye v2\n"
    assert not any(t.startswith("Task greet was changed") for t in _history(second.id))
    assert records.record_for(alice, second.id).code["task"]["software_version"] == "greeter 2"


def test_a_version_whose_backend_was_deleted_waits_on_its_task_s_backend_now(users):
    root, alice = users["root"], users["alice"]
    info, greet = _two_steps(root)
    run = pipelines.run_pipeline(actor=alice, pipeline=info.id, file_name="a.txt", content=TEXT, parameters={})
    # Moved before order 2 was lodged: the backend holds no task and no job, so it may go.
    pipelines.update_task(actor=root, task_id=greet.id, name="greet", backend="pipeline", command="printenv GREETING",
                          environment={"GREETING": "hello v1"}, software_version="greeter 1")
    backends.delete_backend(actor=root, name=LATER)
    run_workers()
    copy, second = pipelines.run_steps(run.id)
    assert second.queue == "pipeline" and second.status == "SUCCEEDED"
    assert second.payload["tasks"][str(greet.id)]["backend"] == LATER  # the run's version itself is kept whole
    assert second.result["stdout"] == "hello v1\n"


def test_a_schedule_s_firing_and_run_again_take_the_version_saved_when_each_is_lodged(users):
    from datetime import timedelta

    from app import schedules
    from app.db import utcnow
    from app.models import Schedule, ScheduleFiring

    root, alice = users["root"], users["alice"]
    info, greet = _two_steps(root)
    made = schedules.create_schedule(actor=root, name="greet nightly", pipeline="Greeting", parameters={},
                                     file_name="a.txt", content=TEXT, cron="0 3 * * *", owner="alice")
    due = utcnow().replace(microsecond=0) + timedelta(seconds=30)
    with write_conn() as conn:
        t = Schedule.__table__
        conn.execute(sa.update(t).where(t.c.id == made.id).values(next_at=due))
    schedules.fire_due(now=due + timedelta(milliseconds=200))
    with session() as s:
        fired = s.exec(select(ScheduleFiring).where(ScheduleFiring.schedule_id == made.id)).one()
    assert fired.outcome == "lodged"
    _edit_greet(root, greet)  # after the firing lodged its run, before any of its steps ran
    run_workers()
    _run_backend(LATER)
    assert pipelines.run_steps(fired.job_id)[1].result["stdout"] == "hello v1\n"

    again = compare.run_again(actor=alice, job_id=fired.job_id)
    run_workers()
    _run_backend(LATER)
    assert pipelines.run_steps(again.id)[1].result["stdout"] == "bye v2\n"


def test_a_step_lodged_directly_may_not_carry_a_version_of_its_task(users):
    """A service may lodge any job type: a version it sent would run a command no admin saved."""
    from app import auth
    from app.errors import InvalidInput

    root = users["root"]
    info, greet = _two_steps(root)
    svc = auth.create_user(username="svc", password="svc-password", role="service")
    run = pipelines.run_pipeline(actor=root, pipeline=info.id, file_name="a.txt", content=TEXT, parameters={})
    forged = {**run.payload, "tasks": {str(t): {**v, "command": "touch /tmp/jobdeck-forged"}
                                       for t, v in run.payload["tasks"].items()}}
    with pytest.raises(InvalidInput) as err:
        launch.launch_job(actor=svc, job_type="PIPELINE", job_subtype="RUN_TASK", payload=forged)
    assert err.value.field == "payload.tasks", err.value.message
    # Without one it is lodged as before, and runs the task as saved.
    plain = launch.launch_job(actor=svc, job_type="PIPELINE", job_subtype="RUN_TASK",
                              payload={k: v for k, v in run.payload.items() if k != "tasks"})
    assert not plain.payload.get("tasks")
