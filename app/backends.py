"""Backend settings as the pool and the runner use them: the most workers of a backend,
how long an idle worker waits before it stops, and the time limit of its jobs. Read
from the Backend table (defaults for a backend without a row) and kept in memory until
a change is announced: every change sets a new token in Redis (`keys.backends_version`)
after its commit, and a reader that sees the token change reads the table again. So a
worker that asks just after an admin's save gets the new settings, at the cost of one
Redis GET per ask. When Redis does not answer, what was read is kept at most CACHE_S.

Backends are those job types name (built in, never deleted) and those admins create
(on the console, through the API or by importing the configuration, app.config_import);
an admin's backend is deleted only when no task runs on it and no job waits on it.
"""

from __future__ import annotations

import logging
import re
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Iterable, Optional

import sqlalchemy as sa
from sqlmodel import select

from app import keys, queues
from app.audit import audited
from app.db import session
from app.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from app.jobtypes import BACKENDS, spec_for
from app.lifecycle import FINAL, JobStatus
from app.models import Backend, Job, Task, User
from app.settings import get_settings
from app.shapes import check_text

log = logging.getLogger(__name__)

CACHE_S = 5.0  # the longest a read is kept: also bounds a change made in SQL by hand
REDIS_RETRY_S = 1.0  # after Redis failed to answer, ask it again no sooner than this
DEFAULT_IDLE_TIMEOUT_S = 120

UNKNOWN = object()  # the token could not be read (Redis away)

_lock = threading.Lock()
_cache: tuple[float, str, object, dict[str, "BackendConfig"]] = (0.0, "", UNKNOWN, {})
_redis_failed_at = -REDIS_RETRY_S
LIVE = frozenset(s.value for s in JobStatus if s not in FINAL)


@dataclass(frozen=True)
class BackendConfig:
    name: str
    max_workers: int
    idle_timeout_s: int
    job_timeout_s: Optional[int]  # None: each job type's own limit applies
    configured: bool  # False: no Backend row, the defaults apply
    resume_workers: Optional[int] = None  # while paused: the max workers a resume puts back

    @property
    def paused(self) -> bool:
        return self.max_workers <= 0


def default_config(name: str) -> BackendConfig:
    """The settings of a backend that has no row: JOBDECK_WORKERS workers, 120 s idle."""
    return BackendConfig(name, get_settings().workers, DEFAULT_IDLE_TIMEOUT_S, None, False)


def settings_version(conn=None) -> object:
    """The change token (None while no change was ever announced), or UNKNOWN when
    Redis does not answer."""
    global _redis_failed_at
    if conn is None and time.monotonic() - _redis_failed_at < REDIS_RETRY_S:
        return UNKNOWN  # do not make every caller wait for a connect timeout
    try:
        return (conn or queues.redis_conn()).get(keys.backends_version())
    except queues.REDIS_ERRORS:
        _redis_failed_at = time.monotonic()
        return UNKNOWN


def backend_configs(*, refresh: bool = False) -> dict[str, BackendConfig]:
    """Every backend a job type names or an admin configured, by name."""
    global _cache
    url = get_settings().database_url
    # Read before the table: a change committed after this read sets a new token.
    version = settings_version()
    with _lock:
        at, cached_url, cached_version, configs = _cache
        if (not refresh and cached_url == url and time.monotonic() - at < CACHE_S
                and (version is UNKNOWN or version == cached_version)):
            return configs
    with session() as s:
        rows = list(s.exec(select(Backend)))
    configs = {b: default_config(b) for b in BACKENDS}
    for r in rows:
        configs[r.name] = BackendConfig(r.name, max(0, r.max_workers), max(1, r.idle_timeout_s),
                                        r.job_timeout_s if r.job_timeout_s and r.job_timeout_s > 0 else None,
                                        True, r.resume_workers if r.max_workers <= 0 else None)
    with _lock:
        _cache = (time.monotonic(), url, version, configs)
    return configs


def backend_config(name: str) -> BackendConfig:
    """One backend's settings (its defaults when it has no row)."""
    return backend_configs().get(name) or default_config(name)


def forget_cached() -> None:
    """Read the table again on next use, in this process."""
    global _cache
    with _lock:
        _cache = (0.0, "", UNKNOWN, {})


def announce_change() -> None:
    """After a change of the Backend table is committed: every pool and worker reads the
    settings again at its next look (a pool every tick, an idle worker before each wait
    and after each take). If Redis does not answer, they see it within CACHE_S."""
    forget_cached()
    try:
        # A fresh token rather than a count: a Redis restart cannot bring back a value a
        # reader still holds.
        queues.redis_conn().set(keys.backends_version(), secrets.token_hex(8))
    except queues.REDIS_ERRORS as exc:
        log.warning("backend change not announced (Redis: %s); pools read it within %g s", exc, CACHE_S)


def time_limit(*, job_type: str, job_subtype: str, backend: Optional[str] = None,
               config: Optional[BackendConfig] = None) -> int:
    """Seconds a job of this type may run: its type's limit, capped by its backend's
    (`config`, when given and that backend's, as read a moment ago)."""
    spec = spec_for(job_type, job_subtype)
    name = backend or spec.backend
    cap = (config if config is not None and config.name == name else backend_config(name)).job_timeout_s
    return min(spec.timeout_s, cap) if cap else spec.timeout_s


def served(names: Optional[Iterable[str]] = None) -> list[str]:
    """The backends a pool serves: the ones named, or every known backend."""
    known = backend_configs()
    if names:
        return sorted(set(names))
    return sorted(known)


# --- changing a backend (admins) -------------------------------------------------------

# field -> (label for messages, lowest, highest). 0 workers pauses a backend; a job time
# limit of 0 lets each job type's own limit apply.
EDITABLE = {
    "max_workers": ("Max workers", 0, 100),
    "idle_timeout_s": ("Idle timeout", 1, 86_400),
    "job_timeout_s": ("Job time limit", 0, 86_400),
}


def _whole(field: str, value) -> int:
    label, lo, hi = EDITABLE[field]
    if isinstance(value, bool):
        value = None  # True is an int to Python, not a number of workers to a person
    elif isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value.strip())
    if not isinstance(value, int):
        raise InvalidInput(f"{label} must be a whole number, not {value!r}.", field=field)
    if not lo <= value <= hi:
        raise InvalidInput(f"{label} must be between {lo} and {hi}; {value} is out of range.", field=field)
    return value


def check_settings(given: dict) -> dict[str, int]:
    """The settings given (field: value, None left out) checked as written; InvalidInput
    names the field."""
    return {k: _whole(k, v) for k, v in given.items() if v is not None}


def write_backend(s, name: str, values: dict[str, int]) -> None:
    """Write checked settings of a backend in the caller's transaction; the caller
    announces the change after its commit. A backend that job types name but that has
    no row yet gets one."""
    row = s.exec(select(Backend).where(Backend.name == name)).first()
    if row is None:
        if name not in BACKENDS:
            raise NotFound(f"No backend {name!r}; backends: {', '.join(sorted(backend_configs()))}.")
        # A new row starts from what applied so far, so unchanged fields stay as they were.
        now = backend_config(name)
        row = Backend(name=name, description=f"Queue for {name} jobs", max_workers=now.max_workers,
                      idle_timeout_s=now.idle_timeout_s, job_timeout_s=now.job_timeout_s or 0)
    if "max_workers" in values:
        # A pause (0 workers) remembers what it stopped, so a resume can put it back.
        if values["max_workers"] == 0:
            row.resume_workers = row.max_workers if row.max_workers > 0 else row.resume_workers
        else:
            row.resume_workers = None
    for k, v in values.items():
        setattr(row, k, v)
    s.add(row)


# A backend's name is its queues' names too (keys.queue_name adds "/<priority>"): plain.
_BACKEND_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
MAX_DESCRIPTION = 500


def check_name(value) -> str:
    name = str(value if value is not None else "").strip()
    if not _BACKEND_NAME_RE.match(name):
        raise InvalidInput(f"A backend's name is 1-64 lower-case letters, digits, - and _, starting with a letter "
                           f"or digit (it names its queues); {name[:80]!r} is not.", field="name")
    return name


def check_description(value) -> str:
    text = str(value if value is not None else "")
    if len(text) > MAX_DESCRIPTION:
        raise InvalidInput(f"description is longer than {MAX_DESCRIPTION} characters.", field="description")
    return check_text(text, "description")


def new_settings(name: str) -> dict[str, int]:
    """The settings a new backend starts with where none are given: JOBDECK_WORKERS
    workers, 120 s idle, each job's own time limit (0)."""
    start = default_config(name)
    return {"max_workers": start.max_workers, "idle_timeout_s": start.idle_timeout_s, "job_timeout_s": 0}


def add_backend(s, name: str, description: str, values: dict[str, int]) -> None:
    """A new backend's row in the caller's transaction, from a name, description and
    settings already checked (check_name, check_description, check_settings); a setting
    left out takes new_settings'. The caller announces the change after its commit."""
    s.add(Backend(name=name, description=description, **{**new_settings(name), **values}))


@audited("backend.create", target="name")
def create_backend(*, actor: User, name: str, description: str = "", max_workers=None, idle_timeout_s=None,
                   job_timeout_s=None) -> BackendConfig:
    """A new backend (admins): its queues exist from its first job, and every pool serves
    it from its next look at the settings. Settings left None take the defaults
    (JOBDECK_WORKERS workers, 120 s idle, each job's own time limit). Everything is
    checked before anything is written; InvalidInput names the field, Conflict a name
    in use."""
    if actor.role != "admin":
        raise PermissionDenied("Creating a backend is for admins.")
    name = check_name(name)
    description = check_description(description)
    values = check_settings({"max_workers": max_workers, "idle_timeout_s": idle_timeout_s,
                             "job_timeout_s": job_timeout_s})
    if name in backend_configs(refresh=True):
        raise Conflict(f"A backend named {name!r} exists already.", field="name")
    try:
        with session(write=True) as s:
            add_backend(s, name, description, values)
    except sa.exc.IntegrityError:
        raise Conflict(f"A backend named {name!r} exists already.", field="name") from None
    announce_change()
    log.warning("backend %s created by %s", name, actor.username)
    return backend_configs(refresh=True)[name]


def description_of(name: str) -> str:
    """A backend's description ("" for a built-in one without a row)."""
    with session() as s:
        row = s.exec(select(Backend).where(Backend.name == name)).first()
    return row.description if row is not None else ""


def live_jobs(s, name: str) -> int:
    """How many live jobs wait or run on a backend's queues (read through the status
    index: live jobs only)."""
    live = s.exec(select(sa.func.count()).select_from(Job)
                  .where(Job.status.in_(list(LIVE)), Job.queue == name)).one()
    return int(live or 0)


def backend_users(s, name: str) -> tuple[list[str], int]:
    """What still needs a backend: the tasks bound to it (by name), and how many live jobs
    wait or run on its queues."""
    tasks = sorted(s.exec(select(Task.name).where(Task.backend == name)))
    return tasks, live_jobs(s, name)


def in_use(tasks: list[str], live: int) -> Optional[str]:
    """Why a backend may not be deleted now (None: it may): it "runs task a, b" (the
    first 10 named) or "has 3 jobs waiting or running". The delete and an import's
    removal both refuse with it, each adding its own advice."""
    if tasks:
        shown = ", ".join(tasks[:10]) + (f" and {len(tasks) - 10} more" if len(tasks) > 10 else "")
        return f"runs task{'s' if len(tasks) != 1 else ''} {shown}"
    if live:
        return f"has {live} job{'s' if live != 1 else ''} waiting or running"
    return None


def lock_backend(s, name: str) -> Optional[Backend]:
    """A backend's row (None: none), locked until the caller's transaction ends (FOR
    UPDATE on PostgreSQL; SQLite's write transaction serialises writers already). A
    delete and a task written on the backend both take it, so they take turns: the
    delete then sees the task committed, or the task's write sees the row gone; never a
    task on a deleted backend."""
    q = select(Backend).where(Backend.name == name)
    if s.connection().dialect.name == "postgresql":
        q = q.with_for_update()
    return s.exec(q).first()


def remove_backend(s, name: str) -> None:
    """Delete a backend's row in the caller's transaction, which has checked in_use; the
    caller announces the change after its commit."""
    row = lock_backend(s, name)
    if row is not None:
        s.delete(row)


@audited("backend.delete", target="name")
def delete_backend(*, actor: User, name: str) -> None:
    """Remove a backend an admin created (admins). Refused (Conflict, naming them) while
    a task is bound to it or a job waits or runs on it; a backend that job types name is
    built in and stays."""
    if actor.role != "admin":
        raise PermissionDenied("Deleting a backend is for admins.")
    name = (name or "").strip()
    if name in BACKENDS:
        raise Conflict(f"Backend {name!r} is built in: job types run on it. Pause it instead (0 max workers).",
                       field="name")
    with session(write=True) as s:
        row = lock_backend(s, name)  # before the check: a task written meanwhile is seen
        if row is None:
            raise NotFound(f"No backend {name!r}; backends: {', '.join(sorted(backend_configs()))}.")
        tasks, live = backend_users(s, name)
        why = in_use(tasks, live)
        if why:
            them = "it" if (len(tasks) if tasks else live) == 1 else "them"
            advice = f"move {them} to another backend first" if tasks else f"let {them} finish or cancel {them} first"
            raise Conflict(f"Backend {name!r} {why}; {advice}.", field="name")
        s.delete(row)
    announce_change()
    log.warning("backend %s deleted by %s", name, actor.username)


@audited("backend.update", target="name")
def update_backend(*, actor: User, name: str, max_workers=None, idle_timeout_s=None,
                   job_timeout_s=None, description=None) -> BackendConfig:
    """Change a backend's settings (admins only); fields left None keep their value.
    A backend that job types name but that has no row yet gets one. Every value is
    checked before anything is written (InvalidInput names the field). The change is
    announced before this returns: a pause holds every job lodged after it."""
    if actor.role != "admin":
        raise PermissionDenied("Changing a backend is for admins.")
    given = {"max_workers": max_workers, "idle_timeout_s": idle_timeout_s, "job_timeout_s": job_timeout_s}
    values: dict = check_settings(given)
    if description is not None:
        values["description"] = check_description(description)
    name = (name or "").strip()
    with session(write=True) as s:
        write_backend(s, name, values)
    announce_change()
    log.warning("backend %s changed by %s: %s", name, actor.username,
                ", ".join(f"{k}={v}" for k, v in values.items()) or "nothing")
    return backend_configs(refresh=True)[name]


@audited("backend.pause", target="name")
def pause_backend(*, actor: User, name: str) -> BackendConfig:
    """Pause a backend (admins): 0 max workers, its maximum remembered for the resume.
    No worker takes its jobs after this returns; they wait in its queues. A paused
    backend stays as it is."""
    if actor.role != "admin":
        raise PermissionDenied("Pausing a backend is for admins.")
    cfg = backend_configs(refresh=True).get((name or "").strip())
    if cfg is not None and cfg.paused:
        return cfg
    return update_backend(actor=actor, name=name, max_workers=0)


@audited("backend.resume", target="name")
def resume_backend(*, actor: User, name: str) -> BackendConfig:
    """Resume a paused backend (admins): the max workers it had before its pause (or
    JOBDECK_WORKERS, at least 1, when it was paused some other way). A running backend
    stays as it is."""
    if actor.role != "admin":
        raise PermissionDenied("Resuming a backend is for admins.")
    cfg = backend_configs(refresh=True).get((name or "").strip())
    if cfg is not None and not cfg.paused:
        return cfg
    again = (cfg.resume_workers if cfg else None) or max(1, get_settings().workers)
    return update_backend(actor=actor, name=name, max_workers=again)
