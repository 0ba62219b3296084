"""Bulk actions: cancel, retry or delete many jobs at once.

Three forms, one set of rules:
- ids (at most MAX_IDS): done at once, answering a summary ("412 cancelled, 88 already
  final, 3 not yours") and each id's outcome;
- a filter ("every job matching this", app.bulk_filter): answered with the count it
  acts on and a JOBS/BULK_ACTION job of the caller's own, which walks the filter in
  chunks (JOBDECK_BULK_CHUNK), reports its progress as any job does, and ends with the
  summary as its info and result;
- a submission (a batch or pipeline run as one unit): app.submissions' cancel and
  delete, offered to its owner as well.

Each is set-based: app.launch's `cancel_set` and `retry_set`, the guarded transition
for a whole chunk in one statement and one transaction (app.lifecycle_sets), a user's
only on their own jobs, an admin's on any, then Redis in one round trip; the outcome of
each job is what `cancel_job` or `retry_job` would have had for it. Delete (admins)
cancels the live jobs first the same way, waits for their workers to let go, then
removes them as retention does (app.retention.remove_final). Each call (each chunk of a
filter) is one audit entry whose message is its summary.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import sqlalchemy as sa

from app import bulk_filter, launch, lifecycle_sets, retention, submissions
from app.audit import acting, audited, current_context
from app.bulk_filter import ACTIONS, BulkFilter, Count
from app.db import session
from app.errors import InvalidInput, JobFailed, JobdeckError, NotFound, PermissionDenied
from app.models import Job, User
from app.shapes import text_problem

MAX_IDS = 1000
WAIT_S = 10.0  # how long a delete waits for the workers of the jobs it cancelled
_VERB = {"cancel": "cancelled", "retry": "retried", "delete": "deleted"}
_job = Job.__table__


@dataclass
class Summary:
    action: str
    looked_at: int = 0  # jobs named (ids) or read (a filter)
    acted: int = 0  # cancelled, retried or deleted
    already_final: int = 0  # cancel: ended before it could be cancelled
    not_retryable: int = 0  # retry: not FAILED, CRASHED or CANCELLED
    not_yours: int = 0  # no job of the actor's by that id (ids reveal nothing)
    cancelled_first: int = 0  # delete: live jobs cancelled before they were removed
    changed: int = 0  # delete: live again (retried) before it could be removed
    outcomes: dict[str, str] = field(default_factory=dict)  # ids form: each id's outcome

    def count(self, outcome: str, job_id: Optional[str] = None) -> None:
        if outcome == "acted":
            self.acted += 1
        else:
            setattr(self, outcome, getattr(self, outcome) + 1)
        if job_id is not None:
            self.outcomes[job_id] = _VERB[self.action] if outcome == "acted" else outcome

    def add(self, other: "Summary") -> None:
        for k in ("looked_at", "acted", "already_final", "not_retryable", "not_yours", "cancelled_first", "changed"):
            setattr(self, k, getattr(self, k) + getattr(other, k))

    @property
    def text(self) -> str:
        first = f"{self.acted} {_VERB[self.action]}"
        if self.cancelled_first:
            first += f" ({self.cancelled_first} cancelled first)"
        parts = [first]
        for k, words in (("already_final", "already final"), ("not_retryable", "not FAILED, CRASHED or CANCELLED"),
                         ("not_yours", "not yours"), ("changed", "live again, kept")):
            if getattr(self, k):
                parts.append(f"{getattr(self, k)} {words}")
        return ", ".join(parts)

    def result(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("action", "looked_at", "acted", "already_final", "not_retryable",
                                              "not_yours", "cancelled_first", "changed")} | {"summary": self.text}


def check_ids(job_ids: Any) -> list[str]:
    """The ids as sent, checked (a list of 1 to MAX_IDS ids), each once in their order."""
    if not isinstance(job_ids, list) or not job_ids:
        raise InvalidInput("ids is a list of 1 to 1000 job ids.", field="ids")
    if len(job_ids) > MAX_IDS:
        raise InvalidInput(f"At most {MAX_IDS} ids at once; these are {len(job_ids)}. Send them in parts, or act on "
                           f"a filter (every job matching it, as a bulk job).", field="ids")
    for i, jid in enumerate(job_ids):
        if not isinstance(jid, str) or not 1 <= len(jid) <= 64 or text_problem(jid):
            raise InvalidInput(f"ids.{i} is not a job id (1 to 64 characters of text).", field=f"ids.{i}")
    return list(dict.fromkeys(job_ids))


def _check_name(action: str) -> None:
    if action not in ACTIONS:
        raise InvalidInput(f"action is one of {', '.join(ACTIONS)}, not {str(action)[:40]!r}.", field="action")


def _check_action(actor: User, action: str) -> None:
    _check_name(action)
    if action == "delete" and actor.role not in ("admin", "service"):
        raise PermissionDenied("Deleting jobs is for admins; cancel them instead.")


# --- on ids ---------------------------------------------------------------------------


def _target(args: dict[str, Any], _result: Any) -> str:
    return args.get("bulk_job_id") or ",".join(args.get("job_ids") or [])


def _said(_args: dict[str, Any], result: Optional[Summary]) -> str:
    return result.text if result is not None else ""


def _ids(job_ids: Any, bulk_job_id: Optional[str]) -> list[str]:
    # A bulk job's chunk comes from its own walk (up to JOBDECK_BULK_CHUNK ids).
    return job_ids if bulk_job_id is not None else check_ids(job_ids)


def _by(actor: User, bulk_job_id: Optional[str]) -> str:
    return f"by {actor.username}" + (f" (bulk action {bulk_job_id})" if bulk_job_id else " (bulk action)")


def _sets(job_ids: list[str]):
    """The ids a set-based move at a time (a bulk job's chunk may be larger)."""
    for i in range(0, len(job_ids), lifecycle_sets.MAX_SET):
        yield job_ids[i:i + lifecycle_sets.MAX_SET]


def _tally(out: Summary, part: list[str], moved: lifecycle_sets.SetMoved, refused: str) -> None:
    """Each id's outcome: moved, `refused` (its job is in a status the move is not
    allowed from, as the single action's TransitionRejected), or not yours (no job of
    the actor's by that id, as the single action's NotFound)."""
    acted = {d.job_id for d in moved.done}
    for jid in part:
        if jid in acted:
            out.count("acted", jid)
        else:
            out.count("not_yours" if moved.skipped.get(jid) is None else refused, jid)


@audited("jobs.cancel", target=_target, message=_said)
def cancel_jobs(*, actor: User, job_ids: list[str], bulk_job_id: Optional[str] = None) -> Summary:
    """Cancel each of these jobs that has not ended, as `launch.cancel_job` would, but
    set-based (`launch.cancel_set`): one guarded statement and one transaction per
    lifecycle_sets.MAX_SET ids, one round trip to Redis after it. A job that ended
    meanwhile is skipped and counted already final; one that is not the actor's, not yours."""
    job_ids = _ids(job_ids, bulk_job_id)
    out = Summary("cancel", looked_at=len(job_ids))
    note = f"Cancelled {_by(actor, bulk_job_id)}"
    for part in _sets(job_ids):
        _tally(out, part, launch.cancel_set(actor=actor, job_ids=part, message=note), "already_final")
    return out


@audited("jobs.retry", target=_target, message=_said)
def retry_jobs(*, actor: User, job_ids: list[str], bulk_job_id: Optional[str] = None) -> Summary:
    """Retry each of these jobs that is FAILED, CRASHED or CANCELLED, as `launch.retry_job`
    would, but set-based (`launch.retry_set`): one guarded statement and one transaction
    per lifecycle_sets.MAX_SET ids, the new attempts queued in one round trip after it.
    A job in another status is skipped and counted not retryable; one that is not the
    actor's, not yours."""
    job_ids = _ids(job_ids, bulk_job_id)
    out = Summary("retry", looked_at=len(job_ids))
    for part in _sets(job_ids):
        _tally(out, part, launch.retry_set(actor=actor, job_ids=part), "not_retryable")
    return out


@audited("jobs.delete", target=_target, message=_said)
def delete_jobs(*, actor: User, job_ids: list[str], bulk_job_id: Optional[str] = None,
                wait_s: float = WAIT_S) -> Summary:
    """Delete these jobs (admins): the live ones are cancelled first, set-based
    (`launch.cancel_set`, as `cancel_job` would each), and their workers given `wait_s`
    to let go, so nothing is written for them afterwards; then they are removed with
    their history and files, as retention removes jobs."""
    _check_action(actor, "delete")
    job_ids = _ids(job_ids, bulk_job_id)
    out = Summary("delete", looked_at=len(job_ids))
    note = f"Cancelled {_by(actor, bulk_job_id)}: it is being deleted"
    with session() as s:
        found = set(s.connection().execute(sa.select(_job.c.id).where(_job.c.id.in_(job_ids))).scalars())
    for jid in job_ids:
        if jid not in found:
            out.count("not_yours", jid)
    halting = []
    # A final one is left to the removal below; one gone meanwhile is counted there.
    for part in _sets([j for j in job_ids if j in found]):
        moved = launch.cancel_set(actor=actor, job_ids=part, message=note)
        out.cancelled_first += len(moved.done)
        halting += [d.job_id for d in moved.done if d.prev_status.value in submissions.IN_FLIGHT]
    if halting:
        submissions.wait_let_go(halting, time.monotonic() + wait_s)
    gone = set(retention.remove_final([j for j in job_ids if j in found]))
    for jid in job_ids:
        if jid in gone:
            out.count("acted", jid)
        elif jid in found:
            out.count("changed", jid)
    return out


_ON_IDS: dict[str, Callable[..., Summary]] = {"cancel": cancel_jobs, "retry": retry_jobs, "delete": delete_jobs}


def act_on_ids(*, actor: User, action: str, job_ids: Any) -> Summary:
    """Cancel, retry or delete the jobs these ids name, at once (at most MAX_IDS)."""
    _check_name(action)
    return _ON_IDS[action](actor=actor, job_ids=check_ids(job_ids))


# --- on a submission (a batch or a pipeline run as one unit) --------------------------------


def _check_submission(actor: User, action: str, submission_id: Any) -> None:
    _check_action(actor, action)
    if action == "retry":
        raise InvalidInput("A submission is cancelled or deleted as one unit; retry its jobs with a filter "
                           "(batch_id or workflow_id, status FAILED).", field="action")
    if not isinstance(submission_id, str) or not 1 <= len(submission_id) <= 64 or text_problem(submission_id):
        raise InvalidInput("submission is the id of a batch or of a workflow's root job.", field="submission")


def count_submission(*, actor: User, action: str, submission_id: str) -> int:
    """How many jobs of a submission the action would act on (its live ones for cancel,
    all for delete), as its owner (or an admin) may ask, without acting."""
    _check_submission(actor, action, submission_id)
    sub = submissions.find_submission(submission_id=submission_id)
    submissions.check_may(actor, sub, admin_only=action == "delete")
    if action == "delete":
        return len(sub.job_ids)
    n = 0
    with session() as s:
        for i in range(0, len(sub.job_ids), 500):
            n += s.connection().execute(sa.select(sa.func.count()).where(
                _job.c.id.in_(sub.job_ids[i:i + 500]), _job.c.status.in_(submissions.LIVE))).scalar_one()
    return n


def act_on_submission(*, actor: User, action: str, submission_id: str) -> Summary:
    """Cancel every live job of a submission (its owner or an admin), or delete it
    (admins): app.submissions does it and records it (submission.cancel, .delete)."""
    _check_submission(actor, action, submission_id)
    if action == "cancel":
        done = submissions.cancel_submission(actor=actor, submission_id=submission_id)
        out = Summary("cancel", looked_at=len(done.submission.job_ids), acted=len(done.cancelled))
        out.already_final = out.looked_at - out.acted
        return out
    gone = submissions.delete_submission(actor=actor, submission_id=submission_id)
    return Summary("delete", looked_at=gone.jobs_deleted, acted=gone.jobs_deleted, cancelled_first=gone.cancelled)


MAX_SUBMISSIONS = 100  # submissions acted on at once (each is one unit, a few jobs or a big batch)


def act_on_submissions(*, actor: User, action: str, submission_ids: Any) -> Summary:
    """Cancel or delete each of these submissions as one unit (`act_on_submission`): the
    admin submissions page's rows ticked. One that is not there (or not the actor's)
    counts not yours; the jobs of the rest are summed."""
    ids = check_ids(submission_ids)
    if len(ids) > MAX_SUBMISSIONS:
        raise InvalidInput(f"At most {MAX_SUBMISSIONS} submissions at once; these are {len(ids)}.", field="ids")
    _check_submission(actor, action, ids[0])
    out = Summary(action)
    for sid in ids:
        try:
            out.add(act_on_submission(actor=actor, action=action, submission_id=sid))
        except NotFound:
            out.looked_at += 1
            out.count("not_yours")
    return out


# --- on a filter: the bulk job ---------------------------------------------------------


@dataclass
class Lodged:
    action: str
    filter: BulkFilter
    count: Count
    job: Optional[Job]  # None when nothing matches (or a dry run)


def count_matching(*, actor: User, action: str, filters: Any) -> Lodged:
    """What a filter would act on, without acting (the confirmation's count)."""
    _check_action(actor, action)
    f = bulk_filter.parse(actor, action, filters)
    return Lodged(action, f, bulk_filter.count(f), None)


def _lodged_target(args: dict[str, Any], result: Optional[Lodged]) -> str:
    return result.job.id if result is not None and result.job is not None else str(args.get("action"))


def _lodged_said(_args: dict[str, Any], result: Optional[Lodged]) -> str:
    if result is None:
        return ""
    n = f"{result.count.n}" if result.count.exact else f"at least {result.count.n}"
    return f"{result.action} {n} jobs: {result.filter.describe()}"


@audited("jobs.bulk", target=_lodged_target, message=_lodged_said)
def lodge_bulk(*, actor: User, action: str, filters: Any, chunk: Optional[int] = None) -> Lodged:
    """Lodge the bulk job that acts on every job matching `filters` (checked now, and
    again per job when it runs), with the count it will act on. Nothing is lodged when
    the count is exactly 0."""
    from app.payloads import BulkAction
    from app.settings import get_settings

    found = count_matching(actor=actor, action=action, filters=filters)
    if found.count.exact and found.count.n == 0:
        return found
    ctx = current_context()
    n = found.count.n if found.count.exact else f"{found.count.n}+"
    payload = BulkAction(action=action, filter=found.filter.as_payload(), chunk=chunk or get_settings().bulk_chunk,
                         count=found.count.n, count_exact=found.count.exact, via=ctx.via[:16],
                         address=ctx.address[:64])
    found.job = launch.lodge_checked(owner=actor.username, lodged_by=actor.username, job_type="JOBS",
                                     job_subtype="BULK_ACTION", payload=payload,
                                     subject=f"{action} {n} jobs: {found.filter.describe()}")
    return found


def carry_out(*, job_id: str, owner: str, payload: Any,
              report: Callable[[float, Optional[str]], None]) -> Summary:
    """The bulk job's work (worker.tasks.bulk_action): walk the filter a chunk at a time,
    acting on each chunk as its owner (permissions as they are now), each chunk one
    audit entry from where the request came; progress at each tenth."""
    from app.auth import find_user

    actor = find_user(owner)
    if actor is None or actor.disabled:
        raise JobFailed(f"User {owner} is no longer able to act on jobs.")
    total, reported = Summary(payload.action), -1
    with acting(via=payload.via, address=payload.address):
        try:
            _check_action(actor, payload.action)
            f = bulk_filter.parse(actor, payload.action, payload.filter)
        except JobdeckError as exc:
            raise JobFailed(exc.message) from None
        for read, rows in bulk_filter.walk(f, chunk=payload.chunk, exclude=job_id):
            if rows:
                done = _ON_IDS[payload.action](actor=actor, job_ids=[r.id for r in rows], bulk_job_id=job_id)
                done.looked_at = 0
                total.add(done)
            total.looked_at += len(rows)
            expected = max(payload.count, total.looked_at, 1)
            tenth = min(9, total.looked_at * 10 // expected)
            if tenth > reported:
                reported = tenth
                of = f"{payload.count}" if payload.count_exact else f"at least {payload.count}"
                report(min(0.99, total.looked_at / expected),
                       f"{total.looked_at} of {of} jobs: {total.text}")
    return total

