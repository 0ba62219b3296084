"""The tables. Names follow the vocabulary of the design: job, batch, workflow, item,
activity, backend, task, pipeline. The provenance records of job runs
(app.record_tables), the audit log's (app.audit_tables) and the per-minute aggregates
(app.minute_tables) have modules of their own, on the same metadata: importing this
module registers every table (TABLES).

Lists are paged by keyset `(created_at, id)`; each list has its index here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.columns import created as _created, json_column as _json, new_id, ts as _ts, where as _where
from app.db import UTCDateTime, name_key

# The condition of the fair-use indexes, written out as SQL: a query that reads them
# names it word for word (SQLite and PostgreSQL use a partial index only for queries
# whose own condition implies the index's, and a bound parameter implies nothing).
LIVE_PIPELINE_JOB = "job_type = 'PIPELINE' AND status IN ('PENDING', 'DEQUEUED', 'IN_PROGRESS')"


# --- people ---------------------------------------------------------------


class User(SQLModel, table=True):
    id: Optional[int] = Field(default=None, primary_key=True)
    username: str = Field(unique=True, index=True, max_length=64)
    display_name: str = Field(max_length=128)
    role: str = Field(default="user", max_length=16)  # user | admin | service
    password_hash: str
    created_at: datetime = _created()
    # Set while an admin has disabled the user: no console sign-in or API token works.
    disabled_at: Optional[datetime] = _ts(nullable=True)

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def disabled(self) -> bool:
        return self.disabled_at is not None

    @property
    def may_launch_any(self) -> bool:
        """Admins and services may lodge any job type, as in Provena's launch route."""
        return self.role in ("admin", "service")


class ApiToken(SQLModel, table=True):
    id: Optional[int] = Field(default=None, primary_key=True)
    token_hash: str = Field(unique=True, index=True, max_length=128)
    owner: str = Field(index=True, max_length=64)
    name: str = Field(default="", max_length=128)
    created_at: datetime = _created()
    last_used_at: Optional[datetime] = _ts(nullable=True)
    revoked_at: Optional[datetime] = _ts(nullable=True)


class SignIn(SQLModel, table=True):
    """One console sign-in. Its random id travels in the browser's signed value
    (app.signin); the sign-in holds while this row is open (not ended, not expired), so
    signing out, an admin, or disabling the user can end it on the server."""

    __table_args__ = (sa.Index("ix_signin_username_created", "username", "created_at"),)

    id: str = Field(primary_key=True, max_length=64)
    username: str = Field(max_length=64)
    created_at: datetime = _created()
    expires_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    last_seen_at: Optional[datetime] = _ts(nullable=True)  # to the minute
    address: str = Field(default="", max_length=64)  # the client address it was made from
    ended_at: Optional[datetime] = _ts(nullable=True)
    ended_why: str = Field(default="", max_length=128)  # e.g. "signed out", "ended by admin root"


# --- registry -------------------------------------------------------------


class Item(SQLModel, table=True):
    __table_args__ = (sa.Index("ix_item_owner_created", "owner", "created_at", "id"),
                      sa.Index("ix_item_created", "created_at", "id"),
                      sa.Index("ix_item_owner_subtype_created", "owner", "subtype", "created_at", "id"),
                      sa.Index("ix_item_subtype_created", "subtype", "created_at", "id"),
                      # Provena's registry lists: one kind, complete items or seeds only
                      sa.Index("ix_item_subtype_rtype_created", "subtype", "record_type", "created_at", "id"))

    id: str = Field(default_factory=new_id, primary_key=True, max_length=64)
    subtype: str = Field(index=True, max_length=64)
    display_name: str = Field(max_length=256)
    description: str = Field(default="")
    owner: str = Field(max_length=64)
    version: int = 1
    previous_version_id: Optional[str] = Field(default=None, max_length=64, index=True)
    next_version_id: Optional[str] = Field(default=None, max_length=64)
    version_reason: Optional[str] = None
    record: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    record_status: str = Field(default="INCOMPLETE", max_length=16)  # INCOMPLETE | COMPLETE | LODGED
    # COMPLETE_ITEM, or SEED_ITEM while the record lacks a field its kind needs (app.item_kinds)
    record_type: str = Field(default="COMPLETE_ITEM", max_length=16)
    create_workflow_id: Optional[str] = Field(default=None, max_length=64)
    version_workflow_id: Optional[str] = Field(default=None, max_length=64)
    created_at: datetime = _created()
    updated_at: datetime = _created()


# Names by their folded key (app.db.name_key), then id: a search by the start of a name
# (app.item_search) reads one range of it in order. An expression, so declared after the
# table's columns exist.
sa.Index("ix_item_name_key", name_key(Item.__table__.c.display_name), Item.__table__.c.id)


class Activity(SQLModel, table=True):
    id: str = Field(primary_key=True, max_length=64)
    kind: str = Field(max_length=32)  # Create | Version | ModelRun
    item_id: str = Field(index=True, max_length=64)
    job_id: Optional[str] = Field(default=None, max_length=64)
    agent: str = Field(max_length=128)
    record: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    started_at: Optional[datetime] = _ts(nullable=True)
    ended_at: Optional[datetime] = _ts(nullable=True)
    created_at: datetime = _created()


class ProvEdge(SQLModel, table=True):
    """One PROV relation `subject relation object`, e.g. item wasGeneratedBy activity."""

    __table_args__ = (sa.UniqueConstraint("subject", "relation", "object", name="uq_prov_edge"),
                      # Downstream walks read a node's links in this index's order (app/lineage.py).
                      sa.Index("ix_prov_edge_object_relation_subject", "object", "relation", "subject"))

    id: Optional[int] = Field(default=None, primary_key=True)
    subject: str = Field(max_length=128)
    relation: str = Field(max_length=32)
    object: str = Field(max_length=128)
    record_id: str = Field(max_length=64, index=True)
    created_at: datetime = _created()


# --- configuration: where and what runs ------------------------------------


class Backend(SQLModel, table=True):
    id: Optional[int] = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=64)
    description: str = ""
    max_workers: int = 2
    idle_timeout_s: int = 120
    job_timeout_s: int = 600
    # While paused (max_workers 0): the maximum it had before, which a resume puts back.
    resume_workers: Optional[int] = None
    created_at: datetime = _created()


class Task(SQLModel, table=True):
    id: Optional[int] = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=64)
    description: str = ""
    backend: str = Field(default="default", max_length=64)
    kind: str = Field(default="command", max_length=16)  # command | handler
    command: str = ""  # a template, e.g. "wc -l {input}"
    handler: str = ""  # dotted path of a registered Python handler
    input_glob: str = ""
    output_glob: str = ""
    ok_exit_codes: str = "0"  # comma separated
    timeout_s: int = 600
    created_at: datetime = _created()
    # Variables added to its command's environment (name -> value), never through a shell.
    environment: dict[str, str] = Field(default_factory=dict, sa_type=sa.JSON)
    # Automatic retries of a step that ended FAILED or CRASHED (app.retries), 0: none.
    retries: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    # The software version or configuration each step's provenance record names (free text).
    software_version: str = Field(default="", sa_column_kwargs={"server_default": ""})


class TaskParameter(SQLModel, table=True):
    id: Optional[int] = Field(default=None, primary_key=True)
    task_id: int = Field(foreign_key="task.id", index=True)
    name: str = Field(max_length=64)
    flag: str = ""
    default: str = ""
    required: bool = False
    # The rule a value must follow (app.parameters), checked when a run is lodged.
    type: str = Field(default="text", max_length=16)  # text | integer | number | choice | boolean
    choices: list[str] = Field(default_factory=list, sa_type=sa.JSON)  # the allowed values of a choice
    minimum: Optional[float] = None
    maximum: Optional[float] = None
    # A switch (Analytics Automated's bool_valued): the flag alone, dropped when the value is false.
    bool_valued: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})


class Pipeline(SQLModel, table=True):
    id: Optional[int] = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=64)
    description: str = ""
    # Fair use for this pipeline's runs (app.fairuse); None: the global setting.
    queue_hog_size: Optional[int] = None
    queue_hard_limit: Optional[int] = None
    created_at: datetime = _created()
    # Not runnable: shown, but refused at submission (Analytics Automated's 403).
    runnable: bool = Field(default=True, sa_column_kwargs={"server_default": sa.true()})
    # Public: anyone may run it without signing in (owned by the built-in anonymous user).
    public: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})
    # Input validators (app.validators) every upload must pass, in order.
    validators: list[str] = Field(default_factory=list, sa_type=sa.JSON,
                                  sa_column_kwargs={"server_default": sa.text("'[]'")})


class RunTime(SQLModel, table=True):
    """How long a pipeline run took that ended with every step succeeded (its
    submission's lodging to its last step's end), written by the join that finds it
    complete: runtime estimates read a pipeline's newest rows through the index."""

    __tablename__ = "run_time"
    __table_args__ = (sa.Index("ix_run_time_pipeline_finished", "pipeline_id", "finished_at"),)

    run_id: str = Field(primary_key=True, max_length=64)  # the run's root job
    pipeline_id: int
    seconds: float
    finished_at: datetime = _created()


class PipelineStep(SQLModel, table=True):
    """Steps of equal `order` run in parallel; the next order starts when all succeed."""

    id: Optional[int] = Field(default=None, primary_key=True)
    pipeline_id: int = Field(foreign_key="pipeline.id", index=True)
    order: int
    task_id: int = Field(foreign_key="task.id")


# --- jobs -----------------------------------------------------------------


class Batch(SQLModel, table=True):
    """Jobs lodged together. The per-status counts are kept current by every
    transition, so a batch's progress never needs a scan of its jobs."""

    __table_args__ = (sa.Index("ix_batch_owner_created", "owner", "created_at", "id"),
                      sa.Index("ix_batch_created", "created_at", "id"),
                      # a submission's batches; with NULL, the batches lodged directly, newest first
                      sa.Index("ix_batch_submission_created", "submission_job_id", "created_at", "id"))

    id: str = Field(default_factory=new_id, primary_key=True, max_length=64)
    owner: str = Field(max_length=64)
    label: str = Field(default="", max_length=256)
    submission_job_id: Optional[str] = Field(default=None, max_length=64)
    created_at: datetime = _created()
    email: Optional[str] = Field(default=None, max_length=254)  # told when the batch ends (app.notify)
    total: int = 0
    pending: int = 0
    dequeued: int = 0
    in_progress: int = 0
    succeeded: int = 0
    failed: int = 0
    crashed: int = 0
    cancelled: int = 0


class Job(SQLModel, table=True):
    __table_args__ = (
        sa.Index("ix_job_owner_created", "owner", "created_at", "id"),
        sa.Index("ix_job_created", "created_at", "id"),
        sa.Index("ix_job_batch_created", "batch_id", "created_at", "id"),
        sa.Index("ix_job_batch_row", "batch_id", "batch_row", "id"),  # a batch's jobs in the order lodged
        sa.Index("ix_job_workflow_created_id", "workflow_id", "created_at", "id"),
        sa.Index("ix_job_status_created_id", "status", "created_at", "id"),  # keyset order (bulk actions)
        # the oldest waiting jobs of one backend (stuck-job warnings, the admin overview)
        sa.Index("ix_job_status_queue_created", "status", "queue", "created_at"),
        # the oldest finished jobs first, for retention
        sa.Index("ix_job_finished", "finished_at"),
        # Each filter of the jobs panel and the API, alone, for one owner or for everyone:
        # its first page and every "load more" read only the rows they show.
        sa.Index("ix_job_owner_status_created", "owner", "status", "created_at", "id"),
        sa.Index("ix_job_owner_type_created", "owner", "job_type", "created_at", "id"),
        sa.Index("ix_job_owner_subtype_created", "owner", "job_subtype", "created_at", "id"),
        sa.Index("ix_job_type_created", "job_type", "created_at", "id"),
        sa.Index("ix_job_subtype_created", "job_subtype", "created_at", "id"),
        sa.Index("ix_job_entity", "entity_id"),
        sa.Index("ix_job_parent", "parent_job_id"),
        # One user's submissions: the jobs no job lodged and no batch holds. Everyone's are
        # read through ix_job_batch_created (batch_id IS NULL), skipping workflow steps.
        sa.Index("ix_job_root_owner_created", "owner", "created_at", "id",
                 **_where("parent_job_id IS NULL AND batch_id IS NULL")),
        # Fair use counts a submitter's live submissions: an anonymous one's by its address.
        sa.Index("ix_job_client_addr_status", "client_addr", "status", **_where("client_addr IS NOT NULL")),
        # ... and stops at its limit: the submitter's live pipeline jobs, by run, so that
        # DISTINCT workflow_id ... LIMIT n reads at most the jobs of n runs (app.fairuse).
        sa.Index("ix_job_live_runs_owner", "owner", "workflow_id",
                 **_where(LIVE_PIPELINE_JOB + " AND client_addr IS NULL")),
        sa.Index("ix_job_live_runs_addr", "client_addr", "workflow_id",
                 **_where(LIVE_PIPELINE_JOB + " AND client_addr IS NOT NULL")),
        # A pipeline's past runs, newest first: of one owner, and everyone's (admins). Only
        # a run's root carries its pipeline, so these hold one entry per run.
        sa.Index("ix_job_pipeline_owner_created", "pipeline_id", "owner", "created_at", "id",
                 **_where("pipeline_id IS NOT NULL")),
        sa.Index("ix_job_pipeline_created", "pipeline_id", "created_at", "id", **_where("pipeline_id IS NOT NULL")),
        # The jobs panel sorted by when a job started, or by how long it ran (longest
        # first): of one owner, and everyone's. Only the jobs that started (that ran) have
        # a place in these orders, so each index holds only them.
        sa.Index("ix_job_owner_started", "owner", "started_at", "id", **_where("started_at IS NOT NULL")),
        sa.Index("ix_job_started", "started_at", "id", **_where("started_at IS NOT NULL")),
        sa.Index("ix_job_owner_ran", "owner", "ran_ms", "id", **_where("ran_ms IS NOT NULL")),
        sa.Index("ix_job_ran", "ran_ms", "id", **_where("ran_ms IS NOT NULL")),
        # A search by id prefix: one owner's ids in order (everyone's: the primary key).
        sa.Index("ix_job_owner_id", "owner", "id"),
        # A workflow step is lodged once however often its parent's handler runs.
        sa.UniqueConstraint("lineage_key", name="uq_job_lineage"),
        sa.UniqueConstraint("owner", "idempotency_key", name="uq_job_idempotency"),
    )

    id: str = Field(default_factory=new_id, primary_key=True, max_length=64)
    owner: str = Field(max_length=64)
    job_type: str = Field(max_length=32)
    job_subtype: str = Field(max_length=64)
    status: str = Field(default="PENDING", max_length=16)
    prev_status: Optional[str] = Field(default=None, max_length=16)
    attempt: int = 1
    payload: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    result: Optional[dict[str, Any]] = _json()
    info: Optional[str] = None
    error_detail: Optional[str] = None  # traceback: for admins only
    last_message: Optional[str] = None
    progress: Optional[float] = None
    batch_id: Optional[str] = Field(default=None, max_length=64)
    batch_row: Optional[int] = None  # its place in its batch, from 1: a CSV file's row order
    workflow_id: Optional[str] = Field(default=None, max_length=64)
    parent_job_id: Optional[str] = Field(default=None, max_length=64)
    step: Optional[int] = None
    entity_id: Optional[str] = Field(default=None, max_length=64)
    # What the job is about (an item's name, a pipeline run, a batch's label), set when it
    # is lodged so a list shows it without reading anything else.
    subject: str = Field(default="", max_length=256)
    lineage_key: Optional[str] = Field(default=None, max_length=160)
    idempotency_key: Optional[str] = Field(default=None, max_length=128)
    queue: str = Field(default="default", max_length=64)
    # Which of its backend's queues it waits on (high | normal | low, app.fairuse): kept
    # so that a retry, the reconciler and the reaper queue it again at the same priority.
    priority: str = Field(default="normal", max_length=8, sa_column_kwargs={"server_default": "normal"})
    worker: Optional[str] = Field(default=None, max_length=128)
    lodged_by: Optional[str] = Field(default=None, max_length=64)  # who lodged it: its owner, or an admin for them
    # The address a submission came from when no one signed in (a public pipeline's
    # anonymous submitter, as Analytics Automated identifies them); None otherwise.
    client_addr: Optional[str] = Field(default=None, max_length=64)
    # The pipeline a run's root (the run, its submission) ran; None on every other job,
    # its other steps included.
    pipeline_id: Optional[int] = None
    created_at: datetime = _created()
    # When this attempt was lodged: created_at for the first, the retry's time after;
    # an attempt's waits and run are timed from here.
    lodged_at: Optional[datetime] = _ts(nullable=True)
    dequeued_at: Optional[datetime] = _ts(nullable=True)
    started_at: Optional[datetime] = _ts(nullable=True)
    finished_at: Optional[datetime] = _ts(nullable=True)
    # How long the attempt ran (started to finished, in milliseconds), written by the
    # move to a final status: the jobs panel sorts by it through its index.
    ran_ms: Optional[int] = Field(default=None, sa_type=sa.BigInteger)
    updated_at: datetime = _created()


class JobCount(SQLModel, table=True):
    """How many of an owner's jobs are in a status, split over shards (app.counts keeps
    them; owner "*" counts everyone's). A count is the sum of its shards."""

    owner: str = Field(primary_key=True, max_length=64)
    status: str = Field(primary_key=True, max_length=16)
    shard: int = Field(primary_key=True)
    n: int = 0


class JobMessage(SQLModel, table=True):
    """One line of a job's history; every transition adds one."""

    __table_args__ = (sa.Index("ix_job_message_job", "job_id", "id"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    job_id: str = Field(max_length=64)
    at: datetime = _created()
    level: str = Field(default="info", max_length=16)  # info | warning | error
    status: Optional[str] = Field(default=None, max_length=16)
    attempt: int = 1
    text: str


class JobFile(SQLModel, table=True):
    __table_args__ = (sa.UniqueConstraint("job_id", "name", name="uq_job_file"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    job_id: str = Field(max_length=64, index=True)
    name: str = Field(max_length=256)
    size: int
    sha256: str = Field(max_length=64)
    stored_path: str
    created_at: datetime = _created()


# --- periodic jobs ---------------------------------------------------------


class Schedule(SQLModel, table=True):
    """A job type, or a pipeline run (`pipeline` set: its payload holds the parameters and
    the kept input file), lodged on a cron schedule (in a time zone) by the housekeeper."""

    __table_args__ = (sa.Index("ix_schedule_due", "paused", "next_at"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=64)
    job_type: str = Field(max_length=64)
    job_subtype: str = Field(max_length=64)
    pipeline: Optional[str] = Field(default=None, max_length=64)  # the pipeline run it lodges, by name when made
    payload: dict = _json(nullable=False)
    owner: str = Field(max_length=64)  # whose job each firing lodges
    created_by: str = Field(max_length=64)  # the admin it lodges as: refused once they are no admin
    cron: str = Field(max_length=128)
    timezone: str = Field(default="UTC", max_length=64)
    paused: bool = False
    created_at: datetime = _created()
    next_at: Optional[datetime] = _ts(nullable=True)  # the next firing, in UTC
    last_due_at: Optional[datetime] = _ts(nullable=True)  # the last firing considered (lodged, missed or refused)
    last_job_id: Optional[str] = Field(default=None, max_length=64)
    missed: int = 0  # firings that fell in a downtime and were not run


class ScheduleFiring(SQLModel, table=True):
    """Each firing of a schedule once: lodged (its job), missed (a downtime: how many,
    from when to when) or refused (why)."""

    __table_args__ = (sa.UniqueConstraint("schedule_id", "due_at", name="uq_schedule_firing"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    schedule_id: int = Field(foreign_key="schedule.id", ondelete="CASCADE")
    due_at: datetime = _ts()
    outcome: str = Field(max_length=16)  # lodged | missed | refused
    job_id: Optional[str] = Field(default=None, max_length=64)
    note: str = Field(default="", max_length=1000)
    at: datetime = _created()


# The provenance records of job runs, the audit log and the per-minute aggregates live
# on the same metadata, each in a module of its own (imported for their tables).
from app import audit_tables, record_tables  # noqa: E402,F401
from app.minute_tables import job_minute  # noqa: E402,F401  (registers every aggregate table)

TABLES = SQLModel.metadata
