"""Metrics routes: `GET /metrics` in Prometheus' text format (JOBDECK_METRICS_TOKEN, or
an admin's or service's API token), `GET /api/admin/metrics`, the JSON of the
admin metrics page's series, and `GET /api/metrics/me`, the caller's own."""

from __future__ import annotations

from datetime import datetime
from typing import Optional

from fastapi import APIRouter, Depends, Response
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import BaseModel, Field

from app import dashboard, my_metrics, prometheus
from app.api.deps import AUTH_RESPONSES, _bearer, admin_user, current_user
from app.api.jobs import _p
from app.models import User

router = APIRouter(tags=["metrics"])


@router.get("/metrics", summary="Prometheus metrics (JOBDECK_METRICS_TOKEN, or an admin's API token)",
            response_class=Response, responses={
                **AUTH_RESPONSES, **_p(403),
                200: {"description": "Prometheus' text format", "content": {prometheus.CONTENT_TYPE: {}}}})
def scrape(creds: Optional[HTTPAuthorizationCredentials] = Depends(_bearer)) -> Response:
    if creds is None or not prometheus.token_matches(creds.credentials):
        admin_user(current_user(creds))  # 401 without a valid token, 403 for a user's
    return Response(prometheus.exposition(), media_type=prometheus.CONTENT_TYPE)


class QueueDepthOut(BaseModel):
    backend: str
    high: int
    normal: int
    low: int
    total: int


class RunTimeOut(BaseModel):
    job_type: str
    ran: int = Field(description="Jobs of this type that ran and ended in the last day")
    mean_s: float
    p50_s: Optional[float] = Field(None, description="Median run time, from the histogram's buckets")
    p95_s: Optional[float] = None


class FailuresOut(BaseModel):
    job_type: str
    job_subtype: str
    FAILED: int
    CRASHED: int


class WaitOut(BaseModel):
    backend: str
    started: int = Field(description="Jobs of this backend that started")
    mean_s: float
    p50_s: Optional[float] = Field(None, description="Median wait, from the histogram's buckets")
    p95_s: Optional[float] = None


class WorkerFailuresOut(BaseModel):
    worker: str
    backend: str
    FAILED: int
    CRASHED: int
    total: int


class WorkersOut(BaseModel):
    minute: str
    busy: Optional[float] = Field(None, description="Null: no sample that minute")
    idle: Optional[float] = None
    other: Optional[float] = None


class MetricsOut(BaseModel):
    at: datetime
    last_hour: list[dict[str, int | str]] = Field(
        description="Jobs finished per minute by final status, oldest first: {minute, SUCCEEDED, FAILED, "
                    "CRASHED, CANCELLED}")
    last_day: list[dict[str, int | str]] = Field(
        description=f"The same per {dashboard.DAY_STEP_MINUTES} minutes over the last day")
    finished_last_hour: dict[str, int]
    queue_depth: Optional[list[QueueDepthOut]] = Field(None, description="Null when Redis does not answer")
    run_times: list[RunTimeOut] = Field(description="Per job type, over the last day")
    failures: list[FailuresOut] = Field(description="FAILED and CRASHED per job type and subtype, over the "
                                                    "last day, most first")
    jobs: dict[str, int] = Field(description="Jobs per status now")
    waits: list[WaitOut] = Field(description="Queue wait (lodged to started) per backend, over the last hour")
    worker_failures: list[WorkerFailuresOut] = Field(description="FAILED and CRASHED per worker over the last "
                                                                 "day, most first (at most 12)")
    workers: list[WorkersOut] = Field(description="Workers busy, idle and other (starting, stopping) per minute "
                                                  "over the last hour, oldest first: means of the samples")


@router.get("/api/admin/metrics", response_model=MetricsOut, tags=["admin"],
            summary="The admin metrics page's series: jobs finished per minute, queue depths, run times, "
                    "failures", responses={**AUTH_RESPONSES, **_p(403)})
def admin_metrics(admin: User = Depends(admin_user)) -> MetricsOut:
    d = dashboard.read(viewer=admin)
    return MetricsOut(at=d.at, last_hour=d.last_hour, last_day=d.last_day, finished_last_hour=d.finished_last_hour,
                      queue_depth=d.queue_depth, run_times=d.run_times, failures=d.failures, jobs=d.jobs,
                      waits=d.waits, worker_failures=d.worker_failures, workers=d.workers)


class TypeFailuresOut(BaseModel):
    job_type: str
    FAILED: int
    CRASHED: int


class MyMetricsOut(BaseModel):
    at: datetime
    owner: str
    last_hour: list[dict[str, int | str]] = Field(
        description="Your jobs finished per minute by final status, oldest first")
    last_day: list[dict[str, int | str]] = Field(
        description=f"The same per {my_metrics.DAY_STEP_MINUTES} minutes over the last day")
    finished_last_hour: dict[str, int]
    finished_last_day: dict[str, int]
    run_times: list[RunTimeOut] = Field(description="Per job type, over the last day")
    failures: list[TypeFailuresOut] = Field(description="FAILED and CRASHED per job type, last day, most first")


@router.get("/api/metrics/me", response_model=MyMetricsOut, tags=["jobs"],
            summary="Your own jobs' metrics: finished per minute, run times and failures per job type",
            responses={**AUTH_RESPONSES})
def my_metrics_route(user: User = Depends(current_user)) -> MyMetricsOut:
    m = my_metrics.read(viewer=user)
    return MyMetricsOut(at=m.at, owner=m.owner, last_hour=m.last_hour, last_day=m.last_day,
                        finished_last_hour=m.finished_last_hour, finished_last_day=m.finished_last_day,
                        run_times=m.run_times, failures=m.failures)
