"""The audit log: who did what, when, from where and with what outcome, hash-chained.

Every domain function that changes something (lodging, cancelling, retrying and
deleting jobs and submissions, configuring backends, tasks and pipelines, managing
users and tokens, signing in and out) is wrapped in `audited`, so the console, the
REST API and the operator's commands are all recorded the same way: one entry when the
action is done ("ok"), appended in the first write transaction it commits so the change
and its entry commit together (app.db's last hook before commit), and one when it is
refused ("refused", with the refusal's message: a JobdeckError such as
PermissionDenied or InvalidInput; the same refusal again and again is written once a
window, app.refusals). A changing API request refused before the domain is recorded by
app.api.auditctx.

Who, from where and via what come from a context variable: the REST API sets it per
request (app.api.auditctx), the console per event (app.state.base), and it defaults
to via "operator" (python -m app.manage on the host).

The chain: each entry's hash is sha256 over the previous entry's hash and the entry's
canonical content (its id, time, actor, address, via, action, target, outcome and
message as sorted JSON). The one-row head table holds the last id and hash; a writer
locks it (FOR UPDATE on PostgreSQL; SQLite's BEGIN IMMEDIATE serializes writers) in
the transaction that inserts the entry (the change's, where it is an SQL write), so
ids are gapless and every entry names its true predecessor even with many processes
writing. A write costs one read of the head,
one insert and one update, whatever the log's size. `verify` walks the log in order
and names the first entry that was altered, inserted, reordered or removed.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
import logging
import re
from contextlib import contextmanager
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Iterator, Optional, Union

import sqlalchemy as sa

from app import refusals
from app.db import get_engine, insert_ignore, last_before_commit, session, utcnow, write_conn
from app.errors import InvalidCursor, InvalidInput, JobdeckError, PermissionDenied
from app.audit_tables import AuditEntry, AuditHead
from app.paging import MAX_LIMIT, decode_cursor, encode_cursor

log = logging.getLogger(__name__)

GENESIS = "0" * 64  # the "previous hash" of the first entry
VIAS = ("api", "console", "operator")
OUTCOMES = ("ok", "refused")
OPERATOR_NAME = "the operator"

# The actions recorded, by name (the audit page offers them as a filter).
ACTIONS = (
    "job.lodge", "batch.lodge", "pipeline.run", "pipeline.run-again", "job.cancel", "job.retry", "submission.cancel",
    "jobs.bulk", "jobs.cancel", "jobs.retry", "jobs.delete",
    "submission.delete", "backend.create", "backend.update", "backend.delete", "backend.pause", "backend.resume", "backend.purge", "task.create",
    "task.update", "task.delete", "pipeline.create", "pipeline.update", "pipeline.delete", "config.import",
    "user.add", "user.disable", "user.enable", "user.password-reset", "user.end-sign-ins", "user.token-revoke",
    "token.create", "token.revoke",
    "password.change", "sign-in", "sign-out", "schedule.create", "schedule.pause_or_resume", "schedule.delete",
    "item.create", "item.version", "request",
)
REQUEST = "request"  # a changing API request refused before it reached the domain (app.api.auditctx)

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class Context:
    """Who acts, from where, via what: set per request or event."""

    via: str = "operator"
    address: str = ""
    actor: Optional[str] = None  # when the domain function does not name the actor itself


_context: ContextVar[Context] = ContextVar("jobdeck_audit_context", default=Context())
_inside: ContextVar[bool] = ContextVar("jobdeck_audit_inside", default=False)


def set_context(*, via: str, address: str = "", actor: Optional[str] = None) -> Token:
    return _context.set(Context(via=via, address=address or "", actor=actor))


def reset_context(token: Token) -> None:
    _context.reset(token)


def current_context() -> Context:
    return _context.get()


@contextmanager
def acting(*, via: str, address: str = "", actor: Optional[str] = None) -> Iterator[None]:
    token = set_context(via=via, address=address, actor=actor)
    try:
        yield
    finally:
        reset_context(token)


# --- the chain -----------------------------------------------------------------------


def _clean(text: Any, size: int) -> str:
    return _CONTROL.sub("?", str(text if text is not None else ""))[:size]


def canonical(entry: dict[str, Any]) -> str:
    """An entry's content as the hash covers it: every field but the hashes."""
    at = entry["created_at"]
    return json.dumps({"id": entry["id"], "created_at": at.isoformat() if isinstance(at, datetime) else at,
                       "actor": entry["actor"], "address": entry["address"], "via": entry["via"],
                       "action": entry["action"], "target": entry["target"], "outcome": entry["outcome"],
                       "message": entry["message"]}, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def chain_hash(prev_hash: str, entry: dict[str, Any]) -> str:
    return hashlib.sha256((prev_hash + canonical(entry)).encode("utf-8")).hexdigest()


def _lock_head(conn: sa.Connection) -> tuple[int, str]:
    head = AuditHead.__table__
    q = sa.select(head.c.seq, head.c.hash).where(head.c.id == 1)
    if conn.dialect.name == "postgresql":
        q = q.with_for_update()
    row = conn.execute(q).first()
    if row is None:  # a database made without the migration's seed row
        conn.execute(insert_ignore(head, conn.dialect.name).values(id=1, seq=0, hash=GENESIS))
        row = conn.execute(q).first()
    return row.seq, row.hash


def _values(*, action: str, target: Any = "", outcome: str = "ok", message: str = "",
            actor: Optional[str] = None) -> dict[str, Any]:
    ctx = _context.get()
    who = actor or ctx.actor or (OPERATOR_NAME if ctx.via == "operator" else "")
    return {"created_at": utcnow(), "actor": _clean(who, 64), "address": _clean(ctx.address, 64),
            "via": _clean(ctx.via, 16), "action": _clean(action, 64), "target": _clean(target, 256),
            "outcome": _clean(outcome, 16), "message": _clean(message, 1024)}


def _append(conn: sa.Connection, values: dict[str, Any]) -> int:
    """Append one entry in `conn`'s transaction: the head locked, the entry inserted
    with the next id, the head moved (the lock held until that transaction ends)."""
    entries, head = AuditEntry.__table__, AuditHead.__table__
    seq, prev = _lock_head(conn)
    values = dict(values, id=seq + 1, prev_hash=prev)
    values["hash"] = chain_hash(prev, values)
    conn.execute(entries.insert().values(**values))
    conn.execute(sa.update(head).where(head.c.id == 1).values(seq=values["id"], hash=values["hash"]))
    return values["id"]


def record(*, action: str, target: str = "", outcome: str = "ok", message: str = "",
           actor: Optional[str] = None) -> int:
    """Append one entry in a transaction of its own (who, from where and via what from
    the context) and return its id."""
    values = _values(action=action, target=target, outcome=outcome, message=message, actor=actor)
    with write_conn() as conn:
        return _append(conn, values)


def _record_quietly(**kw: Any) -> None:
    # The action itself is done (or refused) by now: a failed audit write is logged
    # loudly rather than turned into a failure of what already happened.
    try:
        record(**kw)
    except Exception:
        log.exception("audit entry %s could not be written", kw)


def record_refusal(*, action: str, target: Any = "", message: str = "", actor: Optional[str] = None) -> None:
    """A refusal's entry, unless the same refusal from the same address was recorded
    within the flood window (app.refusals: then it is only counted, and the count is
    said on the next entry of that refusal)."""
    values = _values(action=action, target=target, outcome="refused", message=message, actor=actor)
    from_before = refusals.admit(values)
    if from_before is None:
        return
    if from_before:
        values["message"] = _clean(f"{values['message']} ({from_before})", 1024)
    try:
        with write_conn() as conn:
            _append(conn, values)
    except Exception:
        log.exception("audit entry %s could not be written", values)


# --- the entry of the change under way ------------------------------------------------


@dataclass
class _Pending:
    """The "ok" entry of an audited call, appended by the first write transaction the
    call commits (app.db.last_before_commit): the change and its entry commit together.
    When what it says needs the call's result, the domain function gives it with `note`
    before its transaction commits; otherwise it is written after the call (below)."""

    action: str
    args: dict[str, Any]
    who: Any
    target: Pick
    actor: Pick
    message: Pick
    noted: dict[str, Any] = field(default_factory=dict)
    entry_id: Optional[int] = None  # once its transaction has committed

    def values_now(self) -> Optional[dict[str, Any]]:
        target = self.noted.get("target")
        if target is None:
            if _needs_result(self.target):
                return None
            target = _pick(self.target, self.args, None)
        who = self.noted.get("actor") or self.who
        if who is None and self.actor is not None:
            if _needs_result(self.actor):
                return None
            who = _pick(self.actor, self.args, None)
        said = self.noted.get("message")
        if said is None:
            if self.message is not None:
                return None
            said = ""
        return _values(action=self.action, target=_clean(target, 256), outcome="ok", message=_clean(said, 1024),
                       actor=_name_of(who))


_pending: ContextVar[Optional[_Pending]] = ContextVar("jobdeck_audit_pending", default=None)


def note(*, target: Any = None, message: Any = None, actor: Any = None) -> None:
    """What the entry of the audited call under way says, known before its transaction
    commits (a lodged job's id): lets the entry be written in that transaction."""
    p = _pending.get()
    if p is None:
        return
    for k, v in (("target", target), ("message", message), ("actor", actor)):
        if v is not None:
            p.noted[k] = v


@last_before_commit
def _append_pending(conn: sa.Connection) -> Optional[Callable[[], None]]:
    p = _pending.get()
    if p is None or p.entry_id is not None:
        return None
    values = p.values_now()
    if values is None:
        return None
    entry_id = _append(conn, values)

    def committed() -> None:
        p.entry_id = entry_id

    return committed


def _name_of(actor: Any) -> Optional[str]:
    if actor is None:
        return None
    return getattr(actor, "username", None) or str(actor)


@dataclass(frozen=True)
class from_args:
    """A pick made from the call's arguments alone: known before the change commits."""

    fn: Callable[[dict[str, Any]], Any]


Pick = Union[str, from_args, Callable[[dict[str, Any], Any], Any], None]


def _needs_result(how: Pick) -> bool:
    return callable(how) and not isinstance(how, from_args)


def _pick(how: Pick, args: dict[str, Any], result: Any) -> Any:
    if how is None:
        return None
    if isinstance(how, from_args):
        try:
            return how.fn(args)
        except Exception:
            return None
    if callable(how):
        try:
            return how(args, result)
        except Exception:  # a target unreadable from a refused call's arguments
            return None
    return args.get(how)


def audited(action: str, *, target: Pick = None, actor: Pick = None, message: Pick = None) -> Callable:
    """Record every call of the decorated domain function as `action`: "ok" when it
    returns, "refused" with the message when it raises a JobdeckError. `target` and
    `actor` are an argument's name, `from_args(fn)` or a function of (arguments, result
    or None); the actor defaults to the `actor` or `viewer` argument, else the
    context's. `message`,
    picked the same way, is what an "ok" entry says (a bulk action's summary). A call
    made inside another audited call is part of it and not recorded again."""

    def wrap(fn: Callable) -> Callable:
        sig = inspect.signature(fn)

        @functools.wraps(fn)
        def inner(*a: Any, **kw: Any) -> Any:
            if _inside.get():
                return fn(*a, **kw)
            try:
                bound = sig.bind(*a, **kw)
                bound.apply_defaults()
                args = dict(bound.arguments)
            except TypeError:
                args = dict(kw)
            who = _pick(actor, args, None) if actor is not None else (args.get("actor") or args.get("viewer"))
            flag = _inside.set(True)
            pending = _Pending(action=action, args=args, who=who, target=target, actor=actor, message=message)
            mark = _pending.set(pending)
            try:
                result = fn(*a, **kw)
            except JobdeckError as exc:
                _inside.reset(flag)
                _pending.reset(mark)
                record_refusal(action=action, target=_clean(_pick(target, args, None), 256), message=exc.message,
                               actor=_name_of(who))
                exc.audited = True  # the API's refusal handler records it no second time
                raise
            except BaseException:
                _inside.reset(flag)
                _pending.reset(mark)
                raise
            _inside.reset(flag)
            _pending.reset(mark)
            if pending.entry_id is not None:
                return result  # its entry committed with the change
            # Not an SQL change (Redis only), or one whose entry needs the result: the
            # entry follows the change, in its own transaction (docs/audit.md).
            if actor is not None and who is None:
                who = _pick(actor, args, result)
            said = _pick(message, args, result) if message is not None else ""
            _record_quietly(action=action, target=_clean(_pick(target, args, result), 256), outcome="ok",
                            message=_clean(said, 1024), actor=_name_of(who))
            return result

        return inner

    return wrap


# --- verifying -------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    ok: bool
    entries: int  # how many were checked
    bad_entry: Optional[int] = None  # the id of the first bad entry
    problem: str = ""


def verify(*, chunk: int = 5000) -> Verdict:
    """Walk the log in id order and check every link: ids without gaps from 1, each
    entry's previous hash the hash before it, each hash its content's, and the head
    where the last entry ends. Reads `chunk` entries at a time (keyset by id)."""
    entries, head = AuditEntry.__table__, AuditHead.__table__
    cols = [entries.c[k] for k in ("id", "created_at", "actor", "address", "via", "action", "target",
                                   "outcome", "message", "prev_hash", "hash")]
    expected, running, n, after = 1, GENESIS, 0, 0
    with get_engine().connect() as conn:
        while True:
            rows = conn.execute(sa.select(*cols).where(entries.c.id > after).order_by(entries.c.id)
                                .limit(chunk)).mappings().all()
            for row in rows:
                e = dict(row)
                if e["id"] != expected:
                    return Verdict(False, n, expected, f"entry {expected} is missing (the next entry is {e['id']})")
                if e["prev_hash"] != running:
                    return Verdict(False, n, e["id"], f"entry {e['id']} does not follow entry {e['id'] - 1} "
                                                      "(its previous hash differs): inserted or reordered")
                if chain_hash(e["prev_hash"], e) != e["hash"]:
                    return Verdict(False, n, e["id"], f"entry {e['id']} was altered (its content does not "
                                                      "match its hash)")
                running, expected, n = e["hash"], expected + 1, n + 1
            if len(rows) < chunk:
                break
            after = rows[-1]["id"]
        top = conn.execute(sa.select(head.c.seq, head.c.hash).where(head.c.id == 1)).first()
    seq, top_hash = (top.seq, top.hash) if top else (0, GENESIS)
    if seq != n:
        if seq > n:
            return Verdict(False, n, n + 1, f"entry {n + 1} is missing: the log ends at {n}, its head says {seq}")
        return Verdict(False, n, seq + 1, f"entry {seq + 1} is past the chain's head ({seq}): inserted")
    if top_hash != running:
        return Verdict(False, n, n or None, f"entry {n} does not match the chain's head: altered")
    return Verdict(True, n)


# --- reading ------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditFilter:
    actor: Optional[str] = None
    action: Optional[str] = None
    target: Optional[str] = None
    outcome: Optional[str] = None
    via: Optional[str] = None  # not indexed: narrows what another filter found
    since: Optional[datetime] = None  # at or after
    until: Optional[datetime] = None  # before


def _check_admin(viewer: Any) -> None:
    if viewer is None or getattr(viewer, "role", None) != "admin":
        raise PermissionDenied("The audit log is for admins.")


def _cursor_id(cursor: str) -> int:
    _, id_ = decode_cursor(cursor)
    if not id_.isdigit() or len(id_) > 18:
        raise InvalidCursor("The cursor is not one this server gave out: send back the next_cursor "
                            "of the previous page unchanged.", field="cursor")
    return int(id_)


def entries(*, viewer: Any, filters: AuditFilter = AuditFilter(), cursor: Optional[str] = None,
            limit: int = 50) -> tuple[list[AuditEntry], Optional[str]]:
    """One page of the log, newest first, and the cursor of the next (admins). Each
    filter is an exact match served by its index; the time range by created_at's."""
    _check_admin(viewer)
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}.", field="limit")
    f = filters
    if f.outcome and f.outcome not in OUTCOMES:
        raise InvalidInput(f"outcome is one of {', '.join(OUTCOMES)}.", field="outcome")
    bounds = {}
    for name in ("since", "until"):
        at = getattr(f, name)
        if at is None:
            continue
        if at.tzinfo is None or at.utcoffset() is None:
            raise InvalidInput(f"{name} needs a time zone (e.g. 2026-01-31T12:00:00Z).", field=name)
        try:
            bounds[name] = at.astimezone(timezone.utc)
        except (OverflowError, ValueError):
            raise InvalidInput(f"{name} is out of range.", field=name) from None
    q = sa.select(AuditEntry)
    for name in ("actor", "action", "target", "outcome", "via"):
        value = getattr(f, name)
        if value:
            q = q.where(getattr(AuditEntry, name) == value)
    if "since" in bounds:
        q = q.where(AuditEntry.created_at >= bounds["since"])
    if "until" in bounds:
        q = q.where(AuditEntry.created_at < bounds["until"])
    if cursor:
        q = q.where(AuditEntry.id < _cursor_id(cursor))
    q = q.order_by(AuditEntry.id.desc()).limit(limit + 1)
    with session() as s:
        rows = list(s.execute(q).scalars())
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (encode_cursor(rows[-1].created_at, str(rows[-1].id)) if more else None)
