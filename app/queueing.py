"""Committed jobs handed to their RQ queues. Lodging, retries, the join and the
reconciler all end here; when Redis does not answer, each job says it waits, and the
reconciler queues it once Redis is back."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Iterable, Optional

import sqlalchemy as sa

from app import events, queues
from app.db import utcnow, write_conn
from app.lifecycle import JobStatus
from app.models import Job, JobMessage

log = logging.getLogger(__name__)

_job = Job.__table__
_msg = JobMessage.__table__

WAITING = ("Waiting for the queue: Redis did not answer. The job is kept and will be "
           "queued as soon as Redis is back.")


@dataclass(frozen=True)
class Lodged:
    """A committed job that still has to reach its queue."""

    job_id: str
    attempt: int
    backend: str
    timeout_s: Optional[int]
    owner: Optional[str] = None
    batch_id: Optional[str] = None
    priority: str = "normal"  # which of its backend's queues (app.keys.PRIORITIES)


def enqueue(lodged: Iterable[Lodged]) -> bool:
    """Put committed jobs on their queues; if Redis is away, say so on each job."""
    lodged = list(lodged)
    if not lodged:
        return True
    try:
        queues.enqueue((j.job_id, j.attempt, j.backend, j.timeout_s, j.priority) for j in lodged)
        _announce(lodged)
        return True
    except queues.REDIS_ERRORS as exc:
        log.warning("Redis did not answer; %d job(s) wait for the reconciler: %s", len(lodged), exc)
        now = utcnow()
        with write_conn() as conn:
            ids = [j.job_id for j in lodged]
            conn.execute(sa.update(_job).where(_job.c.id.in_(ids)).values(last_message=WAITING))
            conn.execute(sa.insert(_msg), [dict(job_id=j.job_id, at=now, level="warning",
                                                status=JobStatus.PENDING.value, attempt=j.attempt,
                                                text=WAITING) for j in lodged])
        return False


def _announce(lodged: list[Lodged]) -> None:
    """Publish that new jobs exist (a retry announces itself by its transition), so open
    jobs panels show them before a worker takes them. One event per owner and batch."""
    groups: dict[tuple[Optional[str], Optional[str]], list[str]] = {}
    for j in lodged:
        if j.attempt == 1 and j.owner:
            groups.setdefault((j.owner, j.batch_id), []).append(j.job_id)
    for (owner, batch_id), ids in groups.items():
        events.publish({"kind": "lodged", "owner": owner, "batch_id": batch_id, "count": len(ids),
                        "job_ids": ids[-200:]})
