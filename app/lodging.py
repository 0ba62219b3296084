"""Job rows as lodging writes them: a PENDING row (`row`), inserted with its first history
line, its subject and its place in the status counts (`insert`), in the caller's
transaction. Every way of lodging (launch, a workflow's next step, a pipeline run, a
run's mail, the registry) writes through here; queueing what was inserted after commit
is app.queueing's.
"""

from __future__ import annotations

from operator import itemgetter
from typing import Any, Optional

import sqlalchemy as sa

from app import counts
from app.db import utcnow
from app.jobtypes import spec_for
from app.payloads import Payload
from app.keys import NORMAL
from app.lifecycle import JobStatus
from app.models import Batch, Job, JobMessage
from app.queueing import Lodged

_job = Job.__table__
_msg = JobMessage.__table__
_batch = Batch.__table__
_by_id = itemgetter("id")


def row(*, job_id: str, owner: str, spec, payload: Payload, batch_id=None, workflow_id=None,
        parent_job_id=None, step=None, entity_id=None, lineage_key=None, idempotency_key=None,
        now=None, queue: Optional[str] = None, lodged_by: Optional[str] = None,
        subject: str = "") -> dict[str, Any]:
    now = now or utcnow()
    return dict(
        id=job_id, owner=owner, job_type=spec.job_type, job_subtype=spec.job_subtype,
        status=JobStatus.PENDING.value, attempt=1, payload=payload.model_dump(mode="json"),
        batch_id=batch_id, batch_row=None, workflow_id=workflow_id, parent_job_id=parent_job_id, step=step,
        entity_id=entity_id, lineage_key=lineage_key, idempotency_key=idempotency_key,
        queue=queue or spec.backend, last_message="Lodged", lodged_by=lodged_by or owner,
        created_at=now, lodged_at=now, updated_at=now, subject=subject[:256],
    )


def insert(conn: sa.Connection, rows: list[dict[str, Any]], *, text: str, ignore: bool = False) -> list[Lodged]:
    """Insert job rows and their first history line; with `ignore`, rows that exist
    already (a handler that ran twice) are left as they are and not returned."""
    if not rows:
        return []
    if ignore:
        ids = [r["id"] for r in rows]
        existing = set(conn.execute(sa.select(_job.c.id).where(_job.c.id.in_(ids))).scalars())
        rows = [r for r in rows if r["id"] not in existing]
        if not rows:
            return []
    subjects(conn, rows)
    # Written in id order: a batch's rows share their created_at, so most indexes of a
    # job end (..., created_at, id), and random ids put every entry in a random place;
    # in id order each index (the primary key too) is filled in one pass. At 10,000 jobs
    # it is 40% less time in the database. The queue order is the given one (below).
    ordered = sorted(rows, key=_by_id) if len(rows) > 1 else rows
    conn.execute(sa.insert(_job), ordered)
    counts.added(conn, ((r["id"], r["owner"], r["status"]) for r in rows))
    conn.execute(sa.insert(_msg), [dict(job_id=r["id"], at=r["created_at"], level="info",
                                        status=JobStatus.PENDING.value, attempt=1, text=text)
                                   for r in ordered])
    out = []
    for r in rows:
        spec = spec_for(r["job_type"], r["job_subtype"])
        out.append(Lodged(r["id"], 1, r["queue"], spec.timeout_s, r["owner"], r.get("batch_id"),
                          r.get("priority") or NORMAL))
    return out


def subjects(conn: sa.Connection, rows: list[dict[str, Any]]) -> None:
    """What each job is about, where its lodger did not say: the item it is for (with
    its version past the first), else the label of its batch, else the label its payload
    gives. Read once per lodging (two queries at most), so no list ever reads it again."""
    todo = [r for r in rows if not r.get("subject")]
    if not todo:
        return
    from app.models import Item

    _item = Item.__table__
    entity_ids = {r["entity_id"] for r in todo if r.get("entity_id")}
    batch_ids = {r["batch_id"] for r in todo if r.get("batch_id")}
    items = {i.id: i for i in conn.execute(sa.select(_item.c.id, _item.c.display_name, _item.c.version)
                                           .where(_item.c.id.in_(entity_ids)))} if entity_ids else {}
    labels = dict(conn.execute(sa.select(_batch.c.id, _batch.c.label).where(_batch.c.id.in_(batch_ids))).all()) \
        if batch_ids else {}
    for r in todo:
        item = items.get(r.get("entity_id"))
        if item is not None:
            subject = item.display_name + (f" (v{item.version})" if item.version > 1 else "")
        else:
            subject = labels.get(r.get("batch_id")) or str((r.get("payload") or {}).get("label") or "")
        r["subject"] = subject[:256]
