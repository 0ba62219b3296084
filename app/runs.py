"""A pipeline run as one unit: its name, its overall state, and the paths inside it.

A run is the workflow of PIPELINE / RUN_TASK jobs a pipeline's run lodged; its root (the
first step of the first order) is the submission. A run is named after its pipeline and
upload ("Text summary on poem.txt"), a step after its task. Its state is that of all its
steps together (the worst outcome once all are final), so a run whose first step
succeeded and a later one failed reads FAILED wherever the run is shown. The paths a
person sees (history, outputs, inputs) are relative to the run's directory
(`upload/poem.txt`, `<step>/a1/out/sorted.txt`), never the server's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable, Optional

import sqlalchemy as sa

from app.db import session
from app.lifecycle import JobStatus
from app.models import Job
from app.settings import get_settings
from app.lifecycle import overall_status

JOB_TYPE = "PIPELINE"
RUN_SUBTYPE = "RUN_TASK"
_job = Job.__table__
LIVE = {JobStatus.PENDING.value, JobStatus.DEQUEUED.value, JobStatus.IN_PROGRESS.value}


def runs_dir() -> Path:
    return get_settings().files_dir / "runs"


def run_dir(root_job_id: str) -> Path:
    return runs_dir() / root_job_id


# --- names --------------------------------------------------------------------------


def is_step(job: Any) -> bool:
    return getattr(job, "job_type", None) == JOB_TYPE and getattr(job, "job_subtype", None) == RUN_SUBTYPE


def root_of(job: Any) -> Optional[str]:
    """The run a step belongs to (its root's id), or None for a job that is no step."""
    return (job.workflow_id or job.id) if is_step(job) else None


def is_root(job: Any) -> bool:
    return is_step(job) and root_of(job) == job.id


def run_name(payload: Optional[dict[str, Any]]) -> str:
    """A run's name from any of its steps' payload: "<pipeline> on <upload>"."""
    p = payload or {}
    pipeline = str(p.get("pipeline") or "")
    upload = str((p.get("upload") or {}).get("name") or "")
    if not pipeline:
        return ""
    return f"{pipeline} on {upload}" if upload else pipeline


def step_name(payload: Optional[dict[str, Any]]) -> str:
    return str((payload or {}).get("task") or "")


# --- paths ----------------------------------------------------------------------------


def relative_text(text: str, root_job_id: Optional[str]) -> str:
    """Text (a command line, a program's output, a message) with the run's directory
    left out of every path in it: `/srv/data/files/runs/<run>/upload/a.txt` reads
    `upload/a.txt`."""
    if not text or not root_job_id:
        return text
    folder = run_dir(root_job_id)
    for prefix in {str(folder.resolve()), str(folder)}:
        text = text.replace(prefix + "/", "").replace(prefix, ".")
    return text


def stored_path(ref_path: str, root_job_id: Optional[str]) -> str:
    """A step's input path (relative to its run's directory) as stored, relative to the
    files directory. Runs lodged before inputs were named that way have paths that
    start with `runs/`: those are relative to the files directory already."""
    if ref_path.startswith("runs/") or not root_job_id:
        return ref_path
    return f"runs/{root_job_id}/{ref_path}"


def in_run(stored: str, root_job_id: str) -> str:
    """A stored path (relative to the files directory) as a path inside the run."""
    prefix = f"runs/{root_job_id}/"
    return stored[len(prefix):] if stored.startswith(prefix) else stored


# --- overall state -------------------------------------------------------------------------


@dataclass
class RunState:
    id: str  # the root's id: the run (its submission)
    name: str
    status: str  # of the run as a whole
    steps: int  # the steps its pipeline had when it started
    lodged: int
    finished: int
    failed: int  # FAILED or CRASHED
    last_message: str
    started_at: Optional[datetime]
    finished_at: Optional[datetime]  # when every step lodged is final

    @property
    def summary(self) -> str:
        out = f"{self.finished} of {self.steps} step{'s' if self.steps != 1 else ''} finished"
        if self.failed:
            out += f", {self.failed} failed"
        return out


def overall(statuses: Iterable[str]) -> str:
    counts: dict[str, int] = {}
    for st in statuses:
        counts[st] = counts.get(st, 0) + 1
    return overall_status(counts) if counts else JobStatus.PENDING.value


def run_states(root_ids: Iterable[str]) -> dict[str, RunState]:
    """The overall state of each run named by its root's id (ids that name no run are
    left out): one indexed query (ix_job_workflow_created_id) whatever their number."""
    ids = sorted({i for i in root_ids if i})
    if not ids:
        return {}
    with session() as s:
        rows = s.connection().execute(
            sa.select(_job.c.id, _job.c.workflow_id, _job.c.status, _job.c.last_message, _job.c.updated_at,
                      _job.c.started_at, _job.c.finished_at, _job.c.payload, _job.c.job_type, _job.c.job_subtype)
            .where(_job.c.workflow_id.in_(ids))).all()
    members: dict[str, list] = {}
    for r in rows:
        # The type is checked here, not in SQL: with it there, SQLite's planner may take
        # an index on the job type and read every pipeline job (136 ms at 1M jobs).
        if r.job_type == JOB_TYPE and r.job_subtype == RUN_SUBTYPE:
            members.setdefault(r.workflow_id, []).append(r)
    return {rid: _state(rid, rows) for rid, rows in members.items() if any(r.id == rid for r in rows)}


def _state(rid: str, rows: list) -> RunState:
    root = next(r for r in rows if r.id == rid)
    statuses = [r.status for r in rows]
    latest = max(rows, key=lambda r: r.updated_at)
    started = [r.started_at for r in rows if r.started_at]
    ended = [r.finished_at for r in rows if r.finished_at]
    live = [st for st in statuses if st in LIVE]
    plan = (root.payload or {}).get("plan") or []
    return RunState(
        id=rid, name=run_name(root.payload), status=overall(statuses), steps=max(len(plan), len(rows)),
        lodged=len(rows), finished=len(statuses) - len(live),
        failed=sum(st in ("FAILED", "CRASHED") for st in statuses), last_message=latest.last_message or "",
        started_at=min(started) if started else None, finished_at=max(ended) if ended and not live else None)


def state_of_steps(steps: list[Any]) -> Optional[RunState]:
    """The state of a run from all its steps as read (e.g. for the job page, which lists
    them anyway); None when they hold no root."""
    root = next((j for j in steps if is_root(j)), None)
    return _state(root.id, steps) if root is not None else None


def run_state_of(job: Any) -> Optional[RunState]:
    """The state of the run a step belongs to (None for a job that is no step)."""
    rid = root_of(job)
    return run_states([rid]).get(rid) if rid else None


# --- a pipeline's past runs ------------------------------------------------------------------


@dataclass
class PastRun:
    id: str  # the root's id: the run
    owner: str
    name: str
    created_at: datetime
    state: Optional[RunState]  # None only if its steps vanished between the two reads


def past_runs(*, actor: Any, pipeline_id: int, cursor: Optional[str] = None,
              limit: int = 25) -> tuple[list[PastRun], Optional[str]]:
    """A pipeline's runs the actor may see (their own; admins and services: everyone's),
    newest first, keyset-paged: the roots through ix_job_pipeline_owner_created (or
    ix_job_pipeline_created), then their states in one query of ix_job_workflow."""
    from sqlmodel import select

    from app import paging

    stmt = select(Job).where(Job.pipeline_id == pipeline_id)
    if actor.role not in ("admin", "service"):
        stmt = stmt.where(Job.owner == actor.username)
    roots, nxt = paging.newest_first(stmt, Job, cursor=cursor, limit=limit)
    states = run_states([r.id for r in roots])
    return [PastRun(id=r.id, owner=r.owner, name=run_name(r.payload) or r.subject, created_at=r.created_at,
                    state=states.get(r.id)) for r in roots], nxt


LIVE_COUNT_CAP = 100


def live_runs(pipeline_id: int, cap: int = LIVE_COUNT_CAP, read: int = 10_000) -> int:
    """How many runs of a pipeline are under way (any step live), counted up to `cap`
    (cap + 1 reads "more than cap"). Read from the live jobs (ix_job_status_created, at
    most `read` of them: what is running now, never the pipeline's history), then their
    runs' roots by id: the pipeline is named on a run's root only."""
    live = (JobStatus.PENDING.value, JobStatus.DEQUEUED.value, JobStatus.IN_PROGRESS.value)
    with session() as s:
        conn = s.connection()
        rows = conn.execute(sa.select(_job.c.workflow_id, _job.c.job_type, _job.c.job_subtype)
                            .where(_job.c.status.in_(live)).limit(read)).all()
        # The type is checked here, not in SQL (see run_states: an index on the type reads every pipeline job).
        roots = sorted({r.workflow_id for r in rows if r.workflow_id and r.job_type == JOB_TYPE
                        and r.job_subtype == RUN_SUBTYPE})
        n = 0
        for i in range(0, len(roots), 500):
            n += conn.execute(sa.select(sa.func.count()).select_from(_job)
                              .where(_job.c.id.in_(roots[i:i + 500]), _job.c.pipeline_id == pipeline_id)).scalar_one()
            if n > cap:
                break
    return min(n, cap + 1)


@dataclass
class LiveRun:
    id: str  # the run's root: its page is that job's
    name: str  # "<pipeline> on <upload>"


def live_run_list(*, pipeline_id: Optional[int] = None, task_id: Optional[int] = None, first: int = 10,
                  cap: int = LIVE_COUNT_CAP, read: int = 10_000) -> tuple[list[LiveRun], int]:
    """The runs under way of a pipeline, or whose plan has a task as a step: the newest
    `first` of them, and how many there are, counted up to `cap` (cap + 1 reads "more
    than cap"). Read as `live_runs` reads them: the live jobs (at most `read`), then
    their runs' roots by id, never a pipeline's or a task's history."""
    live = (JobStatus.PENDING.value, JobStatus.DEQUEUED.value, JobStatus.IN_PROGRESS.value)
    cols = [_job.c.id, _job.c.workflow_id, _job.c.job_type, _job.c.job_subtype]
    with session() as s:
        conn = s.connection()
        rows = conn.execute(sa.select(*cols, *([_job.c.payload] if task_id is not None else []))
                            .where(_job.c.status.in_(live)).limit(read)).all()
        roots: set[str] = set()
        for r in rows:
            if r.job_type != JOB_TYPE or r.job_subtype != RUN_SUBTYPE:
                continue
            if task_id is not None:
                plan = (r.payload or {}).get("plan") or []
                if not any(isinstance(st, dict) and st.get("task_id") == task_id for st in plan):
                    continue
            roots.add(r.workflow_id or r.id)
        found: list[tuple[Any, str, dict]] = []
        ordered = sorted(roots)
        for i in range(0, len(ordered), 500):
            q = sa.select(_job.c.created_at, _job.c.id, _job.c.payload).where(_job.c.id.in_(ordered[i:i + 500]))
            if pipeline_id is not None:
                q = q.where(_job.c.pipeline_id == pipeline_id)
            found += [tuple(r) for r in conn.execute(q)]
            if len(found) > cap:
                break
    found.sort(key=lambda r: (r[0], r[1]), reverse=True)  # newest first
    return [LiveRun(r[1], run_name(r[2]) or r[1]) for r in found[:first]], min(len(found), cap + 1)


def runs_needing_tasks(conn: sa.Connection, task_ids: Iterable[int]) -> dict[int, list[str]]:
    """The runs under way (by root job, in id order) that still need each task as
    configured, by task id: a run whose plan names the task and whose steps carry no
    version of it (a run lodged before runs kept their tasks, app.pipelines.snapshot),
    so a step of it yet to run reads the task row. A run that carries its version needs
    nothing of the row: the task may be removed under it. Every live step is read (the
    status index), never the history; the caller's connection, so a removal checks in
    its own transaction."""
    wanted = set(task_ids)
    if not wanted:
        return {}
    out: dict[int, set[str]] = {}
    q = (sa.select(_job.c.id, _job.c.workflow_id, _job.c.payload)
         .where(_job.c.status.in_(sorted(LIVE)), _job.c.job_type == JOB_TYPE, _job.c.job_subtype == RUN_SUBTYPE))
    for job_id, workflow_id, payload in conn.execute(q):
        payload = payload if isinstance(payload, dict) else {}
        kept = payload.get("tasks") if isinstance(payload.get("tasks"), dict) else {}
        for st in payload.get("plan") or []:
            tid = st.get("task_id") if isinstance(st, dict) else None
            # the same test as snapshot.snapshot_of (not imported: it imports the config)
            if tid in wanted and not isinstance(kept.get(str(tid)), dict):
                out.setdefault(tid, set()).add(workflow_id or job_id)
    return {tid: sorted(runs) for tid, runs in out.items()}


def needing_task_text(runs: list[str]) -> str:
    """Why a task may not be removed yet, after "it is": the runs that still need it,
    the first named ("still needed by run R and 2 more, lodged before runs kept their
    tasks' definitions: their steps read the task as configured")."""
    more = f" and {len(runs) - 1} more" if len(runs) > 1 else ""
    return (f"still needed by run {runs[0]}{more}, lodged before runs kept their tasks' definitions: "
            f"{'its' if len(runs) == 1 else 'their'} steps read the task as configured")
