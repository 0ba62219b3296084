"""The bulk actions' chunks as they were before they became set-based: each job through
the domain's own one-job functions. The baseline bench/bulk_actions.py measures the
set-based chunks against, and the reference tests/integration/test_bulk_sets.py checks
them against (the same outcomes, rows, history, queues, events and aggregates). Imported
once the environment is set (it imports the app)."""

from __future__ import annotations

import time

import sqlalchemy as sa

from app import bulk_actions, launch, retention, submissions
from app.audit import audited
from app.db import session
from app.errors import NotFound, TransitionRejected
from app.models import Job

_job = Job.__table__


def as_bulk_call(action: str, fn):
    """`fn` audited as a bulk action's call is: one entry per call, its summary the message."""
    return audited(f"jobs.{action}", target=lambda a, _r: a.get("bulk_job_id") or "",
                   message=lambda _a, r: r.text if r else "")(fn)


def cancel_one_by_one(*, actor, job_ids, bulk_job_id=None) -> bulk_actions.Summary:
    out = bulk_actions.Summary("cancel", looked_at=len(job_ids))
    for jid in job_ids:
        try:
            launch.cancel_job(actor=actor, job_id=jid, message=f"Cancelled {bulk_actions._by(actor, bulk_job_id)}")
            out.count("acted", jid)
        except (NotFound, TransitionRejected):
            out.count("already_final", jid)
    return out


def retry_one_by_one(*, actor, job_ids, bulk_job_id=None) -> bulk_actions.Summary:
    out = bulk_actions.Summary("retry", looked_at=len(job_ids))
    for jid in job_ids:
        try:
            launch.retry_job(actor=actor, job_id=jid)
            out.count("acted", jid)
        except NotFound:
            out.count("not_yours", jid)
        except TransitionRejected:
            out.count("not_retryable", jid)
    return out


def delete_one_by_one(*, actor, job_ids, bulk_job_id=None) -> bulk_actions.Summary:
    """Each live job cancelled through launch.cancel_job, then the final ones removed."""
    out = bulk_actions.Summary("delete", looked_at=len(job_ids))
    note = f"Cancelled {bulk_actions._by(actor, bulk_job_id)}: it is being deleted"
    with session() as s:
        found = set(s.connection().execute(sa.select(_job.c.id).where(_job.c.id.in_(job_ids))).scalars())
    halting = []
    for jid in job_ids:
        if jid not in found:
            out.count("not_yours", jid)
            continue
        try:
            done = launch.cancel_job(actor=actor, job_id=jid, message=note)
        except (TransitionRejected, NotFound):
            continue
        out.cancelled_first += 1
        if done.prev_status.value in submissions.IN_FLIGHT:
            halting.append(jid)
    if halting:
        submissions.wait_let_go(halting, time.monotonic() + 10)
    gone = set(retention.remove_final([j for j in job_ids if j in found]))
    for jid in job_ids:
        if jid in gone:
            out.count("acted", jid)
        elif jid in found:
            out.count("changed", jid)
    return out


ONE_BY_ONE = {"cancel": cancel_one_by_one, "retry": retry_one_by_one, "delete": delete_one_by_one}
