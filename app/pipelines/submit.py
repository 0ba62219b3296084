"""A user's run of a pipeline on a file they upload: checked whole, the upload stored, the
first order's steps lodged as one workflow whose root is the run (the submission).
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
from dataclasses import dataclass
from typing import Any, Optional, Union

import sqlalchemy as sa
from sqlmodel import select

from app import fairuse
from app import parameters as rules
from app import runs
from app import audit
from app.audit import audited
from app.db import session, write_conn
from app.errors import Conflict, InvalidInput, PayloadTooLarge, PermissionDenied
from app.jobtypes import child_job_id, spec_for
from app.payloads import FileRef, PlanStep, RunTask
from app.auth import find_user
from app.launch import _by_idempotency_key, _insert, _row, enqueue, get_job
from app.models import Job, JobFile, User
from app.columns import new_id
from app.pipelines.checks import (
    _FILE_RE,
    DEFAULT_BACKEND,
    JOB_SUBTYPE,
    JOB_TYPE,
    _matches,
)
from app.pipelines.config import PipelineInfo, _step_parameters, get_pipeline
from app.pipelines.snapshot import run_snapshot
from app.runs import runs_dir
from app.settings import get_settings
from app.notify import check_address
from app.validators import run_validators

log = logging.getLogger(__name__)

_job, _file = Job.__table__, JobFile.__table__

# --- running a pipeline --------------------------------------------------------------------------


def step_job_id(root: str, order: int, index: int, *, first_order: int) -> str:
    """The id of a run's step: the root is the first step of the first order; every
    other id derives from the root, so whichever sibling lodges an order names the same
    jobs, and a repeat lodges nothing twice."""
    if order == first_order and index == 0:
        return root
    return child_job_id(root, f"step/{order}/{index}")


def _lineage(root: str, order: int, index: int) -> str:
    return f"{root}/step/{order}/{index}"




def _file_name(file_name: str) -> str:
    base = re.split(r"[\\/]", str(file_name or ""))[-1].strip()
    if not _FILE_RE.match(base):
        raise InvalidInput(f"The file name {base!r} is not usable: letters, digits, spaces and . _ - ( ) + , "
                           f"only, starting with a letter or digit, at most 200 characters. Rename the file.",
                           field="file")
    return base


def _run_parameters(info: PipelineInfo, given: Any) -> dict[str, str]:
    return rules.check_run(info.name, _step_parameters(info.steps, info.tasks), given)



class RunBatch:
    """Runs checked and stored by run_pipeline(..., into=batch) but not yet lodged:
    `lodge` lodges them all as one batch in one transaction, `discard` removes their
    uploads; so several runs are lodged all or none."""

    def __init__(self, *, owner: str, label: str = ""):
        self.id, self.owner, self.label = new_id(), owner, label
        self.roots: list[str] = []
        self._rows: list[list[dict[str, Any]]] = []

    def add(self, root: str, rows: list[dict[str, Any]]) -> None:
        self.roots.append(root)
        self._rows.append(rows)

    def discard(self) -> None:
        for root in self.roots:
            remove_run_files(root)

    def lodge(self) -> list[str]:
        """Lodge every run: the runs' roots are the batch's jobs. Returns their ids."""
        from app.launch import create_batch

        roots = [rows[0] | {"batch_id": self.id} for rows in self._rows]
        others = [r for rows in self._rows for r in rows[1:]]
        try:
            with write_conn() as conn:
                lodged = create_batch(conn, batch_id=self.id, owner=self.owner, label=self.label,
                                      submission_job_id=None, rows=roots, text="Lodged in a batch of pipeline runs")
                lodged += _insert(conn, others, text="Lodged with its run, in a batch of pipeline runs")
        except BaseException:
            self.discard()
            raise
        enqueue(lodged)
        return list(self.roots)


@dataclass(frozen=True)
class CheckedRun:
    """A run as its checks left it: the pipeline, the upload's usable name, the parameters."""
    info: PipelineInfo
    file_name: str
    parameters: dict[str, str]


def check_run(*, actor: User, pipeline: Union[int, str], file_name: str, content: bytes,
              parameters: Optional[dict[str, Any]] = None) -> CheckedRun:
    """Every check a run passes before anything is stored (fair use apart, which is about
    the moment it is lodged): the pipeline runnable and with steps, the file's name, size
    and glob, the parameters against their rules, the pipeline's validators. A schedule of
    a pipeline run (app.schedules) is checked with it when it is made."""
    if actor is None:
        raise PermissionDenied("Sign in to run a pipeline.")
    info = get_pipeline(actor=actor, pipeline=pipeline)
    if not info.runnable:
        raise PermissionDenied(f"Pipeline {info.name} is present but currently disabled.")
    if actor.role == "anonymous" and not info.public:  # the built-in anonymous submitter (app.aa_compat)
        raise PermissionDenied(f"Sign in to run {info.name}: it is not public.")
    if not info.steps:
        raise Conflict(f"Pipeline {info.name} has no steps yet; an admin must add some.")
    name = _file_name(file_name)
    limit = get_settings().max_upload_bytes
    if len(content) > limit:
        raise PayloadTooLarge(f"{name} is {len(content)} bytes; a pipeline takes files up to {limit} bytes "
                              f"(JOBDECK_MAX_UPLOAD_BYTES).", field="file")
    if not content:
        raise InvalidInput(f"{name} is empty; choose a file with something in it.", field="file")
    params = _run_parameters(info, parameters)
    for st in info.orders[0]:
        if not _matches(name, st.input_glob):
            raise InvalidInput(f"{name} does not match {st.input_glob!r}, the files task {st.task} takes.",
                               field="file")
    run_validators(info.validators, content)
    return CheckedRun(info, name, params)


def _owner(actor: User, owner: Optional[str]) -> str:
    if not owner or owner == actor.username:
        return actor.username
    if not actor.may_launch_any:
        raise PermissionDenied("Only admins and services may run a pipeline for another user.")
    if find_user(owner) is None:
        raise InvalidInput(f"No user {owner!r} to run the pipeline for.", field="owner")
    return owner


@audited("pipeline.run", target=lambda a, r: r.id if r is not None else a["pipeline"])
def run_pipeline(*, actor: User, pipeline: Union[int, str], file_name: str, content: bytes,
                 parameters: Optional[dict[str, Any]] = None, client_addr: Optional[str] = None,
                 email: Optional[str] = None, into: Optional[RunBatch] = None, owner: Optional[str] = None,
                 idempotency_key: Optional[str] = None, why: str = "") -> Optional[Job]:
    """Run a pipeline on an uploaded file: check it all, store the upload, then lodge
    the first order's steps as one workflow. Returns its root job (the submission).
    Nothing is stored or lodged when any check fails, fair use included (app.fairuse:
    TooManyActive at the hard limit; the run's priority). `client_addr` is the address
    of a submitter who did not sign in (a public pipeline's), kept on the run's jobs;
    `email`, an address told how the run ended (app.notify), kept in its payload. With
    `into`, the run is checked and stored but left for `into.lodge()` (and None returned).
    `owner` (admins and services) runs it for another user, counted by fair use as
    theirs; `idempotency_key`, kept on the root job, makes a repeat return the run
    already lodged instead of a second one (a schedule's firing); `why` is added to the
    first history line."""
    checked = check_run(actor=actor, pipeline=pipeline, file_name=file_name, content=content,
                        parameters=parameters)
    info, name, params = checked.info, checked.file_name, checked.parameters
    owner = _owner(actor, owner)
    if idempotency_key:
        found = _by_idempotency_key(owner, idempotency_key)
        if found is not None:
            return found
    address = check_address(email)
    first = info.orders[0]
    # Last of the checks, just before the first write: the count is as fresh as it can be.
    admitted = fairuse.admit(pipeline=info, owner=owner, client_addr=client_addr)
    plan = [PlanStep(order=s.order, task=s.task, task_id=s.task_id) for s in info.steps]
    # The run's version of its tasks: those its parameters were just checked against.
    tasks = run_snapshot(info.tasks[tid] for tid in dict.fromkeys(s.task_id for s in info.steps))
    root = new_id()
    if into is None:
        audit.note(target=root)  # so its entry commits with the run's first rows
    folder = runs_dir() / root / "upload"
    folder.mkdir(parents=True, exist_ok=True)
    stored = folder / name
    tmp = folder / f".{name}.part"
    tmp.write_bytes(content)
    os.replace(tmp, stored)  # a reader never sees half a file
    # Paths of a run's files are relative to the run: what its steps' inputs show.
    upload = FileRef(name=name, path=f"upload/{name}", size=len(content), sha256=hashlib.sha256(content).hexdigest())
    spec = spec_for(JOB_TYPE, JOB_SUBTYPE)
    rows = []
    for i, st in enumerate(first):
        task = tasks[str(st.task_id)]
        payload = RunTask(pipeline_id=info.id, pipeline=info.name, order=st.order, index=i, task=st.task,
                          task_id=st.task_id, plan=plan, upload=upload, inputs=[upload], parameters=params,
                          email=address, retries=task["retries"], tasks=tasks)
        jid = step_job_id(root, st.order, i, first_order=st.order)
        rows.append(_row(job_id=jid, owner=owner, spec=spec, payload=payload, workflow_id=root,
                         parent_job_id=None if jid == root else root, step=st.order,
                         lineage_key=_lineage(root, st.order, i), queue=task["backend"] or DEFAULT_BACKEND,
                         subject=runs.run_name(payload.model_dump()), lodged_by=actor.username,
                         idempotency_key=idempotency_key if jid == root else None)
                    | {"client_addr": client_addr, "priority": admitted.priority,
                       "pipeline_id": info.id if jid == root else None})  # the run's root names its pipeline
    if into is not None:
        into.add(root, rows)
        return None
    by = actor.username if owner == actor.username else f"{actor.username} for {owner}"
    try:
        with write_conn() as conn:
            fairuse.hold(conn, admitted, owner=owner, client_addr=client_addr)
            lodged = _insert(conn, rows, text=f"Lodged by {by}{why}: pipeline {info.name}, "
                                              f"order {first[0].order} of {len(info.orders)}, on {name}")
    except sa.exc.IntegrityError:
        remove_run_files(root)  # ours only: the run lodged first keeps its own directory
        found = _by_idempotency_key(owner, idempotency_key) if idempotency_key else None
        if found is None:
            raise
        return found  # lodged meanwhile by another (a second housekeeper on the same firing)
    except BaseException:
        remove_run_files(root)  # nothing lodged: nothing kept
        raise
    enqueue(lodged)
    log.info("pipeline %s run %s lodged by %s on %s (%d bytes) at %s priority", info.name, root, by,
             name, len(content), admitted.priority)
    return get_job(root)


def run_steps(workflow_id: str) -> list[Job]:
    """The steps of a pipeline run (its workflow), by order, then as lodged."""
    with session() as s:
        # The type is checked here, not in SQL, so the planner always reads the workflow's
        # own jobs (ix_job_workflow_created_id), never every pipeline job through the type's index.
        jobs = s.exec(select(Job).where(Job.workflow_id == workflow_id).order_by(Job.step, Job.created_at, Job.id))
        return [j for j in jobs if j.job_type == JOB_TYPE]


def remove_run_files(root_job_id: str) -> bool:
    """Remove a run's directory (its upload, every step's working directory and kept
    files) when its submission is deleted. True when there was one."""
    if not root_job_id or "/" in root_job_id or root_job_id in (".", ".."):
        return False
    folder = runs_dir() / root_job_id
    if not folder.is_dir() or folder.is_symlink():
        return False
    shutil.rmtree(folder)
    return True


def run_overview(workflow_id: str) -> list[tuple[Job, int]]:
    """The steps of a pipeline run, each with how many files it kept (two queries)."""
    steps = run_steps(workflow_id)
    if not steps:
        return []
    with session() as s:
        counts = dict(s.exec(select(JobFile.job_id, sa.func.count()).where(JobFile.job_id.in_([j.id for j in steps]))
                             .group_by(JobFile.job_id)).all())
    return [(j, counts.get(j.id, 0)) for j in steps]

