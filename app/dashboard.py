"""The series of the admin metrics page and of `GET /api/admin/metrics`: jobs finished
per minute by status over the last hour (and per 10 minutes over the last day), queue
depth and queue wait p50/p95 per backend (the last hour), run time p50/p95 per job type
and failures by type and by worker over the last day, workers busy and idle per minute
over the last hour, and jobs per status now. All from kept aggregates (app.metrics,
app.waits, app.worker_metrics, app.counts) and one Redis round trip; a read costs the
same at a thousand jobs or a million."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Optional

from app import counts, metrics, queues, waits, worker_metrics
from app.backends import backend_configs
from app.db import utcnow
from app.errors import PermissionDenied
from app.models import User

DAY_STEP_MINUTES = 10


@dataclass
class Dashboard:
    at: datetime
    last_hour: list[dict]  # one per minute: {"minute": ISO, "SUCCEEDED": n, ...}
    last_day: list[dict]  # one per DAY_STEP_MINUTES
    queue_depth: Optional[list[dict]]  # per backend {"backend", "high", "normal", "low", "total"}; None: Redis away
    run_times: list[dict]  # per job type {"job_type", "ran", "mean_s", "p50_s", "p95_s"}, the last day
    failures: list[dict]  # per type and subtype {"job_type", "job_subtype", "FAILED", "CRASHED"}, the last day
    jobs: dict[str, int] = field(default_factory=dict)  # per status now
    # per backend {"backend", "started", "mean_s", "p50_s", "p95_s"}, the last hour
    waits: list[dict] = field(default_factory=list)
    # the workers with most failures {"worker", "backend", "FAILED", "CRASHED", "total"}, the last day
    worker_failures: list[dict] = field(default_factory=list)
    # per minute {"minute", "busy", "idle", "other"} (means of the samples), the last hour
    workers: list[dict] = field(default_factory=list)
    finished_last_hour: dict[str, int] = field(default_factory=dict)  # per final status


def read(*, viewer: User, now: Optional[datetime] = None) -> Dashboard:
    """Every series of the page (admins and services)."""
    if viewer.role not in ("admin", "service"):
        raise PermissionDenied("Metrics are for admins.")
    now = now or utcnow()
    hour = metrics.finished_series(since=now - timedelta(minutes=59), until=now)
    day = metrics.finished_series(since=now - timedelta(days=1) + timedelta(minutes=DAY_STEP_MINUTES), until=now,
                                  step_minutes=DAY_STEP_MINUTES)
    try:
        names = sorted(backend_configs())
        depth = [{"backend": b, **d, "total": sum(d.values())} for b, d in queues.depths(names).items()]
    except queues.REDIS_ERRORS:
        depth = None
    since = now - timedelta(days=1)
    return Dashboard(at=now, last_hour=hour, last_day=day, queue_depth=depth,
                     run_times=metrics.run_times(since=since), failures=metrics.failures(since=since),
                     jobs=counts.read(), finished_last_hour={s: sum(m[s] for m in hour) for s in metrics.FINAL},
                     waits=waits.by_backend(since=now - timedelta(minutes=59)),
                     worker_failures=worker_metrics.failures_by_worker(since=since),
                     workers=worker_metrics.busy_series(since=now - timedelta(minutes=59), until=now))
