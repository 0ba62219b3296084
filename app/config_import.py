"""The configuration exported as one YAML document and imported from one (admins): the
document is read (app.config_yaml) and checked whole (app.config_document) before
anything is written, then written in one transaction: all of it or none of it.

What an import means: each section the document has (backends, tasks, pipelines) is the
whole of that kind afterwards. Items are matched by name: one in the document and not
configured is created; one whose fields differ is changed in place (it keeps its id);
one configured but absent from its section is removed, unless a run under way (a live
PIPELINE job) uses a pipeline or still needs a task as configured (a run lodged before
runs kept their tasks' definitions), or a backend still runs a task (as the import
leaves the tasks) or has live jobs on its queues (app.backends' rules for deleting
one): then the whole import is refused (409) naming it and why. A section left out
changes nothing. A backend's setting left out keeps its value (a new backend's takes
its default), and a built-in backend (one job types run on) left out stays as it is:
it is never removed.

Runs under way keep the steps their pipeline had and the definitions its tasks had when
they were lodged (each step carries its run's plan and version of its tasks,
app.pipelines.snapshot), as after a change made on the console. A dry run does every check the import does and
says what it would create, change and remove, writing nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Union

import sqlalchemy as sa
from sqlmodel import select

from app import backends as backend_settings
from app import config_document as document
from app import config_yaml, runs
from app import audit
from app.audit import audited
from app.config_document import Change, Checked
from app.db import session
from app.errors import Conflict, InvalidInput, PermissionDenied
from app.lifecycle import FINAL, JobStatus
from app.models import Job, Pipeline, Task, User
from app.pipelines.checks import JOB_SUBTYPE, JOB_TYPE
from app.pipelines.config import remove_pipeline, remove_task, write_pipeline, write_task

log = logging.getLogger(__name__)

LIVE = [s.value for s in JobStatus if s not in FINAL]


@dataclass
class ImportResult:
    changes: list[Change]
    unchanged: int
    applied: bool  # False: a dry run, nothing written

    def count(self, action: str) -> int:
        return sum(1 for c in self.changes if c.action == action)

    @property
    def summary(self) -> str:
        """E.g. "1 to create, 2 to change, 0 to remove, 9 unchanged" ("created"... once applied)."""
        verbs = ("created", "changed", "removed") if self.applied else ("to create", "to change", "to remove")
        return (f"{self.count('create')} {verbs[0]}, {self.count('change')} {verbs[1]}, "
                f"{self.count('remove')} {verbs[2]}, {self.unchanged} unchanged")


def _reader(actor: User) -> None:
    if actor.role not in ("admin", "service"):
        raise PermissionDenied("The configuration is for admins.")


def _admin(actor: User) -> None:
    if actor.role != "admin":
        raise PermissionDenied("Importing the configuration is for admins.")


def export_configuration(*, actor: User) -> str:
    """The whole configuration as one YAML document (admins and services): the same
    configuration always gives the same bytes."""
    _reader(actor)
    with session() as s:
        return config_yaml.dump(document.current(s))


def _read(content: Union[str, bytes]) -> Checked:
    data = config_yaml.load(content)
    with session() as s:
        names = set(s.exec(select(Task.name)))
    return document.check(data, task_names_now=names)


def _live_use(s) -> dict[int, set[str]]:
    """The runs under way (by root job) of each pipeline, by id. Read through the status
    index: only live jobs are read."""
    by_pipeline: dict[int, set[str]] = {}
    q = select(Job.id, Job.workflow_id, Job.payload).where(
        Job.status.in_(LIVE), Job.job_type == JOB_TYPE, Job.job_subtype == JOB_SUBTYPE)
    for job_id, workflow_id, payload in s.exec(q):
        payload = payload or {}
        if isinstance(payload.get("pipeline_id"), int):
            by_pipeline.setdefault(payload["pipeline_id"], set()).add(workflow_id or job_id)
    return by_pipeline


def _refuse_in_use(s, changes: list[Change], task_ids: dict[str, int], pipeline_ids: dict[str, int]) -> None:
    """A pipeline is not removed while a run of it is under way; a task only while a run
    under way still needs it as configured (one lodged before runs kept their tasks: a
    run that keeps its version of the task runs on without the row, as the API's delete
    allows)."""
    removed = [c for c in changes if c.action == "remove"]
    if not removed:
        return
    tasks = [task_ids[c.name] for c in removed if c.kind == "task" and c.name in task_ids]
    needing = runs.runs_needing_tasks(s.connection(), tasks)
    by_pipeline = _live_use(s) if any(c.kind == "pipeline" for c in removed) else {}
    for c in removed:
        if c.kind == "task":
            needed = needing.get(task_ids.get(c.name, -1))
            if needed:
                it = "it ends" if len(needed) == 1 else "they end"
                raise Conflict(f"tasks: task {c.name!r} would be removed, but it is "
                               f"{runs.needing_task_text(needed)}; keep it in the document until {it}, or cancel "
                               f"{'it' if len(needed) == 1 else 'them'} first.", field="tasks", run_id=needed[0])
            continue
        live = sorted(by_pipeline.get(pipeline_ids.get(c.name, -1), ()))
        if live:
            raise Conflict(f"pipelines: pipeline {c.name!r} would be removed, but runs under way use it "
                           f"({len(live)}, e.g. {live[0]}); keep it in the document until they end, or cancel "
                           f"them first.", field="pipelines")


def _kept_pipelines_name_kept_tasks(now: dict[str, Any], doc: Checked) -> None:
    """With tasks in the document and pipelines not, the pipelines configured now stay:
    none of their steps may name a task the document removes."""
    if doc.tasks is None or doc.pipelines is not None:
        return
    names = {t["name"] for t in doc.tasks}
    for p in now["pipelines"]:
        for st in p["steps"]:
            if st["task"] not in names:
                raise InvalidInput(f"tasks: task {st['task']!r} is left out, so it would be removed, but pipeline "
                                   f"{p['name']!r} (the document has no pipelines section, so it stays) has it as "
                                   f"a step.", field="tasks")


def _refuse_backend_removals(s, now: dict[str, Any], doc: Checked, changes: list[Change]) -> None:
    """A backend is removed only as app.backends.delete_backend would delete it: no task
    runs on it (the tasks as the import leaves them: the document's when it has them,
    else those configured now, so moving a task off a backend and removing the backend
    is one import) and no job waits or runs on its queues."""
    removed = [c.name for c in changes if c.kind == "backend" and c.action == "remove"]
    tasks = doc.tasks if doc.tasks is not None else now["tasks"]
    for name in removed:
        on = sorted(t["name"] for t in tasks if t["backend"] == name)
        live = backend_settings.live_jobs(s, name)
        why = backend_settings.in_use(on, live)
        if why:
            if on:
                advice = f"keep it in the document, or move the task{'s' if len(on) != 1 else ''} to another backend"
            else:
                it = "it" if live == 1 else "them"
                advice = f"keep it in the document until {'it ends' if live == 1 else 'they end'}, or cancel {it} first"
            raise Conflict(f"backends: backend {name!r} would be removed, but it {why}; {advice}.", field="backends")


@dataclass
class _Plan:
    now: dict[str, Any]  # the configuration before the import, in canonical form
    changes: list[Change]
    unchanged: int
    task_ids: dict[str, int]
    pipeline_ids: dict[str, int]


def _plan(s, doc: Checked) -> _Plan:
    now = document.current(s)
    if doc.tasks is None and doc.pipelines is not None:
        # Checked against the tasks configured when it was read: still so?
        names = {t["name"] for t in now["tasks"]}
        for i, p in enumerate(doc.pipelines):
            for j, st in enumerate(p["steps"]):
                if st["task"] not in names:
                    raise Conflict(f"pipelines[{i}].steps[{j}].task: task {st['task']!r} was removed meanwhile.",
                                   field=f"pipelines[{i}].steps[{j}].task")
    _kept_pipelines_name_kept_tasks(now, doc)
    changes, unchanged = document.differences(now, doc)
    task_ids = dict(s.exec(select(Task.name, Task.id)).all())
    pipeline_ids = dict(s.exec(select(Pipeline.name, Pipeline.id)).all())
    _refuse_in_use(s, changes, task_ids, pipeline_ids)
    _refuse_backend_removals(s, now, doc, changes)
    return _Plan(now, changes, unchanged, task_ids, pipeline_ids)


def check_import(*, actor: User, content: Union[str, bytes]) -> ImportResult:
    """A dry run of `import_configuration`: every check, the same refusals, and what it
    would create, change and remove; nothing is written (and nothing audited)."""
    _admin(actor)
    doc = _read(content)
    with session() as s:
        plan = _plan(s, doc)
    return ImportResult(plan.changes, plan.unchanged, applied=False)


def _apply(s, doc: Checked, plan: _Plan) -> None:
    changes, task_ids, pipeline_ids = plan.changes, plan.task_ids, plan.pipeline_ids
    todo = {(c.kind, c.name): c for c in changes}
    # Backends first (a task may run on a new one), written whole as the document leaves
    # them, so a built-in backend's first row has the document's description.
    for name, b in document.backend_records(plan.now, doc.backends or []).items():
        c = todo.get(("backend", name))
        values = {"description": b.get("description", ""), **{k: b[k] for k in backend_settings.EDITABLE}}
        if c is not None and c.action == "create":
            backend_settings.add_backend(s, name, values.pop("description"), values)
        elif c is not None:
            backend_settings.write_backend(s, name, values)
    # Tasks next (a new pipeline may name a new task), then pipelines, then the tasks
    # no pipeline names any more.
    for name, (values, params) in doc.task_values.items():
        c = todo.get(("task", name))
        if c is not None:
            task_ids[name] = write_task(s, task_ids.get(name) if c.action == "change" else None, values, params)
    for c in changes:
        if c.kind == "pipeline" and c.action == "remove":
            remove_pipeline(s, pipeline_ids[c.name])
    s.flush()
    for p in doc.pipelines or []:
        c = todo.get(("pipeline", p["name"]))
        if c is not None:
            pairs = [(st["order"], task_ids[st["task"]]) for st in p["steps"]]
            write_pipeline(s, pipeline_ids.get(p["name"]) if c.action == "change" else None,
                           doc.pipeline_values[p["name"]], pairs)
    s.flush()
    for c in changes:
        if c.kind == "task" and c.action == "remove":
            remove_task(s, task_ids[c.name])
    # Backends last: the tasks that ran on them have moved or gone by now.
    for c in changes:
        if c.kind == "backend" and c.action == "remove":
            backend_settings.remove_backend(s, c.name)


def _target(args: dict[str, Any], result: Any) -> str:
    if isinstance(result, ImportResult):
        return "configuration: " + result.summary
    return "configuration"


@audited("config.import", target=_target)
def import_configuration(*, actor: User, content: Union[str, bytes]) -> ImportResult:
    """Make the configuration what the document says (admins): checked whole, then
    written in one transaction; InvalidInput (422) or DocumentNotReadable (400) name the
    path of the first bad value, PayloadTooLarge (413) a document too big, Conflict
    (409) a removal a run under way forbids, or one of a backend a task runs on or a job
    waits on. Nothing is written unless all of it is."""
    _admin(actor)
    doc = _read(content)
    try:
        with session(write=True) as s:
            plan = _plan(s, doc)
            _apply(s, doc, plan)
            # Its entry commits with what it changed.
            audit.note(target="configuration: " + ImportResult(plan.changes, plan.unchanged, applied=True).summary)
    except sa.exc.IntegrityError:
        raise Conflict("The configuration changed while the document was imported; import it again.") from None
    if any(c.kind == "backend" for c in plan.changes):
        backend_settings.announce_change()  # after the commit: pools serve new backends, stop removed ones
    result = ImportResult(plan.changes, plan.unchanged, applied=True)
    log.warning("configuration imported by %s: %s", actor.username, result.summary)
    return result
