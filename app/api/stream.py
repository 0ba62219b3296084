"""Server-Sent Events: a job's or a batch's transitions as they happen, so scripts need
not poll.

A stream sends the current state first (`snapshot`), then each later transition once
and in order (`transition`), then `end` when the job is final (for a batch: when every
job is). A job's (attempt, status rank) only ever grows, which makes "once and in order"
checkable: an event that is exactly the next step of its job is sent as it came (no
database read); one the client has seen is dropped; when steps are missing in between
(an event came late, out of order or not at all) the job's history in the database,
which is the truth, tells them. A history line that does not move a job forward (a
note) is never sent as a transition.

One Redis subscription per web process feeds every open stream of that process; while
Redis is away the streams read the database every second.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Callable, Optional

import redis.asyncio as aioredis
import sqlalchemy as sa
from fastapi import APIRouter, Depends
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from app import keys, launch, queries
from app.users import disabled_event_of
from app.api.deps import AUTH_RESPONSES, current_user
from app.api.schemas import BatchOut, JobOut
from app.db import session
from app.lifecycle import FINAL, JobStatus
from app.models import Batch, Job, JobMessage, User
from app.settings import get_settings

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api", tags=["events"], responses=AUTH_RESPONSES)

KEEPALIVE_S = 15.0  # a comment line this often keeps proxies from closing an idle stream
POLL_S = 1.0  # how often the database is read while Redis does not answer
_REDIS_ERRORS = (aioredis.ConnectionError, aioredis.TimeoutError, OSError)


# --- the one subscription per process ---------------------------------------------


@dataclass(eq=False)
class _Sub:
    wants: Callable[[dict], bool]
    queue: asyncio.Queue = field(default_factory=lambda: asyncio.Queue(maxsize=1000))
    overflow: bool = False

    def offer(self, event: Optional[dict]) -> None:
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.overflow = True  # the stream re-reads the database instead


class _Hub:
    """Listens on the events channel while any stream is open and hands each event to
    the streams it concerns. `None` in a queue means "re-read": Redis reconnected and
    events may have been missed."""

    def __init__(self, url: str, channel: str):
        self.url, self.channel = url, channel
        self.subs: set[_Sub] = set()
        self.task: Optional[asyncio.Task] = None
        self.connected = asyncio.Event()

    def add(self, wants: Callable[[dict], bool]) -> _Sub:
        sub = _Sub(wants)
        self.subs.add(sub)
        if self.task is None:
            self.task = asyncio.get_running_loop().create_task(self._run())
        return sub

    def remove(self, sub: _Sub) -> None:
        self.subs.discard(sub)

    async def _run(self) -> None:
        try:
            await self._listen()
        finally:  # ended (no stream left), or cancelled with its loop: the next stream starts anew
            if self.task is asyncio.current_task():
                self.task = None
                self.connected.clear()

    async def _listen(self) -> None:
        while True:
            conn = pubsub = None
            try:
                conn = aioredis.Redis.from_url(self.url, socket_connect_timeout=1.0)
                pubsub = conn.pubsub()
                await pubsub.subscribe(self.channel)
                self.connected.set()
                for sub in list(self.subs):
                    sub.offer(None)
                while self.subs:
                    msg = await pubsub.get_message(ignore_subscribe_messages=True, timeout=5.0)
                    if msg is None or msg.get("type") != "message":
                        continue
                    try:
                        event = json.loads(msg["data"])
                    except (TypeError, ValueError):
                        continue
                    for sub in list(self.subs):
                        if sub.wants(event):
                            sub.offer(event)
            except Exception as exc:  # Redis away or answering oddly: streams read the database meanwhile
                if self.connected.is_set() or not isinstance(exc, _REDIS_ERRORS):
                    log.warning("event stream: %s: %s; streams read the database", type(exc).__name__, exc)
                self.connected.clear()
            finally:
                for closing in (pubsub and pubsub.aclose(), conn and conn.aclose()):
                    if closing is not None:
                        try:
                            await closing
                        except Exception:  # closing a dead connection may fail: nothing to keep
                            pass
            # Decided without an await before _run's reset, so a stream added meanwhile
            # either keeps this loop going or starts a new one.
            if not self.subs:
                return
            if not self.connected.is_set():
                await asyncio.sleep(POLL_S)
                if not self.subs:
                    return


_hubs: dict[tuple[int, str, str], _Hub] = {}


def _hub() -> _Hub:
    # One per event loop and Redis (tests run several apps and Redis servers in turn).
    loop = asyncio.get_running_loop()
    key = (id(loop), get_settings().redis_url, keys.events_channel())
    hub = _hubs.get(key)
    if hub is not None and hub.task is not None and hub.task.get_loop() is not loop:
        hub = None  # a closed loop's id given to a new one
    if hub is None:
        for k in [k for k, h in _hubs.items() if h.task is None and not h.subs]:
            del _hubs[k]
        hub = _hubs[key] = _Hub(key[1], key[2])
    return hub


# --- reading transitions from the history ---------------------------------------------

_RANK = {JobStatus.PENDING: 0, JobStatus.DEQUEUED: 1, JobStatus.IN_PROGRESS: 2}


def _order(attempt: int, status: Optional[str]) -> tuple[int, int]:
    if status is None:
        return attempt, -1
    return attempt, _RANK.get(JobStatus(status), 3)


@dataclass
class _JobCursor:
    """How far a stream has told one job's story."""

    after_id: int
    attempt: int
    status: Optional[str]  # None: not lodged yet when the stream began

    def advance(self, rows: list[JobMessage]) -> list[dict[str, Any]]:
        """The transitions among history rows read from the database."""
        out = []
        for m in rows:
            self.after_id = max(self.after_id, m.id)
            if m.status is None or _order(m.attempt, m.status) <= _order(self.attempt, self.status):
                continue  # a note, or a step the client has seen already
            out.append({"job_id": m.job_id, "status": m.status, "prev_status": self.status,
                        "attempt": m.attempt, "message": m.text, "at": m.at.isoformat(),
                        "message_id": m.id})
            self.attempt, self.status = m.attempt, m.status
        return out

    def from_event(self, e: dict) -> tuple[str, Optional[dict[str, Any]]]:
        """("new", transition) when the event is the very next step of this job, told
        without a database read; ("old", None) when the client has seen it; ("gap",
        None) when steps are missing in between (read the history instead)."""
        try:
            status, attempt, prev = e["status"], int(e["attempt"]), e.get("prev_status")
            order = _order(attempt, status)
        except (KeyError, TypeError, ValueError):
            return "gap", None
        if order <= _order(self.attempt, self.status):
            return "old", None
        next_attempt = attempt == self.attempt or (status == JobStatus.PENDING.value and attempt == self.attempt + 1)
        if self.status is None or prev != self.status or not next_attempt:
            return "gap", None
        t = {"job_id": e["job_id"], "status": status, "prev_status": self.status, "attempt": attempt,
             "message": e.get("message", ""), "at": e.get("at"), "message_id": None}
        self.attempt, self.status = attempt, status
        return "new", t

    @property
    def final(self) -> bool:
        return self.status is not None and JobStatus(self.status) in FINAL


def _max_message_id(s) -> int:
    return s.exec(sa.select(sa.func.max(JobMessage.id))).scalar() or 0


def _job_snapshot(actor: User, job_id: str) -> tuple[Job, _JobCursor]:
    launch.job_for(actor, job_id)  # NotFound for a job the caller may not see
    with session() as s:
        # The history position first: a transition committed between the two reads
        # shows in the snapshot and is then skipped as not moving the job forward.
        after = s.exec(sa.select(sa.func.max(JobMessage.id)).where(JobMessage.job_id == job_id)).scalar() or 0
        job = s.get(Job, job_id)
    return job, _JobCursor(after, job.attempt, job.status)


def _messages(job_id: str, after_id: int) -> list[JobMessage]:
    with session() as s:
        return list(s.exec(sa.select(JobMessage).where(JobMessage.job_id == job_id, JobMessage.id > after_id)
                           .order_by(JobMessage.id)).scalars())


_COUNTED = [st.value for st in JobStatus]


@dataclass
class _BatchReader:
    """A batch's story: every job's cursor, and the counts per status kept from the
    transitions told (so they always agree with what the client was sent)."""

    batch: Batch
    marker: int  # history position when the snapshot was taken
    jobs: dict[str, _JobCursor]
    scanned: int = 0

    @classmethod
    def snapshot(cls, actor: User, batch_id: str) -> "_BatchReader":
        queries.get_batch(viewer=actor, batch_id=batch_id)
        with session() as s:
            marker = _max_message_id(s)
            batch = s.get(Batch, batch_id)
            rows = s.exec(sa.select(Job.id, Job.attempt, Job.status).where(Job.batch_id == batch_id)).all()
        return cls(batch, marker, {r.id: _JobCursor(marker, r.attempt, r.status) for r in rows})

    def out(self) -> BatchOut:
        counts = {st: 0 for st in _COUNTED}
        for cur in self.jobs.values():
            if cur.status is not None:
                counts[cur.status] += 1
        total = sum(counts.values())
        done = sum(counts[st.value] for st in FINAL) >= total
        return BatchOut(id=self.batch.id, owner=self.batch.owner, label=self.batch.label,
                        submission_job_id=self.batch.submission_job_id, created_at=self.batch.created_at,
                        total=total, counts=counts, lodged=total, done=done)

    def from_events(self, events: list[dict]) -> tuple[list[dict[str, Any]], set[str], bool]:
        """Transitions told by the events themselves; the jobs whose history must be
        read; and whether the whole batch must be scanned."""
        sent, read, scan = [], set(), False
        for e in events:
            kind = e.get("kind")
            if kind == "lodged":  # jobs added to the batch
                ids = e.get("job_ids") or []
                read.update(i for i in ids if i not in self.jobs)
                scan = scan or len(ids) < int(e.get("count") or 0)
            elif kind == "job" and e.get("job_id"):
                job_id = e["job_id"]
                cur = self.jobs.get(job_id)
                if cur is None or job_id in read:
                    read.add(job_id)  # keep this job's steps in order: all from the history
                    continue
                verdict, t = cur.from_event(e)
                if verdict == "new":
                    sent.append(t)
                elif verdict == "gap":
                    read.add(job_id)
        return sent, read, scan

    def of_jobs(self, job_ids: set[str]) -> list[dict[str, Any]]:
        out = []
        with session() as s:
            for job_id in sorted(job_ids):
                cur = self.jobs.get(job_id)
                if cur is None:
                    last = s.exec(sa.select(JobMessage.attempt, JobMessage.status)
                                  .where(JobMessage.job_id == job_id, JobMessage.id <= self.marker)
                                  .order_by(JobMessage.id.desc()).limit(1)).first()
                    # A job lodged into the batch after the snapshot starts before PENDING.
                    cur = _JobCursor(self.marker, last.attempt, last.status) if last else _JobCursor(self.marker, 0, None)
                    self.jobs[job_id] = cur
                rows = list(s.exec(sa.select(JobMessage).where(JobMessage.job_id == job_id,
                                                               JobMessage.id > cur.after_id)
                                   .order_by(JobMessage.id)).scalars())
                out += cur.advance(rows)
        return out

    def scan(self) -> list[dict[str, Any]]:
        """Every job of the batch with history past what was read (a missed wake-up)."""
        with session() as s:
            start = max(self.marker, self.scanned)
            top = _max_message_id(s)
            job_ids = set(s.exec(sa.select(JobMessage.job_id).distinct()
                                 .join(Job, Job.id == JobMessage.job_id)
                                 .where(Job.batch_id == self.batch.id, JobMessage.id > start)).scalars())
        out = self.of_jobs(job_ids)
        self.scanned = top
        return out


# --- the streams ---------------------------------------------------------------------


def _sse(event: str, data: Any, id_: Optional[int] = None) -> str:
    head = f"id: {id_}\n" if id_ is not None else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, default=str)}\n\n"


async def _next_wake(sub: _Sub, hub: _Hub) -> tuple[bool, list[Optional[dict]]]:
    """Wait for events (gathering a burst); returns (woken, events)."""
    timeout = KEEPALIVE_S if hub.connected.is_set() else POLL_S
    try:
        first = await asyncio.wait_for(sub.queue.get(), timeout)
    except asyncio.TimeoutError:
        return False, []
    events = [first]
    while not sub.queue.empty():
        events.append(sub.queue.get_nowait())
    return True, events


async def _ready(hub: _Hub) -> None:
    try:
        await asyncio.wait_for(hub.connected.wait(), 1.0)
    except asyncio.TimeoutError:
        pass  # Redis away: read the database every POLL_S instead


async def _job_events(actor: User, job_id: str) -> AsyncIterator[str]:
    hub = _hub()
    sub = hub.add(lambda e: e.get("job_id") == job_id or disabled_event_of(e, actor.username))
    try:
        await _ready(hub)
        job, cur = await run_in_threadpool(_job_snapshot, actor, job_id)
        yield _sse("snapshot", JobOut.one(job).model_dump(mode="json"))
        while not cur.final:
            woken, events = await _next_wake(sub, hub)
            if any(e and disabled_event_of(e, actor.username) for e in events):
                return  # the caller's token no longer works: neither does its stream
            read = not woken or sub.overflow or None in events
            sub.overflow = False
            told = []
            for e in events:
                if read or not e or e.get("kind") != "job":
                    continue
                verdict, t = cur.from_event(e)
                if verdict == "new":
                    told.append(t)
                elif verdict == "gap":
                    read = True
                    break
            for t in told:
                yield _sse("transition", t)
            if read:  # the history says what the events did not
                for t in cur.advance(await run_in_threadpool(_messages, job_id, cur.after_id)):
                    yield _sse("transition", t, t["message_id"])
            for e in events:
                if e and e.get("kind") == "progress" and not cur.final:
                    yield _sse("progress", {"job_id": job_id, "progress": e.get("progress"),
                                            "message": e.get("message")})
            if not woken and hub.connected.is_set():
                yield ": keep-alive\n\n"
        yield _sse("end", {"job_id": job_id, "status": cur.status, "attempt": cur.attempt})
    finally:
        hub.remove(sub)


async def _batch_events(actor: User, batch_id: str) -> AsyncIterator[str]:
    hub = _hub()
    sub = hub.add(lambda e: e.get("batch_id") == batch_id or disabled_event_of(e, actor.username))
    try:
        await _ready(hub)
        reader = await run_in_threadpool(_BatchReader.snapshot, actor, batch_id)
        out = reader.out()
        yield _sse("snapshot", out.model_dump(mode="json"))
        while not out.done:
            woken, events = await _next_wake(sub, hub)
            if any(e and disabled_event_of(e, actor.username) for e in events):
                return
            if not woken or sub.overflow or None in events:
                sub.overflow = False
                told, read, scan = [], set(), True
            else:
                told, read, scan = reader.from_events(events)
            for t in told:
                yield _sse("transition", t)
            if scan:
                read_out = await run_in_threadpool(reader.scan)
            elif read:
                read_out = await run_in_threadpool(reader.of_jobs, read)
            else:
                read_out = []
            for t in read_out:
                yield _sse("transition", t, t["message_id"])
            new = reader.out()
            if new != out:
                out = new
                yield _sse("batch", out.model_dump(mode="json"))
            elif not woken and hub.connected.is_set():
                yield ": keep-alive\n\n"
        yield _sse("end", {"batch_id": batch_id, "counts": out.counts})
    finally:
        hub.remove(sub)


_SSE_DOC = {200: {"description": "An event stream: `snapshot`, then `transition` (and `progress`, "
                                 "`batch`) events, then `end`.",
                  "content": {"text/event-stream": {"schema": {"type": "string"}}}},
            404: {"description": "No such job or batch visible to the caller",
                  "content": {"application/problem+json": {}}}}
_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


@router.get("/jobs/{job_id}/events", responses=_SSE_DOC, response_class=StreamingResponse,
            summary="Stream a job's transitions (Server-Sent Events)")
async def job_events(job_id: str, actor: User = Depends(current_user)):
    await run_in_threadpool(launch.job_for, actor, job_id)  # a 404 before the stream starts
    return StreamingResponse(_job_events(actor, job_id), media_type="text/event-stream", headers=_HEADERS)


@router.get("/batches/{batch_id}/events", responses=_SSE_DOC, response_class=StreamingResponse,
            summary="Stream the transitions of a batch's jobs (Server-Sent Events)")
async def batch_events(batch_id: str, actor: User = Depends(current_user)):
    await run_in_threadpool(lambda: queries.get_batch(viewer=actor, batch_id=batch_id))
    return StreamingResponse(_batch_events(actor, batch_id), media_type="text/event-stream", headers=_HEADERS)
