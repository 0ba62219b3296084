"""What each job type takes and gives back: its typed payload and result (pydantic
models), checked whole before anything is written; and a pydantic refusal said in
people's words (InvalidInput naming the field). app.jobtypes says which payload and
result each (type, subtype) has.
"""

from __future__ import annotations

import contextvars
from contextlib import contextmanager
from typing import Any, Iterator, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from app.errors import InvalidInput
from app.shapes import FREE_FORM, Line, Text, json_problem

ITEM_SUBTYPES = ("DATASET", "MODEL", "MODEL_RUN", "MODEL_RUN_WORKFLOW_TEMPLATE", "DATASET_TEMPLATE",
                 "PERSON", "ORGANISATION", "STUDY")


# Set while a payload's value is known to be walked by an outer check.
_SHAPE_CHECKED: contextvars.ContextVar[bool] = contextvars.ContextVar("shape_checked", default=False)


class Payload(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="wrap")
    @classmethod
    def _shape(cls, data: Any, handler: Any) -> Any:
        # Whichever way a payload arrives (a job, a REST body, a CSV row), its raw form is
        # within the free-form limits. The fields are read first, so a field's own error
        # (which names it) wins; typed fields stop at the first level that does not fit.
        # Only the outermost payload walks the value (10,000 records are walked once).
        if _SHAPE_CHECKED.get():
            return handler(data)
        token = _SHAPE_CHECKED.set(True)
        try:
            model = handler(data)
        finally:
            _SHAPE_CHECKED.reset(token)
        found = json_problem(data, "", FREE_FORM)
        if found:
            where, why = found
            raise ValueError(f"{where + ' ' if where else ''}{why}")
        return model


class Result(BaseModel):
    model_config = ConfigDict(extra="allow")


# --- registry and provenance ----------------------------------------------


class RegisterCreateActivity(Payload):
    item_id: str = Field(min_length=1)


class RegisterVersionActivity(Payload):
    from_item_id: str = Field(min_length=1)
    to_item_id: str = Field(min_length=1)
    reason: str = Field(min_length=1)
    version: int = Field(ge=2)


class RegisterActivityResult(Result):
    activity_id: str
    lodge_session_id: str


class LodgeCreateActivity(Payload):
    item_id: str = Field(min_length=1)
    activity_id: str = Field(min_length=1)


class LodgeVersionActivity(Payload):
    from_item_id: str = Field(min_length=1)
    to_item_id: str = Field(min_length=1)
    activity_id: str = Field(min_length=1)


class LodgeResult(Result):
    activity_id: str
    edges: int


class TemplatedDataset(Payload):
    dataset_template_id: Line = Field(min_length=1, max_length=64)
    dataset_id: Line = Field(min_length=1, max_length=64)
    dataset_type: Literal["DATA_STORE"] = "DATA_STORE"
    resources: Optional[dict[str, str]] = None


class AssociationInfo(Payload):
    modeller_id: Line = Field(min_length=1, max_length=64)
    requesting_organisation_id: Optional[Line] = Field(default=None, max_length=64)


# The last second an ISO 8601 date can name (9999-12-31T23:59:59Z): a model run's times
# lie between 1970 and this, so every one of them is a date the registry can show.
MAX_TIME = 253_402_300_799


class ModelRunRecord(Payload):
    """One model run, in the shape Provena's model run registration uses."""

    workflow_template_id: Line = Field(min_length=1, max_length=64)
    model_version: Optional[Line] = Field(default=None, max_length=256)
    inputs: list[TemplatedDataset] = Field(default_factory=list, max_length=1000)
    outputs: list[TemplatedDataset] = Field(default_factory=list, max_length=1000)
    annotations: Optional[dict[str, Text]] = None
    display_name: Line = Field(min_length=1, max_length=256)
    description: Text = Field(min_length=1, max_length=10_000)
    study_id: Optional[Line] = Field(default=None, max_length=64)
    associations: AssociationInfo
    start_time: int = Field(ge=0, le=MAX_TIME)
    end_time: int = Field(ge=0, le=MAX_TIME)

    @model_validator(mode="after")
    def _times_in_order(self):
        if self.start_time > self.end_time:
            raise ValueError("start_time must not be after end_time")
        return self


class ModelRunProvLodge(Payload):
    record: ModelRunRecord
    revalidate: bool = True


class ModelRunLodgeResult(Result):
    record_id: str
    edges: int


class ModelRunBatchSubmit(Payload):
    records: list[ModelRunRecord] = Field(min_length=1, max_length=10_000)
    label: str = ""


class BatchSubmitResult(Result):
    batch_id: str
    jobs: int


class ModelRunUpdate(Payload):
    model_run_id: str = Field(min_length=1)
    reason: str = Field(min_length=1)
    record: ModelRunRecord


class ModelRunUpdateResult(Result):
    record_id: str
    version: int


# --- system -----------------------------------------------------------------


class Noop(Payload):
    """A diagnostic job: sleeps, then ends as asked. Used to test a backend and to
    measure the engine."""

    sleep_s: float = Field(default=0.0, ge=0, le=3600)
    outcome: Literal["succeed", "fail", "crash"] = "succeed"
    # On success, lodge a next NOOP step with `then - 1`: a sequential workflow of
    # `then + 1` steps (bench.chain times one of 400).
    then: int = Field(default=0, ge=0, le=10_000)
    ignore_halt: bool = Field(default=False, description="Sleep on when told to stop (cancel, time limit), as "
                                                         "a handler stuck in C code would: it costs its worker")


class NoopResult(Result):
    slept_s: float


class Flaky(Payload):
    """A diagnostic job that fails (or crashes) on its first `fail_attempts` attempts and
    then succeeds: it shows a retry policy at work."""

    fail_attempts: int = Field(default=1, ge=0, le=20)
    outcome: Literal["fail", "crash"] = "fail"
    sleep_s: float = Field(default=0.0, ge=0, le=3600)


class FlakyResult(Result):
    attempt: int


class WakeUp(Payload):
    pass


class WakeUpResult(Result):
    worker: str


# --- pipelines ----------------------------------------------------------------


class FileRef(Payload):
    """A stored file a pipeline step reads: the upload, or a file an earlier step kept.
    `path` is relative to the files directory."""

    name: str = Field(min_length=1, max_length=256)
    path: str = Field(min_length=1, max_length=1024)
    size: int = Field(ge=0)
    sha256: str = Field(min_length=64, max_length=64)
    job_id: Optional[str] = Field(default=None, max_length=64)  # the step that kept it; None for the upload


class PlanStep(Payload):
    order: int
    task: str = Field(min_length=1, max_length=64)
    task_id: int


class RunTask(Payload):
    """One step of a pipeline run. `plan` is the pipeline's steps and `tasks` its tasks'
    definitions (app.pipelines.snapshot; none in a run lodged before runs kept them) as
    they were when the run started, so editing either never changes a run under way."""

    pipeline_id: int
    pipeline: str = Field(min_length=1, max_length=64)
    order: int
    index: int = Field(ge=0)  # its place among the steps of its order
    task: str = Field(min_length=1, max_length=64)
    task_id: int
    plan: list[PlanStep] = Field(min_length=1, max_length=200)
    upload: FileRef
    inputs: list[FileRef] = Field(default_factory=list, max_length=1000)
    parameters: dict[str, str] = Field(default_factory=dict)
    email: Optional[str] = Field(default=None, max_length=254)  # told when the run ends (app.notify)
    # Automatic retries of this step after FAILED or CRASHED: its task's, as the step was
    # lodged (the retry policy of its job, see `retry_policy_of`).
    retries: int = Field(default=0, ge=0, le=10)
    # Task id (as text) -> its definition when the run was lodged; written by the run only.
    tasks: dict[str, dict[str, Any]] = Field(default_factory=dict, max_length=200)

    @field_validator("tasks")
    @classmethod
    def _tasks_from_the_run(cls, value: dict, info: ValidationInfo) -> dict:
        # A step runs the command its snapshot holds: one sent by a caller lodging a step
        # directly (a service may lodge any job type) would run a command no admin wrote.
        if value and (info.context or {}).get("from_caller"):
            raise ValueError("is written by a pipeline run when it is lodged; a step lodged directly runs its "
                             "task as configured")
        return value


class KeptFile(Result):
    name: str
    size: int
    sha256: str


class RunTaskResult(Result):
    task: str
    exit_code: Optional[int] = None  # None for a Python handler
    stdout: str = ""
    files: list[KeptFile] = Field(default_factory=list)


# --- notifications ---------------------------------------------------------------


class SendEmail(Payload):
    """One email (app.notify): to whom, what it says, and the run or batch it is about."""

    to: Line = Field(min_length=3, max_length=254)
    subject: Line = Field(min_length=1, max_length=300)
    body: Text = Field(min_length=1, max_length=20_000)
    about: Optional[Line] = Field(default=None, max_length=64)  # the run's root or the batch
    link: Optional[Line] = Field(default=None, max_length=2000)
    status: Optional[Line] = Field(default=None, max_length=16)  # how it ended


class SendEmailResult(Result):
    to: str
    message_id: str


# --- bulk actions ------------------------------------------------------------------


class BulkAction(Payload):
    """Cancel, retry or delete every job matching a filter (app.bulk_actions), a chunk at
    a time. `filter` is the one the request named, its scope already resolved; `count`
    is the number stated when it was lodged (exact, or at least that many)."""

    action: Literal["cancel", "retry", "delete"]
    filter: dict[str, Any] = Field(default_factory=dict)
    chunk: int = Field(default=500, ge=1, le=5000)
    count: int = Field(default=0, ge=0)
    count_exact: bool = True
    # Where the request came from: each chunk's audit entry says so too.
    via: Line = Field(default="api", max_length=16)
    address: Line = Field(default="", max_length=64)


class BulkActionResult(Result):
    action: str
    looked_at: int  # jobs of the filter read
    acted: int  # cancelled, retried or deleted
    already_final: int = 0
    not_retryable: int = 0
    not_yours: int = 0
    cancelled_first: int = 0
    changed: int = 0
    summary: str


@contextmanager
def walked_already() -> Iterator[None]:
    """Inside it, a payload parsed does not walk its raw value again: the caller has
    (app.jobtypes.validate_payload checks it first, naming the place)."""
    token = _SHAPE_CHECKED.set(True)
    try:
        yield
    finally:
        _SHAPE_CHECKED.reset(token)


def error_message(error: dict[str, Any]) -> str:
    """A pydantic error's message for people: a validator's own words without pydantic's
    "Value error, " before them."""
    return str(error["msg"]).removeprefix("Value error, ")


def invalid_input(exc: ValidationError, *, prefix: str = "", what: str = "input") -> InvalidInput:
    errors = [{"field": ".".join(str(p) for p in ((prefix,) if prefix else ()) + tuple(e["loc"])) or prefix,
               "message": error_message(e)} for e in exc.errors()]
    first = errors[0]
    return InvalidInput(f"Invalid {what}: {first['field']}: {first['message']}.",
                        field=first["field"], errors=errors)
