"""A run's version of a task (app.pipelines.snapshot): the fields the YAML export writes
for a task, every one of them, read back as the same task; only a run writes one (a
caller lodging a step directly is refused it), while a stored payload reads back."""

from __future__ import annotations

import pytest

from app.config_document import PARAMETER_FIELDS, TASK_FIELDS
from app.errors import InvalidInput
from app.jobtypes import spec_for, validate_payload
from app.payloads import RunTask
from app.parameters import ParameterInfo
from app.pipelines import TaskInfo, run_snapshot, task_from_snapshot, task_snapshot
from app.pipelines import snapshot

TASK = TaskInfo(id=7, name="greet", description="says hello", backend="pipeline", kind="command",
                command="printenv GREETING", handler="", input_glob="*.txt", output_glob="*.csv",
                ok_exit_codes="0,1", timeout_s=30,
                parameters=[ParameterInfo("n", "-n", "3", True, "integer", [], 1.0, 10.0, False),
                            ParameterInfo("mode", "--mode", "a", False, "choice", ["a", "b"]),
                            ParameterInfo("v", "-v", "false", False, "boolean", bool_valued=True)],
                environment={"GREETING": "hi", "LC_ALL": "C"}, retries=2, software_version="greeter 1")
STEP = {"pipeline_id": 1, "pipeline": "p", "order": 1, "index": 0, "task": "greet", "task_id": 7,
        "plan": [{"order": 1, "task": "greet", "task_id": 7}],
        "upload": {"name": "f", "path": "upload/f", "size": 1, "sha256": "0" * 64}}


def test_a_snapshot_has_every_field_the_export_writes_and_reads_back_as_the_same_task():
    doc = task_snapshot(TASK)
    assert set(doc) == set(TASK_FIELDS) | {"task_id"}
    assert all(set(p) == set(PARAMETER_FIELDS) for p in doc["parameters"])
    assert list(snapshot.FIELDS) == list(TASK_FIELDS)  # the export's order too
    assert task_from_snapshot(doc) == TASK
    # defaults are written too: a default changed later must not change a run under way
    bare = task_snapshot(TaskInfo(1, "t", "", "pipeline", "command", "true", "", "", "", "0", 600))
    assert (bare["timeout_s"], bare["retries"], bare["environment"], bare["parameters"]) == (600, 0, {}, [])


def test_a_run_s_snapshot_is_keyed_by_the_task_id_as_text_and_survives_json():
    import json

    kept = json.loads(json.dumps(run_snapshot([TASK])))
    assert list(kept) == ["7"] and task_from_snapshot(kept["7"]) == TASK
    assert snapshot.snapshot_of(kept, 7) == kept["7"] and snapshot.snapshot_of({}, 7) is None


def test_a_caller_may_not_send_a_step_s_version_of_its_task_but_a_stored_payload_reads_back():
    spec = spec_for("PIPELINE", "RUN_TASK")
    with_version = {**STEP, "tasks": run_snapshot([TASK])}
    with pytest.raises(InvalidInput) as e:
        validate_payload(spec, with_version)
    assert e.value.field == "payload.tasks" and "written by a pipeline run" in e.value.message
    assert validate_payload(spec, STEP).tasks == {}  # without one: the task as configured, as before
    assert RunTask.model_validate(with_version).tasks == with_version["tasks"]  # what a worker reads
