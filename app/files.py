"""Job files: the data files a job produced, read back for the person allowed to see
the job. A stored path is trusted only inside the data directory, so a bad row (or a
symlink planted in a job's folder) can never serve a file from elsewhere.
"""

from __future__ import annotations

import logging
from pathlib import Path

from sqlmodel import select

from app.db import session
from app.errors import NotFound
from app.launch import job_for
from app.models import JobFile, User
from app.settings import get_settings

log = logging.getLogger(__name__)


def stored_file_path(stored_path: str) -> Path | None:
    """The real path of a stored file, or None when it lies outside the data directory.
    A relative path is relative to the files directory."""
    s = get_settings()
    p = Path(stored_path)
    if not p.is_absolute():
        p = s.files_dir / p
    real = p.resolve()
    if not real.is_relative_to(s.data_dir.resolve()):
        return None
    return real


def files_of(*, actor: User, job_id: str) -> list[JobFile]:
    """The files of a job the actor may see (NotFound otherwise)."""
    job_for(actor, job_id)
    with session() as s:
        return list(s.exec(select(JobFile).where(JobFile.job_id == job_id).order_by(JobFile.name)))


def open_job_file(*, actor: User, job_id: str, name: str) -> tuple[JobFile, Path]:
    """A job's file by name and the path to read it from; NotFound when the actor may
    not see the job, the file is unknown, no longer stored, or stored outside the data
    directory."""
    job_for(actor, job_id)
    with session() as s:
        jf = s.exec(select(JobFile).where(JobFile.job_id == job_id, JobFile.name == name)).first()
    if jf is None:
        raise NotFound(f"Job {job_id} has no file {name!r}.")
    path = stored_file_path(jf.stored_path)
    if path is None:
        log.warning("job %s file %r points outside the data directory: %s", job_id, name, jf.stored_path)
        raise NotFound(f"Job {job_id} has no file {name!r}.")
    if not path.is_file():
        raise NotFound(f"The file {name!r} of job {job_id} is no longer stored.")
    return jf, path
