"""Payload validation: an unknown type/subtype or an invalid payload is refused with a
typed error naming the field, and nothing is written."""

import pytest
import sqlalchemy as sa

from app import launch
from app.db import session
from app.errors import InvalidInput, PermissionDenied, UnknownJobType
from app.jobtypes import SPECS, spec_for, validate_payload
from app.models import Batch, Job, JobMessage


def _counts():
    with session() as s:
        return tuple(s.exec(sa.select(sa.func.count()).select_from(t)).one()[0] for t in (Job, JobMessage, Batch))


def test_every_type_has_a_valid_handler_path():
    import importlib

    for spec in SPECS.values():
        module, _, name = spec.handler.rpartition(".")
        assert callable(getattr(importlib.import_module(module), name)), spec.handler


def test_unknown_type_and_subtype_are_named():
    with pytest.raises(UnknownJobType) as e:
        spec_for("NOPE", "X")
    assert e.value.field == "job_type" and "NOPE" in e.value.message
    with pytest.raises(UnknownJobType) as e:
        spec_for("REGISTRY", "NOPE")
    assert e.value.field == "job_subtype" and "REGISTER_CREATE_ACTIVITY" in e.value.message


@pytest.mark.parametrize("payload,field", [
    ({}, "payload.record"),
    ({"record": {"workflow_template_id": "w"}}, "payload.record.display_name"),
    ({"record": {"workflow_template_id": "w", "display_name": "r", "description": "d",
                 "associations": {"modeller_id": "p"}, "start_time": 10, "end_time": 5}}, "payload.record"),
    ({"record": {"workflow_template_id": "w", "display_name": "r", "description": "",
                 "associations": {"modeller_id": "p"}, "start_time": 1, "end_time": 5}},
     "payload.record.description"),
    ({"record": {"workflow_template_id": "w", "display_name": "r", "description": "d", "inputs": [{}],
                 "associations": {"modeller_id": "p"}, "start_time": 1, "end_time": 5}},
     "payload.record.inputs.0.dataset_template_id"),
    ({"record": {"workflow_template_id": "w", "display_name": "r", "description": "d",
                 "associations": {"modeller_id": "p"}, "start_time": 1, "end_time": 5}, "surprise": 1},
     "payload.surprise"),
])
def test_invalid_model_run_payload_names_the_field(payload, field):
    with pytest.raises(InvalidInput) as e:
        validate_payload(spec_for("PROV_LODGE", "MODEL_RUN_PROV_LODGE"), payload)
    assert e.value.field == field, e.value.errors
    assert field in e.value.message


RECORD = {"workflow_template_id": "w", "display_name": "r", "description": "d",
          "associations": {"modeller_id": "p"}, "start_time": 1, "end_time": 5}


@pytest.mark.parametrize("key,payload,field", [
    (("REGISTRY", "REGISTER_CREATE_ACTIVITY"), {}, "payload.item_id"),
    (("REGISTRY", "REGISTER_CREATE_ACTIVITY"), {"item_id": ""}, "payload.item_id"),
    (("REGISTRY", "REGISTER_VERSION_ACTIVITY"),
     {"from_item_id": "a", "to_item_id": "b", "reason": "", "version": 2}, "payload.reason"),
    (("REGISTRY", "REGISTER_VERSION_ACTIVITY"),
     {"from_item_id": "a", "to_item_id": "b", "reason": "moved", "version": 1}, "payload.version"),
    (("PROV_LODGE", "LODGE_CREATE_ACTIVITY"), {"item_id": "i"}, "payload.activity_id"),
    (("PROV_LODGE", "LODGE_VERSION_ACTIVITY"), {"from_item_id": "a", "to_item_id": "b"}, "payload.activity_id"),
    (("PROV_LODGE", "MODEL_RUN_BATCH_SUBMIT"), {"records": []}, "payload.records"),
    (("PROV_LODGE", "MODEL_RUN_BATCH_SUBMIT"), {"records": [RECORD, {**RECORD, "display_name": ""}]},
     "payload.records.1.display_name"),
    (("PROV_LODGE", "MODEL_RUN_UPDATE"), {"model_run_id": "m", "reason": "", "record": RECORD}, "payload.reason"),
    (("PROV_LODGE", "MODEL_RUN_UPDATE"), {"model_run_id": "m", "reason": "fix"}, "payload.record"),
    (("SYSTEM", "NOOP"), {"sleep_s": 4000}, "payload.sleep_s"),
    (("SYSTEM", "FLAKY"), {"fail_attempts": 99}, "payload.fail_attempts"),
    (("SYSTEM", "SYSTEM_WAKE_UP"), {"surprise": True}, "payload.surprise"),
    (("PIPELINE", "RUN_TASK"), {"pipeline_id": 1, "pipeline": "p", "order": 1, "index": -1, "task": "t",
                                "task_id": 1, "plan": [{"order": 1, "task": "t", "task_id": 1}],
                                "upload": {"name": "f", "path": "f", "size": 1, "sha256": "0" * 64}},
     "payload.index"),
])
def test_every_subtype_refuses_an_invalid_payload_naming_the_field(key, payload, field):
    with pytest.raises(InvalidInput) as e:
        validate_payload(spec_for(*key), payload)
    assert e.value.field == field, e.value.errors
    assert field in e.value.message


def test_start_after_end_says_so():
    with pytest.raises(InvalidInput, match="start_time must not be after end_time"):
        validate_payload(spec_for("PROV_LODGE", "MODEL_RUN_PROV_LODGE"), {"record": {
            "workflow_template_id": "w", "display_name": "r", "description": "d",
            "associations": {"modeller_id": "p"}, "start_time": 10, "end_time": 5}})


def test_refused_launches_write_nothing(users):
    alice, root = users["alice"], users["root"]
    before = _counts()
    with pytest.raises(UnknownJobType):
        launch.launch_job(actor=root, job_type="SYSTEM", job_subtype="NOPE", payload={})
    with pytest.raises(InvalidInput):
        launch.launch_job(actor=root, job_type="SYSTEM", job_subtype="NOOP", payload={"sleep_s": -1})
    with pytest.raises(PermissionDenied):
        launch.launch_job(actor=alice, job_type="SYSTEM", job_subtype="NOOP", payload={})
    with pytest.raises(InvalidInput) as e:
        launch.launch_batch(actor=root, job_type="SYSTEM", job_subtype="NOOP",
                            payloads=[{}, {}, {"outcome": "explode"}])
    assert e.value.field == "payloads.2.payload.outcome" and "Item 2" in e.value.message
    assert e.value.detail["field"] == e.value.field  # what the API reports
    assert e.value.errors[0]["field"] == "payloads.2.payload.outcome"
    assert _counts() == before
