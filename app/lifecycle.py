"""The job state machine: statuses, allowed moves, and the one guarded transition.

Every status change in Jobdeck goes through `transition()`. It is a compare-and-set in
SQL (`UPDATE … WHERE id=? AND status IN (allowed) [AND attempt=?]`, row count checked),
so a late or duplicate write can never move a job backwards; in the same transaction it
appends the history message, keeps the batch and owner counts current (and the per-minute
metrics: a start's queue wait, app.waits; an end's app.metrics, the owner's
app.my_metrics and a failure's worker, app.worker_metrics) and stamps the times, and
after commit it publishes the event the console and the API streams listen to.
app.lifecycle_sets makes the same guarded move for a set of jobs in one statement (a
bulk action's chunk), from this table of allowed moves and with what a move writes
(`row_values`, `keep_ended`, the ended hooks) taken from here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from functools import lru_cache
from typing import Any, Callable, Optional

import sqlalchemy as sa

from app import counts, events, metrics, my_metrics, waits, worker_metrics
from app.db import ms_between, utcnow, write_conn
from app.errors import NotFound, TransitionRejected
from app.models import Batch, Job, JobMessage


class JobStatus(str, Enum):
    PENDING = "PENDING"
    DEQUEUED = "DEQUEUED"
    IN_PROGRESS = "IN_PROGRESS"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CRASHED = "CRASHED"
    CANCELLED = "CANCELLED"

    @property
    def is_final(self) -> bool:
        return self in FINAL

    @property
    def description(self) -> str:
        return DESCRIPTIONS[self]

    @property
    def aa_name(self) -> str:
        """The name Analytics Automated used for this status."""
        return AA_NAMES[self]


S = JobStatus
FINAL = frozenset({S.SUCCEEDED, S.FAILED, S.CRASHED, S.CANCELLED})
_FINAL_VALUES = frozenset(s.value for s in FINAL)
RETRYABLE = frozenset({S.FAILED, S.CRASHED, S.CANCELLED})

# to -> the statuses it may be reached from. PENDING is reached again only by a retry,
# which starts a new attempt of the same job.
ALLOWED_FROM: dict[JobStatus, frozenset[JobStatus]] = {
    S.PENDING: RETRYABLE,
    S.DEQUEUED: frozenset({S.PENDING}),
    S.IN_PROGRESS: frozenset({S.DEQUEUED}),
    S.SUCCEEDED: frozenset({S.IN_PROGRESS}),
    S.FAILED: frozenset({S.IN_PROGRESS}),
    # A worker can die between taking a job and starting it, so DEQUEUED may crash too.
    S.CRASHED: frozenset({S.DEQUEUED, S.IN_PROGRESS}),
    S.CANCELLED: frozenset({S.PENDING, S.DEQUEUED, S.IN_PROGRESS}),
}

DESCRIPTIONS = {
    S.PENDING: "Lodged and waiting in its queue for a worker.",
    S.DEQUEUED: "A worker has taken the job from the queue and is about to start it.",
    S.IN_PROGRESS: "A worker is running the job now.",
    S.SUCCEEDED: "The job finished and its result is recorded.",
    S.FAILED: "The job ran but could not do what was asked; the message says why.",
    S.CRASHED: "The job stopped unexpectedly (worker died, timed out, or an internal error).",
    S.CANCELLED: "A user or administrator stopped the job.",
}

AA_NAMES = {
    S.PENDING: "SUBMITTED", S.DEQUEUED: "RUNNING", S.IN_PROGRESS: "RUNNING",
    S.SUCCEEDED: "COMPLETE", S.FAILED: "ERROR", S.CRASHED: "CRASH", S.CANCELLED: "CANCELLED",
}

_STAMP = {S.DEQUEUED: "dequeued_at", S.IN_PROGRESS: "started_at"}
BATCH_COLUMN = {s: s.value.lower() for s in JobStatus}  # the batch row's count of each status


def can_move(src: JobStatus | str, dst: JobStatus | str) -> bool:
    return JobStatus(src) in ALLOWED_FROM[JobStatus(dst)]


@dataclass
class Transitioned:
    """What a committed transition changed; also the event payload."""

    job_id: str
    status: JobStatus
    prev_status: JobStatus
    attempt: int
    owner: str
    batch_id: Optional[str]
    workflow_id: Optional[str]
    entity_id: Optional[str]
    job_type: str
    job_subtype: str
    message: str
    at: str
    at_dt: Optional[datetime] = field(default=None, repr=False)
    payload: dict[str, Any] = field(default_factory=dict, repr=False)
    backend: str = field(default="", repr=False)  # its queue
    started_at: Optional[datetime] = field(default=None, repr=False)
    lodged_at: Optional[datetime] = field(default=None, repr=False)  # this attempt's
    worker: Optional[str] = field(default=None, repr=False)
    priority: str = field(default="normal", repr=False)  # of its backend's queues: a retry's is the same

    def event(self) -> dict[str, Any]:
        return {
            "kind": "job", "job_id": self.job_id, "status": self.status.value,
            "prev_status": self.prev_status.value, "attempt": self.attempt, "owner": self.owner,
            "batch_id": self.batch_id, "workflow_id": self.workflow_id, "entity_id": self.entity_id,
            "job_type": self.job_type, "job_subtype": self.job_subtype,
            "message": self.message, "at": self.at,
        }


_job = Job.__table__
_msg = JobMessage.__table__
_batch = Batch.__table__


@dataclass(frozen=True)
class Move:
    """One step of `transition_steps`."""

    to: JobStatus
    message: str
    level: str = "info"
    values: Optional[dict[str, Any]] = None
    # When it happened, if not now: a job run before its start was recorded (worker/early.py)
    # records its take and start, stamped when they happened, in the commit of its end.
    at: Optional[datetime] = None


def transition(
    job_id: str,
    to: JobStatus,
    *,
    message: str,
    level: str = "info",
    attempt: Optional[int] = None,
    values: Optional[dict[str, Any]] = None,
    also: Optional[Callable[[sa.Connection, "Transitioned"], None]] = None,
    publish: bool = True,
) -> Transitioned:
    """Move a job to `to`, or raise TransitionRejected (NotFound if there is no job).

    `attempt`, when given, must match the job's current attempt: a worker's write for an
    attempt that was since retried is refused. `values` sets further columns (result,
    info, worker…). `also` runs inside the same transaction after the move (a workflow
    lodges its next step there, so success and the next step commit together).
    """
    return transition_steps(job_id, [Move(JobStatus(to), message, level, values)], attempt=attempt,
                            also=also, publish=publish)[-1]


def transition_steps(
    job_id: str,
    moves: list[Move],
    *,
    attempt: Optional[int] = None,
    also: Optional[Callable[[sa.Connection, "Transitioned"], None]] = None,
    publish: bool = True,
) -> list[Transitioned]:
    """Several guarded moves in one transaction, each with its own history line and
    event: a worker takes and starts a job (DEQUEUED, IN_PROGRESS) in one commit, since
    on SQLite every commit is a turn at the single write lock."""
    with write_conn() as conn:
        done = _fold(conn, job_id, moves, attempt) if _foldable(tuple(JobStatus(m.to) for m in moves)) else None
        if done is None:
            done = []
            for m in moves:
                done.append(_move(conn, job_id, m, attempt))
                attempt = done[-1].attempt
        conn.execute(INSERT_MESSAGE, [
            {"job_id": job_id, "at": d.at_dt, "level": m.level, "status": d.status.value,
             "attempt": d.attempt, "text": m.message} for d, m in zip(done, moves)])
        first, last = done[0], done[-1]
        if also is not None:
            also(conn, last)
        # The batch's row is shared by all of its jobs' transitions, and on PostgreSQL its
        # lock is held to the commit: it is taken after the job's own writes (its record,
        # its next steps), leaving the end's hooks and the kept counts behind it (four
        # workers on one batch spent most of their time waiting for that row while the rest
        # of each transaction ran). The kept counts stay the last locks taken (app.db).
        batch = None
        if first.prev_status is not last.status:
            if last.batch_id:
                batch = conn.execute(_batch_count_stmt(first.prev_status, last.status),
                                     {"_batch_id": last.batch_id}).first()
            counts.moved(conn, job_id=job_id, owner=last.owner, old=first.prev_status.value,
                         new=last.status.value)
        for d in done:
            if d.status is S.IN_PROGRESS:
                waits.started(conn, job_id=job_id, backend=d.backend, lodged_at=d.lodged_at, at=d.at_dt)
            elif d.status in FINAL:
                keep_ended(conn, d)
        after = []
        if last.status in FINAL:
            for hook in _WHEN_ENDED:
                then = hook(conn, last, batch)
                if then is not None:
                    after.append(then)
    if publish:
        events.publish_many([d.event() for d in done])
    for then in after:
        then()
    return done


def keep_ended(conn: sa.Connection, d: Transitioned) -> None:
    """What every move to a final status keeps in its transaction (one job's or a set's):
    the per-minute metrics, the owner's own and a failure's worker."""
    metrics.finished(conn, job_id=d.job_id, job_type=d.job_type, job_subtype=d.job_subtype,
                     backend=d.backend, status=d.status.value, at=d.at_dt, started_at=d.started_at)
    my_metrics.finished(conn, owner=d.owner, job_type=d.job_type, status=d.status.value, at=d.at_dt,
                        started_at=d.started_at)
    worker_metrics.failed(conn, worker=d.worker, backend=d.backend, status=d.status.value, at=d.at_dt)


# Run in the transaction of every move to a final status, with the batch's count row
# after the move (or None): what may have ended with it (a run, a batch) is told there,
# so the end and what it lodges commit together. A hook returns what to do after commit
# (queue what it lodged), or None. Registered by app.notify (the mail of a run or batch
# with an address): the state machine itself knows nothing of what an end sets off.
_WHEN_ENDED: list[Callable[[sa.Connection, "Transitioned", Any], Optional[Callable[[], None]]]] = []


def when_ended(hook: Callable[[sa.Connection, "Transitioned", Any], Optional[Callable[[], None]]]):
    _WHEN_ENDED.append(hook)
    return hook


def ended_hooks() -> list[Callable]:
    return list(_WHEN_ENDED)


# The hot path builds each statement once: SQLAlchemy then skips construction and reuses
# the memoized cache key, which is most of a transition's cost on SQLite. RETURNING is
# what a moved row gives back (a set's moves too).
RETURNING = (_job.c.prev_status, _job.c.attempt, _job.c.owner, _job.c.batch_id, _job.c.workflow_id,
             _job.c.entity_id, _job.c.job_type, _job.c.job_subtype, _job.c.payload, _job.c.queue,
             _job.c.started_at, _job.c.lodged_at, _job.c.created_at, _job.c.worker, _job.c.priority)
INSERT_MESSAGE = sa.insert(_msg)
_RETRY_RESET = ("result", "info", "error_detail", "progress", "worker", "dequeued_at", "started_at",
                "finished_at", "ran_ms")


@lru_cache(maxsize=None)
def _update_stmt(to: JobStatus, with_attempt: bool, extra: tuple[str, ...]) -> sa.Update:
    cond = [_job.c.id == sa.bindparam("_id", type_=_job.c.id.type),
            _job.c.status.in_([s.value for s in ALLOWED_FROM[to]])]
    if with_attempt:
        cond.append(_job.c.attempt == sa.bindparam("_attempt", type_=sa.Integer()))
    return sa.update(_job).where(*cond).values(row_values(to, extra)).returning(*RETURNING)


def row_values(to: JobStatus, extra: tuple[str, ...] = (), message: Optional[Any] = None) -> dict[str, Any]:
    """What a move to `to` writes in the job's row (one job or a set of them alike);
    `message`, an SQL expression for its last message (a set's that names each job's
    attempt), else the `_message` parameter."""
    now = sa.bindparam("_now", type_=_job.c.updated_at.type)
    vals: dict[str, Any] = {
        "prev_status": _job.c.status,  # SET uses the old row: this keeps the status we left
        "status": to.value,
        "last_message": message if message is not None else sa.bindparam("_message", type_=sa.Text()),
        "updated_at": now,
    }
    if to in _STAMP:
        vals[_STAMP[to]] = now
    if to in FINAL:
        vals["finished_at"] = now
        vals["ran_ms"] = ms_between(_job.c.started_at, now)  # NULL when it never started
    if to is S.PENDING:  # a retry: a new attempt with a clean slate, history kept
        vals["attempt"] = _job.c.attempt + 1
        vals["lodged_at"] = now  # the new attempt is timed from here
        vals.update({c: None for c in _RETRY_RESET})
    for k in extra:
        vals[k] = sa.bindparam(f"v_{k}", type_=_job.c[k].type)
    return vals


@lru_cache(maxsize=None)
def _batch_count_stmt(old: JobStatus, new: JobStatus) -> sa.Update:
    o, n = BATCH_COLUMN[old], BATCH_COLUMN[new]
    # The counts after the move come back: a batch that carries an email is told when
    # its last live job ends (app.notify), without another read.
    return (sa.update(_batch).where(_batch.c.id == sa.bindparam("_batch_id"))
            .values({o: _batch.c[o] - 1, n: _batch.c[n] + 1})
            .returning(_batch.c.email, _batch.c.label, _batch.c.total,
                       *(_batch.c[c] for c in BATCH_COLUMN.values())))


def _move(conn: sa.Connection, job_id: str, move: Move, attempt: Optional[int]) -> Transitioned:
    to, values, now = JobStatus(move.to), move.values or {}, move.at or utcnow()
    stmt = _update_stmt(to, attempt is not None, tuple(sorted(values)))
    params = {"_id": job_id, "_now": now, "_message": move.message, "_attempt": attempt,
              **{f"v_{k}": v for k, v in values.items()}}
    if attempt is None:
        del params["_attempt"]
    row = conn.execute(stmt, params).first()
    if row is None:
        sources = [s.value for s in ALLOWED_FROM[to]]
        current = conn.execute(sa.select(_job.c.status, _job.c.attempt).where(_job.c.id == job_id)).first()
        if current is None:
            raise NotFound(f"No job {job_id}.")
        why = (f"attempt {attempt} is stale (the job is on attempt {current.attempt})"
               if attempt is not None and current.attempt != attempt and current.status in sources
               else f"a {current.status} job cannot become {to.value}")
        raise TransitionRejected(f"Job {job_id}: {why}.", status=current.status, attempt=current.attempt)
    return Transitioned(
        job_id=job_id, status=to, prev_status=JobStatus(row.prev_status), attempt=row.attempt,
        owner=row.owner, batch_id=row.batch_id, workflow_id=row.workflow_id,
        entity_id=values.get("entity_id", row.entity_id), job_type=row.job_type,
        job_subtype=row.job_subtype, message=move.message, at=now.isoformat(), at_dt=now,
        payload=row.payload or {}, backend=row.queue, started_at=row.started_at,
        lodged_at=row.lodged_at or row.created_at, worker=row.worker, priority=row.priority or "normal",
    )


@lru_cache(maxsize=None)
def _foldable(tos: tuple[JobStatus, ...]) -> bool:
    """Whether moves through `tos` can be one guarded UPDATE: each step allowed from the
    one before it, and the first reached from exactly one status (so the status left is
    known without reading it) and never a retry (which counts the attempt up)."""
    if len(tos) < 2 or S.PENDING in tos or len(ALLOWED_FROM[tos[0]]) != 1:
        return False
    return all(a in ALLOWED_FROM[b] for a, b in zip(tos, tos[1:]))


@lru_cache(maxsize=None)
def _fold_stmt(tos: tuple[JobStatus, ...], with_attempt: bool, extra: tuple[str, ...]) -> sa.Update:
    """The UPDATE of a foldable chain: guarded as its first move (status IN the first
    move's sources), it lands on the last status with every step's stamps, and keeps as
    prev_status the status the last step left."""
    # Each step is stamped with its own time (`_at0`, `_at1`…): a take and start recorded
    # with the end happened before it.
    at = [sa.bindparam(f"_at{i}", type_=_job.c.updated_at.type) for i in range(len(tos))]
    vals: dict[str, Any] = {
        "prev_status": tos[-2].value,
        "status": tos[-1].value,
        "last_message": sa.bindparam("_message", type_=sa.Text()),
        "updated_at": at[-1],
    }
    for i, to in enumerate(tos):
        if to in _STAMP:
            vals[_STAMP[to]] = at[i]
        if to in FINAL:
            vals["finished_at"] = at[i]
            started = at[tos.index(S.IN_PROGRESS)] if S.IN_PROGRESS in tos else _job.c.started_at
            vals["ran_ms"] = ms_between(started, at[i])
    for k in extra:
        vals[k] = sa.bindparam(f"v_{k}", type_=_job.c[k].type)
    cond = [_job.c.id == sa.bindparam("_id", type_=_job.c.id.type),
            _job.c.status.in_([s.value for s in ALLOWED_FROM[tos[0]]])]
    if with_attempt:
        cond.append(_job.c.attempt == sa.bindparam("_attempt", type_=sa.Integer()))
    return sa.update(_job).where(*cond).values(vals).returning(*RETURNING)


def _fold(conn: sa.Connection, job_id: str, moves: list[Move], attempt: Optional[int]) -> Optional[list[Transitioned]]:
    """A foldable chain of moves as one statement: the same guard, history lines and
    events as the moves one by one, one write instead of several. None when the guard
    refuses: the moves are then tried one by one, which names the reason."""
    tos = tuple(JobStatus(m.to) for m in moves)
    values: dict[str, Any] = {}
    for m in moves:
        values.update(m.values or {})
    now = utcnow()
    ats = [m.at or now for m in moves]
    params = {"_id": job_id, "_message": moves[-1].message, **{f"_at{i}": t for i, t in enumerate(ats)},
              **{f"v_{k}": v for k, v in values.items()}}
    if attempt is not None:
        params["_attempt"] = attempt
    row = conn.execute(_fold_stmt(tos, attempt is not None, tuple(sorted(values))), params).first()
    if row is None:
        return None
    (source,) = ALLOWED_FROM[tos[0]]
    out, prev, seen = [], source, {}
    for to, m, t in zip(tos, moves, ats):
        seen.update(m.values or {})
        out.append(Transitioned(
            job_id=job_id, status=to, prev_status=prev, attempt=row.attempt, owner=row.owner,
            batch_id=row.batch_id, workflow_id=row.workflow_id,
            entity_id=seen.get("entity_id", row.entity_id), job_type=row.job_type,
            job_subtype=row.job_subtype, message=m.message, at=t.isoformat(), at_dt=t,
            payload=row.payload or {}, backend=row.queue, started_at=row.started_at,
            lodged_at=row.lodged_at or row.created_at, worker=seen.get("worker", row.worker),
            priority=row.priority or "normal"))
        prev = to
    return out


def add_message(job_id: str, text: str, *, level: str = "info", conn: Optional[sa.Connection] = None) -> None:
    """Append a history line without a status change (a warning, a progress note)."""
    def _do(c: sa.Connection) -> None:
        row = c.execute(sa.update(_job).where(_job.c.id == job_id)
                        .values(last_message=text, updated_at=utcnow())
                        .returning(_job.c.status, _job.c.attempt)).first()
        if row is None:
            raise NotFound(f"No job {job_id}.")
        c.execute(sa.insert(_msg).values(job_id=job_id, at=utcnow(), level=level,
                                         status=row.status, attempt=row.attempt, text=text))
    if conn is not None:
        _do(conn)
    else:
        with write_conn() as c:
            _do(c)


def overall_status(counts: dict[str, int]) -> str:
    """One status for a submission from the statuses of its jobs: while any job is
    live, PENDING if none has moved yet, IN_PROGRESS once any has started or finished
    (DEQUEUED when taken but none started); when all are final, the worst outcome
    (CRASHED, FAILED, CANCELLED), else SUCCEEDED."""
    live = sum(n for s, n in counts.items() if s not in _FINAL_VALUES)
    if live:
        if counts.get("PENDING", 0) == live and live == sum(counts.values()):
            return JobStatus.PENDING.value
        if counts.get("IN_PROGRESS", 0) or live < sum(counts.values()):
            return JobStatus.IN_PROGRESS.value
        return JobStatus.DEQUEUED.value if counts.get("DEQUEUED", 0) else JobStatus.PENDING.value
    for s in (JobStatus.CRASHED, JobStatus.FAILED, JobStatus.CANCELLED):
        if counts.get(s.value, 0):
            return s.value
    return JobStatus.SUCCEEDED.value
