"""The job types Jobdeck knows: for each (type, subtype) its typed payload and result,
its handler (by dotted path, so the web side never imports the worker), its backend and
its time limit. An unknown type or an invalid payload is refused here, before anything
is written.
"""

from __future__ import annotations

import contextvars
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from app.errors import InvalidInput, UnknownJobType
from app.shapes import FREE_FORM, Line, Text, check_json, json_problem

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


@dataclass(frozen=True)
class RetryPolicy:
    """When a job that ended FAILED or CRASHED is tried again by itself: up to
    `max_attempts` attempts in all (the first included), the n-th waiting
    `backoff_s * backoff_factor ** (n - 2)` seconds (at most `max_backoff_s`)."""

    max_attempts: int = 1
    backoff_s: float = 2.0
    backoff_factor: float = 2.0
    max_backoff_s: float = 300.0
    on: frozenset[str] = frozenset({"CRASHED"})

    def retries(self, status: str, attempt: int) -> bool:
        """Does a job that just ended `status` on `attempt` get another attempt?"""
        return status in self.on and attempt < self.max_attempts

    def delay_before(self, attempt: int) -> float:
        """Seconds to wait before starting `attempt` (2 or more)."""
        return min(self.max_backoff_s, self.backoff_s * self.backoff_factor ** max(0, attempt - 2))

    def describe(self) -> str:
        if self.max_attempts <= 1 or not self.on:
            return "no automatic retry"
        return (f"{' and '.join(sorted(self.on))} retried automatically, up to {self.max_attempts} attempts, "
                f"waiting {self.backoff_s:g} s then \u00d7{self.backoff_factor:g}")


NO_RETRY = RetryPolicy()
# Registry and provenance handlers are idempotent, so a crash (a worker died, a timeout)
# is worth another go; FAILED means the request itself is wrong and stays failed.
RETRY_CRASHES = RetryPolicy(max_attempts=3, backoff_s=2.0, backoff_factor=2.0)
MAIL_RETRY = RetryPolicy(max_attempts=10, backoff_s=2.0, backoff_factor=2.0, max_backoff_s=600.0,
                         on=frozenset({"FAILED", "CRASHED"}))


@dataclass(frozen=True)
class JobTypeSpec:
    job_type: str
    job_subtype: str
    payload: type[Payload]
    result: type[Result]
    handler: str
    backend: str
    label: str
    timeout_s: int = 600
    # Users lodge these through registry operations; a direct launch of any type is for
    # admins and services, as in Provena.
    user_may_launch: bool = False
    provena: bool = True
    retry: RetryPolicy = RETRY_CRASHES
    # The payload's `retries` (a pipeline step's: its task's) replaces `retry` when above 0.
    retries_in_payload: bool = False

    @property
    def key(self) -> tuple[str, str]:
        return (self.job_type, self.job_subtype)


def retry_policy_of(spec: JobTypeSpec, payload: Optional[dict[str, Any]] = None) -> RetryPolicy:
    """The retry policy of one job: its type's, or for a type whose payload says how many
    retries (a pipeline step: an admin set them on its task) FAILED and CRASHED both
    retried that many times, 2 s apart then doubling."""
    if not spec.retries_in_payload:
        return spec.retry
    n = (payload or {}).get("retries")
    if isinstance(n, bool) or not isinstance(n, int) or n <= 0:
        return spec.retry
    return RetryPolicy(max_attempts=1 + min(n, 10), backoff_s=2.0, backoff_factor=2.0, max_backoff_s=300.0,
                       on=frozenset({"FAILED", "CRASHED"}))


_T = "worker.tasks."
SPECS: dict[tuple[str, str], JobTypeSpec] = {s.key: s for s in [
    JobTypeSpec("REGISTRY", "REGISTER_CREATE_ACTIVITY", RegisterCreateActivity, RegisterActivityResult,
                _T + "register_create_activity", "registry", "Register creation"),
    JobTypeSpec("REGISTRY", "REGISTER_VERSION_ACTIVITY", RegisterVersionActivity, RegisterActivityResult,
                _T + "register_version_activity", "registry", "Register version"),
    JobTypeSpec("REGISTRY", "REGISTRY_WAKE_UP", WakeUp, WakeUpResult, _T + "wake_up", "registry",
                "Wake up registry workers", timeout_s=30, retry=NO_RETRY),
    JobTypeSpec("PROV_LODGE", "LODGE_CREATE_ACTIVITY", LodgeCreateActivity, LodgeResult,
                _T + "lodge_create_activity", "prov", "Lodge creation provenance"),
    JobTypeSpec("PROV_LODGE", "LODGE_VERSION_ACTIVITY", LodgeVersionActivity, LodgeResult,
                _T + "lodge_version_activity", "prov", "Lodge version provenance"),
    JobTypeSpec("PROV_LODGE", "MODEL_RUN_PROV_LODGE", ModelRunProvLodge, ModelRunLodgeResult,
                _T + "model_run_prov_lodge", "prov", "Register model run", user_may_launch=True),
    JobTypeSpec("PROV_LODGE", "MODEL_RUN_BATCH_SUBMIT", ModelRunBatchSubmit, BatchSubmitResult,
                _T + "model_run_batch_submit", "prov", "Register model runs in bulk", user_may_launch=True),
    JobTypeSpec("PROV_LODGE", "MODEL_RUN_UPDATE", ModelRunUpdate, ModelRunUpdateResult,
                _T + "model_run_update", "prov", "Update model run", user_may_launch=True),
    JobTypeSpec("PROV_LODGE", "PROV_LODGE_WAKE_UP", WakeUp, WakeUpResult, _T + "wake_up", "prov",
                "Wake up provenance workers", timeout_s=30, retry=NO_RETRY),
    JobTypeSpec("SYSTEM", "NOOP", Noop, NoopResult, _T + "noop", "system", "Diagnostic no-op",
                provena=False, retry=NO_RETRY),
    JobTypeSpec("SYSTEM", "FLAKY", Flaky, FlakyResult, _T + "flaky", "system", "Diagnostic flaky job",
                provena=False, retry=RetryPolicy(max_attempts=3, backoff_s=1.0, backoff_factor=2.0,
                                                 on=frozenset({"FAILED", "CRASHED"}))),
    JobTypeSpec("SYSTEM", "SYSTEM_WAKE_UP", WakeUp, WakeUpResult, _T + "wake_up", "system",
                "Wake up system workers", timeout_s=30, provena=False, retry=NO_RETRY),
    # Lodged by app.pipelines, on the backend of its task; the task's own timeout_s
    # limits each run, this is only the ceiling. A command may not be idempotent: no
    # automatic retry (a person retries a step by hand) unless its task asks for some.
    JobTypeSpec("PIPELINE", "RUN_TASK", RunTask, RunTaskResult, _T + "run_task", "pipeline",
                "Pipeline step", timeout_s=86_400, provena=False, retry=NO_RETRY, retries_in_payload=True),
    JobTypeSpec("PIPELINE", "PIPELINE_WAKE_UP", WakeUp, WakeUpResult, _T + "wake_up", "pipeline",
                "Wake up pipeline workers", timeout_s=30, provena=False, retry=NO_RETRY),
    # Lodged by app.notify when a run or batch ends (Provena's EMAIL / SEND_EMAIL). A mail
    # server that does not answer fails the job; it is tried again for about half an hour.
    # Lodged by app.bulk_actions for "every job matching this filter". Run again after a
    # crash it would count what the first attempt did as already done: no automatic retry.
    JobTypeSpec("JOBS", "BULK_ACTION", BulkAction, BulkActionResult, _T + "bulk_action", "system",
                "Bulk action", timeout_s=86_400, provena=False, retry=NO_RETRY),
    JobTypeSpec("NOTIFY", "SEND_EMAIL", SendEmail, SendEmailResult, _T + "send_email", "system",
                "Send email", timeout_s=120, retry=MAIL_RETRY),
]}

BACKENDS = sorted({s.backend for s in SPECS.values()})


def spec_for(job_type: str, job_subtype: str) -> JobTypeSpec:
    spec = SPECS.get((job_type, job_subtype))
    if spec is None:
        known = [s for (t, s) in SPECS if t == job_type]
        if not known:
            raise UnknownJobType(f"Unknown job type {job_type!r}; known types: "
                                 f"{', '.join(sorted({t for t, _ in SPECS}))}.", field="job_type")
        raise UnknownJobType(f"Unknown subtype {job_subtype!r} of job type {job_type!r}; "
                             f"known subtypes: {', '.join(sorted(known))}.", field="job_subtype")
    return spec


def validate_payload(spec: JobTypeSpec, payload: Any) -> Payload:
    """Parse a payload a caller sent (a launch, a batch, a schedule), or raise InvalidInput
    naming the first offending field; what only a run writes (RunTask.tasks) is refused."""
    check_json(payload, "payload")  # walked here, naming the place; not again inside
    token = _SHAPE_CHECKED.set(True)
    try:
        return spec.payload.model_validate(payload, context={"from_caller": True})
    except ValidationError as exc:
        raise invalid_input(exc, prefix="payload", what=f"{spec.job_type}/{spec.job_subtype} payload") from None
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


# --- what a handler gives back ---------------------------------------------


_CHILD_NS = uuid.UUID("6b1f0c1e-8f0b-4c58-9a43-0d7f3f4e2a10")


def child_job_id(parent_job_id: str, key: str) -> str:
    """The id of a workflow's next step is derived from its parent, so a handler that
    runs twice names (and lodges) the same next job, not a second one."""
    return str(uuid.uuid5(_CHILD_NS, f"{parent_job_id}/{key}"))


@dataclass
class NextJob:
    job_type: str
    job_subtype: str
    payload: Payload
    key: str
    entity_id: Optional[str] = None
    step: Optional[int] = None


@dataclass
class Outcome:
    result: Result
    info: Optional[str] = None
    next_jobs: list[NextJob] = field(default_factory=list)
    entity_id: Optional[str] = None
    # Runs inside the transaction that records the success, after the move; returns the
    # jobs it lodged (app.launch.Lodged) to enqueue after commit. A pipeline's join is
    # decided there, where the sibling steps' statuses can be read under a lock.
    also: Optional[Callable[[Any, Any], list]] = None
