"""Pipelines (Analytics Automated's "jobs"): the tasks and pipelines admins configure,
and a user's run of a pipeline on a file they upload.

A task is one executable step bound to a backend: a command template, or a Python
handler registered in HANDLERS (the allow-list). A command never goes through a shell:
its template is split with shlex first, then each placeholder is filled inside its own
argument, so no value (a file name, a parameter) can add an argument or a command.
Placeholders: {input} (the step's first input file), {inputs} (all of them, as
separate arguments; only as a whole argument), {upload} (the file the user uploaded),
{output_dir} (where the step writes the files it keeps) and {<parameter name>}.
A parameter not named in the template but given a flag is passed as `flag value`.

A pipeline is ordered steps of tasks; steps of equal order run in parallel. Running it
stores the upload and lodges the first order's steps as one workflow: the first step is
its root (the submission), the others of that order are lodged with it. Each step runs
as a PIPELINE / RUN_TASK job in a working directory of its own under the data
directory, keeps the files matching its task's output glob, and the last step of an
order to succeed lodges the next order with those files as inputs (`finish_step`, the
join, in the transaction that records its success); an order that keeps no file passes
its own inputs on. A step that fails, or is
cancelled, leaves the next order unlodged; retrying it carries the run on.
"""

from __future__ import annotations

import fnmatch
import hashlib
import logging
import os
import re
import shlex
import shutil
import signal
import string
import subprocess
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Optional, Union

import sqlalchemy as sa
from sqlmodel import select

from app import csvcells, lifecycle, runs
from app import parameters as rules
from app.db import session, utcnow, write_conn
from app.errors import Conflict, InvalidInput, JobFailed, NotFound, PayloadTooLarge, PermissionDenied
from app.jobtypes import FileRef, PlanStep, RunTask, child_job_id, spec_for
from app.launch import Lodged, _insert, _row, enqueue, get_job
from app.lifecycle import JobStatus, Transitioned
from app.models import Job, JobFile, Pipeline, PipelineStep, Task, TaskParameter, User, new_id
from app.parameters import ParameterInfo, RunParameter  # noqa: F401  (part of this module's API)
from app.runs import runs_dir
from app.settings import get_settings
from app.shapes import check_text

log = logging.getLogger(__name__)

_job, _file = Job.__table__, JobFile.__table__

JOB_TYPE, JOB_SUBTYPE = "PIPELINE", "RUN_TASK"
DEFAULT_BACKEND = "pipeline"
KINDS = ("command", "handler")
PLACEHOLDERS = {
    "input": "the step's first input file",
    "inputs": "all its input files, as separate arguments",
    "upload": "the file the user uploaded",
    "output_dir": "the directory whose files matching the output glob are kept",
}
MAX_TIMEOUT_S = 86_400
MAX_STEPS = 50
HISTORY_CHARS = 4000  # of a command's stdout and stderr, in its history and result
TIMEOUT_GRACE_S = 2.0  # a worker's own watch halts a step this long after the task's limit

_NAME_RE = re.compile(r"^[^\x00-\x1f/\\]{1,64}$")
_FILE_RE = re.compile(r"^\w[\w.\- ()+,]{0,199}$")


# --- Python handlers (the allow-list) ----------------------------------------------------

TaskHandler = Callable[..., str]
HANDLERS: dict[str, TaskHandler] = {}


def task_handler(fn: TaskHandler) -> TaskHandler:
    """Register a Python handler by its dotted path; only registered ones can be named by
    a task. It is called as fn(inputs=[Path], output_dir=Path, parameters={name: value})
    and returns a line for the step's history; JobFailed ends the step FAILED."""
    HANDLERS[f"{fn.__module__}.{fn.__name__}"] = fn
    return fn


_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")


@task_handler
def word_frequencies(*, inputs: list[Path], output_dir: Path, parameters: dict[str, str]) -> str:
    """Count the words of the input files; keep the `top` most frequent as a CSV file."""
    raw = (parameters.get("top") or "20").strip()
    if not raw.isdigit() or not 1 <= int(raw) <= 100_000:
        raise JobFailed(f"Parameter top must be a whole number from 1 to 100000, not {raw!r}.")
    counts: Counter[str] = Counter()
    for path in inputs:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                counts.update(w.lower() for w in _WORD.findall(line))
    top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:int(raw)]
    with open(output_dir / "word_frequencies.csv", "w", newline="", encoding="utf-8") as f:
        w = csvcells.writer(f)
        w.writerow(["word", "count"])
        w.writerows(top)
    return (f"{sum(counts.values())} words, {len(counts)} distinct, in {len(inputs)} file(s); "
            f"the {len(top)} most frequent kept.")


# --- what the console and the API show ------------------------------------------------------


@dataclass
class TaskInfo:
    id: int
    name: str
    description: str
    backend: str
    kind: str
    command: str
    handler: str
    input_glob: str
    output_glob: str
    ok_exit_codes: str
    timeout_s: int
    parameters: list[ParameterInfo] = field(default_factory=list)


@dataclass
class StepInfo:
    order: int
    task_id: int
    task: str
    description: str
    kind: str
    input_glob: str


@dataclass
class PipelineInfo:
    id: int
    name: str
    description: str
    steps: list[StepInfo]
    parameters: list[RunParameter]
    tasks: dict[int, TaskInfo] = field(default_factory=dict, repr=False)

    @property
    def orders(self) -> list[list[StepInfo]]:
        """The steps grouped by order: each group runs in parallel."""
        out: dict[int, list[StepInfo]] = {}
        for s in self.steps:
            out.setdefault(s.order, []).append(s)
        return [out[o] for o in sorted(out)]


def _task_info(t: Task, params: Iterable[TaskParameter]) -> TaskInfo:
    return TaskInfo(t.id, t.name, t.description, t.backend, t.kind, t.command, t.handler, t.input_glob,
                    t.output_glob, t.ok_exit_codes, t.timeout_s,
                    [ParameterInfo(p.name, p.flag, p.default, p.required, p.type or "text", list(p.choices or []),
                                   p.minimum, p.maximum) for p in params])


def _tasks_by_id(s, ids: Optional[Iterable[int]] = None) -> dict[int, TaskInfo]:
    q = select(Task)
    if ids is not None:
        q = q.where(Task.id.in_(list(ids)))
    tasks = list(s.exec(q))
    params: dict[int, list[TaskParameter]] = {}
    if tasks:
        for p in s.exec(select(TaskParameter).where(TaskParameter.task_id.in_([t.id for t in tasks]))
                        .order_by(TaskParameter.id)):
            params.setdefault(p.task_id, []).append(p)
    return {t.id: _task_info(t, params.get(t.id, [])) for t in tasks}


def _pipeline_info(p: Pipeline, steps: list[PipelineStep], tasks: dict[int, TaskInfo]) -> PipelineInfo:
    infos = []
    for st in sorted(steps, key=lambda x: (x.order, x.id)):
        t = tasks[st.task_id]
        infos.append(StepInfo(st.order, t.id, t.name, t.description, t.kind, t.input_glob))
    return PipelineInfo(p.id, p.name, p.description, infos, rules.merge(_step_parameters(infos, tasks)),
                        tasks=tasks)


def _step_parameters(steps: list[StepInfo], tasks: dict[int, TaskInfo]) -> list[tuple[str, list[ParameterInfo]]]:
    """(task name, its parameters) of each task of a pipeline once, in step order."""
    seen, out = set(), []
    for st in steps:
        if st.task_id not in seen:
            seen.add(st.task_id)
            out.append((tasks[st.task_id].name, tasks[st.task_id].parameters))
    return out


def list_tasks(*, actor: User) -> list[TaskInfo]:
    """Every task with its parameters, by name (admins and services)."""
    if actor.role not in ("admin", "service"):
        raise PermissionDenied("Tasks are configured by admins.")
    with session() as s:
        return sorted(_tasks_by_id(s).values(), key=lambda t: t.name)


def get_task(*, actor: User, task_id: int) -> TaskInfo:
    if actor.role not in ("admin", "service"):
        raise PermissionDenied("Tasks are configured by admins.")
    with session() as s:
        found = _tasks_by_id(s, [task_id])
    if task_id not in found:
        raise NotFound(f"No task {task_id}.")
    return found[task_id]


def list_pipelines(*, actor: User) -> list[PipelineInfo]:
    """Every pipeline with its steps and the parameters a run takes (any signed-in user)."""
    with session() as s:
        pipelines = list(s.exec(select(Pipeline).order_by(Pipeline.name)))
        steps = list(s.exec(select(PipelineStep)))
        tasks = _tasks_by_id(s, {st.task_id for st in steps}) if steps else {}
    by_pipeline: dict[int, list[PipelineStep]] = {}
    for st in steps:
        by_pipeline.setdefault(st.pipeline_id, []).append(st)
    return [_pipeline_info(p, by_pipeline.get(p.id, []), tasks) for p in pipelines]


def get_pipeline(*, actor: User, pipeline: Union[int, str]) -> PipelineInfo:
    """A pipeline by id, or by name."""
    with session() as s:
        if isinstance(pipeline, int) or (isinstance(pipeline, str) and pipeline.isdigit()):
            p = s.get(Pipeline, int(pipeline))
        else:
            p = s.exec(select(Pipeline).where(Pipeline.name == str(pipeline).strip())).first()
        if p is None:
            raise NotFound(f"No pipeline {pipeline}.")
        steps = list(s.exec(select(PipelineStep).where(PipelineStep.pipeline_id == p.id)))
        tasks = _tasks_by_id(s, {st.task_id for st in steps}) if steps else {}
    return _pipeline_info(p, steps, tasks)


# --- checking what an admin configures -------------------------------------------------------


def _admin(actor: User) -> None:
    if actor.role != "admin":
        raise PermissionDenied("Changing tasks and pipelines is for admins.")


def _name(value: Any, what: str) -> str:
    name = str(value or "").strip()
    if not _NAME_RE.match(name):
        raise InvalidInput(f"A {what} name is 1-64 characters, without / or \\ or control characters.",
                           field="name")
    return name


def _text(value: Any, field_: str, limit: int) -> str:
    text = str(value or "")
    if len(text) > limit:
        raise InvalidInput(f"{field_} is longer than {limit} characters.", field=field_)
    return check_text(text, field_, multiline=True)


def _globs(value: Any, field_: str) -> str:
    """Comma-separated patterns, relative, never reaching out of their directory."""
    text = _text(value, field_, 1000).strip()
    parts = [p.strip() for p in text.split(",") if p.strip()]
    for p in parts:
        if p.startswith(("/", "\\")) or ".." in Path(p).parts or "\x00" in p:
            raise InvalidInput(f"{field_}: {p!r} must be a relative pattern such as *.txt, without '..'.",
                               field=field_)
    return ", ".join(parts)


def _patterns(globs: str) -> list[str]:
    return [p.strip() for p in (globs or "").split(",") if p.strip()]


def _exit_codes(value: Any) -> str:
    text = str(value if value is not None else "").strip()
    codes = []
    for part in text.replace(" ", "").split(","):
        if not part.isdigit() or not 0 <= int(part) <= 255:
            raise InvalidInput(f"ok_exit_codes must be exit codes from 0 to 255 separated by commas, "
                               f"e.g. 0 or 0,1; {text!r} is not.", field="ok_exit_codes")
        codes.append(int(part))
    return ",".join(str(c) for c in sorted(set(codes)))


def ok_codes(task: TaskInfo) -> set[int]:
    return {int(c) for c in task.ok_exit_codes.split(",") if c.strip().isdigit()}


def _timeout(value: Any) -> int:
    if isinstance(value, bool) or not (isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit())):
        raise InvalidInput(f"timeout_s must be a whole number of seconds, not {value!r}.", field="timeout_s")
    n = int(value)
    if not 1 <= n <= MAX_TIMEOUT_S:
        raise InvalidInput(f"timeout_s must be from 1 to {MAX_TIMEOUT_S} seconds; {n} is out of range.",
                           field="timeout_s")
    return n


def _backend(value: Any) -> str:
    from app.backends import backend_configs

    name = str(value or "").strip() or DEFAULT_BACKEND
    known = backend_configs(refresh=True)
    if name not in known:
        raise InvalidInput(f"No backend {name!r}; backends: {', '.join(sorted(known))}.", field="backend")
    return name


def _parameters(value: Any) -> list[ParameterInfo]:
    out: list[ParameterInfo] = []
    for i, p in enumerate(value or []):
        prm = rules.declare(p, i, reserved=PLACEHOLDERS)
        if any(o.name == prm.name for o in out):
            raise InvalidInput(f"Parameter {prm.name!r} is declared twice.", field=f"parameters.{i}.name")
        out.append(prm)
    return out


def _placeholders(token: str) -> list[str]:
    """The placeholders of one argument of a template; ValueError when it is malformed."""
    names = []
    for _literal, name, spec, conversion in string.Formatter().parse(token):
        if name is None:
            continue
        if spec or conversion or not name.isidentifier():
            raise ValueError(f"{{{name}{'!' + conversion if conversion else ''}{':' + spec if spec else ''}}} "
                             f"is not a plain placeholder such as {{input}}")
        names.append(name)
    return names


def check_command(command: str, parameters: list[ParameterInfo]) -> list[str]:
    """The arguments of a command template, every placeholder known; InvalidInput
    (field "command") otherwise. Braces meant literally are written {{ and }}."""
    known = set(PLACEHOLDERS) | {p.name for p in parameters}
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise InvalidInput(f"The command cannot be split into arguments: {exc}.", field="command") from None
    if not argv:
        raise InvalidInput("A command task needs a command, e.g. wc -l {input}.", field="command")
    for i, token in enumerate(argv):
        try:
            names = _placeholders(token)
        except ValueError as exc:
            raise InvalidInput(f"Argument {i + 1} of the command ({token!r}): {exc}; write {{{{ and }}}} "
                               f"for literal braces.", field="command") from None
        unknown = [n for n in names if n not in known]
        if unknown:
            raise InvalidInput(f"Unknown placeholder {{{unknown[0]}}} in the command; known: "
                               f"{', '.join('{' + k + '}' for k in sorted(known))}.", field="command")
        if i == 0 and names:
            raise InvalidInput("The program (the command's first word) must be written out, not a placeholder.",
                               field="command")
        if "inputs" in names and token != "{inputs}":
            raise InvalidInput("{inputs} stands for several arguments: write it as an argument of its own.",
                               field="command")
    return argv


def _task_values(*, name, description, backend, kind, command, handler, input_glob, output_glob,
                 ok_exit_codes, timeout_s, parameters) -> tuple[dict[str, Any], list[ParameterInfo]]:
    values: dict[str, Any] = {"name": _name(name, "task"), "description": _text(description, "description", 2000)}
    if kind not in KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(KINDS)}, not {kind!r}.", field="kind")
    params = _parameters(parameters)
    command, handler = str(command or "").strip(), str(handler or "").strip()
    if kind == "command":
        check_command(command, params)
        if len(command) > 4000:
            raise InvalidInput("The command is longer than 4000 characters.", field="command")
        used = {n for tok in shlex.split(command) for n in _placeholders(tok)}
        for i, p in enumerate(params):
            if p.name not in used and not p.flag:
                raise InvalidInput(f"Parameter {p.name} is neither in the command ({{{p.name}}}) nor has a flag.",
                                   field=f"parameters.{i}.flag")
        handler = ""
    else:
        if handler not in HANDLERS:
            raise InvalidInput(f"No registered handler {handler!r}; handlers: {', '.join(sorted(HANDLERS))}.",
                               field="handler")
        command = ""
    values.update(kind=kind, command=command, handler=handler, backend=_backend(backend),
                  input_glob=_globs(input_glob, "input_glob"), output_glob=_globs(output_glob, "output_glob"),
                  ok_exit_codes=_exit_codes(ok_exit_codes), timeout_s=_timeout(timeout_s))
    return values, params


def _save_parameters(s, task_id: int, params: list[ParameterInfo]) -> None:
    for old in s.exec(select(TaskParameter).where(TaskParameter.task_id == task_id)):
        s.delete(old)
    s.flush()
    for p in params:
        s.add(TaskParameter(task_id=task_id, name=p.name, flag=p.flag, default=p.default, required=p.required,
                            type=p.type, choices=list(p.choices), minimum=p.minimum, maximum=p.maximum))


def _name_free(s, model, name: str, own_id: Optional[int], what: str) -> None:
    other = s.exec(select(model).where(model.name == name)).first()
    if other is not None and other.id != own_id:
        raise Conflict(f"A {what} named {name!r} exists already.", field="name")


# --- tasks (admins) ---------------------------------------------------------------------------


def create_task(*, actor: User, name: str, description: str = "", backend: str = DEFAULT_BACKEND,
                kind: str = "command", command: str = "", handler: str = "", input_glob: str = "",
                output_glob: str = "", ok_exit_codes: str = "0", timeout_s: int = 600,
                parameters: Iterable[Any] = ()) -> TaskInfo:
    """Configure a task (admins). Everything is checked before anything is written;
    InvalidInput names the field."""
    _admin(actor)
    values, params = _task_values(name=name, description=description, backend=backend, kind=kind,
                                  command=command, handler=handler, input_glob=input_glob,
                                  output_glob=output_glob, ok_exit_codes=ok_exit_codes, timeout_s=timeout_s,
                                  parameters=parameters)
    try:
        with session(write=True) as s:
            _name_free(s, Task, values["name"], None, "task")
            task = Task(**values)
            s.add(task)
            s.flush()
            _save_parameters(s, task.id, params)
            task_id = task.id
    except sa.exc.IntegrityError:
        raise Conflict(f"A task named {values['name']!r} exists already.", field="name") from None
    log.warning("task %s created by %s", values["name"], actor.username)
    return get_task(actor=actor, task_id=task_id)


def update_task(*, actor: User, task_id: int, name: str, description: str = "", backend: str = DEFAULT_BACKEND,
                kind: str = "command", command: str = "", handler: str = "", input_glob: str = "",
                output_glob: str = "", ok_exit_codes: str = "0", timeout_s: int = 600,
                parameters: Iterable[Any] = ()) -> TaskInfo:
    """Replace a task's configuration (admins). Steps not yet started use the new one,
    so fixing a task and retrying its failed step carries a run on."""
    _admin(actor)
    values, params = _task_values(name=name, description=description, backend=backend, kind=kind,
                                  command=command, handler=handler, input_glob=input_glob,
                                  output_glob=output_glob, ok_exit_codes=ok_exit_codes, timeout_s=timeout_s,
                                  parameters=parameters)
    try:
        with session(write=True) as s:
            task = s.get(Task, task_id)
            if task is None:
                raise NotFound(f"No task {task_id}.")
            _name_free(s, Task, values["name"], task_id, "task")
            for k, v in values.items():
                setattr(task, k, v)
            s.add(task)
            _save_parameters(s, task_id, params)
    except sa.exc.IntegrityError:
        raise Conflict(f"A task named {values['name']!r} exists already.", field="name") from None
    log.warning("task %s changed by %s", values["name"], actor.username)
    return get_task(actor=actor, task_id=task_id)


def delete_task(*, actor: User, task_id: int) -> None:
    """Remove a task (admins); refused while a pipeline has it as a step."""
    _admin(actor)
    with session(write=True) as s:
        task = s.get(Task, task_id)
        if task is None:
            raise NotFound(f"No task {task_id}.")
        users = sorted(set(s.exec(select(Pipeline.name).join(PipelineStep, PipelineStep.pipeline_id == Pipeline.id)
                                  .where(PipelineStep.task_id == task_id))))
        if users:
            raise Conflict(f"Task {task.name!r} is a step of {', '.join(users)}; remove it from "
                           f"{'that pipeline' if len(users) == 1 else 'those pipelines'} first.")
        for p in s.exec(select(TaskParameter).where(TaskParameter.task_id == task_id)):
            s.delete(p)
        s.flush()  # the parameters first: they refer to the task
        s.delete(task)
    log.warning("task %s deleted by %s", task_id, actor.username)


# --- pipelines (admins) -------------------------------------------------------------------------


def _steps(s, value: Any) -> list[tuple[int, int]]:
    """(order, task id) pairs from [{"order": 1, "task": "name or id"}, ...]."""
    steps = list(value or [])
    if not steps:
        raise InvalidInput("A pipeline needs at least one step.", field="steps")
    if len(steps) > MAX_STEPS:
        raise InvalidInput(f"A pipeline has at most {MAX_STEPS} steps.", field="steps")
    out = []
    for i, st in enumerate(steps):
        if isinstance(st, (tuple, list)) and len(st) == 2:
            st = {"order": st[0], "task": st[1]}
        if not isinstance(st, dict):
            raise InvalidInput(f"Step {i} must be an object with an order and a task.", field=f"steps.{i}")
        order = st.get("order")
        if isinstance(order, bool) or not isinstance(order, int) or not 1 <= order <= 1000:
            raise InvalidInput(f"The order of step {i} must be a whole number from 1 to 1000.",
                               field=f"steps.{i}.order")
        ref = st.get("task", st.get("task_id"))
        task = None
        if isinstance(ref, int) and not isinstance(ref, bool):
            task = s.get(Task, ref)
        elif isinstance(ref, str) and ref.strip():
            task = s.exec(select(Task).where(Task.name == ref.strip())).first()
        if task is None:
            raise InvalidInput(f"Step {i} names no task: {ref!r}.", field=f"steps.{i}.task")
        out.append((order, task.id))
    return out


def create_pipeline(*, actor: User, name: str, description: str = "", steps: Iterable[Any] = ()) -> PipelineInfo:
    """Configure a pipeline (admins): steps are {"order": n, "task": name or id}; steps
    of equal order run in parallel."""
    _admin(actor)
    name = _name(name, "pipeline")
    description = _text(description, "description", 2000)
    try:
        with session(write=True) as s:
            pairs = _steps(s, steps)
            _name_free(s, Pipeline, name, None, "pipeline")
            p = Pipeline(name=name, description=description)
            s.add(p)
            s.flush()
            for order, task_id in pairs:
                s.add(PipelineStep(pipeline_id=p.id, order=order, task_id=task_id))
            pipeline_id = p.id
    except sa.exc.IntegrityError:
        raise Conflict(f"A pipeline named {name!r} exists already.", field="name") from None
    log.warning("pipeline %s created by %s", name, actor.username)
    return get_pipeline(actor=actor, pipeline=pipeline_id)


def update_pipeline(*, actor: User, pipeline_id: int, name: str, description: str = "",
                    steps: Iterable[Any] = ()) -> PipelineInfo:
    """Replace a pipeline's name, description and steps (admins). Runs under way keep
    the steps they started with."""
    _admin(actor)
    name = _name(name, "pipeline")
    description = _text(description, "description", 2000)
    try:
        with session(write=True) as s:
            p = s.get(Pipeline, pipeline_id)
            if p is None:
                raise NotFound(f"No pipeline {pipeline_id}.")
            pairs = _steps(s, steps)
            _name_free(s, Pipeline, name, pipeline_id, "pipeline")
            p.name, p.description = name, description
            s.add(p)
            for old in s.exec(select(PipelineStep).where(PipelineStep.pipeline_id == pipeline_id)):
                s.delete(old)
            s.flush()
            for order, task_id in pairs:
                s.add(PipelineStep(pipeline_id=pipeline_id, order=order, task_id=task_id))
    except sa.exc.IntegrityError:
        raise Conflict(f"A pipeline named {name!r} exists already.", field="name") from None
    log.warning("pipeline %s changed by %s", name, actor.username)
    return get_pipeline(actor=actor, pipeline=pipeline_id)


def delete_pipeline(*, actor: User, pipeline_id: int) -> None:
    """Remove a pipeline (admins). Runs under way finish the steps they started with."""
    _admin(actor)
    with session(write=True) as s:
        p = s.get(Pipeline, pipeline_id)
        if p is None:
            raise NotFound(f"No pipeline {pipeline_id}.")
        for st in s.exec(select(PipelineStep).where(PipelineStep.pipeline_id == pipeline_id)):
            s.delete(st)
        s.flush()
        s.delete(p)
    log.warning("pipeline %s deleted by %s", pipeline_id, actor.username)


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


def _matches(name: str, globs: str) -> bool:
    pats = _patterns(globs)
    return not pats or any(fnmatch.fnmatchcase(name, p) for p in pats)


def _file_name(file_name: str) -> str:
    base = re.split(r"[\\/]", str(file_name or ""))[-1].strip()
    if not _FILE_RE.match(base):
        raise InvalidInput(f"The file name {base!r} is not usable: letters, digits, spaces and . _ - ( ) + , "
                           f"only, starting with a letter or digit, at most 200 characters. Rename the file.",
                           field="file")
    return base


def _run_parameters(info: PipelineInfo, given: Any) -> dict[str, str]:
    return rules.check_run(info.name, _step_parameters(info.steps, info.tasks), given)


def _rel(path: Path) -> str:
    return path.relative_to(get_settings().files_dir).as_posix()


def run_pipeline(*, actor: User, pipeline: Union[int, str], file_name: str, content: bytes,
                 parameters: Optional[dict[str, Any]] = None) -> Job:
    """Run a pipeline on an uploaded file: check it all, store the upload, then lodge
    the first order's steps as one workflow. Returns its root job (the submission).
    Nothing is stored or lodged when any check fails."""
    if actor is None:
        raise PermissionDenied("Sign in to run a pipeline.")
    info = get_pipeline(actor=actor, pipeline=pipeline)
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
    first = info.orders[0]
    for st in first:
        if not _matches(name, st.input_glob):
            raise InvalidInput(f"{name} does not match {st.input_glob!r}, the files task {st.task} takes.",
                               field="file")
    plan = [PlanStep(order=s.order, task=s.task, task_id=s.task_id) for s in info.steps]
    root = new_id()
    folder = runs_dir() / root / "upload"
    folder.mkdir(parents=True, exist_ok=True)
    stored = folder / name
    tmp = folder / f".{name}.part"
    tmp.write_bytes(content)
    os.replace(tmp, stored)  # a reader never sees half a file
    # Paths of a run's files are relative to the run: what its steps' inputs show.
    upload = FileRef(name=name, path=f"upload/{name}", size=len(content), sha256=hashlib.sha256(content).hexdigest())
    spec = spec_for(JOB_TYPE, JOB_SUBTYPE)
    with session() as s:
        backends = dict(s.exec(select(Task.id, Task.backend).where(Task.id.in_([st.task_id for st in first]))).all())
    rows = []
    for i, st in enumerate(first):
        payload = RunTask(pipeline_id=info.id, pipeline=info.name, order=st.order, index=i, task=st.task,
                          task_id=st.task_id, plan=plan, upload=upload, inputs=[upload], parameters=params)
        jid = step_job_id(root, st.order, i, first_order=st.order)
        rows.append(_row(job_id=jid, owner=actor.username, spec=spec, payload=payload, workflow_id=root,
                         parent_job_id=None if jid == root else root, step=st.order,
                         lineage_key=_lineage(root, st.order, i), queue=backends.get(st.task_id) or DEFAULT_BACKEND,
                         subject=runs.run_name(payload.model_dump())))
    try:
        with write_conn() as conn:
            lodged = _insert(conn, rows, text=f"Lodged by {actor.username}: pipeline {info.name}, "
                                              f"order {first[0].order} of {len(info.orders)}, on {name}")
    except BaseException:
        remove_run_files(root)  # nothing lodged: nothing kept
        raise
    enqueue(lodged)
    log.info("pipeline %s run %s lodged by %s on %s (%d bytes)", info.name, root, actor.username, name, len(content))
    return get_job(root)


def run_steps(workflow_id: str) -> list[Job]:
    """The steps of a pipeline run (its workflow), by order, then as lodged."""
    with session() as s:
        # The type is checked here, not in SQL, so the planner always reads the workflow's
        # own jobs (ix_job_workflow), never every pipeline job through the type's index.
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


# --- running one step (the worker's side) --------------------------------------------------------


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
    """The task a step runs, as configured now (JobFailed when it was removed)."""
    with session() as s:
        found = _tasks_by_id(s, [p.task_id])
    if p.task_id not in found:
        raise JobFailed(f"Task {p.task!r} no longer exists; an admin removed it.")
    return found[p.task_id]


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


def _run_command(argv: list[str], *, cwd: Path, log_dir: Path, limit_s: float) -> tuple[int, Path, Path]:
    """Run without a shell, in its own process group (a timeout or a halt stops its
    children too), with a small environment: the worker's settings are not the
    command's business."""
    env = {"PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"), "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
           "HOME": str(log_dir), "TMPDIR": str(log_dir / "tmp")}
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
    code, out_path, err_path = _run_command(argv, cwd=out_dir, log_dir=work, limit_s=limit)
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
    """
    now = utcnow()
    conn.execute(sa.delete(_file).where(_file.c.job_id == done.job_id))
    if files:
        conn.execute(sa.insert(_file), [dict(job_id=done.job_id, name=f.name, size=f.size, sha256=f.sha256,
                                             stored_path=f.stored_path, created_at=now) for f in files])
    root = done.workflow_id or done.job_id
    conn.execute(sa.select(_job.c.id).where(_job.c.id == root).with_for_update())
    orders = sorted({s.order for s in payload.plan})
    first = orders[0]
    mine = [s for s in payload.plan if s.order == payload.order]
    ids = [step_job_id(root, payload.order, i, first_order=first) for i in range(len(mine))]
    statuses = dict(conn.execute(sa.select(_job.c.id, _job.c.status).where(_job.c.id.in_(ids))).all())
    if any(statuses.get(i) != JobStatus.SUCCEEDED.value for i in ids):
        return []  # a sibling is still running (or failed): the last to succeed lodges the next order
    later = [o for o in orders if o > payload.order]
    if not later:
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
    backends = dict(conn.execute(sa.select(Task.__table__.c.id, Task.__table__.c.backend)
                                 .where(Task.__table__.c.id.in_([s.task_id for s in steps]))).all())
    spec = spec_for(JOB_TYPE, JOB_SUBTYPE)
    rows = []
    for i, st in enumerate(steps):
        p = RunTask(pipeline_id=payload.pipeline_id, pipeline=payload.pipeline, order=nxt, index=i, task=st.task,
                    task_id=st.task_id, plan=payload.plan, upload=payload.upload, inputs=inputs,
                    parameters=payload.parameters)
        rows.append(_row(job_id=step_job_id(root, nxt, i, first_order=first), owner=done.owner, spec=spec,
                         payload=p, workflow_id=root, parent_job_id=done.job_id, step=nxt,
                         lineage_key=_lineage(root, nxt, i), now=now,
                         queue=backends.get(st.task_id) or DEFAULT_BACKEND, subject=runs.run_name(p.model_dump())))
    lodged = _insert(conn, rows, text=f"Lodged by job {done.job_id}, the last step of order {payload.order} "
                                      f"to succeed", ignore=True)
    if lodged:
        lifecycle.add_message(done.job_id, f"Last of order {payload.order} to succeed: lodged order {nxt} "
                                           f"({', '.join(s.task for s in steps)}).", conn=conn)
    return lodged
