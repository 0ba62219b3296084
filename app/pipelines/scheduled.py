"""A pipeline run as a schedule's firing (app.schedules): the schedule keeps the input
file it was made with, and each firing lodges a run on it exactly as a person's
submission is lodged (app.pipelines.submit.run_pipeline), owned by the schedule's owner.

Pipelines run on an uploaded file, and every pipeline's first steps read one (a step's
input glob), so a schedule is made with its file, checked then as a run would be
(parameters, glob, size, validators). It is stored once under the files directory, in
`schedules/<random folder>/<name>`, like a run's upload; each firing copies it into the
run's own `upload/` folder, so a run never shares (or loses) its input when the schedule
is deleted. A firing checks it all again (the pipeline may have changed since) and
fair use applies: a refusal is recorded as the firing's outcome.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from pathlib import Path
from typing import Any, Optional

from app.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from app.models import Job, User
from app.pipelines.submit import check_run, run_pipeline
from app.settings import get_settings


def inputs_dir() -> Path:
    return get_settings().files_dir / "schedules"


def _folder(payload: dict) -> Optional[Path]:
    """The folder of a schedule's input, only ever inside inputs_dir()."""
    name = str(((payload or {}).get("file") or {}).get("folder") or "")
    try:
        uuid.UUID(name)
    except ValueError:
        return None
    return inputs_dir() / name


def prepare(*, actor: User, pipeline: Any, parameters: Any, file_name: str, content: bytes) -> tuple[str, dict]:
    """Check a scheduled run as its submission would be checked, then keep its file.
    Returns the pipeline's name and the schedule's payload (parameters, the file)."""
    if parameters is not None and not isinstance(parameters, dict):
        raise InvalidInput("parameters must be a JSON object, e.g. {\"top\": \"10\"}.", field="parameters")
    try:
        checked = check_run(actor=actor, pipeline=pipeline, file_name=file_name, content=content,
                            parameters=parameters)
    except (NotFound, PermissionDenied, Conflict) as exc:  # about the pipeline itself: name it
        if exc.detail.get("field"):
            raise
        raise type(exc)(exc.message, field="pipeline") from None
    folder_name = str(uuid.uuid4())
    folder = inputs_dir() / folder_name
    folder.mkdir(parents=True, exist_ok=False)
    tmp = folder / f".{checked.file_name}.part"
    tmp.write_bytes(content)
    os.replace(tmp, folder / checked.file_name)
    payload = {"pipeline_id": checked.info.id, "parameters": checked.parameters,
               "file": {"name": checked.file_name, "size": len(content),
                        "sha256": hashlib.sha256(content).hexdigest(), "folder": folder_name}}
    return checked.info.name, payload


def discard(payload: dict) -> None:
    """Remove a schedule's input (its schedule is deleted, or was never made)."""
    folder = _folder(payload)
    if folder is not None and folder.is_dir() and not folder.is_symlink():
        shutil.rmtree(folder)


def _content(payload: dict) -> tuple[str, bytes]:
    folder, name = _folder(payload), str(((payload or {}).get("file") or {}).get("name") or "")
    path = (folder / name) if folder is not None and name else None
    if path is None or "/" in name or not path.is_file():
        raise NotFound("The schedule's input file is no longer stored; make the schedule anew with its file.")
    return name, path.read_bytes()


def lodge(*, actor: User, schedule_name: str, pipeline: str, owner: str, payload: dict, key: str) -> Job:
    """One firing's run, lodged once for `key` (a repeat returns the run already lodged)."""
    name, content = _content(payload)
    # By id: a pipeline renamed since still runs; one removed is refused (NotFound).
    return run_pipeline(actor=actor, pipeline=int(payload.get("pipeline_id") or 0) or pipeline, file_name=name, content=content,
                        parameters=payload.get("parameters") or {}, owner=owner, idempotency_key=key,
                        why=f" on schedule {schedule_name}")
