"""The guarded transition for a set of jobs at once: a bulk action's chunk (cancel,
retry, the cancel before a delete) and a submission's cancel in one statement and one
transaction, instead of one transaction a job.

The moves are app.lifecycle's: the same table of allowed moves (`ALLOWED_FROM`), what a
move writes in a row (`row_values`), what a move to a final status keeps
(`keep_ended`) and the ended hooks. This module only gathers them per set: one
`UPDATE … WHERE id IN (…) AND status IN (…)`, the history lines in one insert, each
batch's counts in one statement per status left, the owner counts in one upsert, the
events in one round trip after commit.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, Optional

import sqlalchemy as sa

from app import counts, events
from app.db import utcnow, write_conn
from app.lifecycle import (ALLOWED_FROM, BATCH_COLUMN, FINAL, INSERT_MESSAGE, RETURNING, JobStatus, Transitioned,
                           ended_hooks, keep_ended, row_values)
from app.models import Batch, Job

MAX_SET = 1000  # ids of one set-based move: one statement's parameters on every database
# In a set's message, each job's attempt after the move (a retry's message names its new
# attempt, as a single retry's does). Usernames cannot hold braces (app.auth).
ATTEMPT = "{attempt}"

_job = Job.__table__
_batch = Batch.__table__


@dataclass
class SetMoved:
    """What `transition_set` did: the jobs it moved (in the order their ids were given),
    and each id it did not move with its job's status now (None: no such job, or not
    the owner's, so ids reveal nothing)."""

    done: list[Transitioned]
    skipped: dict[str, Optional[str]]


def transition_set(
    job_ids: list[str],
    to: JobStatus,
    *,
    message: str,
    level: str = "info",
    owner: Optional[str] = None,
    publish: bool = True,
) -> SetMoved:
    """The guarded transition for a set of jobs at once (a bulk action's chunk): one
    `UPDATE … WHERE id IN (…) AND status IN (ALLOWED_FROM[to]) [AND owner=?] RETURNING`
    in one transaction that writes what `transition` writes for each job it moved (its
    history line, last message and times; a retry's new attempt; the batch, owner and
    everyone's counts; the per-minute metrics of a job that ends; the ended hooks), then
    publishes their events in one round trip after commit. A job that moved meanwhile to
    where `to` cannot be reached from is left as it is and reported in `skipped`, as
    `transition` refuses it. With `owner`, only that owner's jobs are moved (a user's
    bulk action). ATTEMPT in `message` reads as each job's attempt after the move."""
    to = JobStatus(to)
    ids = list(dict.fromkeys(job_ids))
    if len(ids) > MAX_SET:
        raise ValueError(f"at most {MAX_SET} jobs are moved at once, not {len(ids)}")
    if not ids:
        return SetMoved([], {})
    with write_conn() as conn:
        now = utcnow()
        rows = _move_set(conn, ids, to, owner, now, message)
        by_id = {r.id: r for r in rows}
        done = [Transitioned(
            job_id=r.id, status=to, prev_status=JobStatus(r.prev_status), attempt=r.attempt, owner=r.owner,
            batch_id=r.batch_id, workflow_id=r.workflow_id, entity_id=r.entity_id, job_type=r.job_type,
            job_subtype=r.job_subtype, message=message.replace(ATTEMPT, str(r.attempt)), at=now.isoformat(),
            at_dt=now, payload=r.payload or {}, backend=r.queue, started_at=r.started_at,
            lodged_at=r.lodged_at or r.created_at, worker=r.worker, priority=r.priority or "normal")
            for r in (by_id[i] for i in ids if i in by_id)]
        skipped: dict[str, Optional[str]] = {}
        missed = [i for i in ids if i not in by_id]
        if missed:
            cond = [_job.c.id.in_(missed)] + ([_job.c.owner == owner] if owner is not None else [])
            found = dict(conn.execute(sa.select(_job.c.id, _job.c.status).where(*cond)).all())
            skipped = {i: found.get(i) for i in missed}
        if done:
            conn.execute(INSERT_MESSAGE, [
                {"job_id": d.job_id, "at": now, "level": level, "status": to.value, "attempt": d.attempt,
                 "text": d.message} for d in done])
        # Each batch's counts in one statement per status left, in id order (the lock order).
        moves: dict[tuple[str, JobStatus], int] = {}
        deltas: Counter = Counter()
        for d in done:
            if d.batch_id:
                moves[(d.batch_id, d.prev_status)] = moves.get((d.batch_id, d.prev_status), 0) + 1
            h = counts.shard_of(d.job_id)
            deltas[(d.owner, d.prev_status.value, h)] -= 1
            deltas[(d.owner, to.value, h)] += 1
            if to in FINAL:
                keep_ended(conn, d)
        batch_rows: dict[str, Any] = {}
        for (batch_id, old), k in sorted(moves.items(), key=lambda kv: (kv[0][0], kv[0][1].value)):
            batch_rows[batch_id] = conn.execute(_batch_set_stmt(old, to), {"_batch_id": batch_id, "_k": k}).first()
        counts.apply(conn, deltas)
        after = []
        if to in FINAL:
            hooks, told = ended_hooks(), set()
            for d in done:
                # A batch's row after every move of the set goes to one of its jobs' hooks:
                # what the set ended is told once, as the move that ends it tells it.
                batch = None
                if d.batch_id and d.batch_id not in told:
                    told.add(d.batch_id)
                    batch = batch_rows.get(d.batch_id)
                for hook in hooks:
                    then = hook(conn, d, batch)
                    if then is not None:
                        after.append(then)
    if publish and done:
        # Marked as a set's: a console in the middle of such a storm still pushes a single
        # job's move at once (app/state/live.py), rather than after the storm's gap.
        events.publish_many([{**d.event(), "bulk": True} for d in done])
    for then in after:
        then()
    return SetMoved(done, skipped)


def _message_sql(to: JobStatus, templated: bool) -> Optional[Any]:
    """The last message of a set whose message names each job's attempt: the text around
    ATTEMPT joined to the attempt the row gets (a retry counts it up in the same SET)."""
    if not templated:
        return None
    attempt = _job.c.attempt + 1 if to is JobStatus.PENDING else _job.c.attempt
    return (sa.bindparam("_before", type_=sa.Text()) + sa.cast(attempt, sa.Text())
            + sa.bindparam("_after", type_=sa.Text()))


@lru_cache(maxsize=None)
def _set_stmt(to: JobStatus, with_owner: bool, returning: bool, templated: bool) -> sa.Update:
    cond = [_job.c.id.in_(sa.bindparam("_ids", expanding=True)),
            _job.c.status.in_([s.value for s in ALLOWED_FROM[to]])]
    if with_owner:
        cond.append(_job.c.owner == sa.bindparam("_owner", type_=_job.c.owner.type))
    stmt = sa.update(_job).where(*cond).values(row_values(to, message=_message_sql(to, templated)))
    return stmt.returning(_job.c.id, *RETURNING) if returning else stmt


def _move_set(conn: sa.Connection, ids: list[str], to: JobStatus, owner: Optional[str], now: datetime,
              message: str) -> list[Any]:
    """Move the jobs among `ids` that may move to `to`: the rows as they are after it
    (prev_status the status each left). Without UPDATE … RETURNING (SQLite before 3.35),
    the rows are read first under the write lock (FOR UPDATE on a server database), moved
    by the same guarded statement, then read again: what was read is what moved."""
    templated = ATTEMPT in message
    params: dict[str, Any] = {"_ids": ids, "_now": now}
    if templated:
        params["_before"], params["_after"] = message.split(ATTEMPT, 1)
    else:
        params["_message"] = message
    if owner is not None:
        params["_owner"] = owner
    if conn.dialect.update_returning:
        return conn.execute(_set_stmt(to, owner is not None, True, templated), params).all()
    cond = [_job.c.id.in_(ids), _job.c.status.in_([s.value for s in ALLOWED_FROM[to]])]
    if owner is not None:
        cond.append(_job.c.owner == owner)
    moving = list(conn.execute(sa.select(_job.c.id).where(*cond).with_for_update()).scalars())
    if not moving:
        return []
    conn.execute(_set_stmt(to, owner is not None, False, templated), {**params, "_ids": moving})
    return conn.execute(sa.select(_job.c.id, *RETURNING).where(_job.c.id.in_(moving))).all()


@lru_cache(maxsize=None)
def _batch_set_stmt(old: JobStatus, new: JobStatus) -> sa.Update:
    o, n = BATCH_COLUMN[old], BATCH_COLUMN[new]
    k = sa.bindparam("_k", type_=sa.Integer())
    return (sa.update(_batch).where(_batch.c.id == sa.bindparam("_batch_id"))
            .values({o: _batch.c[o] - k, n: _batch.c[n] + k})
            .returning(_batch.c.email, _batch.c.label, _batch.c.total,
                       *(_batch.c[c] for c in BATCH_COLUMN.values())))
