"""What the admin REST API takes and gives (app/api/admin.py): backends, their queues,
workers and pools, stuck jobs, submissions. Built from the tables, never the tables."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from app.api.schemas import JobAdminOut, JobOut
from app.lifecycle import JobStatus


class BackendIn(BaseModel):
    """A new backend (admins); a setting left out or null takes its default."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=200, description="Lower-case letters, digits, - and _ (it names its queues)",
                      examples=["gpu"])
    description: str = Field("", max_length=2000, examples=["The machines with a GPU"])
    max_workers: Optional[StrictInt] = Field(None, description="0-100; 0 creates it paused", examples=[2])
    idle_timeout_s: Optional[StrictInt] = Field(None, description="Seconds an idle worker waits before it "
                                                                   "stops (1-86400; default 120)")
    job_timeout_s: Optional[StrictInt] = Field(None, description="Seconds its jobs may run (0-86400); 0 lets "
                                                                  "each job's own limit apply")


class BackendPatch(BaseModel):
    """Change a backend (admins); a field left out or null keeps its value."""

    model_config = ConfigDict(extra="forbid")

    description: Optional[str] = Field(None, max_length=2000)

    max_workers: Optional[StrictInt] = Field(None, description="0-100; 0 pauses the backend", examples=[4])
    idle_timeout_s: Optional[StrictInt] = Field(None, description="Seconds an idle worker waits before it "
                                                                   "stops (1-86400)", examples=[120])
    job_timeout_s: Optional[StrictInt] = Field(None, description="Seconds its jobs may run (0-86400); 0 lets "
                                                                  "each job type's own limit apply")


class BackendLiveOut(BaseModel):
    """What a backend can take now, read from Redis."""

    workers: int = Field(description="Live workers")
    busy: int
    idle: int
    queued: int = Field(description="Jobs waiting on its queues")
    queued_by_priority: dict[str, int] = Field(default_factory=dict,
                                               description="Jobs waiting on each of its queues: high, normal, low "
                                                           "(its workers take them in that order)")
    scheduled: int = Field(description="Automatic retries waiting for their time")
    served_by: list[str] = Field(description="Hosts of the pools serving it")
    can_wake: bool
    unavailable: Optional[str] = Field(None, description="Why no worker can take its jobs, if none can")


class BackendOut(BaseModel):
    name: str
    description: str
    configured: bool = Field(description="False: no configuration row, the defaults apply")
    built_in: bool = Field(False, description="True: job types run on it; it is edited, never deleted")
    created_at: Optional[datetime] = None
    max_workers: int
    idle_timeout_s: int
    job_timeout_s: Optional[int] = Field(None, description="Null: each job type's own limit applies")
    status: Optional[BackendLiveOut] = Field(None, description="Null when the queue server (Redis) does "
                                                               "not answer")
    paused: bool = Field(False, description="True while max_workers is 0: no worker takes its jobs")
    resume_workers: Optional[int] = Field(None, description="While paused: the max workers a resume puts back")


class WaitingJobOut(BaseModel):
    position: int = Field(description="From 1: the next job a worker of the backend takes is 1")
    priority: str = Field(description="high | normal | low: the queue it waits on")
    job_id: str
    attempt: int
    status: str = Field(description="The job's status now (PENDING while it waits; empty when no job has this id)")
    owner: str
    job_type: str
    job_subtype: str
    subject: str
    waiting_since: Optional[datetime] = Field(None, description="When this attempt was lodged")
    url: str = Field(description="The job's page in the console")
    api_url: str

    @classmethod
    def of(cls, w) -> "WaitingJobOut":
        from app import routes

        return cls(position=w.position, priority=w.priority, job_id=w.job_id, attempt=w.attempt, status=w.status,
                   owner=w.owner, job_type=w.job_type, job_subtype=w.job_subtype, subject=w.subject,
                   waiting_since=w.waiting_since, url=routes.job(w.job_id), api_url=f"/api/jobs/{w.job_id}")


class QueuePageOut(BaseModel):
    backend: str
    paused: bool
    max_workers: int
    depth: dict[str, int] = Field(description="Jobs waiting per priority (high, normal, low)")
    total: int
    offset: int
    next_offset: Optional[int] = Field(None, description="offset of the next page; null at the end of the queue")
    jobs: list[WaitingJobOut]


class PurgeIn(BaseModel):
    """What to purge: every waiting job of the backend (no field), one priority's, or the jobs named."""

    model_config = ConfigDict(extra="forbid")
    priority: Optional[Literal["high", "normal", "low"]] = None
    job_ids: Optional[list[Annotated[str, Field(min_length=1, max_length=64)]]] = Field(
        None, min_length=1, max_length=200, description="Only these jobs (their session ids)")


class PurgedOut(BaseModel):
    backend: str
    purged: int = Field(description="Jobs ended CANCELLED")
    job_ids: list[str] = Field(description="Their ids (the first 200)")
    taken: int = Field(description="Entries taken off the queue")
    remaining: int = Field(description="Entries still on the purged queues (a purge takes 10,000 at most)")


class WakeOut(BaseModel):
    backend: str
    message: str
    job: Optional[JobOut] = Field(None, description="The wake-up job lodged (or already waiting); null when a "
                                                    "worker is awake already")


class WorkerOut(BaseModel):
    name: str
    host: str
    pid: Optional[int] = None
    backend: str
    state: str = Field(description="starting | idle | busy | stopping | stopped | dead | lost")
    alive: bool
    current_job_id: Optional[str] = None
    current_attempt: Optional[int] = None
    job_since: Optional[datetime] = None
    jobs_done: int
    jobs_failed: int
    last_heartbeat: Optional[datetime] = None
    started_at: Optional[datetime] = None
    pool: str
    exit_reason: str

    @classmethod
    def of(cls, w: Any) -> "WorkerOut":
        return cls(**{k: getattr(w, k) for k in cls.model_fields})


class PoolOut(BaseModel):
    pool_id: str
    host: str
    pid: Optional[int] = None
    backends: list[str]
    last_heartbeat: Optional[datetime] = None


class StuckJobOut(BaseModel):
    job: JobAdminOut
    reason: str = Field(description="Why no worker can take it")
    waiting_s: float


class SubmissionOut(BaseModel):
    """What a user asked for: a job no other job lodged, or a batch lodged directly."""

    id: str = Field(description="The root job's session id, or the batch's id")
    kind: str = Field(description="job | batch")
    owner: str
    job_type: str
    job_subtype: str
    label: str
    title: str
    created_at: datetime
    status: JobStatus = Field(description="Of the submission as a whole")
    aa_status: str = Field(description="The same under Analytics Automated's name")
    jobs: int
    finished: int
    last_message: str
    batch_ids: list[str]
    entity_id: Optional[str] = None

    @classmethod
    def of(cls, s: Any) -> "SubmissionOut":
        return cls(**{k: getattr(s, k) for k in cls.model_fields})


class SubmissionPageOut(BaseModel):
    submissions: list[SubmissionOut]
    next_cursor: Optional[str] = None


class SubmissionCancelOut(BaseModel):
    cancelled: list[str] = Field(description="Jobs moved to CANCELLED now (empty: every job had finished)")
    halting: list[str] = Field(description="Of those, the ones a worker was running (halted within seconds)")
    submission: Optional[SubmissionOut] = None


class SubmissionDeleteOut(BaseModel):
    root_job_id: Optional[str] = None
    jobs_deleted: int
    batches_deleted: int
    files_deleted: int
    cancelled: int = Field(description="Live jobs cancelled first")
