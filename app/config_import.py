"""The configuration exported as one YAML document and imported from one (admins): the
document is read (app.config_yaml) and checked whole (app.config_document) before
anything is written, then written in one transaction: all of it or none of it.

What an import means: each section the document has (backends, tasks, pipelines) is the
whole of that kind afterwards. Items are matched by name: one in the document and not
configured is created; one whose fields differ is changed in place (it keeps its id);
a task or pipeline configured but absent from its section is removed, unless a run
under way (a live PIPELINE job) uses it: then the whole import is refused (409) naming
it. A section left out changes nothing, and backends are never created or removed (an
import sets the settings of the backends it lists; the others stay as they are).

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
from app import config_yaml
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


def _live_use(s) -> tuple[dict[int, set[str]], dict[int, set[str]]]:
    """The runs under way (by root job) using each pipeline and each task, by id: every
    task of a run's plan counts, started or not. Read through the status index: only
    live jobs are read."""
    by_pipeline: dict[int, set[str]] = {}
    by_task: dict[int, set[str]] = {}
    q = select(Job.id, Job.workflow_id, Job.payload).where(
        Job.status.in_(LIVE), Job.job_type == JOB_TYPE, Job.job_subtype == JOB_SUBTYPE)
    for job_id, workflow_id, payload in s.exec(q):
        run = workflow_id or job_id
        payload = payload or {}
        if isinstance(payload.get("pipeline_id"), int):
            by_pipeline.setdefault(payload["pipeline_id"], set()).add(run)
        for st in [*(payload.get("plan") or []), payload]:
            if isinstance(st, dict) and isinstance(st.get("task_id"), int):
                by_task.setdefault(st["task_id"], set()).add(run)
    return by_pipeline, by_task


def _refuse_in_use(s, changes: list[Change], task_ids: dict[str, int], pipeline_ids: dict[str, int]) -> None:
    removed = [c for c in changes if c.action == "remove"]
    if not removed:
        return
    by_pipeline, by_task = _live_use(s)
    for c in removed:
        ids, uses = (task_ids, by_task) if c.kind == "task" else (pipeline_ids, by_pipeline)
        runs = sorted(uses.get(ids.get(c.name, -1), ()))
        if runs:
            section = "tasks" if c.kind == "task" else "pipelines"
            raise Conflict(f"{section}: {c.kind} {c.name!r} would be removed, but runs under way use it "
                           f"({len(runs)}, e.g. {runs[0]}); keep it in the document until they end, or cancel "
                           f"them first.", field=section)


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


def _plan(s, doc: Checked) -> tuple[list[Change], int, dict[str, int], dict[str, int]]:
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
    return changes, unchanged, task_ids, pipeline_ids


def check_import(*, actor: User, content: Union[str, bytes]) -> ImportResult:
    """A dry run of `import_configuration`: every check, the same refusals, and what it
    would create, change and remove; nothing is written (and nothing audited)."""
    _admin(actor)
    doc = _read(content)
    with session() as s:
        changes, unchanged, _t, _p = _plan(s, doc)
    return ImportResult(changes, unchanged, applied=False)


def _apply(s, doc: Checked, changes: list[Change], task_ids: dict[str, int], pipeline_ids: dict[str, int]) -> None:
    todo = {(c.kind, c.name): c for c in changes}
    for b in doc.backends or []:
        if ("backend", b["name"]) in todo:
            backend_settings.write_backend(s, b["name"], {k: v for k, v in b.items() if k != "name"})
    # Tasks first (a new pipeline may name a new task), then pipelines, then the tasks
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


def _target(args: dict[str, Any], result: Any) -> str:
    if isinstance(result, ImportResult):
        return "configuration: " + result.summary
    return "configuration"


@audited("config.import", target=_target)
def import_configuration(*, actor: User, content: Union[str, bytes]) -> ImportResult:
    """Make the configuration what the document says (admins): checked whole, then
    written in one transaction; InvalidInput (422) or DocumentNotReadable (400) name the
    path of the first bad value, PayloadTooLarge (413) a document too big, Conflict
    (409) a removal a run under way forbids. Nothing is written unless all of it is."""
    _admin(actor)
    doc = _read(content)
    try:
        with session(write=True) as s:
            changes, unchanged, task_ids, pipeline_ids = _plan(s, doc)
            _apply(s, doc, changes, task_ids, pipeline_ids)
            # Its entry commits with what it changed.
            audit.note(target="configuration: " + ImportResult(changes, unchanged, applied=True).summary)
    except sa.exc.IntegrityError:
        raise Conflict("The configuration changed while the document was imported; import it again.") from None
    if any(c.kind == "backend" for c in changes):
        backend_settings.announce_change()
    result = ImportResult(changes, unchanged, applied=True)
    log.warning("configuration imported by %s: %s", actor.username, result.summary)
    return result
