"""Pipelines against a real Redis server and real RQ workers: parallel steps and their
join, exit codes, time limits, templates refused, the upload limit, files kept with
their sha256, the join decided once (also when two steps finish at once, on SQLite and
PostgreSQL), and a cancelled run that lodges no later step."""

from __future__ import annotations

import hashlib
import os
import threading

import pytest
import sqlalchemy as sa
from sqlmodel import select

from app import compare, files, launch, lifecycle, pipelines, submissions
from app.db import get_engine, session, write_conn
from app.demo import DEMO_PIPELINES, DEMO_TASKS
from app.errors import Conflict, InvalidInput, NotFound, PayloadTooLarge, PermissionDenied
from app.payloads import RunTask
from app.lifecycle import JobStatus, Move
from app.models import TABLES, Job, JobFile, JobMessage
from app.settings import reload_settings
from tests.conftest import run_workers
from tests.pools import pools, status, wait_for  # noqa: F401

TEXT = b"the cat sat\non the mat\nthe end\n"


def _history(job_id: str) -> list[str]:
    with session() as s:
        return [m.text for m in s.exec(select(JobMessage).where(JobMessage.job_id == job_id).order_by(JobMessage.id))]


def _steps(root: str) -> list[Job]:
    return pipelines.run_steps(root)


def _demo(root_user) -> None:
    for t in DEMO_TASKS:
        pipelines.create_task(actor=root_user, **t)
    for name, description, steps in DEMO_PIPELINES:
        pipelines.create_pipeline(actor=root_user, name=name, description=description, steps=steps)


def _pipeline(admin, name: str, *orders: list[dict]) -> pipelines.PipelineInfo:
    """A pipeline of fresh tasks: each order a list of task settings."""
    steps = []
    for order, tasks in enumerate(orders, start=1):
        for t in tasks:
            pipelines.create_task(actor=admin, **t)
            steps.append({"order": order, "task": t["name"]})
    return pipelines.create_pipeline(actor=admin, name=name, steps=steps)


def test_text_summary_runs_two_steps_in_parallel_then_the_join(users):
    root, alice, bob = users["root"], users["alice"], users["bob"]
    _demo(root)
    (info,) = pipelines.list_pipelines(actor=alice)
    assert [[s.task for s in o] for o in info.orders] == [["line count", "sort lines"], ["word frequencies"]]
    assert [(p.name, p.default, p.required) for p in info.parameters] == [("top", "20", False)]

    job = pipelines.run_pipeline(actor=alice, pipeline="Text summary", file_name="notes.txt", content=TEXT,
                                 parameters={"top": 3})
    first = _steps(job.id)
    assert [(j.step, j.status) for j in first] == [(1, "PENDING"), (1, "PENDING")]
    count, sort = first if first[0].id == job.id else first[::-1]
    # the root is the submission; its parallel sibling is part of it, not a submission of its own
    assert count.parent_job_id is None and sort.parent_job_id == job.id and sort.workflow_id == job.id
    assert count.queue == sort.queue == "pipeline"
    upload = RunTask.model_validate(count.payload).upload
    assert upload.sha256 == hashlib.sha256(TEXT).hexdigest() and upload.size == len(TEXT)

    run_workers()
    steps = _steps(job.id)
    assert [(j.step, j.payload["task"], j.status) for j in steps] == [
        (1, "line count", "SUCCEEDED"), (1, "sort lines", "SUCCEEDED"), (2, "word frequencies", "SUCCEEDED")]
    count, sort, words = steps
    # the join: the order-2 step was lodged once, by whichever order-1 step finished last
    assert words.parent_job_id in (count.id, sort.id)
    last = launch.get_job(words.parent_job_id)
    assert "Last of order 1 to succeed: lodged order 2 (word frequencies)." in _history(last.id)
    assert "Pipeline Text summary complete: all 3 step(s) succeeded." in _history(words.id)

    # stdout in the history and the result; the command ran without a shell, on the stored upload
    assert any(t.startswith("Running: wc -l ") and t.endswith("notes.txt (time limit 60 s)")
               for t in _history(count.id))
    assert count.result["exit_code"] == 0 and count.result["stdout"].split()[0] == "3"
    assert any(t.startswith("stdout:\n3 ") for t in _history(count.id))
    assert count.result["files"] == []

    # files kept with their sha256, passed on as inputs, readable by the owner only
    (sorted_file,) = files.files_of(actor=alice, job_id=sort.id)
    jf, path = files.open_job_file(actor=alice, job_id=sort.id, name="sorted.txt")
    assert path.read_bytes() == b"on the mat\nthe cat sat\nthe end\n"
    assert jf.sha256 == hashlib.sha256(path.read_bytes()).hexdigest() and jf.size == len(TEXT)
    assert path.is_relative_to(pipelines.runs_dir() / job.id / sort.id)
    inputs = RunTask.model_validate(words.payload).inputs
    assert [(i.name, i.job_id, i.sha256) for i in inputs] == [("sorted.txt", sort.id, jf.sha256)]
    _, csv_path = files.open_job_file(actor=alice, job_id=words.id, name="word_frequencies.csv")
    assert csv_path.read_text().splitlines() == ["word,count", "the,3", "cat,1", "end,1"]
    assert words.result["files"][0]["sha256"] == hashlib.sha256(csv_path.read_bytes()).hexdigest()
    with pytest.raises(NotFound):
        files.open_job_file(actor=bob, job_id=words.id, name="word_frequencies.csv")

    # one submission: the whole run, seen by admins as one row
    sub = submissions.find_submission(submission_id=words.id)
    assert sub.root_job_id == job.id and set(sub.job_ids) == {count.id, sort.id, words.id}
    page = submissions.list_submissions(viewer=root, owner="alice")
    assert [(s.id, s.status, s.jobs) for s in page.submissions] == [(job.id, "SUCCEEDED", 3)]
    # deleting it removes the upload and every step's directory too
    assert (pipelines.runs_dir() / job.id / "upload" / "notes.txt").is_file()
    done = submissions.delete_submission(actor=root, submission_id=job.id)
    assert done.jobs_deleted == 3 and done.files_deleted == 2
    assert not (pipelines.runs_dir() / job.id).exists()


def test_a_refused_exit_code_fails_the_step_naming_it_a_retry_keeps_the_run_s_version_and_running_again_fixes_it(
        users):
    root, alice = users["root"], users["alice"]
    info = _pipeline(root, "Broken then fixed",
                     [{"name": "flaky tool", "command": "sh -c 'echo partial; echo broken >&2; exit 3'"},
                      {"name": "grep zebra", "command": "grep -c zebra {input}", "ok_exit_codes": "0,1"}],
                     [{"name": "after", "command": "cat {inputs}", "timeout_s": 30}])
    job = pipelines.run_pipeline(actor=alice, pipeline=info.id, file_name="animals.txt", content=TEXT, parameters={})
    run_workers()
    flaky, grep = _steps(job.id)
    assert flaky.status == "FAILED"
    assert flaky.info == "flaky tool: sh exited with code 3; accepted: 0."
    history = _history(flaky.id)
    assert "stdout:\npartial\n" in history and "stderr:\nbroken\n" in history
    with session() as s:
        warn = s.exec(select(JobMessage).where(JobMessage.job_id == flaky.id, JobMessage.text.startswith("stderr"))).one()
    assert warn.level == "warning"
    # grep found nothing (exit code 1), which this task accepts
    assert grep.status == "SUCCEEDED" and grep.result["exit_code"] == 1 and grep.result["stdout"] == "0\n"
    assert len(_steps(job.id)) == 2  # the failed step holds the next order back

    # an admin fixes the task; a retry of the failed step runs the run's version again
    # (a run is one version from start to end), and says why
    task = next(t for t in pipelines.list_tasks(actor=root) if t.name == "flaky tool")
    pipelines.update_task(actor=root, task_id=task.id, name="flaky tool", command="true")
    launch.retry_job(actor=alice, job_id=flaky.id)
    run_workers()
    again = launch.get_job(flaky.id)
    assert (again.status, again.attempt) == ("FAILED", 2)
    assert again.info == "flaky tool: sh exited with code 3; accepted: 0."
    assert ("Task flaky tool was changed since this run was lodged; the step runs the version this run was "
            "lodged with (run the pipeline again for the new one).") in _history(flaky.id)
    assert len(_steps(job.id)) == 2

    # running the pipeline again takes the fixed task, and that run carries on to the end
    new = compare.run_again(actor=alice, job_id=flaky.id)
    run_workers()
    steps = _steps(new.id)
    assert [(j.payload["task"], j.status, j.attempt) for j in steps] == [
        ("flaky tool", "SUCCEEDED", 1), ("grep zebra", "SUCCEEDED", 1), ("after", "SUCCEEDED", 1)]
    assert steps[2].parent_job_id in (steps[0].id, steps[1].id)


def test_a_step_past_its_time_limit_is_stopped_with_its_children(users):
    root, alice = users["root"], users["alice"]
    info = _pipeline(root, "Too slow", [{"name": "slow", "timeout_s": 1, "output_glob": "*",
                                         "command": "sh -c 'echo $$ > {output_dir}/pid; sleep 30 & wait'"}],
                     [{"name": "never", "command": "true"}])
    job = pipelines.run_pipeline(actor=alice, pipeline=info.id, file_name="x.txt", content=b"x", parameters={})
    run_workers()
    (slow,) = _steps(job.id)
    assert slow.status == "CRASHED" and slow.info == "Timed out after 1 s: the job was stopped."
    pid_file = pipelines.runs_dir() / job.id / slow.id / "a1" / "out" / "pid"
    pid = int(pid_file.read_text())
    with pytest.raises(ProcessLookupError):  # the shell and its sleep, stopped as a group
        os.kill(pid, 0)
    assert files.files_of(actor=alice, job_id=slow.id) == []  # a crashed step keeps nothing


BAD_TASKS = [
    (dict(command="wc -l {file}"), "command", "Unknown placeholder {file}"),
    (dict(command="wc -l '{input}"), "command", "cannot be split"),
    (dict(command="{input} --help"), "command", "must be written out"),
    (dict(command="cat --files={inputs}"), "command", "argument of its own"),
    (dict(command="printf {input:>10}"), "command", "not a plain placeholder"),
    (dict(command="awk {print}"), "command", "Unknown placeholder {print}"),
    (dict(command="   "), "command", "needs a command"),
    (dict(kind="handler", handler="os.system"), "handler", "No registered handler 'os.system'"),
    (dict(kind="script"), "kind", "kind must be one of"),
    (dict(ok_exit_codes="0,256"), "ok_exit_codes", "0 to 255"),
    (dict(timeout_s=0), "timeout_s", "from 1 to 86400"),
    (dict(backend="elsewhere"), "backend", "No backend 'elsewhere'"),
    (dict(output_glob="../*"), "output_glob", "without '..'"),
    (dict(command="head {input}", parameters=[{"name": "lines"}]), "parameters.0.flag", "nor has a flag"),
    (dict(command="head {input}", parameters=[{"name": "input"}]), "parameters.0.name", "placeholder"),
    (dict(command="head -n {n} {input}", parameters=[{"name": "n"}, {"name": "n"}]), "parameters.1.name", "twice"),
    (dict(name="a/b"), "name", "without /"),
]


def test_bad_task_settings_are_refused_naming_the_field(users):
    root = users["root"]
    for settings, field, message in BAD_TASKS:
        with pytest.raises(InvalidInput) as err:
            pipelines.create_task(actor=root, **{"name": "t", "command": "true", **settings})
        assert (err.value.field, message in err.value.message) == (field, True), (settings, err.value.message)
    assert pipelines.list_tasks(actor=root) == []  # nothing half-written


def test_task_and_pipeline_changes_are_for_admins_and_keep_references_whole(users):
    root, alice = users["root"], users["alice"]
    with pytest.raises(PermissionDenied):
        pipelines.create_task(actor=alice, name="mine", command="true")
    lit = pipelines.create_task(actor=root, name="literal", command="awk '{{print $1}}' {input}",
                                parameters=[{"name": "n", "flag": "-v"}])
    assert lit.command == "awk '{{print $1}}' {input}" and lit.parameters[0].flag == "-v"
    with pytest.raises(Conflict) as err:
        pipelines.create_task(actor=root, name="literal", command="true")
    assert err.value.detail["field"] == "name"
    with pytest.raises(InvalidInput) as err:
        pipelines.create_pipeline(actor=root, name="p", steps=[{"order": 1, "task": "nope"}])
    assert err.value.field == "steps.0.task"
    with pytest.raises(InvalidInput) as err:
        pipelines.create_pipeline(actor=root, name="p", steps=[])
    assert err.value.field == "steps"
    p = pipelines.create_pipeline(actor=root, name="p", steps=[{"order": 1, "task": "literal"}])
    with pytest.raises(Conflict, match="is a step of p"):
        pipelines.delete_task(actor=root, task_id=lit.id)
    with pytest.raises(PermissionDenied):
        pipelines.delete_pipeline(actor=alice, pipeline_id=p.id)
    pipelines.delete_pipeline(actor=root, pipeline_id=p.id)
    pipelines.delete_task(actor=root, task_id=lit.id)
    assert pipelines.list_pipelines(actor=alice) == [] and pipelines.list_tasks(actor=root) == []


def test_the_upload_is_checked_before_anything_is_stored_or_lodged(users, monkeypatch):
    root, alice = users["root"], users["alice"]
    _demo(root)
    _pipeline(root, "CSV only", [{"name": "csv rows", "command": "wc -l {input}", "input_glob": "*.csv"}])
    monkeypatch.setenv("JOBDECK_MAX_UPLOAD_BYTES", "100")
    reload_settings()

    def refused(exc, field, **kw):
        args = dict(actor=alice, pipeline="Text summary", file_name="notes.txt", content=TEXT, parameters={})
        with pytest.raises(exc) as err:
            pipelines.run_pipeline(**{**args, **kw})
        assert err.value.detail.get("field") == field
        return err.value

    too_big = refused(PayloadTooLarge, "file", content=b"x" * 101)
    assert too_big.status_code == 413 and "JOBDECK_MAX_UPLOAD_BYTES" in too_big.message
    refused(InvalidInput, "file", content=b"")
    refused(InvalidInput, "file", file_name="-rf")
    refused(InvalidInput, "file", pipeline="CSV only")  # notes.txt is not *.csv
    refused(InvalidInput, "parameters.lines", parameters={"lines": "3"})
    refused(InvalidInput, "parameters.top", parameters={"top": "--output=/etc/passwd"})
    refused(InvalidInput, "parameters.top", parameters={"top": ["3"]})
    with pytest.raises(NotFound):
        pipelines.run_pipeline(actor=alice, pipeline="No such", file_name="a.txt", content=b"a", parameters={})
    assert not pipelines.runs_dir().exists()  # nothing stored
    with session() as s:
        assert s.exec(select(sa.func.count()).select_from(Job)).one() == 0

    ok = pipelines.run_pipeline(actor=alice, pipeline="Text summary", file_name="C:\\Users\\al\\notes.txt",
                                content=b"x" * 100, parameters={})
    assert RunTask.model_validate(ok.payload).upload.name == "notes.txt"  # the base name of the path given


def _two_parallel(root, alice) -> tuple[Job, list[Job]]:
    info = _pipeline(root, "Fan in", [{"name": "left", "command": "cp {input} {output_dir}/left.txt",
                                       "output_glob": "*.txt"},
                                      {"name": "right", "command": "cp {input} {output_dir}/right.txt",
                                       "output_glob": "*.txt"}],
                     [{"name": "both", "command": "cat {inputs}"}])
    job = pipelines.run_pipeline(actor=alice, pipeline=info.id, file_name="in.txt", content=TEXT, parameters={})
    return job, _steps(job.id)


def test_the_join_lodges_the_next_order_once(users):
    root, alice = users["root"], users["alice"]
    job, (left, right) = _two_parallel(root, alice)
    run_workers()
    steps = _steps(job.id)
    assert [j.status for j in steps] == ["SUCCEEDED"] * 3
    both = steps[2]
    assert [i.name for i in RunTask.model_validate(both.payload).inputs] == ["left.txt", "right.txt"]
    assert both.result["stdout"] == TEXT.decode() * 2

    # the join again, as a repeated handler would run it: nothing new
    last = launch.get_job(both.parent_job_id)
    with session() as s:
        kept = [pipelines.KeptFileRow(f.name, f.size, f.sha256, f.stored_path)
                for f in s.exec(select(JobFile).where(JobFile.job_id == last.id))]
    done = lifecycle.Transitioned(job_id=last.id, status=JobStatus.SUCCEEDED, prev_status=JobStatus.IN_PROGRESS,
                                  attempt=1, owner="alice", batch_id=None, workflow_id=job.id, entity_id=None,
                                  job_type="PIPELINE", job_subtype="RUN_TASK", message="", at="")
    with write_conn() as conn:
        again = pipelines.finish_step(conn, done, payload=RunTask.model_validate(last.payload), files=kept)
    assert again == [] and len(_steps(job.id)) == 3
    # and the unique lineage key refuses a second copy of a step even under another id
    with pytest.raises(sa.exc.IntegrityError):
        with write_conn() as conn:
            conn.execute(sa.insert(Job.__table__).values(
                id="another", owner="alice", job_type="PIPELINE", job_subtype="RUN_TASK", status="PENDING",
                attempt=1, payload={}, queue="pipeline", lineage_key=both.lineage_key,
                created_at=both.created_at, updated_at=both.created_at))


def _finish_both_at_once(root, alice) -> int:
    """Two sibling steps recorded SUCCEEDED in two transactions at the same moment: both
    updates are made before either reads the other's status. Returns how many next
    steps were lodged."""
    job, (left, right) = _two_parallel(root, alice)
    for j in (left, right):
        lifecycle.transition_steps(j.id, [Move(JobStatus.DEQUEUED, "taken"), Move(JobStatus.IN_PROGRESS, "started")])
    barrier = threading.Barrier(2, timeout=1.0)  # SQLite lets only one in: the other waits at BEGIN
    lodged: list = []
    errors: list = []

    def finish(j: Job):
        def hook(conn, done):
            try:
                barrier.wait()
            except threading.BrokenBarrierError:
                pass
            got = pipelines.finish_step(conn, done, payload=RunTask.model_validate(j.payload), files=[])
            lodged.extend(got)
            return got
        try:
            lifecycle.transition(j.id, JobStatus.SUCCEEDED, message="done", also=hook, publish=False)
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=finish, args=(j,)) for j in (left, right)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    steps = _steps(job.id)
    assert [j.status for j in steps[:2]] == ["SUCCEEDED", "SUCCEEDED"]
    assert len(steps) == 3 and steps[2].status == "PENDING"
    return len(lodged)


@pytest.mark.sqlite_only
def test_two_steps_finishing_at_once_lodge_the_next_order_once_on_sqlite(users):
    assert _finish_both_at_once(users["root"], users["alice"]) == 1


@pytest.mark.parametrize("shards", [None, 1])
def test_two_steps_finishing_at_once_lodge_the_next_order_once_on_postgres(postgres_db, shards, monkeypatch):
    """With one shard both steps' moves count on the same rows: the counts must be the
    last thing each transaction locks, or the join's lock on the run's root deadlocks."""
    from app import auth, counts

    if shards:
        monkeypatch.setattr(counts, "SHARDS", shards)
    TABLES.create_all(get_engine())
    root = auth.create_user(username="root", password="root-password", role="admin")
    alice = auth.create_user(username="alice", password="alice-password")
    for _ in range(3):  # each time both updates are made before either join reads
        assert _finish_both_at_once(root, alice) == 1
        with session(write=True) as s:
            for model in (Job, JobMessage, JobFile):
                s.exec(sa.delete(model))
        for p in pipelines.list_pipelines(actor=root):
            pipelines.delete_pipeline(actor=root, pipeline_id=p.id)
        for t in pipelines.list_tasks(actor=root):
            pipelines.delete_task(actor=root, task_id=t.id)


def test_cancelling_the_run_halts_its_step_and_lodges_no_later_one(users, pools):
    from tests.pools import set_backend

    root, alice = users["root"], users["alice"]
    set_backend("pipeline", max_workers=1, idle_timeout_s=30)
    info = _pipeline(root, "Long", [{"name": "long", "timeout_s": 60,
                                     "command": "sh -c 'echo $$ > {output_dir}/pid; sleep 60 & wait'"}],
                     [{"name": "later", "command": "true"}])
    pools("--backends", "pipeline")
    job = pipelines.run_pipeline(actor=alice, pipeline=info.id, file_name="x.txt", content=b"x", parameters={})
    pid_file = pipelines.runs_dir() / job.id / job.id / "a1" / "out" / "pid"
    wait_for(lambda: status(job.id) == "IN_PROGRESS" and pid_file.exists() and pid_file.read_text().strip())
    pid = int(pid_file.read_text())
    summary = submissions.cancel_submission(actor=alice, submission_id=job.id)
    assert summary.cancelled == [job.id]

    def gone():
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return False
    wait_for(gone, message="the step's command stopped")
    assert status(job.id) == "CANCELLED" and len(_steps(job.id)) == 1
    assert files.files_of(actor=alice, job_id=job.id) == []
