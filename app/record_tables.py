"""The provenance record of every job run (app.records): what it used and made, the code
and environment it ran with; the environments workers ran in, kept once each; and the
jobs lodged to reproduce others. Self-contained rows that outlive the jobs (retention
keeps them). On the same metadata as app.models, which imports this module so that
every table is made and migrated together."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.columns import created as _created, ts as _ts



class JobRecord(SQLModel, table=True):
    """The provenance record of a job's run: what it used and made (by sha256), the code
    and environment it ran with, its parameters, who lodged it and its times. Written by
    the worker in the transaction that ends each attempt (the latest attempt's, with
    every attempt listed); self-contained, so it outlives the job (retention keeps it)."""

    __table_args__ = (sa.Index("ix_job_record_workflow", "workflow_id", "created_at"),
                      sa.Index("ix_job_record_owner_created", "owner", "created_at"))

    job_id: str = Field(primary_key=True, max_length=64)
    owner: str = Field(max_length=64)
    lodged_by: str = Field(default="", max_length=64)
    job_type: str = Field(max_length=32)
    job_subtype: str = Field(max_length=64)
    workflow_id: Optional[str] = Field(default=None, max_length=64)
    parent_job_id: Optional[str] = Field(default=None, max_length=64)
    batch_id: Optional[str] = Field(default=None, max_length=64)
    step_key: str = Field(default="", max_length=256)  # pairs a workflow's steps in a diff
    status: str = Field(max_length=16)
    attempt: int = 1
    parameters: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    inputs: list[dict[str, Any]] = Field(default_factory=list, sa_type=sa.JSON)  # name, sha256, size, ...
    outputs: list[dict[str, Any]] = Field(default_factory=list, sa_type=sa.JSON)
    code: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)  # package, version, commit, handler, task
    host: str = Field(default="", max_length=256)
    worker: str = Field(default="", max_length=128)
    environment: str = Field(default="", max_length=64)  # WorkerEnvironment.fingerprint
    attempts: list[dict[str, Any]] = Field(default_factory=list, sa_type=sa.JSON)
    created_at: datetime = _created()  # when the job was first lodged
    lodged_at: Optional[datetime] = _ts(nullable=True)  # this attempt
    dequeued_at: Optional[datetime] = _ts(nullable=True)
    started_at: Optional[datetime] = _ts(nullable=True)
    finished_at: Optional[datetime] = _ts(nullable=True)
    recorded_at: datetime = _created()


class WorkerEnvironment(SQLModel, table=True):
    """A worker's Python and installed distributions, kept once per fingerprint (a
    sha256 of them), however many jobs ran in it."""

    fingerprint: str = Field(primary_key=True, max_length=64)
    python: str = Field(max_length=64)
    implementation: str = Field(default="", max_length=32)
    packages: list[list[str]] = Field(default_factory=list, sa_type=sa.JSON)  # [name, version], sorted
    created_at: datetime = _created()


class JobReproduction(SQLModel, table=True):
    """A job (or a workflow's root) lodged to reproduce another with the same inputs
    and parameters; `scope` says whether one job or the whole workflow is compared."""

    job_id: str = Field(primary_key=True, max_length=64)
    of_job_id: str = Field(max_length=64, index=True)
    scope: str = Field(default="job", max_length=16)  # job | workflow
    lodged_by: str = Field(max_length=64)
    created_at: datetime = _created()
