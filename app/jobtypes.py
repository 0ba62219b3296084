"""The job types Jobdeck knows: for each (type, subtype) its payload and result
(app.payloads), its handler (by dotted path, so the web side never imports the worker),
its backend, its time limit and its retry policy. An unknown type or an invalid payload
is refused here, before anything is written; what a handler gives back (its outcome,
the next jobs of its workflow) is said here too.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from pydantic import ValidationError

from app.errors import UnknownJobType
from app.payloads import (BatchSubmitResult, BulkAction, BulkActionResult, Flaky, FlakyResult, LodgeCreateActivity,
                          LodgeResult, LodgeVersionActivity, ModelRunBatchSubmit, ModelRunLodgeResult,
                          ModelRunProvLodge, ModelRunUpdate, ModelRunUpdateResult, Noop, NoopResult, Payload,
                          RegisterActivityResult, RegisterCreateActivity, RegisterVersionActivity, Result, RunTask,
                          RunTaskResult, SendEmail, SendEmailResult, WakeUp, WakeUpResult, invalid_input,
                          walked_already)
from app.shapes import check_json

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
    # Its handler writes all it does in the transaction that records its outcome (an
    # Outcome's writes, next jobs and also), so a run whose outcome is refused leaves
    # nothing: it may run before its start is recorded (worker/early.py).
    effects_with_outcome: bool = False

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
                _T + "register_create_activity", "registry", "Register creation", effects_with_outcome=True),
    JobTypeSpec("REGISTRY", "REGISTER_VERSION_ACTIVITY", RegisterVersionActivity, RegisterActivityResult,
                _T + "register_version_activity", "registry", "Register version", effects_with_outcome=True),
    JobTypeSpec("REGISTRY", "REGISTRY_WAKE_UP", WakeUp, WakeUpResult, _T + "wake_up", "registry",
                "Wake up registry workers", timeout_s=30, retry=NO_RETRY),
    JobTypeSpec("PROV_LODGE", "LODGE_CREATE_ACTIVITY", LodgeCreateActivity, LodgeResult,
                _T + "lodge_create_activity", "prov", "Lodge creation provenance", effects_with_outcome=True),
    JobTypeSpec("PROV_LODGE", "LODGE_VERSION_ACTIVITY", LodgeVersionActivity, LodgeResult,
                _T + "lodge_version_activity", "prov", "Lodge version provenance", effects_with_outcome=True),
    JobTypeSpec("PROV_LODGE", "MODEL_RUN_PROV_LODGE", ModelRunProvLodge, ModelRunLodgeResult,
                _T + "model_run_prov_lodge", "prov", "Register model run", user_may_launch=True,
                effects_with_outcome=True),
    JobTypeSpec("PROV_LODGE", "MODEL_RUN_BATCH_SUBMIT", ModelRunBatchSubmit, BatchSubmitResult,
                _T + "model_run_batch_submit", "prov", "Register model runs in bulk", user_may_launch=True,
                effects_with_outcome=True),
    JobTypeSpec("PROV_LODGE", "MODEL_RUN_UPDATE", ModelRunUpdate, ModelRunUpdateResult,
                _T + "model_run_update", "prov", "Update model run", user_may_launch=True,
                effects_with_outcome=True),
    JobTypeSpec("PROV_LODGE", "PROV_LODGE_WAKE_UP", WakeUp, WakeUpResult, _T + "wake_up", "prov",
                "Wake up provenance workers", timeout_s=30, retry=NO_RETRY),
    JobTypeSpec("SYSTEM", "NOOP", Noop, NoopResult, _T + "noop", "system", "Diagnostic no-op",
                provena=False, retry=NO_RETRY, effects_with_outcome=True),
    JobTypeSpec("SYSTEM", "FLAKY", Flaky, FlakyResult, _T + "flaky", "system", "Diagnostic flaky job",
                provena=False, retry=RetryPolicy(max_attempts=3, backoff_s=1.0, backoff_factor=2.0,
                                                 on=frozenset({"FAILED", "CRASHED"})), effects_with_outcome=True),
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
    with walked_already():
        try:
            return spec.payload.model_validate(payload, context={"from_caller": True})
        except ValidationError as exc:
            raise invalid_input(exc, prefix="payload", what=f"{spec.job_type}/{spec.job_subtype} payload") from None




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
    # Writes the job's effect (a provenance record) inside that same transaction and lodges
    # nothing: a job killed before its success commits has written nothing.
    writes: Optional[Callable[[Any], None]] = None
