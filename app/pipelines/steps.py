"""Running one step of a pipeline run (the worker's side): its task's command without a
shell or its registered handler, in a working directory of its own; the files it keeps;
and the join, where the last step of an order to succeed lodges the next order.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import shutil
import signal
import string
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import sqlalchemy as sa

from app import lifecycle, runs
from app.db import session, utcnow
from app.errors import JobFailed
from app.jobtypes import BACKENDS, spec_for
from app.payloads import FileRef, RunTask
from app.launch import Lodged, _insert, _row
from app.lifecycle import JobStatus, Transitioned
from app.parameters import FALSE
from app.models import Backend, Job, JobFile, Task
from app.pipelines.checks import (
    DEFAULT_BACKEND,
    JOB_SUBTYPE,
    JOB_TYPE,
    _matches,
    _patterns,
)
from app.pipelines.config import TaskInfo, _tasks_by_id, ok_codes
from app.pipelines.handlers import HANDLERS
from app.pipelines.snapshot import snapshot_of, task_from_snapshot, task_snapshot
from app.pipelines.submit import _lineage, step_job_id
from app.runs import runs_dir
from app.settings import get_settings

_job, _file = Job.__table__, JobFile.__table__

HISTORY_CHARS = 4000  # of a command's stdout and stderr, in its history and result
TIMEOUT_GRACE_S = 2.0  # a worker's own watch halts a step this long after the task's limit


# --- running one step (the worker's side) --------------------------------------------------------

def _rel(path: Path) -> str:
    return path.relative_to(get_settings().files_dir).as_posix()


class TaskTimedOut(Exception):
    """A step ran past its task's time limit; the worker records it as a timeout."""

    def __init__(self, limit_s: float):
        super().__init__(f"timed out after {limit_s:g} s")
        self.limit_s = limit_s


@dataclass
class KeptFileRow:
    name: str
    size: int
    sha256: str
    stored_path: str  # relative to the files directory


@dataclass
class StepRun:
    exit_code: Optional[int]
    stdout: str
    summary: str
    files: list[KeptFileRow]


def task_for_step(p: RunTask) -> TaskInfo:
    """The task a step runs: its run's version of it (app.pipelines.snapshot), whatever
    was saved since; for a step whose payload carries none (a run lodged before runs kept
    them, a step lodged directly) the task as configured now (JobFailed when removed)."""
    kept = snapshot_of(p.tasks, p.task_id)
    if kept is not None:
        return task_from_snapshot(kept)
    with session() as s:
        found = _tasks_by_id(s, [p.task_id])
    if p.task_id not in found:
        raise JobFailed(f"Task {p.task!r} no longer exists; an admin removed it.")
    return found[p.task_id]


def changed_since(p: RunTask) -> Optional[str]:
    """What a step's history says when its run's version of its task is no longer the
    task as saved (changed or removed since the run was lodged), or None. A person who
    retries a failed step after an admin fixed its task learns here why it runs as
    before; a description changed alone runs nothing differently and is not told."""
    kept = snapshot_of(p.tasks, p.task_id)
    if kept is None:
        return None  # the step reads the task as saved: nothing to tell
    with session() as s:
        found = _tasks_by_id(s, [p.task_id])
    keep = "the step runs the version this run was lodged with (run the pipeline again for the new one)"
    if p.task_id not in found:
        return f"Task {kept['name']} was removed since this run was lodged; {keep}."
    now = task_snapshot(found[p.task_id])
    if {**now, "description": ""} == {**kept, "description": ""}:
        return None
    return f"Task {kept['name']} was changed since this run was lodged; {keep}."


def time_limit_of(task: TaskInfo) -> int:
    """The task's own limit, capped by its backend's job time limit."""
    from app.backends import backend_config

    cap = backend_config(task.backend).job_timeout_s
    return min(task.timeout_s, cap) if cap else task.timeout_s


def _input_paths(p: RunTask, task: TaskInfo, root: str) -> tuple[list[Path], Path]:
    from app.files import stored_file_path

    def real(ref: FileRef) -> Path:
        path = stored_file_path(runs.stored_path(ref.path, root))
        if path is None or not path.is_file():
            raise JobFailed(f"Input {ref.name} is no longer stored.")
        return path

    chosen = [r for r in p.inputs if _matches(r.name, task.input_glob)]
    if not chosen:
        names = ", ".join(r.name for r in p.inputs) or "none"
        raise JobFailed(f"No input file matches {task.input_glob!r}, the files task {task.name} takes "
                        f"(inputs: {names}).")
    return [real(r) for r in chosen], real(p.upload)


def _argv(task: TaskInfo, values: dict[str, str], inputs: list[Path], params: dict[str, str]) -> list[str]:
    argv, named = [], set()
    for token in shlex.split(task.command):
        if token == "{inputs}":
            argv.extend(str(x) for x in inputs)
            continue
        out = []
        for literal, name, _spec, _conv in string.Formatter().parse(token):
            out.append(literal)
            if name is not None:
                named.add(name)
                out.append(values[name])
        argv.append("".join(out))
    for prm in task.parameters:
        value = params.get(prm.name, "")
        if prm.name in named or not prm.flag or value == "":
            continue
        if prm.bool_valued:  # a switch: the flag alone, or nothing
            if value.strip().lower() not in FALSE:
                argv.append(prm.flag.rstrip("="))
            continue
        argv.extend([prm.flag + value] if prm.flag.endswith("=") else [prm.flag, value])
    return argv


def _excerpt(path: Path, limit: int = HISTORY_CHARS) -> str:
    """A file's text for the history: all of it, or its start and end when long."""
    size = path.stat().st_size if path.exists() else 0
    if size == 0:
        return ""
    with open(path, "rb") as f:
        if size <= limit * 4:
            text = f.read().decode("utf-8", errors="replace")
        else:
            head = f.read(limit * 2).decode("utf-8", errors="replace")
            f.seek(size - limit * 2)
            text = head + "\n" + f.read().decode("utf-8", errors="replace")
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}\n… ({size} bytes in all; the middle is left out) …\n{text[-half:]}"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _keep(out_dir: Path, globs: str) -> list[KeptFileRow]:
    """The files of the output directory that match the output glob: regular files
    only (a symlink could point anywhere), named by their path inside it."""
    kept: dict[str, KeptFileRow] = {}
    root = out_dir.resolve()
    for pattern in _patterns(globs):
        for path in sorted(out_dir.glob(pattern)):
            if path.is_symlink() or not path.is_file() or not path.resolve().is_relative_to(root):
                continue
            name = path.relative_to(out_dir).as_posix().replace("/", "_")[:256]
            if name in kept or name.startswith("."):
                continue
            kept[name] = KeptFileRow(name, path.stat().st_size, _sha256(path), _rel(path))
    return list(kept.values())


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _run_command(argv: list[str], *, cwd: Path, log_dir: Path, limit_s: float,
                 environment: Optional[dict[str, str]] = None) -> tuple[int, Path, Path]:
    """Run without a shell, in its own process group (a timeout or a halt stops its
    children too), with a small environment: the worker's settings are not the
    command's business. The task's own variables come on top (a PATH or a locale of its
    own); HOME and TMPDIR stay the step's, which the task's checks keep them from naming."""
    env = {"PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"), "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
           **(environment or {}), "HOME": str(log_dir), "TMPDIR": str(log_dir / "tmp")}
    (log_dir / "tmp").mkdir(exist_ok=True)
    out_path, err_path = log_dir / "stdout.txt", log_dir / "stderr.txt"
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        try:
            proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                    start_new_session=True)
        except FileNotFoundError:
            raise JobFailed(f"Command not found: {argv[0]}. Is it installed on the worker's host?") from None
        except PermissionError:
            raise JobFailed(f"{argv[0]} may not be run (it is not executable).") from None
        deadline = time.monotonic() + limit_s
        try:
            while True:  # short waits: a halt (cancel) is delivered between them
                try:
                    code = proc.wait(timeout=min(0.1, max(0.01, deadline - time.monotonic())))
                    break
                except subprocess.TimeoutExpired:
                    if time.monotonic() >= deadline:
                        raise TaskTimedOut(limit_s) from None
        finally:
            _kill_group(proc)  # on a timeout or halt; after a normal exit, any child left behind
            proc.wait()
    return code, out_path, err_path


def execute_step(*, payload: RunTask, task: TaskInfo, job_id: str, attempt: int, workflow_id: Optional[str],
                 note: Callable[..., None]) -> StepRun:
    """Run one step in a working directory of its own (runs/<root>/<job>/a<attempt>/,
    the kept files in its out/). `note(text, level=...)` adds a line to the job's
    history. Raises JobFailed (a refused exit code, a missing program or input) or
    TaskTimedOut."""
    root = workflow_id or job_id
    inputs, upload = _input_paths(payload, task, root)
    work = runs_dir() / root / job_id / f"a{attempt}"
    out_dir = work / "out"
    if work.exists():  # this attempt ran before on a worker that died: start clean
        shutil.rmtree(work)
    out_dir.mkdir(parents=True, exist_ok=True)
    params = {p.name: payload.parameters.get(p.name, p.default) for p in task.parameters}
    for p in task.parameters:
        if p.required and not params[p.name]:
            raise JobFailed(f"Parameter {p.name} of task {task.name} is required and was not given.")
    limit = time_limit_of(task)

    def shown(text: str) -> str:  # what the owner reads: paths inside the run, not the server's
        return runs.relative_text(text, root)

    if task.kind == "handler":
        fn = HANDLERS.get(task.handler)
        if fn is None:
            raise JobFailed(f"Handler {task.handler!r} of task {task.name} is not registered.")
        note(f"Running handler {task.handler} on {', '.join(x.name for x in inputs)}")
        try:
            summary = fn(inputs=inputs, output_dir=out_dir, parameters=params)
        except JobFailed as exc:
            raise JobFailed(shown(exc.message)) from None
        files = _keep(out_dir, task.output_glob)
        return StepRun(None, "", shown(f"{task.name}: {summary} {len(files)} file(s) kept."), files)

    values = {"input": str(inputs[0]), "upload": str(upload), "output_dir": str(out_dir), **params}
    argv = _argv(task, values, inputs, params)
    note(shown(f"Running: {shlex.join(argv)} (time limit {limit} s)"))
    if task.environment:
        note(f"Environment: {', '.join(sorted(task.environment))} set by the task")
    code, out_path, err_path = _run_command(argv, cwd=out_dir, log_dir=work, limit_s=limit,
                                            environment=task.environment)
    stdout, stderr = shown(_excerpt(out_path)), shown(_excerpt(err_path))
    accepted = code in ok_codes(task)
    if stdout:
        note(f"stdout:\n{stdout}")
    if stderr:
        note(f"stderr:\n{stderr}", level="info" if accepted else "warning")
    if not accepted:
        program = shown(argv[0])
        if code < 0:
            raise JobFailed(f"{task.name}: {program} was killed by signal {-code}.")
        raise JobFailed(f"{task.name}: {program} exited with code {code}; accepted: {task.ok_exit_codes}.")
    files = _keep(out_dir, task.output_glob)
    return StepRun(code, stdout, f"{task.name}: exit code {code}; {len(files)} file(s) kept.", files)


def finish_step(conn: sa.Connection, done: Transitioned, *, payload: RunTask, files: list[KeptFileRow]) -> list[Lodged]:
    """In the transaction that records a step's success: keep its files, and if it is
    the last of its order to succeed, lodge the next order (the join).

    The join reads the statuses of the order's steps under a lock on the run's root
    row. On PostgreSQL (read committed) two steps finishing at once would otherwise
    each see the other still running and neither lodge the next order; with the lock
    the second waits until the first commits, then reads its success. SQLite runs one
    write transaction at a time (BEGIN IMMEDIATE), where FOR UPDATE is not needed and
    not emitted. The next steps' ids derive from the root, so a repeat lodges nothing.
    They carry the run's plan and its version of its tasks on, as every step does.
    """
    now = utcnow()
    conn.execute(sa.delete(_file).where(_file.c.job_id == done.job_id))
    if files:
        conn.execute(sa.insert(_file), [dict(job_id=done.job_id, name=f.name, size=f.size, sha256=f.sha256,
                                             stored_path=f.stored_path, created_at=now) for f in files])
    root = done.workflow_id or done.job_id
    # The next steps run as the run was admitted (app.fairuse): same priority, same submitter.
    admitted = conn.execute(sa.select(_job.c.priority, _job.c.client_addr).where(_job.c.id == root)
                            .with_for_update()).first()
    orders = sorted({s.order for s in payload.plan})
    first = orders[0]
    mine = [s for s in payload.plan if s.order == payload.order]
    ids = [step_job_id(root, payload.order, i, first_order=first) for i in range(len(mine))]
    statuses = dict(conn.execute(sa.select(_job.c.id, _job.c.status).where(_job.c.id.in_(ids))).all())
    if any(statuses.get(i) != JobStatus.SUCCEEDED.value for i in ids):
        return []  # a sibling is still running (or failed): the last to succeed lodges the next order
    later = [o for o in orders if o > payload.order]
    if not later:
        from app.estimates import record_run  # the run is complete: its time feeds the estimates

        record_run(conn, run_id=root, pipeline_id=payload.pipeline_id, now=now)
        lifecycle.add_message(done.job_id, f"Pipeline {payload.pipeline} complete: all {len(payload.plan)} "
                                           f"step(s) succeeded.", conn=conn)
        return []
    nxt = later[0]
    steps = [s for s in payload.plan if s.order == nxt]
    rank = {jid: i for i, jid in enumerate(ids)}
    kept = conn.execute(sa.select(_file.c.job_id, _file.c.name, _file.c.size, _file.c.sha256, _file.c.stored_path)
                        .where(_file.c.job_id.in_(ids))).all()
    inputs = [FileRef(name=f.name, path=runs.in_run(f.stored_path, root), size=f.size, sha256=f.sha256, job_id=f.job_id)
              for f in sorted(kept, key=lambda f: (rank[f.job_id], f.name))]
    if not inputs:  # an order that keeps nothing (a check, a count) passes its own inputs on
        inputs = payload.inputs
    placed = _placement(conn, payload, [s.task_id for s in steps])
    spec = spec_for(JOB_TYPE, JOB_SUBTYPE)
    rows = []
    for i, st in enumerate(steps):
        backend, retries = placed[st.task_id]
        p = RunTask(pipeline_id=payload.pipeline_id, pipeline=payload.pipeline, order=nxt, index=i, task=st.task,
                    task_id=st.task_id, plan=payload.plan, upload=payload.upload, inputs=inputs,
                    parameters=payload.parameters, email=payload.email, retries=retries, tasks=payload.tasks)
        rows.append(_row(job_id=step_job_id(root, nxt, i, first_order=first), owner=done.owner, spec=spec,
                         payload=p, workflow_id=root, parent_job_id=done.job_id, step=nxt,
                         lineage_key=_lineage(root, nxt, i), now=now, queue=backend,
                         subject=runs.run_name(p.model_dump()))
                    | ({"priority": admitted.priority, "client_addr": admitted.client_addr} if admitted else {}))
    lodged = _insert(conn, rows, text=f"Lodged by job {done.job_id}, the last step of order {payload.order} "
                                      f"to succeed", ignore=True)
    if lodged:
        lifecycle.add_message(done.job_id, f"Last of order {payload.order} to succeed: lodged order {nxt} "
                                           f"({', '.join(s.task for s in steps)}).", conn=conn)
    return lodged


def _placement(conn: sa.Connection, payload: RunTask, task_ids: list[int]) -> dict[int, tuple[str, int]]:
    """(backend, retries) of each task of the next order: the run's version's. A task its
    run kept no version of (a run lodged before runs kept them) is read as configured
    now, and so is the backend of a version whose backend was deleted since (its task
    was moved first: a deletion is refused while a task runs there), so the step waits
    on a queue a pool serves rather than on one nobody serves any more."""
    kept = {tid: snapshot_of(payload.tasks, tid) for tid in task_ids}
    _t, _b = Task.__table__, Backend.__table__
    live = {r.id: r for r in conn.execute(sa.select(_t.c.id, _t.c.backend, _t.c.retries)
                                          .where(_t.c.id.in_(task_ids)))}
    named = {k["backend"] for k in kept.values() if k is not None} - set(BACKENDS)
    known = set(BACKENDS) | (set(conn.execute(sa.select(_b.c.name).where(_b.c.name.in_(named))).scalars())
                             if named else set())
    out = {}
    for tid in task_ids:
        k, configured = kept[tid], live.get(tid)
        configured_backend = getattr(configured, "backend", None) or DEFAULT_BACKEND
        if k is None:
            out[tid] = (configured_backend, int(getattr(configured, "retries", 0) or 0))
        else:
            out[tid] = (k["backend"] if k["backend"] in known else configured_backend, int(k.get("retries") or 0))
    return out
