"""A run's own version of its tasks: every task its plan names, as configured when the run
was lodged, carried by each of its steps beside the plan (`RunTask.tasks`, keyed by the
task's id as text).

A step runs its task from there (its command or handler, parameters, environment
variables, globs, accepted exit codes, time limit, retries, software version, backend)
and its provenance record names the task from there, so a run is one version from its
first step to its last, its retries included: editing a task changes the runs lodged
after the save, never one under way, and a user who fixed a task runs the pipeline
again. A step of a run lodged before runs carried their tasks (no `tasks` in its
payload), or one lodged directly as a job, reads its task as configured when it starts.

A task's snapshot is plain JSON: the fields the YAML export writes for a task
(app.config_document.TASK_FIELDS, a parameter's PARAMETER_FIELDS) and the task's id.
Every field is written, none left out at its default as the export leaves them: a
default changed later must not change what a run under way runs.
"""

from __future__ import annotations

from typing import Any, Iterable, Optional

from app.parameters import ParameterInfo
from app.pipelines.config import TaskInfo

# A task's fields in a snapshot, in the export's order; and a parameter's.
FIELDS = ("name", "description", "backend", "kind", "command", "handler", "input_glob", "output_glob",
          "ok_exit_codes", "timeout_s", "retries", "software_version", "environment", "parameters")
PARAMETER_FIELDS = ("name", "flag", "default", "required", "type", "choices", "minimum", "maximum", "bool_valued")


def _parameter(p: ParameterInfo) -> dict[str, Any]:
    return {"name": p.name, "flag": p.flag, "default": p.default, "required": bool(p.required), "type": p.type,
            "choices": list(p.choices), "minimum": p.minimum, "maximum": p.maximum,
            "bool_valued": bool(p.bool_valued)}


def task_snapshot(task: TaskInfo) -> dict[str, Any]:
    """One task's definition as a run keeps it."""
    out: dict[str, Any] = {"task_id": task.id}
    for k in FIELDS:
        out[k] = getattr(task, k)
    out["environment"] = dict(task.environment)
    out["parameters"] = [_parameter(p) for p in task.parameters]
    return out


def run_snapshot(tasks: Iterable[TaskInfo]) -> dict[str, dict[str, Any]]:
    """The snapshots of a run's tasks, keyed by id as text (a JSON object's keys are text)."""
    return {str(t.id): task_snapshot(t) for t in tasks}


def snapshot_of(tasks: Optional[dict[str, Any]], task_id: int) -> Optional[dict[str, Any]]:
    """A task's snapshot among a run's, or None (a run lodged before runs kept them)."""
    found = (tasks or {}).get(str(task_id))
    return found if isinstance(found, dict) else None


def task_from_snapshot(doc: dict[str, Any]) -> TaskInfo:
    """The TaskInfo a step runs, read back from its run's snapshot."""
    params = [ParameterInfo(name=p["name"], flag=p.get("flag", ""), default=p.get("default", ""),
                            required=bool(p.get("required", False)), type=p.get("type") or "text",
                            choices=list(p.get("choices") or []), minimum=p.get("minimum"),
                            maximum=p.get("maximum"), bool_valued=bool(p.get("bool_valued", False)))
              for p in doc.get("parameters") or []]
    return TaskInfo(id=int(doc["task_id"]), name=doc["name"], description=doc.get("description", ""),
                    backend=doc["backend"], kind=doc["kind"], command=doc.get("command", ""),
                    handler=doc.get("handler", ""), input_glob=doc.get("input_glob", ""),
                    output_glob=doc.get("output_glob", ""), ok_exit_codes=doc.get("ok_exit_codes", "0"),
                    timeout_s=int(doc["timeout_s"]), parameters=params,
                    environment=dict(doc.get("environment") or {}), retries=int(doc.get("retries") or 0),
                    software_version=doc.get("software_version", ""))
