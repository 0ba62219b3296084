"""The reaper and the other housekeeping that keeps every job moving when workers die:

- `reap`: a DEQUEUED or IN_PROGRESS job whose worker is gone (dead, or silent past
  JOBDECK_WORKER_TTL_S) is marked CRASHED with a message naming worker and host, then
  its retry policy applies. Also a job its live worker no longer holds, and (as a
  backstop to the worker's own watch) a job far over its time limit.
- `recover_lost_takes`: a job a worker popped from its queue but died before recording
  as taken is still PENDING in SQL while RQ thinks it is running: it is queued again.
- `flag_stuck`: a job waiting PENDING past JOBDECK_STUCK_AFTER_S on a backend no worker
  can serve gets one warning in its history, with the reason.
- the pool's housekeeper process runs these (and the reconciler, due retries and the
  retry sweep) while it holds a lease, so several pools do not do the same work twice.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Callable, Iterable, Optional

import sqlalchemy as sa
from rq import Queue

from app import events, keys, lifecycle, queues, retries
from app.backends import backend_configs, time_limit
from app.db import LIKE_ESCAPE, like_literal, session, utcnow, write_conn
from app.errors import NotFound, TransitionRejected
from app.keys import job_id_from_rq
from app.lifecycle import JobStatus
from app.models import Job, JobMessage
from app.settings import get_settings
from app.workers import WorkerStatus, backend_unavailable, worker_statuses
from worker.heartbeat import HALT_GRACE_S

log = logging.getLogger("jobdeck.reaper")

_job = Job.__table__
_msg = JobMessage.__table__
IN_FLIGHT = (JobStatus.DEQUEUED.value, JobStatus.IN_PROGRESS.value)
STUCK_PREFIX = "Stuck: "


@dataclass
class Reaped:
    job_id: str
    attempt: int
    worker: str
    message: str
    retried: bool


def _why_gone(w: WorkerStatus, now: float) -> str:
    who = f"worker {w.name} on host {w.host}"
    if w.state == "dead":
        return f"Crashed: {who} died while running the job ({w.exit_reason or 'it exited'})."
    if w.state == "stopped":
        return f"Crashed: {who} stopped ({w.exit_reason or 'it exited'}) without finishing the job."
    if w.last_heartbeat is None:
        return f"Crashed: {who} sent no heartbeat; the job is presumed lost."
    age = now - w.last_heartbeat.timestamp()
    return f"Crashed: {who} stopped sending heartbeats {age:.0f} s ago; the job is presumed lost."


def crash(*, job_id: str, attempt: int, message: str) -> Optional[Reaped]:
    """Mark one attempt CRASHED (if it is still in flight), tell a worker that may still
    hold it to let go, and apply the retry policy."""
    try:
        done = lifecycle.transition(job_id, JobStatus.CRASHED, attempt=attempt, message=message, level="error",
                                    values={"info": message})
    except (TransitionRejected, NotFound):
        return None
    try:
        queues.redis_conn().set(keys.halt_key(job_id), f"{attempt}:reaped", ex=3600)
    except queues.REDIS_ERRORS:
        pass  # the worker reads the job's row as well
    again = None
    try:
        again = retries.apply_policy(done)
    except Exception:
        log.exception("job %s: automatic retry not lodged now; the sweep will", job_id)
    log.warning("job %s attempt %d: %s", job_id, attempt, message)
    return Reaped(job_id, attempt, "", message, again is not None)


def reap(*, conn=None, limit: int = 2000) -> list[Reaped]:
    """Mark CRASHED the in-flight jobs whose worker is gone or no longer holds them."""
    conn = conn or queues.redis_conn()
    ttl = get_settings().worker_ttl_s
    # Just after a Redis restart the live workers' heartbeats are not all back yet: only
    # the deaths a pool has recorded count until a time-to-live has passed.
    restarted = int(conn.info("server").get("uptime_in_seconds", 0)) < ttl
    with session() as s:
        rows = s.connection().execute(
            sa.select(_job.c.id, _job.c.attempt, _job.c.worker, _job.c.status, _job.c.updated_at,
                      _job.c.started_at, _job.c.job_type, _job.c.job_subtype, _job.c.queue)
            .where(_job.c.status.in_(IN_FLIGHT)).order_by(_job.c.created_at).limit(limit)).all()
    if not rows:
        return []
    statuses = worker_statuses(sorted({r.worker for r in rows if r.worker}), conn=conn)
    sec, usec = conn.time()
    rnow = sec + usec / 1e6
    now = utcnow()
    out = []
    for r in rows:
        w = statuses.get(r.worker or "")
        msg = None
        if w is None:
            if restarted:
                continue
            msg = "Crashed: the job names no worker; it is presumed lost."
        elif not w.alive:
            if restarted and w.state not in ("dead", "stopped"):
                continue
            msg = _why_gone(w, rnow)
        elif restarted:
            continue
        elif (w.current_job_id != r.id or (w.current_attempt and w.current_attempt != r.attempt)) \
                and r.updated_at < now - timedelta(seconds=ttl):
            msg = (f"Crashed: worker {w.name} on host {w.host} is no longer running the job; its outcome was "
                   f"never recorded.")
        elif r.status == JobStatus.IN_PROGRESS.value and r.started_at is not None:
            limit_s = time_limit(job_type=r.job_type, job_subtype=r.job_subtype, backend=r.queue)
            if (now - r.started_at).total_seconds() > limit_s + ttl + HALT_GRACE_S:
                msg = (f"Timed out after {limit_s} s: worker {w.name} on host {w.host} did not stop the job, "
                       f"so it was marked CRASHED.")
        if msg:
            done = crash(job_id=r.id, attempt=r.attempt, message=msg)
            if done:
                done.worker = r.worker or ""
                out.append(done)
    return out


def recover_lost_takes(backends: Iterable[str], *, conn=None, seen: Optional[dict] = None) -> int:
    """Queue again the PENDING jobs that a now-dead worker had popped from the queue
    but not yet recorded as taken. RQ holds them as started (or between its queue and
    its started list), so the reconciler takes them as present."""
    conn = conn or queues.redis_conn()
    grace = get_settings().pending_grace_s
    seen = seen if seen is not None else {}
    now = time.time()
    candidates: list[tuple[str, str, str]] = []  # (queue name, rq id, why)
    wip_members: dict[str, list[str]] = {}  # RQ's started list holds "<rq id>:<execution id>"
    # Every queue of every backend (high, normal, low): a job goes back on the one it was taken from.
    for b in (name for backend in backends for name in keys.queue_names(backend)):
        q = Queue(b, connection=conn)
        wip = [(m.decode() if isinstance(m, bytes) else m) for m in conn.zrange(f"rq:wip:{q.name}", 0, -1)]
        for m in wip:
            wip_members.setdefault(m.rpartition(":")[0], []).append(m)
        rq_ids = [m.rpartition(":")[0] for m in wip]
        if rq_ids:
            with conn.pipeline(transaction=False) as pipe:
                for rq_id in rq_ids:
                    pipe.hget(f"rq:job:{rq_id}", "worker_name")
                names = [(n.decode() if isinstance(n, bytes) else n) for n in pipe.execute()]
            st = worker_statuses(sorted({n for n in names if n}), conn=conn)
            for rq_id, n in zip(rq_ids, names):
                if n and n in st and not st[n].alive:
                    candidates.append((b, rq_id, f"worker {n} took it from the queue and died"))
        inter = [(m.decode() if isinstance(m, bytes) else m) for m in conn.lrange(q.intermediate_queue_key, 0, -1)]
        for rq_id in inter:
            first = seen.setdefault((b, rq_id), now)
            if now - first > grace:
                candidates.append((b, rq_id, "a worker took it from the queue and died before starting it"))
        for key in [k for k in seen if k[0] == b and k[1] not in inter]:
            del seen[key]
    if not candidates:
        return 0
    ids = {job_id_from_rq(rq_id)[0] for _, rq_id, _ in candidates}
    with session() as s:
        rows = {r.id: r for r in s.connection().execute(
            sa.select(_job.c.id, _job.c.attempt, _job.c.status, _job.c.updated_at, _job.c.job_type,
                      _job.c.job_subtype).where(_job.c.id.in_(ids))).all()}
    cutoff = utcnow() - timedelta(seconds=grace)
    n = 0
    for b, rq_id, why in candidates:
        job_id, attempt = job_id_from_rq(rq_id)
        row = rows.get(job_id)
        if row is not None and row.status == JobStatus.PENDING.value and row.attempt == attempt \
                and row.updated_at >= cutoff:
            continue  # too fresh to judge: look again on the next pass
        q = Queue(b, connection=conn)
        with conn.pipeline() as pipe:  # RQ's leftovers of a dead worker
            pipe.lrem(q.intermediate_queue_key, 0, rq_id)
            for m in wip_members.get(rq_id, []):
                pipe.zrem(f"rq:wip:{q.name}", m)
            pipe.execute()
        if row is None or row.status != JobStatus.PENDING.value or row.attempt != attempt:
            continue  # the row moved on (the reaper handles a taken job)
        from app.queueing import Lodged, enqueue
        from app.jobtypes import spec_for

        spec = spec_for(row.job_type, row.job_subtype)
        # back on the queue it was taken from: its backend, its priority
        if enqueue([Lodged(job_id, attempt, keys.backend_of_queue(b), spec.timeout_s,
                           priority=keys.priority_of_queue(b))]):
            _note_queued_again(job_id, attempt, f"Queued again: {why}.")
            seen.pop((b, rq_id), None)
            n += 1
    return n


def _note_queued_again(job_id: str, attempt: int, text: str) -> None:
    """The note of a job queued again, as the PENDING attempt it was queued as: an idle
    worker may take and end the job before the note is written, and the note must not
    pass for a second end of that attempt (nor replace its last message)."""
    pending = JobStatus.PENDING.value
    with write_conn() as conn:
        conn.execute(sa.insert(_msg).values(job_id=job_id, at=utcnow(), level="warning", status=pending,
                                            attempt=attempt, text=text))
        conn.execute(sa.update(_job).where(_job.c.id == job_id, _job.c.status == pending,
                                           _job.c.attempt == attempt).values(last_message=text, updated_at=utcnow()))


def flag_stuck(*, limit: int = 500) -> int:
    """Give each job waiting past the threshold on a backend no worker can serve one
    warning in its history (per attempt), naming the reason. Returns how many."""
    settings = get_settings()
    if int(queues.redis_conn().info("server").get("uptime_in_seconds", 0)) < settings.worker_ttl_s:
        return 0  # Redis restarted: pools and workers have not all reported again yet
    cutoff = utcnow() - timedelta(seconds=settings.stuck_after_s)
    pending = JobStatus.PENDING.value
    with session() as s:
        backends = [r[0] for r in s.connection().execute(
            sa.select(_job.c.queue).where(_job.c.status == pending, _job.c.created_at < cutoff).distinct())]
    n = 0
    for b in backends:
        reason = backend_unavailable(backend=b)
        if not reason:
            continue
        warned = sa.exists().where(_msg.c.job_id == _job.c.id, _msg.c.attempt == _job.c.attempt,
                                   _msg.c.level == "warning", _msg.c.text.like(like_literal(STUCK_PREFIX) + "%", escape=LIKE_ESCAPE))
        with session() as s:
            rows = s.connection().execute(
                sa.select(_job.c.id, _job.c.attempt, _job.c.owner, _job.c.batch_id, _job.c.workflow_id)
                .where(_job.c.status == pending, _job.c.queue == b, _job.c.created_at < cutoff,
                       _job.c.updated_at < cutoff, ~warned)
                .order_by(_job.c.created_at).limit(limit)).all()
        if not rows:
            continue
        text, now = STUCK_PREFIX + reason, utcnow()
        with write_conn() as conn:
            conn.execute(sa.insert(_msg), [dict(job_id=r.id, at=now, level="warning", status=pending,
                                                attempt=r.attempt, text=text) for r in rows])
            # updated_at stays: it marks when the job became PENDING
            conn.execute(sa.update(_job).where(_job.c.id.in_([r.id for r in rows]),
                                               _job.c.status == pending).values(last_message=text))
        events.publish_many([{"kind": "warning", "job_id": r.id, "owner": r.owner, "batch_id": r.batch_id,
                              "workflow_id": r.workflow_id, "status": pending, "message": text} for r in rows])
        n += len(rows)
    return n


def sample_workers(*, at=None) -> dict[str, dict[str, int]]:
    """Count the live workers of every backend by state from their heartbeats (one read
    of each) and keep the sample in its minute (app.worker_metrics): the admin metrics
    page's busy and idle over time."""
    from app import worker_metrics
    from app.workers import list_workers

    tally = {b: {"busy": 0, "idle": 0, "other": 0} for b in backend_configs()}
    for w in list_workers(include_gone=False):
        t = tally.setdefault(w.backend, {"busy": 0, "idle": 0, "other": 0})
        t[w.state if w.state in ("busy", "idle") else "other"] += 1
    worker_metrics.sampled(tally, at=at)
    return tally


# --- the housekeeper process of a pool -------------------------------------------------------

RENEW_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) and 1 or 0
"""


class Housekeeper:
    """Runs the duties above on a schedule while it holds the housekeeping lease."""

    DUTIES: list[tuple[str, float]] = [("release_due", 0.5), ("reap", 1.0), ("reconcile", 2.0),
                                       ("recover", 2.0), ("stuck", 5.0), ("sweep", 10.0), ("schedules", 1.0),
                                       ("retention", 60.0), ("optimize", 600.0),
                                       ("sample_workers", 10.0)]

    def __init__(self, owner: str, *, lease_ms: int = 5000):
        self.owner = owner
        self.lease_ms = lease_ms
        self.next_at = {name: 0.0 for name, _ in self.DUTIES}
        self.seen: dict = {}
        self._renew = None
        self.holding = False

    def holds_lease(self, conn) -> bool:
        if self._renew is None:
            self._renew = conn.register_script(RENEW_LUA)
        held = bool(self._renew(keys=[keys.lease_key("housekeeping")], args=[self.owner, self.lease_ms]))
        if held != self.holding:
            log.info("housekeeping %s by %s", "taken" if held else "left to another pool", self.owner)
            self.holding = held
        return held

    def release(self, conn) -> None:
        try:
            if conn.get(keys.lease_key("housekeeping")) == self.owner.encode():
                conn.delete(keys.lease_key("housekeeping"))
        except queues.REDIS_ERRORS:
            pass

    def tick(self) -> None:
        conn = queues.redis_conn()
        if not self.holds_lease(conn):
            return
        now = time.monotonic()
        for name, every in self.DUTIES:
            if now < self.next_at[name]:
                continue
            self.next_at[name] = now + every
            try:
                self._do(name, conn)
            except queues.REDIS_ERRORS as exc:
                log.warning("%s: Redis did not answer (%s); trying again", name, exc)
                return
            except Exception:
                log.exception("%s failed; trying again", name)

    def _do(self, name: str, conn) -> None:
        backends = list(backend_configs())
        if name == "release_due":
            retries.release_due(backends, conn=conn)
        elif name == "reap":
            for r in reap(conn=conn):
                log.warning("reaped job %s (attempt %d)%s", r.job_id, r.attempt, ": retried" if r.retried else "")
        elif name == "reconcile":
            from app.launch import reconcile_pending

            n = reconcile_pending()
            if n:
                log.warning("re-queued %d pending job(s) their queue had lost", n)
        elif name == "recover":
            n = recover_lost_takes(backends, conn=conn, seen=self.seen)
            if n:
                log.warning("re-queued %d job(s) taken by workers that died", n)
        elif name == "stuck":
            n = flag_stuck()
            if n:
                log.warning("%d job(s) are stuck; each was warned", n)
        elif name == "sweep":
            n = retries.sweep_missed()
            if n:
                log.warning("retried %d job(s) whose retry had been missed", n)
        elif name == "schedules":
            from app import schedules

            schedules.fire_due()
        elif name == "retention":
            from app import metrics, retention

            from app import minutes

            retention.prune()
            metrics.prune()  # minutes past JOBDECK_METRICS_KEEP_DAYS, an hour of them at a time
            minutes.prune()  # the same for waits, workers and owners' minutes
        elif name == "sample_workers":
            sample_workers()
        elif name == "optimize":
            from app.db import optimize

            optimize()


def run_housekeeper(owner: str, should_stop: Callable[[], bool], *, tick_s: float = 0.25) -> None:
    keeper = Housekeeper(owner)
    try:
        while not should_stop():
            try:
                keeper.tick()
            except queues.REDIS_ERRORS as exc:
                log.debug("housekeeping waits for Redis: %s", exc)
            time.sleep(tick_s)
    finally:
        keeper.release(queues.redis_conn())
