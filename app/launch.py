"""Lodging jobs: standalone, in batches, and as the next steps of a workflow; cancel,
retry, and the reconciler that queues again what a queue lost.

A job row is committed PENDING before it is enqueued. When Redis does not answer, the
job stays lodged with a message saying it waits, and `reconcile_pending` queues it once
Redis is back: a lodged job is never lost.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any, Optional

import sqlalchemy as sa
from sqlmodel import select

from app import lifecycle, lifecycle_sets, queues
from app.auth import find_user
from app.keys import NORMAL, PRIORITIES, rq_job_id
from app import audit
from app.audit import audited
from app.db import insert_ignore, session, utcnow, write_conn
from app.errors import Conflict, InvalidInput, NotFound, PermissionDenied, TransitionRejected
from app.jobtypes import NextJob, child_job_id, spec_for, validate_payload
from app.payloads import Payload
from app.lifecycle import JobStatus, Transitioned
from app.notify import check_address
from app.queueing import WAITING, Lodged, enqueue  # noqa: F401  (callers lodge and queue through launch)
from app.lodging import insert as _insert, row as _row  # noqa: F401  (callers lodge rows through launch)
from app.models import Batch, Job, JobMessage, User
from app.columns import new_id
from app.settings import get_settings

log = logging.getLogger(__name__)

BATCH_CHUNK = 5_000  # jobs of a batch lodged in one transaction
MAX_BATCH = 100_000  # jobs of one batch

_job = Job.__table__
_msg = JobMessage.__table__
_batch = Batch.__table__

def _owner_for(actor: User, owner: Optional[str]) -> str:
    if owner and owner != actor.username:
        if not actor.may_launch_any:
            raise PermissionDenied("Only admins and services may lodge a job for another user.")
        if find_user(owner) is None:
            # A job for nobody would run and be seen by no user.
            raise InvalidInput(f"No user {owner!r}: a job is lodged for an existing user.", field="owner")
        return owner
    return actor.username


def _priority(actor: User, priority: Optional[str]) -> str:
    if priority is None or priority == NORMAL:
        return NORMAL
    if priority not in PRIORITIES:
        raise InvalidInput(f"priority is one of {', '.join(PRIORITIES)}, not {str(priority)[:40]!r}.",
                           field="priority")
    if not actor.may_launch_any:
        raise PermissionDenied("Only admins and services may choose a job's priority.")
    return priority


def _check_may_launch(actor: User, spec) -> None:
    if not (spec.user_may_launch or actor.may_launch_any):
        raise PermissionDenied(f"Lodging {spec.job_type}/{spec.job_subtype} directly is for admins and "
                               f"services; users start it through the registry.")


@audited("job.lodge", target=lambda a, r: r.id if r is not None else f"{a['job_type']}/{a['job_subtype']}")
def launch_job(*, actor: User, job_type: str, job_subtype: str, payload: Any,
               owner: Optional[str] = None, batch_id: Optional[str] = None,
               entity_id: Optional[str] = None, idempotency_key: Optional[str] = None,
               priority: Optional[str] = None) -> Job:
    """Lodge one job (the root of its own workflow), optionally into an existing batch.
    `priority` (high | normal | low) picks its backend's queue: admins and services only."""
    spec = spec_for(job_type, job_subtype)
    _check_may_launch(actor, spec)
    priority = _priority(actor, priority)
    model = validate_payload(spec, payload)
    owner = _owner_for(actor, owner)
    if idempotency_key:
        found = _by_idempotency_key(owner, idempotency_key)
        if found is not None:
            return _same_request(found, spec, model)
    job_id = new_id()
    audit.note(target=job_id)  # so its entry commits with the row
    row = _row(job_id=job_id, owner=owner, spec=spec, payload=model, batch_id=batch_id,
               workflow_id=job_id, entity_id=entity_id, idempotency_key=idempotency_key,
               lodged_by=actor.username) | {"priority": priority}
    try:
        with write_conn() as conn:
            if batch_id:
                total = conn.execute(sa.update(_batch).where(_batch.c.id == batch_id, _batch.c.owner == owner)
                                     .values(total=_batch.c.total + 1, pending=_batch.c.pending + 1)
                                     .returning(_batch.c.total)).scalar()
                if total is None:
                    raise NotFound(f"No batch {batch_id} of user {owner}.")
                row["batch_row"] = total  # the last of its batch, under the batch row's lock
            lodged = _insert(conn, [row], text=f"Lodged by {actor.username}")
    except sa.exc.IntegrityError:
        found = _by_idempotency_key(owner, idempotency_key) if idempotency_key else None
        if found is None:
            raise
        return _same_request(found, spec, model)
    enqueue(lodged)
    return get_job(job_id)


def lodge_checked(*, owner: str, lodged_by: str, job_type: str, job_subtype: str, payload: Payload,
                  subject: str = "") -> Job:
    """Lodge one job whose caller has checked everything already (who may, the payload):
    a domain function's own job, such as a bulk action's. Its audit entry is the caller's."""
    spec = spec_for(job_type, job_subtype)
    job_id = new_id()
    row = _row(job_id=job_id, owner=owner, spec=spec, payload=payload, workflow_id=job_id, lodged_by=lodged_by,
               subject=subject)
    with write_conn() as conn:
        lodged = _insert(conn, [row], text=f"Lodged by {lodged_by}")
    enqueue(lodged)
    return get_job(job_id)


def _by_idempotency_key(owner: str, key: str) -> Optional[Job]:
    with session() as s:
        return s.exec(select(Job).where(Job.owner == owner, Job.idempotency_key == key)).first()


def _same_request(found: Job, spec, model: Payload) -> Job:
    if (found.job_type, found.job_subtype) != spec.key or found.payload != model.model_dump(mode="json"):
        raise Conflict("This Idempotency-Key was used before for a different request.",
                       session_id=found.id)
    return found


def create_batch(conn: sa.Connection, *, batch_id: str, owner: str, label: str,
                 submission_job_id: Optional[str], rows: list[dict[str, Any]], text: str,
                 total: Optional[int] = None, email: Optional[str] = None) -> list[Lodged]:
    """Insert a batch and its jobs in the caller's transaction; a repeat (same batch id)
    changes nothing. With `total` larger than the rows given, the batch is lodged in
    chunks: the rest follows through add_to_batch, and until then its counts add up to
    fewer than its total (the console shows it as still lodging). `email` (checked by
    app.notify.check_address) is told when it ends."""
    now = utcnow()
    # RETURNING, not rowcount: drivers differ in what rowcount says for ON CONFLICT.
    created = conn.execute(insert_ignore(_batch, conn.dialect.name).values(
        id=batch_id, owner=owner, label=label, submission_job_id=submission_job_id, created_at=now, email=email,
        total=len(rows) if total is None else total, pending=len(rows), dequeued=0, in_progress=0, succeeded=0,
        failed=0, crashed=0, cancelled=0).returning(_batch.c.id)).first()
    if created is None:
        return []
    for n, r in enumerate(rows, start=1):  # the order given: a CSV file's rows
        r["batch_row"] = n
    return _insert(conn, rows, text=text)


def add_to_batch(conn: sa.Connection, *, batch_id: str, rows: list[dict[str, Any]], first_row: int,
                 text: str) -> list[Lodged]:
    """The next chunk of a batch lodged in chunks (create_batch with its total), in the
    caller's transaction: numbered on from `first_row`, counted PENDING in the batch."""
    for n, r in enumerate(rows, start=first_row):
        r["batch_row"] = n
    lodged = _insert(conn, rows, text=text)
    conn.execute(sa.update(_batch).where(_batch.c.id == batch_id).values(pending=_batch.c.pending + len(rows)))
    return lodged


def _batch_target(args: dict[str, Any], batch: Optional[Batch]) -> str:
    return batch.id if batch is not None else f"{args['job_type']}/{args['job_subtype']}"


@audited("batch.lodge", target=_batch_target)
def launch_batch(*, actor: User, job_type: str, job_subtype: str, payloads: list[Any],
                 label: str = "", owner: Optional[str] = None, email: Optional[str] = None) -> Batch:
    """Lodge many jobs as one batch, enqueued in bulk. One invalid payload refuses the
    whole batch, naming its index and field, before anything is written. `email` is an
    address told, once, how the batch ended (app.notify).

    A big batch is lodged in chunks of BATCH_CHUNK jobs, each its own transaction and
    enqueued as soon as it commits: the write lock is never held for long (workers'
    transitions go on meanwhile), the rows in memory stay bounded, the first jobs run
    while the rest are lodged, and the batch's page shows how many are lodged so far."""
    spec = spec_for(job_type, job_subtype)
    email = check_address(email)
    _check_may_launch(actor, spec)
    owner = _owner_for(actor, owner)
    if len(payloads) > MAX_BATCH:
        raise InvalidInput(f"A batch has at most {MAX_BATCH} jobs; this one has {len(payloads)}. Split it.",
                           field="payloads")
    models = []
    for i, p in enumerate(payloads):
        if isinstance(p, spec.payload):  # a payload its caller built, checked when it was
            models.append(p)
            continue
        try:
            models.append(validate_payload(spec, p))
        except InvalidInput as exc:  # name the position in the batch too
            field = f"payloads.{i}.{exc.field}" if exc.field else f"payloads.{i}"
            errors = [{**e, "field": f"payloads.{i}.{e['field']}"} for e in exc.errors]
            raise InvalidInput(f"Item {i}: {exc.message}", field=field, errors=errors) from None
    batch_id = new_id()
    audit.note(target=batch_id)  # its entry commits with the first chunk
    now = utcnow()
    text = f"Lodged in a batch by {actor.username}"

    def rows_of(chunk: list) -> list[dict[str, Any]]:
        rows = []
        for m in chunk:
            jid = new_id()
            rows.append(_row(job_id=jid, owner=owner, spec=spec, payload=m, batch_id=batch_id,
                             workflow_id=jid, now=now, lodged_by=actor.username))
        return rows

    for start in range(0, max(len(models), 1), BATCH_CHUNK):
        chunk = models[start:start + BATCH_CHUNK]
        try:
            with write_conn() as conn:
                if start == 0:
                    lodged = create_batch(conn, batch_id=batch_id, owner=owner, label=label, submission_job_id=None,
                                          rows=rows_of(chunk), text=text, total=len(models), email=email)
                else:
                    lodged = add_to_batch(conn, batch_id=batch_id, rows=rows_of(chunk), first_row=start + 1,
                                          text=text)
        except Exception:
            if start:
                _cut_short(batch_id, lodged=start)
            raise
        enqueue(lodged)
    with session() as s:
        return s.get(Batch, batch_id)


def _cut_short(batch_id: str, *, lodged: int) -> None:
    """A chunked batch whose next chunk could not be written (the database went away):
    its total becomes what was lodged, so it does not read as lodging forever."""
    try:
        with write_conn() as conn:
            conn.execute(sa.update(_batch).where(_batch.c.id == batch_id).values(total=lodged))
        log.error("batch %s cut short: only its first %d jobs were lodged", batch_id, lodged)
    except Exception:
        log.exception("batch %s: only %d jobs lodged, and its total could not be corrected", batch_id, lodged)


def lodge_next(conn: sa.Connection, parent: Transitioned, next_jobs: list[NextJob]) -> list[Lodged]:
    """Lodge a workflow's next steps inside the transaction that marks the parent
    SUCCEEDED. Their ids derive from the parent, so a repeat lodges nothing new."""
    rows = []
    for nj in next_jobs:
        spec = spec_for(nj.job_type, nj.job_subtype)
        rows.append(_row(job_id=child_job_id(parent.job_id, nj.key), owner=parent.owner, spec=spec,
                         payload=nj.payload, workflow_id=parent.workflow_id or parent.job_id,
                         parent_job_id=parent.job_id, step=nj.step,
                         entity_id=nj.entity_id or parent.entity_id,
                         lineage_key=f"{parent.job_id}/{nj.key}"))
    return _insert(conn, rows, text=f"Lodged by job {parent.job_id} ({parent.job_subtype})", ignore=True)


# --- reading one job ---------------------------------------------------------


def get_job(job_id: str) -> Job:
    with session() as s:
        job = s.get(Job, job_id)
    if job is None:
        raise NotFound(f"No job {job_id}.")
    return job


def job_for(actor: User, job_id: str) -> Job:
    """The job if the actor may see it; otherwise NotFound, so ids reveal nothing."""
    with session() as s:
        job = s.get(Job, job_id)
    if job is None or not (job.owner == actor.username or actor.role in ("admin", "service")):
        raise NotFound(f"No job {job_id}.")
    return job


# --- cancel and retry ----------------------------------------------------------


@audited("job.cancel", target="job_id")
def cancel_job(*, actor: User, job_id: str, message: Optional[str] = None) -> Transitioned:
    """Cancel a job that has not finished. A PENDING job leaves its queue (or its retry
    schedule); a DEQUEUED or IN_PROGRESS job is halted by its worker within about a
    second. A workflow lodges no later step: its runner's success is refused."""
    job = job_for(actor, job_id)
    if JobStatus(job.status).is_final:
        raise TransitionRejected(f"Job {job_id} is already {job.status}; there is nothing to cancel.")
    done = lifecycle.transition(job_id, JobStatus.CANCELLED, level="warning",
                                message=message or f"Cancelled by {actor.username}")
    stop_cancelled(done, backend=job.queue)
    return done


def stop_cancelled(done: Transitioned, *, backend: str) -> None:
    """After a job moved to CANCELLED: take it out of Redis, or tell its worker to halt."""
    from app.keys import halt_key
    from app.retries import unschedule

    try:
        if done.prev_status is JobStatus.PENDING:
            queues.remove(done.job_id, done.attempt, backend)
            unschedule(job_id=done.job_id, attempt=done.attempt, backend=backend)
        else:  # the worker's heartbeat thread reads this flag several times a second
            queues.redis_conn().set(halt_key(done.job_id), f"{done.attempt}:cancelled", ex=3600)
    except queues.REDIS_ERRORS:
        pass  # the runner refuses a cancelled job, and a worker reads its job's row too


def _owner_of_set(actor: User) -> Optional[str]:
    """Whose jobs a set-based action may move: a user's own (as `job_for` lets them see
    only theirs), an admin's or a service's any."""
    return None if actor.role in ("admin", "service") else actor.username


def cancel_set(*, actor: User, job_ids: list[str], message: str) -> lifecycle_sets.SetMoved:
    """Cancel the live jobs among these ids (at most lifecycle_sets.MAX_SET) that the actor
    may act on (a user: their own; an admin: any) in one transaction, then in one round
    trip take the waiting ones out of Redis and tell the workers of the running ones to
    halt, as `cancel_job` does for one. Not audited here: its callers record the whole
    action (a bulk action's chunk, a submission's cancel)."""
    moved = lifecycle_sets.transition_set(job_ids, JobStatus.CANCELLED, level="warning", message=message,
                                          owner=_owner_of_set(actor))
    stop_cancelled_set(moved.done)
    return moved


def stop_cancelled_set(done: list[Transitioned]) -> None:
    """After jobs moved to CANCELLED together: `stop_cancelled` for each, in one round trip."""
    waiting = [(d.job_id, d.attempt, d.backend) for d in done if d.prev_status is JobStatus.PENDING]
    halting = [(d.job_id, d.attempt) for d in done if d.prev_status is not JobStatus.PENDING]
    if not (waiting or halting):
        return
    try:
        queues.take_out(waiting, halting)
    except queues.REDIS_ERRORS:
        pass  # the runner refuses a cancelled job, and a worker reads its job's row too


def _retry_note(actor: User, attempt: object) -> str:
    return f"Retry requested by {actor.username}: attempt {attempt}"


def _again(done: Transitioned) -> Lodged:
    """A retried job's new attempt, for its queue: the queue it was lodged on, at the
    priority it was lodged at."""
    return Lodged(done.job_id, done.attempt, done.backend, spec_for(done.job_type, done.job_subtype).timeout_s,
                  priority=done.priority or NORMAL)


@audited("job.retry", target="job_id")
def retry_job(*, actor: User, job_id: str) -> Transitioned:
    job = job_for(actor, job_id)
    if JobStatus(job.status) not in lifecycle.RETRYABLE:
        raise TransitionRejected(f"Job {job_id} is {job.status}; only FAILED, CRASHED or CANCELLED "
                                 f"jobs can be retried.")
    done = lifecycle.transition(job_id, JobStatus.PENDING, message=_retry_note(actor, job.attempt + 1))
    enqueue([_again(done)])
    return done


def retry_set(*, actor: User, job_ids: list[str]) -> lifecycle_sets.SetMoved:
    """Retry the FAILED, CRASHED or CANCELLED jobs among these ids (at most
    lifecycle_sets.MAX_SET) that the actor may act on, as `retry_job` does for one: each a
    new attempt (its history line naming it) in one transaction, then all queued in one
    round trip a backend and priority after commit (or, with Redis away, each told it
    waits for the reconciler). Not audited here: its caller records the whole action."""
    moved = lifecycle_sets.transition_set(job_ids, JobStatus.PENDING, owner=_owner_of_set(actor),
                                          message=_retry_note(actor, lifecycle_sets.ATTEMPT))
    enqueue([_again(d) for d in moved.done])
    return moved


# --- the reconciler --------------------------------------------------------------


def reconcile_pending(*, grace_s: Optional[float] = None, chunk: int = 1000) -> int:
    """Queue again every PENDING job that its queue does not hold (lodged while Redis was
    away, or lost in a flush). Returns how many were queued again."""
    grace = get_settings().pending_grace_s if grace_s is None else grace_s
    cutoff = utcnow() - timedelta(seconds=grace)
    requeued = 0
    after = None
    while True:
        q = (sa.select(_job.c.id, _job.c.attempt, _job.c.job_type, _job.c.job_subtype, _job.c.queue,
                       _job.c.priority, _job.c.created_at)
             .where(_job.c.status == JobStatus.PENDING.value, _job.c.updated_at < cutoff)
             .order_by(_job.c.created_at, _job.c.id).limit(chunk))
        if after is not None:
            q = q.where(sa.tuple_(_job.c.created_at, _job.c.id) > after)
        with session() as s:
            rows = s.connection().execute(q).all()
        if not rows:
            return requeued
        after = (rows[-1].created_at, rows[-1].id)
        there = queues.present([rq_job_id(r.id, r.attempt) for r in rows], [r.queue for r in rows])
        missing = [r for r, ok in zip(rows, there) if not ok]
        if missing:
            lodged = []
            for r in missing:
                spec = spec_for(r.job_type, r.job_subtype)
                lodged.append(Lodged(r.id, r.attempt, r.queue, spec.timeout_s, priority=r.priority or NORMAL))
            queues.enqueue((j.job_id, j.attempt, j.backend, j.timeout_s, j.priority) for j in lodged)
            now = utcnow()
            with write_conn() as conn:
                conn.execute(sa.insert(_msg), [dict(job_id=j.job_id, at=now, level="info",
                                                    status=JobStatus.PENDING.value, attempt=j.attempt,
                                                    text="Queued: its queue did not hold it (Redis was "
                                                         "away or lost its data).") for j in lodged])
            requeued += len(lodged)
        if len(rows) < chunk:
            return requeued
