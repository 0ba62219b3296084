"""What the REST API takes and gives: one model per concept, named as in the design
(job, batch, item), built from the tables and never the tables themselves."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.payloads import ModelRunRecord
from app.lifecycle import FINAL, JobStatus
from app.models import Batch, Item, Job, JobFile, JobMessage
from app.shapes import FreeJSON, Line, RecordJSON, Text


class Problem(BaseModel):
    """An error, as RFC 9457 problem details."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    field: Optional[str] = None
    errors: Optional[list[dict[str, Any]]] = None


class Me(BaseModel):
    username: str
    display_name: str
    role: str


# --- jobs ---------------------------------------------------------------------


class JobLodge(BaseModel):
    """Lodge one job. `owner` (lodging for another user) is for admins and services."""

    model_config = ConfigDict(extra="forbid")

    job_type: Line = Field(min_length=1, max_length=32, examples=["SYSTEM"])
    job_subtype: Line = Field(min_length=1, max_length=64, examples=["NOOP"])
    payload: FreeJSON = Field(default_factory=dict, examples=[{"sleep_s": 1}])
    batch_id: Optional[Line] = Field(default=None, max_length=64)
    owner: Optional[Line] = Field(default=None, max_length=64)
    priority: Optional[Line] = Field(default=None, max_length=16, examples=["high"],
                                     description="high | normal | low: which of its backend's queues it waits on "
                                                 "(workers take high first); other than normal for admins and "
                                                 "services only. Default normal")


class RunStateOut(BaseModel):
    """The pipeline run a job is a step of, as a whole."""

    id: str = Field(description="The run's root job (its submission)")
    name: str = Field(description="The run's name: its pipeline and upload")
    status: JobStatus = Field(description="Of the run as a whole: the worst outcome once every step is final")
    final: bool
    steps: int = Field(description="The steps its pipeline had when it started")
    finished: int
    failed: int = Field(description="Steps FAILED or CRASHED")
    summary: str

    @classmethod
    def of(cls, r: Any) -> "RunStateOut":
        return cls(id=r.id, name=r.name, status=r.status, final=JobStatus(r.status) in FINAL, steps=r.steps,
                   finished=r.finished, failed=r.failed, summary=r.summary)


class JobOut(BaseModel):
    id: str = Field(description="The session id: fetch, watch, cancel and retry the job by it.")
    owner: str
    job_type: str
    job_subtype: str
    subject: str = Field("", description="What the job is about: the item it is for, the pipeline run it is a "
                                         "step of, or the label of its batch")
    status: JobStatus
    final: bool
    attempt: int
    payload: dict[str, Any]
    result: Optional[dict[str, Any]] = None
    info: Optional[str] = None
    last_message: Optional[str] = None
    progress: Optional[float] = None
    batch_id: Optional[str] = None
    workflow_id: Optional[str] = None
    parent_job_id: Optional[str] = None
    step: Optional[int] = None
    entity_id: Optional[str] = None
    queue: str
    priority: str = Field("normal", description="high | normal | low: which of its backend's queues it waits "
                                                "on; a retry keeps it")
    lodged_by: Optional[str] = Field(None, description="Who lodged it: its owner, or an admin or service for "
                                                       "them (null for jobs lodged before this was kept).")
    created_at: datetime
    lodged_at: Optional[datetime] = Field(None, description="When this attempt was lodged: created_at for the "
                                                            "first, the retry's own time after; time an "
                                                            "attempt's wait and run from here.")
    dequeued_at: Optional[datetime] = None
    started_at: Optional[datetime] = None
    finished_at: Optional[datetime] = None
    updated_at: datetime
    run: Optional[RunStateOut] = Field(None, description="For a step of a pipeline run: the run as a whole (its "
                                                         "state may differ from this step's)")
    waiting_reason: Optional[str] = Field(
        None, description="While the job is PENDING: why no worker can take it now (its backend is paused, no "
                          "worker pool serves it, or the queue server does not answer); null when a worker can")

    @classmethod
    def of(cls, job: Job, run: Any = None, waiting_reason: Optional[str] = None) -> "JobOut":
        data = {k: getattr(job, k) for k in cls.model_fields if k not in ("final", "run", "waiting_reason")}
        return cls(**data, final=JobStatus(job.status) in FINAL, run=RunStateOut.of(run) if run else None,
                   waiting_reason=waiting_reason)

    @classmethod
    def many(cls, jobs: list[Job]) -> list["JobOut"]:
        """Jobs with the state of the runs they are steps of (one query for the page) and
        their waiting reasons (each backend asked once)."""
        from app import runs
        from app.workers import waiting_reasons

        states = runs.run_states(runs.root_of(j) for j in jobs)
        reasons = waiting_reasons(jobs)
        return [cls.of(j, states.get(runs.root_of(j) or ""), reasons.get(j.id)) for j in jobs]

    @classmethod
    def one(cls, job: Job) -> "JobOut":
        return cls.many([job])[0]


class JobAdminOut(JobOut):
    """A job as admins see it: with the worker, the idempotency key and the traceback
    of a crash."""

    worker: Optional[str] = None
    idempotency_key: Optional[str] = None
    error_detail: Optional[str] = None


class JobPageOut(BaseModel):
    jobs: list[JobOut]
    next_cursor: Optional[str] = Field(None, description="Pass as `cursor` for the next page; null on the last.")
    search: Optional[str] = Field(None, description="What a `q` found: job, batch, prefix (jobs whose id starts "
                                                    "so, in id order), subject (words of what they are about), "
                                                    "none")
    bounded: bool = Field(False, description="This page stopped after looking through as many jobs as one page "
                                             "may (a search of words, or a filter with another sort than "
                                             "created): the next cursor looks further")


class JobAdminPageOut(BaseModel):
    jobs: list[JobAdminOut]
    next_cursor: Optional[str] = None
    search: Optional[str] = Field(None, description="What a `q` found (as GET /api/jobs says)")
    bounded: bool = Field(False, description="This page stopped after looking through as many jobs as one page "
                                             "may: the next cursor looks further")


class JobMessageOut(BaseModel):
    id: int
    at: datetime
    level: str
    status: Optional[str] = None
    attempt: int
    text: str

    @classmethod
    def of(cls, m: JobMessage) -> "JobMessageOut":
        return cls(id=m.id, at=m.at, level=m.level, status=m.status, attempt=m.attempt, text=m.text)


class JobFileOut(BaseModel):
    name: str
    size: int
    sha256: str
    created_at: datetime
    download: str = Field(description="Path of the download route of this file.")

    @classmethod
    def of(cls, f: JobFile) -> "JobFileOut":
        from urllib.parse import quote

        return cls(name=f.name, size=f.size, sha256=f.sha256, created_at=f.created_at,
                   download=f"/api/jobs/{f.job_id}/files/{quote(f.name, safe='')}")


class JobTypeOut(BaseModel):
    job_type: str
    job_subtype: str
    label: str
    backend: str
    you_may_launch: bool
    payload_schema: dict[str, Any]


# --- batches ------------------------------------------------------------------


class BatchLodge(BaseModel):
    model_config = ConfigDict(extra="forbid")

    job_type: Line = Field(min_length=1, max_length=32)
    job_subtype: Line = Field(min_length=1, max_length=64)
    payloads: list[FreeJSON] = Field(min_length=1, max_length=100_000)  # app.launch.MAX_BATCH
    label: Line = Field(default="", max_length=256)
    owner: Optional[Line] = Field(default=None, max_length=64)
    email: Optional[str] = Field(default=None, max_length=1000,
                                 description="An address told, once, how the batch ended, with its link")


class BatchOut(BaseModel):
    id: str
    owner: str
    label: str
    submission_job_id: Optional[str] = None
    created_at: datetime
    total: int
    counts: dict[str, int]
    lodged: int = Field(description="Jobs lodged so far: fewer than total while a big batch is still being "
                                    "lodged (in chunks; the first ones already run).")
    done: bool = Field(description="Every job of the batch is in a final status.")

    @classmethod
    def of(cls, b: Batch) -> "BatchOut":
        counts = {st.value: getattr(b, st.value.lower()) for st in JobStatus}
        finished = sum(counts[st.value] for st in FINAL)
        return cls(id=b.id, owner=b.owner, label=b.label, submission_job_id=b.submission_job_id,
                   created_at=b.created_at, total=b.total, counts=counts, lodged=sum(counts.values()),
                   done=finished >= b.total)


class BatchPageOut(BaseModel):
    batches: list[BatchOut]
    next_cursor: Optional[str] = None


# --- registry -----------------------------------------------------------------


class ItemCreateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subtype: Line = Field(max_length=64, examples=["DATASET"])
    display_name: Line = Field(min_length=1, max_length=256)
    description: Text = Field(default="", max_length=10_000)
    record: RecordJSON = Field(default_factory=dict)


class ItemVersionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Text = Field(min_length=1, max_length=2_000)


class ItemOut(BaseModel):
    id: str
    subtype: str
    display_name: str
    description: str
    owner: str
    version: int
    previous_version_id: Optional[str] = None
    next_version_id: Optional[str] = None
    version_reason: Optional[str] = None
    record: dict[str, Any]
    record_status: str
    create_workflow_id: Optional[str] = None
    version_workflow_id: Optional[str] = None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, item: Item) -> "ItemOut":
        data = {k: getattr(item, k) for k in cls.model_fields}
        from app.shapes import READABLE, json_problem

        problem = json_problem(item.record, "record", READABLE)
        if problem:  # stored before records were checked: every list holding it must still answer
            data["record"] = {"unreadable": f"This record cannot be shown: {problem[0]} {problem[1]}. It was "
                                            f"stored before records were checked; a new version replaces it."}
        return cls(**data)


class ItemPageOut(BaseModel):
    items: list[ItemOut]
    next_cursor: Optional[str] = None
    search: str = Field("", description="How q was read: id, words, prefix (q ended in *), none (nothing found); "
                                        "empty without q")
    bounded: bool = Field(False, description="A words search stopped after looking through 2,000 items: "
                                             "next_cursor looks further")


class ItemLodged(BaseModel):
    """An item and the job that records and lodges its provenance (poll or watch it)."""

    item: ItemOut
    session_id: str
    job: JobOut


class ModelRunsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    records: list[ModelRunRecord] = Field(min_length=1, max_length=10_000)
    label: Line = Field(default="", max_length=256)


class StatusCountsOut(BaseModel):
    username: Optional[str] = Field(None, description="Whose jobs; null for every user's")
    total: int
    counts: dict[str, int] = Field(description="Jobs per status")


# --- bulk actions ------------------------------------------------------------------


class BulkFilterIn(BaseModel):
    """The jobs a bulk action acts on: the filters of `GET /api/jobs`, and the scope."""

    model_config = ConfigDict(extra="forbid")

    status: Optional[Line | list[Line]] = Field(None, description="A status or a list of them, narrowing the "
                                                                  "statuses the action acts on", examples=["FAILED"])
    job_type: Optional[Line] = Field(None, max_length=32)
    job_subtype: Optional[Line] = Field(None, max_length=64)
    owner: Optional[Line] = Field(None, max_length=64, description="This user's jobs (admins)")
    all_users: Optional[bool] = Field(None, description="Every user's jobs (admins)")
    batch_id: Optional[Line] = Field(None, max_length=64, description="The jobs of this batch")
    workflow_id: Optional[Line] = Field(None, max_length=64, description="The jobs of this workflow (a pipeline "
                                                                         "run: its root job's id)")
    since: Optional[datetime] = Field(None, description="Created at or after (UTC unless it says)")
    until: Optional[datetime] = Field(None, description="Created before")


class BulkIn(BaseModel):
    """One of `ids`, `filter` or `submission`."""

    model_config = ConfigDict(extra="forbid")

    action: Line = Field(max_length=16, description="cancel | retry | delete (admins)", examples=["cancel"])
    ids: Optional[list[Line]] = Field(None, min_length=1, max_length=1000,
                                      description="Up to 1000 job ids, acted on at once")
    filter: Optional[BulkFilterIn] = Field(None, description="Every job matching it, acted on by a bulk job")
    submission: Optional[Line] = Field(None, max_length=64, description="A batch or pipeline run as one unit "
                                                                        "(cancel, delete)")
    dry_run: bool = Field(False, description="Only say how many jobs a filter (or the ids) would act on")

    @model_validator(mode="after")
    def _one_form(self):
        given = [k for k in ("ids", "filter", "submission") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give one of ids, filter or submission" + (f", not {' and '.join(given)}" if given else ""))
        return self


class BulkSummaryOut(BaseModel):
    action: str
    looked_at: int = Field(description="Jobs named (ids), or read that match the filter")
    acted: int = Field(description="Jobs cancelled, retried or deleted")
    already_final: int = 0
    not_retryable: int = Field(0, description="Retry: jobs not FAILED, CRASHED or CANCELLED")
    not_yours: int = Field(0, description="Ids naming no job of yours (or none at all)")
    cancelled_first: int = Field(0, description="Delete: live jobs cancelled before they were removed")
    changed: int = Field(0, description="Delete: jobs live again (retried) before they could be removed")
    summary: str = Field(description="In words, e.g. '412 cancelled, 88 already final, 3 not yours'")
    outcomes: dict[str, str] = Field(default_factory=dict, description="Ids form: each id's outcome")


class BulkOut(BaseModel):
    action: str
    form: str = Field(description="ids | filter | submission")
    dry_run: bool = False
    summary: Optional[BulkSummaryOut] = Field(None, description="What was done (ids, submission)")
    count: Optional[int] = Field(None, description="Filter: the jobs it acts on (or would)")
    count_exact: Optional[bool] = Field(None, description="False: at least `count` (more than 10,000 to read)")
    filter: Optional[str] = Field(None, description="The filter in words, its scope resolved")
    job_id: Optional[str] = Field(None, description="Filter: the bulk job's id (GET /api/jobs/{id} shows its "
                                                    "progress); null when nothing matches or for a dry run")
    job: Optional[JobOut] = None
