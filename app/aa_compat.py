"""Jobdeck seen through Analytics Automated's REST API (AA-COMPAT): a job is a pipeline,
a task a task, a submission a pipeline run (its root job), a batch the runs one POST
lodged. Here are A_A's rules for what a submission may carry, its state codes and
messages, and the shapes of its answers, over the same domain functions the console
and /api use (app.pipelines).

A_A refuses a parameter value holding punctuation (but `.`) or whitespace, or that is
exactly a Python keyword, an R word or a program's name (app.aa_words), so a value can
never read as an option or a command; Jobdeck passes each value as one argument
without a shell in any case. Every parameter of every task is required, sent as
`<task name>_<parameter name>`.
"""

from __future__ import annotations

import mimetypes
import re
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Optional

import sqlalchemy as sa
from sqlmodel import select

from app import aa_words, auth, runs
from app.db import session
from app.errors import JobdeckError
from app.lifecycle import JobStatus
from app.models import Batch, Job, JobFile, User
from app.parameters import MAX_VALUE_CHARS, ParameterInfo
from app.pipelines import PipelineInfo, run_steps
from app.shapes import text_problem

ROOT = "/analytics_automated"
SUBMITTED, RUNNING, COMPLETE, ERROR, CRASH = range(5)
ANONYMOUS = "anonymous"  # the built-in owner of public pipelines' anonymous submissions
ANONYMOUS_ROLE = "anonymous"
MAX_NAME = 64
ENDPOINTS_HINT = f"GET {ROOT}/endpoints to discover all required options"
_PUNCTUATION = frozenset(string.punctuation) - {"."}


class AARefused(JobdeckError):
    """A submission Analytics Automated's rules refuse: `status_code` and the answer's
    `error` (a text, or {field: [messages]}) are A_A's."""

    def __init__(self, status: int, error: Any):
        super().__init__(error if isinstance(error, str) else "; ".join(f"{k}: {' '.join(v)}"
                                                                         for k, v in error.items()))
        self.status_code = status
        self.error = error


# --- who submits ------------------------------------------------------------------------------


def anonymous_user() -> User:
    """The built-in owner of anonymous submissions, made on first use. Its password is
    a secret no one was told, so it cannot sign in; a regular user who happens to be
    called `anonymous` is never taken for it."""
    import secrets

    with session() as s:
        user = s.exec(select(User).where(User.username == ANONYMOUS)).first()
    if user is None:
        try:
            with session(write=True) as s:
                s.add(User(username=ANONYMOUS, display_name="Anonymous submitter", role=ANONYMOUS_ROLE,
                           password_hash=auth.hash_password(secrets.token_urlsafe(32))))
        except sa.exc.IntegrityError:
            pass  # made at the same moment by another request
        with session() as s:
            user = s.exec(select(User).where(User.username == ANONYMOUS)).one()
    if user.role != ANONYMOUS_ROLE:
        raise AARefused(503, f"A user named {ANONYMOUS!r} exists: an admin must rename it before public "
                             f"pipelines take anonymous submissions.")
    return user


# --- what a submission carries ------------------------------------------------------------------


def value_problem(value: str) -> Optional[str]:
    """Why A_A refuses a parameter value (its own words), or None."""
    if any(ch in _PUNCTUATION or ch.isspace() for ch in value):
        return "punctuation"
    if value in aa_words.PYTHON:
        return "python keyords"  # sic: A_A's text
    if value in aa_words.R:
        return "R keywords"
    if value in aa_words.unix_commands():
        return "unix commands"
    return None


def _shown(value: str, limit: int = 40) -> str:
    out = "".join(ch if ch.isprintable() else "?" for ch in value[:limit])
    return out + ("…" if len(value) > limit else "")


def missing(job: str, why: str) -> AARefused:
    return AARefused(400, f"Required Parameter for {job} Missing.{why}. {ENDPOINTS_HINT}")


def parameter_fields(info: PipelineInfo) -> list[tuple[str, str, ParameterInfo]]:
    """(REST field, task name, parameter) of every task of the pipeline, in step order,
    each task once."""
    out, seen = [], set()
    for st in info.steps:
        if st.task_id in seen or st.task_id not in info.tasks:
            continue
        seen.add(st.task_id)
        task = info.tasks[st.task_id]
        out.extend((f"{task.name}_{p.name}", task.name, p) for p in task.parameters)
    return out


def check_values(job: str, extras: Iterable[tuple[str, str]]) -> None:
    """A_A's value check on every field past the four it knows, unknown ones too."""
    for name, value in extras:
        if len(value) > MAX_VALUE_CHARS:
            raise missing(job, f"Incoming data can not be longer than {MAX_VALUE_CHARS} characters: {name}")
        why = value_problem(value)
        if why:
            raise missing(job, f"Incoming data can not contain {why}: {_shown(value)} in {name}")


def check_job(info: PipelineInfo, fields: dict[str, str]) -> dict[str, str]:
    """A job of the submission checked as A_A does (runnable, has steps, every parameter
    sent and clean): the parameters of its Jobdeck run."""
    if not info.runnable:
        raise AARefused(403, f"{info.name} is present but currently disabled.")
    if not info.steps:
        raise AARefused(400, f"Job Requested: {info.name} appears to have no Steps")
    check_values(info.name, fields.items())
    out: dict[str, str] = {}
    origin: dict[str, str] = {}
    for field, _task, prm in parameter_fields(info):
        if field not in fields:
            raise missing(info.name, f"You are missing a required parameter in your web form submission: {field}")
        value = fields[field]
        if prm.name in out and out[prm.name] != value:
            # Jobdeck gives a run one value per parameter name.
            raise missing(info.name, f"{origin[prm.name]} and {field} name one parameter of the pipeline "
                                     f"({prm.name}): send them the same value")
        out[prm.name], origin[prm.name] = value, field
    return out


_EMAIL_USER = re.compile(r"^[-!#$%&'*+/=?^_`{}|~0-9A-Z]+(\.[-!#$%&'*+/=?^_`{}|~0-9A-Z]+)*$", re.I)
_EMAIL_DOMAIN = re.compile(r"^((?:[A-Z0-9](?:[A-Z0-9-]{0,61}[A-Z0-9])?\.)+)(?:[A-Z0-9-]{2,63}(?<!-))$", re.I)


def email_ok(value: str) -> bool:
    """Django's EmailValidator, as A_A's form uses it (unquoted local parts)."""
    if not value or len(value) > 254 or "@" not in value or text_problem(value):
        return False
    user, domain = value.rsplit("@", 1)
    if not _EMAIL_USER.match(user):
        return False
    if domain == "localhost":
        return True
    try:
        domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        return False
    return bool(_EMAIL_DOMAIN.match(domain))


REQUIRED = "This field is required."


def form_errors(*, submission_name: str, email: str, upload: Optional[bytes]) -> dict[str, list[str]]:
    """A_A's form: every field's messages, in its order."""
    errors: dict[str, list[str]] = {}
    name = submission_name.strip()
    if not name:
        errors["submission_name"] = [REQUIRED]
    elif len(name) > MAX_NAME:
        errors["submission_name"] = [f"Ensure this value has at most {MAX_NAME} characters (it has {len(name)})."]
    elif text_problem(name):
        errors["submission_name"] = ["Enter a valid value: one line without control characters."]
    if not email.strip():
        errors["email"] = [REQUIRED]
    elif not email_ok(email.strip()):
        errors["email"] = ["Enter a valid email address."]
    if upload is None:
        errors["input_data"] = [REQUIRED]
    elif not upload:
        errors["input_data"] = ["The submitted file is empty."]
    return errors


def upload_name(file_name: str) -> str:
    """A name Jobdeck stores the upload under: A_A takes any, Jobdeck letters, digits and
    a few signs (app.pipelines)."""
    base = re.split(r"[\\/]", file_name or "")[-1]
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", base).lstrip("._-")[:200]
    return safe or "input.txt"


# --- answers -------------------------------------------------------------------------------


@dataclass
class RunFiles:
    """A run's files under the flat names A_A serves them by: the upload first, then
    each kept file in step order (`<run>_<name>`; on a clash `<run>_<file id>_<name>`)."""

    input_name: str
    results: list[tuple[str, Job, JobFile]]
    stored: dict[str, str]  # flat name: path relative to the files directory


def run_files(root: Job, steps: list[Job]) -> RunFiles:
    upload = (root.payload or {}).get("upload") or {}
    taken: set[str] = set()

    def flat(name: str, unique: str) -> str:
        out = f"{root.id}_{name}"
        if out in taken:
            out = f"{root.id}_{unique}_{name}"
        taken.add(out)
        return out

    input_name = flat(str(upload.get("name") or "input"), "input")
    stored = {input_name: runs.stored_path(str(upload.get("path") or ""), root.id)}
    by_id = {j.id: j for j in steps}
    results = []
    if steps:
        with session() as s:
            files = list(s.exec(select(JobFile).where(JobFile.job_id.in_(list(by_id)))))
        place = {j.id: i for i, j in enumerate(steps)}
        for f in sorted(files, key=lambda f: (place[f.job_id], f.name, f.id)):
            name = flat(f.name, str(f.id))
            stored[name] = f.stored_path
            results.append((name, by_id[f.job_id], f))
    return RunFiles(input_name, results, stored)


def _code(job: Job) -> Optional[str]:
    m = re.search(r"exited with code (-?\d+)", f"{job.info or ''} {job.last_message or ''}")
    return m.group(1) if m else None


def run_state(root: Job, steps: list[Job]) -> tuple[int, str]:
    """The submission's A_A state and last_message from its steps."""
    plan = (root.payload or {}).get("plan") or []
    orders = sorted({int(p["order"]) for p in plan}) or sorted({j.step or 0 for j in steps})
    rank = {o: i + 1 for i, o in enumerate(orders)}

    def at(job: Job) -> int:
        return rank.get(job.step or 0, 0)

    status = {s: [j for j in steps if j.status == s] for s in {j.status for j in steps}}
    for s, code, verb in ((JobStatus.CRASHED.value, CRASH, "Crashed"), (JobStatus.FAILED.value, ERROR, "Failed"),
                          (JobStatus.CANCELLED.value, ERROR, "Cancelled")):
        if status.get(s):
            j = min(status[s], key=at)
            exit_code = _code(j) if s == JobStatus.FAILED.value else None
            tail = f" with exit status {exit_code}" if exit_code else ""
            return code, f"{verb} at step: {at(j)}: {(j.payload or {}).get('task', '')}{tail}"
    done = status.get(JobStatus.SUCCEEDED.value, [])
    if plan and len(done) >= len(plan):
        return COMPLETE, f"Completed job at step #{len(orders)}"
    live = status.get(JobStatus.DEQUEUED.value, []) + status.get(JobStatus.IN_PROGRESS.value, [])
    if live:
        return RUNNING, f"Running step: {max(at(j) for j in live)}"
    if done:
        return RUNNING, f"Completed step: {max(at(j) for j in done)}"
    return SUBMITTED, "Submitted"


def submission_answer(root: Job, *, submission_name: str) -> dict[str, Any]:
    steps = run_steps(root.id)
    state, message = run_state(root, steps)
    files = run_files(root, steps)
    plan = (root.payload or {}).get("plan") or []
    rank = {o: i + 1 for i, o in enumerate(sorted({int(p["order"]) for p in plan}))}
    results = [{"task": int((j.payload or {}).get("task_id") or 0), "name": str((j.payload or {}).get("task") or ""),
                "message": "Result", "step": rank.get(j.step or 0, 0), "data_path": f"/submissions/{name}"}
               for name, j, _f in files.results]
    return {"submission_name": submission_name, "job_name": str((root.payload or {}).get("pipeline") or ""),
            "UUID": root.id, "state": state, "last_message": message, "email": (root.payload or {}).get("email"),
            "input_file": f"/submissions/{files.input_name}", "results": results}


def batch_state(states: list[int]) -> int:
    if any(s == ERROR for s in states):
        return ERROR  # sticky: one submission's error is the batch's
    if any(s == CRASH for s in states):
        return CRASH
    if states and all(s == COMPLETE for s in states):
        return COMPLETE
    if any(s != SUBMITTED for s in states):
        return RUNNING
    return SUBMITTED


def find_root(uuid: str) -> Optional[Job]:
    """A pipeline run's root by its id (the submission's UUID), or None."""
    with session() as s:
        job = s.get(Job, uuid)
    return job if job is not None and runs.is_root(job) else None


def single(uuid: str) -> Optional[dict[str, Any]]:
    root = find_root(uuid)
    if root is None:
        return None
    label = ""
    if root.batch_id:
        with session() as s:
            b = s.get(Batch, root.batch_id)
            label = b.label if b else ""
    return submission_answer(root, submission_name=label)


def batch(uuid: str) -> Optional[dict[str, Any]]:
    with session() as s:
        b = s.get(Batch, uuid)
        roots = list(s.exec(select(Job).where(Job.batch_id == uuid).order_by(Job.batch_row, Job.id))) if b else []
    if b is None or not roots or not all(runs.is_root(j) for j in roots):
        return None
    subs = [submission_answer(r, submission_name=b.label) for r in roots]
    return {"UUID": b.id, "state": batch_state([x["state"] for x in subs]), "submissions": subs}


SAFE_TYPES = {"image/png", "image/gif", "image/jpeg", "application/pdf", "text/plain", "text/csv"}


def result_file(flat_name: str) -> Optional[tuple[Path, str]]:
    """A file A_A's data_path or input_file names: its path and the type it is served as
    (anything that a browser would run, such as HTML or SVG, as bytes)."""
    from app.files import stored_file_path

    m = re.fullmatch(r"([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})_.+", flat_name)
    root = find_root(m.group(1)) if m else None
    if root is None:
        return None
    stored = run_files(root, run_steps(root.id)).stored.get(flat_name)
    path = stored_file_path(stored) if stored else None
    if path is None or not path.is_file():
        return None
    kind = mimetypes.guess_type(flat_name)[0] or ""
    return path, kind if kind in SAFE_TYPES else "application/octet-stream"


# --- the configuration as A_A shows it ---------------------------------------------------------


def endpoint(info: PipelineInfo) -> str:
    out = f"/submission/&job={info.name}&submission_name=[STRING]&email=[EMAIL_STRING]&input_data=[FILE]"
    for field, _task, prm in parameter_fields(info):
        out += f"&{field}={'[TRUE/FALSE]' if prm.bool_valued else '[VALUE]'}"
    return out


def job_detail(info: PipelineInfo) -> dict[str, Any]:
    return {"name": info.name, "steps": [{"task": {"configuration": []}, "ordering": st.order} for st in info.steps]}


def anonymous_viewer(job_id: str) -> Optional[User]:
    """Who a signed-out visitor sees a job as: a step of an anonymous run (a public
    pipeline's) is reached by its id alone, as its submitter was told it; anything else
    needs signing in."""
    with session() as s:
        job = s.get(Job, job_id)
        if job is None or not runs.is_step(job) or job.owner != ANONYMOUS:
            return None
        user = s.exec(select(User).where(User.username == ANONYMOUS)).first()
    return user if user is not None and user.role == ANONYMOUS_ROLE else None
