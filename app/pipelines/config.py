"""Tasks and pipelines as admins configure them, and as the console and the API show them:
list, read, create, update, delete.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Optional, Union

import sqlalchemy as sa
from sqlmodel import select

from app import parameters as rules
from app import runs
from app.audit import audited
from app.backends import lock_backend
from app.db import session
from app.jobtypes import BACKENDS
from app.fairuse import check_limit
from app.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from app.models import Pipeline, PipelineStep, Task, TaskParameter, User
from app.parameters import ParameterInfo, RunParameter
from app.validators import check_names as check_validators
from app.pipelines.checks import (
    DEFAULT_BACKEND,
    MAX_STEPS,
    _admin,
    _name,
    _name_free,
    _save_parameters,
    _task_values,
    _text,
)

log = logging.getLogger(__name__)

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
    environment: dict[str, str] = field(default_factory=dict)  # added to its command's environment
    retries: int = 0  # automatic retries of a step that ended FAILED or CRASHED
    software_version: str = ""  # what each step's provenance record names as the software it ran


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
    # Fair use of its runs (app.fairuse); None: the global setting, 0: off.
    queue_hog_size: Optional[int] = None
    queue_hard_limit: Optional[int] = None
    runnable: bool = True  # False: shown, but submissions are refused
    public: bool = False  # anyone may run it without signing in
    validators: list[str] = field(default_factory=list)  # app.validators: every upload must pass them

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
                                   p.minimum, p.maximum, bool(p.bool_valued)) for p in params],
                    dict(t.environment or {}), int(t.retries or 0), t.software_version or "")


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
                        tasks=tasks, queue_hog_size=p.queue_hog_size, queue_hard_limit=p.queue_hard_limit,
                        runnable=bool(p.runnable), public=bool(p.public), validators=list(p.validators or []))


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



def ok_codes(task: TaskInfo) -> set[int]:
    return {int(c) for c in task.ok_exit_codes.split(",") if c.strip().isdigit()}




# --- tasks (admins) ---------------------------------------------------------------------------


def write_task(s, task_id: Optional[int], values: dict[str, Any], params: list[ParameterInfo]) -> int:
    """Write a task checked by `_task_values` in the caller's transaction: a new one
    (task_id None) or over task_id; its parameters replaced. The task's id."""
    _name_free(s, Task, values["name"], task_id, "task")
    # Checked again here, its row locked until commit: a backend deleted since the
    # check of _task_values (or being deleted now) is refused, never left under a task.
    if values["backend"] not in BACKENDS and lock_backend(s, values["backend"]) is None:
        raise InvalidInput(f"No backend {values['backend']!r}: it was deleted meanwhile.", field="backend")
    if task_id is None:
        task = Task(**values)
    else:
        task = s.get(Task, task_id)
        if task is None:
            raise NotFound(f"No task {task_id}.")
        for k, v in values.items():
            setattr(task, k, v)
    s.add(task)
    s.flush()
    _save_parameters(s, task.id, params)
    return task.id


def remove_task(s, task_id: int) -> None:
    """Delete a task and its parameters in the caller's transaction (no pipeline may
    have it as a step)."""
    for p in s.exec(select(TaskParameter).where(TaskParameter.task_id == task_id)):
        s.delete(p)
    s.flush()  # the parameters first: they refer to the task
    task = s.get(Task, task_id)
    if task is not None:
        s.delete(task)


@audited("task.create", target="name")
def create_task(*, actor: User, name: str, description: str = "", backend: str = DEFAULT_BACKEND,
                kind: str = "command", command: str = "", handler: str = "", input_glob: str = "",
                output_glob: str = "", ok_exit_codes: str = "0", timeout_s: int = 600,
                parameters: Iterable[Any] = (), environment: Optional[dict[str, str]] = None, retries: int = 0,
                software_version: str = "") -> TaskInfo:
    """Configure a task (admins). Everything is checked before anything is written;
    InvalidInput names the field."""
    _admin(actor)
    values, params = _task_values(name=name, description=description, backend=backend, kind=kind,
                                  command=command, handler=handler, input_glob=input_glob,
                                  output_glob=output_glob, ok_exit_codes=ok_exit_codes, timeout_s=timeout_s,
                                  parameters=parameters, environment=environment, retries=retries,
                                  software_version=software_version)
    try:
        with session(write=True) as s:
            task_id = write_task(s, None, values, params)
    except sa.exc.IntegrityError:
        raise Conflict(f"A task named {values['name']!r} exists already.", field="name") from None
    log.warning("task %s created by %s", values["name"], actor.username)
    return get_task(actor=actor, task_id=task_id)


@audited("task.update", target="task_id")
def update_task(*, actor: User, task_id: int, name: str, description: str = "", backend: str = DEFAULT_BACKEND,
                kind: str = "command", command: str = "", handler: str = "", input_glob: str = "",
                output_glob: str = "", ok_exit_codes: str = "0", timeout_s: int = 600,
                parameters: Iterable[Any] = (), environment: Optional[dict[str, str]] = None, retries: int = 0,
                software_version: str = "") -> TaskInfo:
    """Replace a task's configuration (admins). Runs lodged after it run the new one;
    a run under way keeps the version it was lodged with (app.pipelines.snapshot), its
    steps not yet started and its retries too."""
    _admin(actor)
    values, params = _task_values(name=name, description=description, backend=backend, kind=kind,
                                  command=command, handler=handler, input_glob=input_glob,
                                  output_glob=output_glob, ok_exit_codes=ok_exit_codes, timeout_s=timeout_s,
                                  parameters=parameters, environment=environment, retries=retries,
                                  software_version=software_version)
    try:
        with session(write=True) as s:
            write_task(s, task_id, values, params)
    except sa.exc.IntegrityError:
        raise Conflict(f"A task named {values['name']!r} exists already.", field="name") from None
    log.warning("task %s changed by %s", values["name"], actor.username)
    return get_task(actor=actor, task_id=task_id)


@audited("task.delete", target="task_id")
def delete_task(*, actor: User, task_id: int) -> None:
    """Remove a task (admins); refused while a pipeline has it as a step, or while a run
    under way lodged before runs kept their tasks still needs it (runs.runs_needing_tasks).
    A run that keeps its version of the task (app.pipelines.snapshot) runs on without it."""
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
        needing = runs.runs_needing_tasks(s.connection(), [task_id]).get(task_id)
        if needing:
            it = "it ends" if len(needing) == 1 else "they end"
            raise Conflict(f"Task {task.name!r} is {runs.needing_task_text(needing)}; delete it once {it}, or "
                           f"cancel {'it' if len(needing) == 1 else 'them'} first.", run_id=needing[0])
        remove_task(s, task_id)
    log.warning("task %s deleted by %s", task_id, actor.username)


# --- pipelines (admins) -------------------------------------------------------------------------


def resolve_steps(value: Any, task_id_of: Callable[[Any], Optional[int]]) -> list[tuple[int, int]]:
    """(order, task id) pairs from [{"order": 1, "task": "name or id"}, ...]; `task_id_of`
    finds a task by its reference (None: no such task)."""
    if value is not None and not isinstance(value, (list, tuple)):
        if isinstance(value, (str, bytes, dict)) or not isinstance(value, Iterable):
            raise InvalidInput("steps must be a list of {order, task}.", field="steps")
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
        task_id = task_id_of(ref) if isinstance(ref, (int, str)) and not isinstance(ref, bool) else None
        if task_id is None:
            raise InvalidInput(f"Step {i} names no task: {ref!r}.", field=f"steps.{i}.task")
        out.append((order, task_id))
    return out


def _steps(s, value: Any) -> list[tuple[int, int]]:
    """Steps whose tasks are named by name or id as configured now."""
    def task_id_of(ref: Any) -> Optional[int]:
        if isinstance(ref, int):
            task = s.get(Task, ref)
        elif ref.strip():
            task = s.exec(select(Task).where(Task.name == ref.strip())).first()
        else:
            task = None
        return task.id if task is not None else None

    return resolve_steps(value, task_id_of)


def _flag(value: Any, what: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidInput(f"{what} must be true or false.", field=what)
    return value


def pipeline_values(*, name: Any, description: Any = "", queue_hog_size: Any = None, queue_hard_limit: Any = None,
                    runnable: Any = True, public: Any = False, validators: Any = None) -> dict[str, Any]:
    """A pipeline's own fields checked (everything but its steps), as written; without
    "validators" when None is given (a replaced pipeline keeps them)."""
    values = {"name": _name(name, "pipeline"), "description": _text(description, "description", 2000),
              "queue_hog_size": check_limit(queue_hog_size, "queue_hog_size"),
              "queue_hard_limit": check_limit(queue_hard_limit, "queue_hard_limit"),
              "runnable": _flag(runnable, "runnable"), "public": _flag(public, "public")}
    if validators is not None:
        if not isinstance(validators, (list, tuple, str, bytes, dict)) and isinstance(validators, Iterable):
            validators = list(validators)
        values["validators"] = check_validators(validators)
    return values


def write_pipeline(s, pipeline_id: Optional[int], values: dict[str, Any], pairs: list[tuple[int, int]]) -> int:
    """Write a pipeline checked by `pipeline_values` and its (order, task id) steps in
    the caller's transaction: a new one (pipeline_id None) or over pipeline_id, its
    steps replaced. Runs under way keep the steps they started with (their plan)."""
    _name_free(s, Pipeline, values["name"], pipeline_id, "pipeline")
    if pipeline_id is None:
        p = Pipeline(**{"validators": [], **values})
    else:
        p = s.get(Pipeline, pipeline_id)
        if p is None:
            raise NotFound(f"No pipeline {pipeline_id}.")
        for k, v in values.items():
            setattr(p, k, v)
        for old in s.exec(select(PipelineStep).where(PipelineStep.pipeline_id == pipeline_id)):
            s.delete(old)
    s.add(p)
    s.flush()
    for order, task_id in pairs:
        s.add(PipelineStep(pipeline_id=p.id, order=order, task_id=task_id))
    return p.id


def remove_pipeline(s, pipeline_id: int) -> None:
    """Delete a pipeline and its steps in the caller's transaction."""
    for st in s.exec(select(PipelineStep).where(PipelineStep.pipeline_id == pipeline_id)):
        s.delete(st)
    s.flush()
    p = s.get(Pipeline, pipeline_id)
    if p is not None:
        s.delete(p)


@audited("pipeline.create", target="name")
def create_pipeline(*, actor: User, name: str, description: str = "", steps: Iterable[Any] = (),
                    queue_hog_size: Optional[int] = None, queue_hard_limit: Optional[int] = None,
                    runnable: bool = True, public: bool = False,
                    validators: Optional[Iterable[str]] = None) -> PipelineInfo:
    """Configure a pipeline (admins): steps are {"order": n, "task": name or id}; steps
    of equal order run in parallel. The fair-use limits are its own (None: the global);
    `validators` name the checks every upload must pass (app.validators)."""
    _admin(actor)
    values = pipeline_values(name=name, description=description, queue_hog_size=queue_hog_size,
                             queue_hard_limit=queue_hard_limit, runnable=runnable, public=public,
                             validators=list(validators) if validators is not None else [])
    try:
        with session(write=True) as s:
            pipeline_id = write_pipeline(s, None, values, _steps(s, steps))
    except sa.exc.IntegrityError:
        raise Conflict(f"A pipeline named {values['name']!r} exists already.", field="name") from None
    log.warning("pipeline %s created by %s", values["name"], actor.username)
    return get_pipeline(actor=actor, pipeline=pipeline_id)


@audited("pipeline.update", target="pipeline_id")
def update_pipeline(*, actor: User, pipeline_id: int, name: str, description: str = "",
                    steps: Iterable[Any] = (), queue_hog_size: Optional[int] = None,
                    queue_hard_limit: Optional[int] = None, runnable: bool = True,
                    public: bool = False, validators: Optional[Iterable[str]] = None) -> PipelineInfo:
    """Replace a pipeline's name, description, steps, fair-use limits and flags (admins);
    its validators too when given (None keeps them). Runs under way keep the steps they
    started with."""
    _admin(actor)
    values = pipeline_values(name=name, description=description, queue_hog_size=queue_hog_size,
                             queue_hard_limit=queue_hard_limit, runnable=runnable, public=public,
                             validators=validators)
    try:
        with session(write=True) as s:
            if s.get(Pipeline, pipeline_id) is None:
                raise NotFound(f"No pipeline {pipeline_id}.")
            write_pipeline(s, pipeline_id, values, _steps(s, steps))
    except sa.exc.IntegrityError:
        raise Conflict(f"A pipeline named {values['name']!r} exists already.", field="name") from None
    log.warning("pipeline %s changed by %s", values["name"], actor.username)
    return get_pipeline(actor=actor, pipeline=pipeline_id)


@audited("pipeline.delete", target="pipeline_id")
def delete_pipeline(*, actor: User, pipeline_id: int) -> None:
    """Remove a pipeline (admins). Runs under way finish the steps they started with."""
    _admin(actor)
    with session(write=True) as s:
        p = s.get(Pipeline, pipeline_id)
        if p is None:
            raise NotFound(f"No pipeline {pipeline_id}.")
        remove_pipeline(s, pipeline_id)
    log.warning("pipeline %s deleted by %s", pipeline_id, actor.username)


