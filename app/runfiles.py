"""A pipeline run's output files in one place: every file every step kept, named by its
step, and all of them as one zip streamed to the person who may see the run.

Who may: the run's owner, admins and services, and anyone holding the id of an
anonymous run (a public pipeline's, whose submitter was told its id as A_A does);
anyone else is told there is no such run, so ids reveal nothing. A file is read only
from inside the run's own directory (a bad row or a planted symlink serves nothing),
and the zip's total is bounded by JOBDECK_MAX_ZIP_BYTES before a byte is sent.

The console's download-all link cannot carry the browser's sign-in (it lives in the
page's storage, not in a cookie), so the page asks for a ticket: a short-lived signed
value naming the user and the run, which the zip route takes in place of a token.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Optional

from sqlmodel import select

from app import aa_compat, runs
from app.db import session
from app.errors import DownloadTooLarge, NotFound
from app.models import Job, JobFile, User
from app.settings import get_settings

log = logging.getLogger(__name__)

TICKET_S = 300  # how long a download-all link the console hands out works
CHUNK = 256 * 1024
_SLUG = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass
class RunFile:
    job_id: str  # the step that kept it
    order: int
    task: str
    name: str
    size: int
    sha256: str
    member: str  # its name in the zip: "<step folder>/<name>"
    stored_path: str
    lane: int = 1  # its step's place in its order, from 1
    parallel: bool = False  # whether its order has other steps


def may_see_run(actor: Optional[User], root: Job) -> bool:
    if actor is not None and (root.owner == actor.username or actor.role in ("admin", "service")):
        return True
    return root.owner == aa_compat.ANONYMOUS and _built_in_anonymous()  # its id is what its submitter holds


def _built_in_anonymous() -> bool:
    """The owner named "anonymous" is the built-in submitter, not a person of that name."""
    with session() as s:
        user = s.exec(select(User).where(User.username == aa_compat.ANONYMOUS)).first()
    return user is not None and user.role == aa_compat.ANONYMOUS_ROLE


def run_for(actor: Optional[User], root_id: str) -> Job:
    """The root of the run named by `root_id` if the actor (None: a signed-out caller)
    may see it; NotFound otherwise, and for any id that names no run's root."""
    with session() as s:
        root = s.get(Job, root_id) if root_id and len(root_id) <= 64 else None
    if root is None or not runs.is_root(root) or not may_see_run(actor, root):
        raise NotFound(f"No pipeline run {root_id}.")
    return root


def step_folder(order: int, task: str) -> str:
    """A step's folder in the zip: "1-count-words"."""
    return f"{order}-{_SLUG.sub('-', task).strip('-.') or 'step'}"


def kept_files(steps: Iterable[Job]) -> list[RunFile]:
    """Every file the given steps kept (one query), by order, step and name; each step's
    folder is told apart from a sibling running the same task."""
    steps = sorted(steps, key=lambda j: (j.step or 0, int((j.payload or {}).get("index") or 0), j.id))
    if not steps:
        return []
    with session() as s:
        rows = list(s.exec(select(JobFile).where(JobFile.job_id.in_([j.id for j in steps]))
                           .order_by(JobFile.job_id, JobFile.name)))
    by_step: dict[str, list[JobFile]] = {}
    for f in rows:
        by_step.setdefault(f.job_id, []).append(f)
    per_order: dict[int, int] = {}
    for j in steps:
        per_order[j.step or 0] = per_order.get(j.step or 0, 0) + 1
    out, folders = [], set()
    for j in steps:
        task = runs.step_name(j.payload)
        folder = base = step_folder(j.step or 0, task)
        n = 1
        while folder in folders:
            n += 1
            folder = f"{base}-{n}"
        folders.add(folder)
        out += [RunFile(job_id=j.id, order=j.step or 0, task=task, name=f.name, size=f.size, sha256=f.sha256,
                        member=f"{folder}/{f.name}", stored_path=f.stored_path,
                        lane=int((j.payload or {}).get("index") or 0) + 1, parallel=per_order[j.step or 0] > 1)
                for f in by_step.get(j.id, [])]
    return out


def run_files(*, actor: Optional[User], root_id: str) -> tuple[Job, list[RunFile]]:
    """The run's root and every file its steps kept, for someone who may see it."""
    root = run_for(actor, root_id)
    from app.pipelines import run_steps

    return root, kept_files(run_steps(root.id))


def path_in_run(root_id: str, stored_path: str) -> Optional[Path]:
    """Where a kept file is read from, or None when it is not a file inside the run's
    own directory (a path that leads out of it, a symlink out, a file gone)."""
    base = runs.run_dir(root_id).resolve()
    p = Path(stored_path)
    if not p.is_absolute():
        p = get_settings().files_dir / p
    real = p.resolve()
    if not real.is_relative_to(base) or not real.is_file():
        return None
    return real


# --- the zip -------------------------------------------------------------------------------


def zip_name(root: Job) -> str:
    name = _SLUG.sub("-", runs.run_name(root.payload)).strip("-.") or "run"
    return f"{name[:80]}-{root.id[:8]}.zip"


def check_size(found: list[RunFile]) -> int:
    """The files' total, or DownloadTooLarge past JOBDECK_MAX_ZIP_BYTES (nothing sent)."""
    total, limit = sum(f.size for f in found), get_settings().max_zip_bytes
    if total > limit:
        raise DownloadTooLarge(
            f"This run's {len(found)} files hold {total} bytes, more than the {limit} bytes one zip may hold "
            f"(JOBDECK_MAX_ZIP_BYTES): download them one by one (GET /api/jobs/<step>/files/<name>).",
            total=total, limit=limit)
    return total


class _Sink:
    """A write-only stream the zip writes into; what it holds is taken out as it comes."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.pos = 0

    def write(self, b: bytes) -> int:
        self.parts.append(bytes(b))
        self.pos += len(b)
        return len(b)

    def tell(self) -> int:
        return self.pos

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        out, self.parts = b"".join(self.parts), []
        return out


def zip_stream(root_id: str, found: list[RunFile]) -> Iterator[bytes]:
    """The files as one zip, produced piece by piece (never whole in memory). A file no
    longer stored, or not inside the run's directory, is left out and named in
    MISSING.txt; sizes are the ones recorded, so the bound checked holds."""
    sink = _Sink()
    missing = []
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        for f in found:
            path = path_in_run(root_id, f.stored_path)
            if path is None:
                log.warning("run %s: file %r of step %s is not stored inside the run: %s", root_id, f.name,
                            f.job_id, f.stored_path)
                missing.append(f.member)
                continue
            left = f.size
            with path.open("rb") as src, zf.open(f.member, "w", force_zip64=f.size > 2**31) as dest:
                while left > 0:
                    chunk = src.read(min(CHUNK, left))
                    if not chunk:
                        break
                    left -= len(chunk)
                    dest.write(chunk)
                    if sink.pos >= CHUNK:
                        yield sink.take()
            yield sink.take()
        if missing:
            zf.writestr("MISSING.txt", "These files of the run are no longer stored:\n" + "\n".join(missing) + "\n")
    yield sink.take()


# --- the console's download-all link ---------------------------------------------------------


def _mac(body: str) -> str:
    from app.signin import _key

    return hmac.new(_key(), f"run-zip|{body}".encode(), hashlib.sha256).hexdigest()


def ticket(user: User, root_id: str, *, now: Optional[float] = None) -> str:
    """A value that lets `user` download this run's zip for TICKET_S seconds."""
    expires = int((now or time.time()) + TICKET_S)
    body = f"{root_id}.{expires}.{user.username}"
    return f"{expires}.{user.username}.{_mac(body)}"


def user_for_ticket(value: str, root_id: str, *, now: Optional[float] = None) -> Optional[User]:
    """The user a ticket for this run names, or None: a forged, altered, expired or
    other run's ticket, or a user since disabled or gone."""
    from app import auth

    parts = (value or "").split(".")
    if len(parts) < 3 or not re.fullmatch(r"[0-9]{1,12}", parts[0]):
        return None
    expires, username, mac = int(parts[0]), ".".join(parts[1:-1]), parts[-1]
    if not hmac.compare_digest(mac, _mac(f"{root_id}.{expires}.{username}")):
        return None
    if expires < (now or time.time()):
        return None
    try:
        user = auth.get_user(username)
    except NotFound:
        return None
    return None if user is None or user.disabled else user
