"""Email when a submission ends: a pipeline run (or a batch) that carries an address is
told, once, how it ended, with the link to its page in the console.

The mail is a job of its own (NOTIFY / SEND_EMAIL), lodged in the transaction of the
transition that ends the run, so the run's end and its mail commit together; its id
derives from the run's (or batch's) id, so steps that finish at once, a repeated
transition or a retried step that ends the run again lodge it once. The run's end is
decided under a lock on its root row (as the join is): of two steps finishing at once on
PostgreSQL the second to commit sees the first's outcome. The job sends through the
SMTP server of the JOBDECK_SMTP_* settings; a server that does not answer fails that
job and its retry policy tries again later, with backoff. The run is never touched.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any, Optional

import sqlalchemy as sa

from app import lifecycle, routes
from app.errors import EmailNotValid, JobFailed
from app.jobtypes import child_job_id, spec_for
from app.payloads import SendEmail
from app.lifecycle import JobStatus, Transitioned, overall_status
from app.lodging import insert, row
from app.models import Job
from app.queueing import enqueue
from app.runs import run_name
from app.settings import get_settings

log = logging.getLogger(__name__)

MAIL_TYPE, MAIL_SUBTYPE = "NOTIFY", "SEND_EMAIL"
RUN_TYPE, RUN_SUBTYPE = "PIPELINE", "RUN_TASK"
MAX_ADDRESS = 254
_job = Job.__table__
_LIVE = (JobStatus.PENDING.value, JobStatus.DEQUEUED.value, JobStatus.IN_PROGRESS.value)

ENDINGS = {
    "SUCCEEDED": "succeeded",
    "FAILED": "failed",
    "CRASHED": "crashed",
    "CANCELLED": "was cancelled",
}


# --- the address a submission carries ---------------------------------------------------


def check_address(value: Any) -> Optional[str]:
    """The address to tell when a submission ends, normalised; None when none is
    given. EmailNotValid (400, field "email") says what is wrong with a bad one."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise EmailNotValid("email must be an email address such as ada@example.org.")
    text = value.strip()
    if not text:
        return None
    if len(text) > MAX_ADDRESS:
        raise EmailNotValid(f"email is {len(text)} characters long; an address has at most {MAX_ADDRESS}.")
    from email_validator import EmailNotValidError, validate_email

    try:
        # No DNS lookup: a submission is not held up by a resolver, and a typo'd domain
        # only costs the mail job its retries.
        found = validate_email(text, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        raise EmailNotValid(f"email {text[:80]!r} is not a valid address: {exc}") from None
    return found.normalized


# --- lodged when a run or batch ends -------------------------------------------------------


def mail_job_id(about: str) -> str:
    """The id of the one mail about a run (its root's id) or a batch."""
    return child_job_id(about, "notify/email")


@lifecycle.when_ended
def _mail_if_ended(conn: sa.Connection, done: Transitioned, batch: Any):
    """The state machine's hook: a run or batch with an address that this move ended
    lodges its mail here, queued once the move has committed."""
    if not ((batch is not None and batch.email) or (done.payload or {}).get("email")):
        return None
    mail = lodge_if_ended(conn, done, batch=batch)
    return (lambda: enqueue(mail)) if mail else None


def lodge_if_ended(conn: sa.Connection, done: Transitioned, *, batch: Any = None) -> list:
    """In the transaction of a transition to a final status: if it ended a run (or a
    batch: `batch` is its count row after the move) that carries an address, lodge the
    mail saying so. Returns what it lodged (app.launch.Lodged) to enqueue after commit."""
    lodged = []
    if (done.payload or {}).get("email") and done.job_type == RUN_TYPE and done.job_subtype == RUN_SUBTYPE:
        lodged += _run_ended(conn, done)
    if batch is not None and batch.email and not (batch.pending or batch.dequeued or batch.in_progress):
        lodged += _batch_ended(conn, done, batch)
    return lodged


def _run_ended(conn: sa.Connection, done: Transitioned) -> list:
    root = done.workflow_id or done.job_id
    conn.execute(sa.select(_job.c.id).where(_job.c.id == root).with_for_update())
    rows = [r for r in conn.execute(
        sa.select(_job.c.id, _job.c.status, _job.c.step, _job.c.info, _job.c.last_message, _job.c.job_type,
                  _job.c.job_subtype)
        .where(_job.c.workflow_id == root)).all() if r.job_type == RUN_TYPE and r.job_subtype == RUN_SUBTYPE]
    if not rows or any(r.status in _LIVE for r in rows):
        return []
    counts: dict[str, int] = {}
    for r in rows:
        counts[r.status] = counts.get(r.status, 0) + 1
    status = overall_status(counts)
    payload = done.payload or {}
    name = _run_name(payload)
    plan = payload.get("plan") or []
    link = console_url(routes.job(root))
    lines = [f"Your run of {name} {ENDINGS[status]}.", ""]
    if status == "SUCCEEDED":
        lines.append(f"All {len(rows)} step(s) succeeded.")
    else:
        lines.append(f"{sum(r.status == 'SUCCEEDED' for r in rows)} of {max(len(plan), len(rows))} step(s) "
                     f"succeeded.")
        for r in sorted(rows, key=lambda r: (r.step or 0, r.id)):
            if r.status != "SUCCEEDED":
                lines.append(f"Step {r.step} {ENDINGS[r.status]}: {_line(r.info or r.last_message)}")
    lines += ["", f"See its steps and the files they kept: {link}", "", "-- Jobdeck"]
    mail = SendEmail(to=payload["email"], subject=f"{name} {ENDINGS[status]}"[:300], body="\n".join(lines),
                     about=root, link=link, status=status)
    return _lodge(conn, mail, owner=done.owner, about=root)


def _batch_ended(conn: sa.Connection, done: Transitioned, batch: Any) -> list:
    counts = {s.value: getattr(batch, s.value.lower()) for s in JobStatus}
    status = overall_status(counts)
    link = console_url(routes.batch(done.batch_id))
    label = (getattr(batch, "label", "") or "").strip() or f"batch {done.batch_id}"
    lines = [f"Your {label} {ENDINGS[status]}: {batch.succeeded} of {batch.total} job(s) succeeded"
             + "".join(f", {counts[s]} {s.lower()}" for s in ("FAILED", "CRASHED", "CANCELLED") if counts[s]) + ".",
             "", f"See its jobs: {link}", "", "-- Jobdeck"]
    mail = SendEmail(to=batch.email, subject=f"{label} {ENDINGS[status]}"[:300], body="\n".join(lines),
                     about=done.batch_id, link=link, status=status)
    return _lodge(conn, mail, owner=done.owner, about=done.batch_id)


def _lodge(conn: sa.Connection, mail: SendEmail, *, owner: str, about: str) -> list:
    jid = mail_job_id(about)
    job = row(job_id=jid, owner=owner, spec=spec_for(MAIL_TYPE, MAIL_SUBTYPE), payload=mail, parent_job_id=about,
              lineage_key=f"{about}/notify/email", subject=mail.subject[:256])
    return insert(conn, [job], text=f"Lodged when {about} ended: an email to {mail.to}", ignore=True)


def _run_name(payload: dict[str, Any]) -> str:
    return run_name(payload) or "your pipeline"


def _line(text: Optional[str]) -> str:
    first = (text or "").strip().splitlines()
    return (first[0][:300] if first else "no message").strip()


def console_url(path: str) -> str:
    """A console page's address as people reach it (JOBDECK_PUBLIC_URL)."""
    return get_settings().public_url + path


# --- sending (the job's handler) -----------------------------------------------------------


def send(mail: SendEmail, *, job_id: str = "") -> str:
    """Send one mail through the configured SMTP server; returns its Message-ID.
    JobFailed when the server does not answer or refuses it (its retry policy tries
    again)."""
    st = get_settings()
    msg = EmailMessage()
    msg["From"] = st.smtp_from
    msg["To"] = mail.to
    msg["Subject"] = mail.subject
    msg["Message-ID"] = make_msgid(idstring=job_id or None, domain=st.smtp_from.rpartition("@")[2] or "jobdeck")
    msg.set_content(mail.body)
    try:
        with smtplib.SMTP(st.smtp_host, st.smtp_port, timeout=30) as smtp:
            if st.smtp_starttls:
                smtp.starttls(context=ssl.create_default_context())
            if st.smtp_user:
                smtp.login(st.smtp_user, st.smtp_password)
            smtp.send_message(msg)
    except (OSError, smtplib.SMTPException) as exc:
        raise JobFailed(f"The mail server {st.smtp_host}:{st.smtp_port} did not take the email to {mail.to}: "
                        f"{type(exc).__name__}: {exc}. It is tried again later.") from None
    log.info("email about %s sent to %s", mail.about, mail.to)
    return str(msg["Message-ID"])
