"""Pipeline runs as a deployment runs them: a pool's worker runs steps on files with
hostile names without a shell (each name reaches the command as one argument, nothing
in it is run), and a run keeps the steps its pipeline had when it started."""

from __future__ import annotations

import shlex
import uuid
from pathlib import Path

import pytest

from app import pipelines
from app.errors import InvalidInput
from app.payloads import RunTask
from tests.conftest import run_workers
from tests.pools import pools, set_backend, status, wait_for  # noqa: F401


def _stdout(job_id: str) -> str:
    from app.launch import get_job

    return get_job(job_id).result["stdout"]


def test_hostile_file_names_reach_the_command_as_one_argument_each(users, pools):
    root, alice = users["root"], users["alice"]
    tag = uuid.uuid4().hex[:8]
    marker = Path(f"/tmp/pwned-{tag}")
    # A file name holds no "/": a shell would run these in the step's directory.
    hostile = [f"$(touch pwned-{tag}); rm -rf x;.txt", "two  spaces .txt", "it's \"quoted\".txt", "-rf --help.txt",
               f"`touch pwned-{tag}` | tee pwned-{tag}.txt"]
    # Step 1 makes files of those names (the admin's template is trusted; the names are
    # data), step 2 prints each argument it gets on a line of its own, between < and >.
    make = "touch " + " ".join(shlex.quote("{output_dir}/" + n) for n in hostile)
    printf = "printf '<%s>\\n'"
    for t in (dict(name="make names", command=make, output_glob="*"),
              dict(name="show upload", command=f"{printf} {{upload}} {{note}}",
                   parameters=[{"name": "note", "default": ""}]),
              dict(name="show inputs", command=f"{printf} {{inputs}}", input_glob="*")):
        pipelines.create_task(actor=root, **t)
    info = pipelines.create_pipeline(actor=root, name="Names", steps=[
        {"order": 1, "task": "make names"}, {"order": 1, "task": "show upload"}, {"order": 2, "task": "show inputs"}])
    # an upload's own name is checked first: one with shell syntax is refused, naming the file
    with pytest.raises(InvalidInput, match="is not usable") as refused:
        pipelines.run_pipeline(actor=alice, pipeline=info.id, file_name=f"$(touch {marker}); rm -rf x;.txt",
                               content=b"x")
    assert refused.value.field == "file"

    set_backend("pipeline", max_workers=1, idle_timeout_s=30)
    pools("--backends", "pipeline")
    note = f"$(touch {marker}); 'a' \"b\" `id` | x"
    job = pipelines.run_pipeline(actor=alice, pipeline=info.id, file_name="notes (draft) +1, v2.txt",
                                 content=b"some text\n", parameters={"note": note})

    def ended():
        steps = pipelines.run_steps(job.id)
        final = all(s.status in ("SUCCEEDED", "FAILED", "CRASHED", "CANCELLED") for s in steps)
        return steps if final and (len(steps) == 3 or {s.status for s in steps} != {"SUCCEEDED"}) else None

    steps = wait_for(ended, timeout=60, message="the run ended")
    assert [s.status for s in steps] == ["SUCCEEDED"] * 3, [(s.payload["task"], s.status, s.last_message)
                                                            for s in steps]
    by_task = {s.payload["task"]: s for s in steps}
    upload = RunTask.model_validate(by_task["show upload"].payload).upload
    assert upload.name == "notes (draft) +1, v2.txt"
    # the upload's path, shown relative to the run, reached the command as one argument
    assert _stdout(by_task["show upload"].id).splitlines() == [f"<upload/{upload.name}>", f"<{note}>"]
    inputs = RunTask.model_validate(by_task["show inputs"].payload).inputs
    assert sorted(i.name for i in inputs) == sorted(hostile)  # kept by step 1 under their own names
    lines = _stdout(by_task["show inputs"].id).splitlines()
    assert len(lines) == len(hostile)  # one argument per file, however its name reads
    assert sorted(Path(line[1:-1]).name for line in lines) == sorted(hostile)
    # nothing in a name or value ran: no marker, here or in any step's directory
    assert not marker.exists()
    assert [p for p in (pipelines.runs_dir() / job.id).rglob("*") if p.name.startswith(f"pwned-{tag}")] == []


def test_a_run_keeps_the_steps_its_pipeline_had_when_it_started(users):
    root, alice = users["root"], users["alice"]
    for name in ("first", "second", "replacement", "extra"):
        pipelines.create_task(actor=root, name=name, command=f"echo {name}")
    info = pipelines.create_pipeline(actor=root, name="Changing", steps=[
        {"order": 1, "task": "first"}, {"order": 2, "task": "second"}])
    job = pipelines.run_pipeline(actor=alice, pipeline=info.id, file_name="a.txt", content=b"a")
    # an admin edits the pipeline while the run's first step waits for a worker
    pipelines.update_pipeline(actor=root, pipeline_id=info.id, name="Changing", steps=[
        {"order": 1, "task": "first"}, {"order": 2, "task": "replacement"}, {"order": 3, "task": "extra"}])
    run_workers()
    assert [(s.payload["task"], s.status) for s in pipelines.run_steps(job.id)] == [
        ("first", "SUCCEEDED"), ("second", "SUCCEEDED")]
    assert _stdout(pipelines.run_steps(job.id)[1].id) == "second\n"
    # a run started after the edit follows the new steps
    again = pipelines.run_pipeline(actor=alice, pipeline=info.id, file_name="a.txt", content=b"a")
    run_workers()
    assert [(s.payload["task"], s.status) for s in pipelines.run_steps(again.id)] == [
        ("first", "SUCCEEDED"), ("replacement", "SUCCEEDED"), ("extra", "SUCCEEDED")]
