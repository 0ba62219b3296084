"""A task's environment variables, automatic retries and software version: each refused
naming its field (through the API and the domain) with nothing half-written; the
variables reach the command's process without a shell; a failed step is retried as
often as its task says, through the job's retry policy (also by the sweep when its
worker died before the retry); each step's record names the definition it ran."""

from __future__ import annotations

import pytest
from sqlmodel import select

from app import pipelines, records, retries
from app.db import session
from app.errors import InvalidInput
from app.jobtypes import RetryPolicy
from app.models import JobMessage
from tests.conftest import run_workers

TEXT = b"one\ntwo\nthree\n"
BASE = {"name": "env echo", "command": "printenv GREETING"}


def problem_of(r, status):
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    return r.json()


@pytest.mark.parametrize("extra, field, words", [
    ({"environment": {"1BAD": "x"}}, "environment", "'1BAD' is not a variable name"),
    ({"environment": {"BAD-NAME": "x"}}, "environment", "is not a variable name"),
    ({"environment": {"BIG": "x" * 4001}}, "environment.BIG", "is 4001 characters; at most 4000"),
    ({"environment": {"LINE": "a\nb"}}, "environment.LINE", "environment.LINE"),
    ({"environment": {"HOME": "/root"}}, "environment.HOME", "set by the worker"),
    ({"environment": {"JOBDECK_SECRET_KEY": "x"}}, "environment.JOBDECK_SECRET_KEY", "set by the worker"),
    ({"environment": {f"V{i}": "x" for i in range(51)}}, "environment", "at most 50"),
    ({"retries": -1}, "retries", "from 0 to 10"),
    ({"retries": 11}, "retries", "from 0 to 10"),
    ({"software_version": "v\x01"}, "software_version", "software_version"),
])
def test_bad_environment_retries_and_version_answer_4xx_naming_the_field(api, extra, field, words):
    root = api.as_("root")
    body = problem_of(api.post("/api/tasks", json={**BASE, **extra}, headers=root), 422)
    assert body["field"].removeprefix("body.") == field, body  # the request's shape, or the domain's rule
    assert words in body["detail"], body
    assert api.get("/api/tasks", headers=root).json() == []  # nothing half-written


def test_a_refused_change_leaves_the_task_as_it_was(api):
    root = api.as_("root")
    made = api.post("/api/tasks", headers=root, json={**BASE, "environment": {"GREETING": "hi"}, "retries": 2,
                                                      "software_version": "coreutils 9.1"})
    assert made.status_code == 201, made.text
    task = made.json()
    assert (task["environment"], task["retries"], task["software_version"]) == ({"GREETING": "hi"}, 2,
                                                                                "coreutils 9.1")
    bad = problem_of(api.put(f"/api/tasks/{task['id']}", headers=root,
                             json={**BASE, "command": "printenv OTHER", "environment": {"GREETING": "y" * 5000}}),
                     422)
    assert bad["field"] == "environment.GREETING"
    assert problem_of(api.put(f"/api/tasks/{task['id']}", headers=root, json={**BASE, "retries": -3}),
                      422)["field"] == "retries"
    assert api.get(f"/api/tasks/{task['id']}", headers=root).json() == task


def test_the_domain_refuses_as_the_api_does(users):
    root = users["root"]
    with pytest.raises(InvalidInput) as err:
        pipelines.create_task(actor=root, **BASE, environment={"OK": "1", "2X": "y"})
    assert err.value.field == "environment"
    with pytest.raises(InvalidInput) as err:
        pipelines.create_task(actor=root, **BASE, retries=True)
    assert err.value.field == "retries"
    assert pipelines.list_tasks(actor=root) == []


def _history(job_id: str) -> list[str]:
    with session() as s:
        return [m.text for m in s.exec(select(JobMessage).where(JobMessage.job_id == job_id).order_by(JobMessage.id))]


def test_the_environment_reaches_the_command_without_a_shell_and_the_record_names_the_version(users):
    root, alice = users["root"], users["alice"]
    value = "hello $(touch /tmp/jobdeck-no) `id` ; world"
    pipelines.create_task(actor=root, name="env echo", command="printenv GREETING",
                          environment={"GREETING": value, "LC_ALL": "C"}, software_version="coreutils 9.1")
    info = pipelines.create_pipeline(actor=root, name="Greeting", steps=[{"order": 1, "task": "env echo"}])
    job = pipelines.run_pipeline(actor=alice, pipeline=info.id, file_name="a.txt", content=TEXT, parameters={})
    run_workers()
    step = pipelines.run_steps(job.id)[0]
    assert step.status == "SUCCEEDED", step.info
    assert step.result["stdout"] == value + "\n"  # as given: no shell expanded it
    assert "Environment: GREETING, LC_ALL set by the task" in _history(step.id)
    task = records.record_for(alice, step.id).code["task"]
    assert task["software_version"] == "coreutils 9.1"
    assert task["environment"] == {"GREETING": value, "LC_ALL": "C"}

    # Changed: the next run runs the new definition, the first run's record keeps the old one.
    t = next(x for x in pipelines.list_tasks(actor=root) if x.name == "env echo")
    pipelines.update_task(actor=root, task_id=t.id, name="env echo", command="printenv GREETING",
                          environment={"GREETING": "changed"}, software_version="coreutils 9.4")
    again = pipelines.run_pipeline(actor=alice, pipeline=info.id, file_name="a.txt", content=TEXT, parameters={})
    run_workers()
    second = pipelines.run_steps(again.id)[0]
    assert second.result["stdout"] == "changed\n"
    assert records.record_for(alice, second.id).code["task"]["software_version"] == "coreutils 9.4"
    first = records.record_for(alice, step.id).code["task"]
    assert first["software_version"] == "coreutils 9.1" and first["environment"]["GREETING"] == value


def _fast(monkeypatch):
    """The task's retries without the wait between attempts (the count is what is tested)."""
    real = retries.retry_policy_of

    def fast(spec, payload=None):
        p = real(spec, payload)
        return RetryPolicy(max_attempts=p.max_attempts, backoff_s=0.0, on=p.on)
    monkeypatch.setattr(retries, "retry_policy_of", fast)


def test_a_failed_step_is_retried_as_often_as_its_task_says(users, monkeypatch):
    root, alice = users["root"], users["alice"]
    _fast(monkeypatch)
    pipelines.create_task(actor=root, name="always fails", command="false", retries=2)
    pipelines.create_task(actor=root, name="no retries", command="false")
    info = pipelines.create_pipeline(actor=root, name="Failing", steps=[{"order": 1, "task": "always fails"},
                                                                        {"order": 1, "task": "no retries"}])
    job = pipelines.run_pipeline(actor=alice, pipeline=info.id, file_name="a.txt", content=TEXT, parameters={})
    assert job.payload["retries"] == 2
    run_workers()
    retried, once = pipelines.run_steps(job.id)
    assert (retried.status, retried.attempt) == ("FAILED", 3)
    assert (once.status, once.attempt) == ("FAILED", 1)
    said = _history(retried.id)
    assert any(m.startswith("Retrying automatically after FAILED: attempt 2 of 3") for m in said)
    assert any(m.startswith("Retrying automatically after FAILED: attempt 3 of 3") for m in said)
    assert not any(m.startswith("Retrying automatically") for m in _history(once.id))


def test_the_sweep_retries_a_step_whose_worker_died_before_its_retry(users, monkeypatch):
    from worker import runner

    root, alice = users["root"], users["alice"]
    _fast(monkeypatch)
    pipelines.create_task(actor=root, name="always fails", command="false", retries=1)
    pipelines.create_task(actor=root, name="no retries", command="false")
    info = pipelines.create_pipeline(actor=root, name="Failing", steps=[{"order": 1, "task": "always fails"},
                                                                        {"order": 1, "task": "no retries"}])
    job = pipelines.run_pipeline(actor=alice, pipeline=info.id, file_name="a.txt", content=TEXT, parameters={})
    with monkeypatch.context() as m:
        m.setattr(runner, "retry_if_due", lambda done: None)  # the worker died right after FAILED
        run_workers()
    assert [(j.status, j.attempt) for j in pipelines.run_steps(job.id)] == [("FAILED", 1), ("FAILED", 1)]
    assert retries.sweep_missed(older_than_s=0) == 1  # the step with retries left, not the other
    run_workers()
    assert [(j.status, j.attempt) for j in pipelines.run_steps(job.id)] == [("FAILED", 2), ("FAILED", 1)]
    assert retries.sweep_missed(older_than_s=0) == 0  # none left
