"""What the console shows of domain records: plain, typed rows built from the tables.

Kept apart from the states so every page shows a job, a batch or an item the same way.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from typing import Any, Optional

from app import paging, runs
from app.jobtypes import SPECS
from app.lifecycle import DESCRIPTIONS, JobStatus
from app.models import Batch, Item, Job, JobFile, JobMessage

STATUSES = [s.value for s in JobStatus]


def iso(ts: Optional[datetime]) -> str:
    return ts.isoformat() if ts else ""


def exact(ts: Optional[datetime]) -> str:
    return ts.strftime("%Y-%m-%d %H:%M:%S UTC") if ts else ""


def describe(status: str) -> str:
    try:
        return DESCRIPTIONS[JobStatus(status)]
    except ValueError:
        return ""


def label_of(job_type: str, job_subtype: str) -> str:
    spec = SPECS.get((job_type, job_subtype))
    return spec.label if spec else job_subtype.replace("_", " ").capitalize()


def duration(start: Optional[datetime], end: Optional[datetime]) -> str:
    if not start or not end:
        return ""
    s = max(0.0, (end - start).total_seconds())
    if s < 1:
        return f"{s * 1000:.0f} ms"
    if s < 120:
        return f"{s:.1f} s"
    if s < 7200:
        return f"{s / 60:.1f} min"
    return f"{s / 3600:.1f} h"


def attempt_times(job: Job) -> list[list[str]]:
    """The job page's times, [label, iso, exact, duration], each of the current attempt
    timed from that attempt's own lodging (a retry's, not the job's first)."""
    began = job.lodged_at or job.created_at
    retried = job.attempt > 1 and began != job.created_at
    finished = ""
    if job.finished_at and job.started_at:
        finished = f"ran {duration(job.started_at, job.finished_at)}, {duration(began, job.finished_at)} in all"
    elif job.finished_at:
        finished = f"after {duration(began, job.finished_at)}"
    return [
        ["Created", iso(job.created_at), exact(job.created_at), ""],
        *([[f"Attempt {job.attempt} lodged", iso(began), exact(began), ""]] if retried else []),
        ["Dequeued", iso(job.dequeued_at), exact(job.dequeued_at),
         f"waited {duration(began, job.dequeued_at)}" if job.dequeued_at else ""],
        ["Started", iso(job.started_at), exact(job.started_at), ""],
        ["Finished", iso(job.finished_at), exact(job.finished_at), finished],
    ]


@dataclasses.dataclass
class JobRow:
    id: str = ""
    owner: str = ""
    job_type: str = ""
    job_subtype: str = ""
    label: str = ""
    status: str = ""
    description: str = ""
    created: str = ""
    created_exact: str = ""
    created_key: str = ""  # sort key (created_at, id), newest first
    marker: str = "standalone"  # standalone | batch | workflow
    batch_id: str = ""
    batch_total: int = 0
    workflow_id: str = ""
    entity_id: str = ""
    last_message: str = ""
    info: str = ""
    attempt: int = 1
    progress: int = -1  # percent, -1 when not reported
    title: str = ""  # the job's own name, when it has one (a model run's name, a pipeline step's task)
    subject: str = ""  # what it is about (an item, a pipeline run, a batch's label), set when lodged


def job_title(job: Job) -> str:
    """A job's own name, when it has one: a pipeline step's task, a model run's name."""
    payload = job.payload or {}
    if runs.is_step(job):
        return runs.step_name(payload)
    return str((payload.get("record") or {}).get("display_name") or "")


def job_row(job: Job, *, batch_total: int = 0, has_children: bool = False) -> JobRow:
    if job.batch_id:
        marker = "batch"
    elif job.parent_job_id or has_children:
        marker = "workflow"
    else:
        marker = "standalone"
    return JobRow(
        id=job.id, owner=job.owner, job_type=job.job_type, job_subtype=job.job_subtype,
        label=label_of(job.job_type, job.job_subtype), status=job.status,
        description=describe(job.status), created=iso(job.created_at),
        created_exact=exact(job.created_at), created_key=f"{iso(job.created_at)}|{job.id}",
        marker=marker, batch_id=job.batch_id or "", batch_total=batch_total,
        workflow_id=job.workflow_id or "", entity_id=job.entity_id or "",
        last_message=job.last_message or "", info=job.info or "", attempt=job.attempt,
        progress=-1 if job.progress is None else int(round(job.progress * 100)),
        title=job_title(job), subject=job.subject or "",
    )


@dataclasses.dataclass
class ListRow:
    """A job in a list, the part that does not change as it runs (sent once)."""

    id: str = ""
    owner: str = ""
    job_type: str = ""
    job_subtype: str = ""
    label: str = ""
    title: str = ""
    subject: str = ""
    created: str = ""
    created_exact: str = ""
    marker: str = "standalone"
    batch_id: str = ""
    batch_total: int = 0


@dataclasses.dataclass
class RowLive:
    """A job in a list, the part a worker changes. Lists keep these in a dict by job id,
    so a push carries a few short fields per row rather than the rows again."""

    status: str = ""
    message: str = ""
    progress: int = -1
    attempt: int = 1
    info: str = ""
    duration: str = ""  # how long it ran, once it finished
    running_since: str = ""  # when it started, while it runs: the list says "running for …" live


def list_row(job: Job, *, batch_total: int = 0, has_children: bool = False) -> ListRow:
    r = job_row(job, batch_total=batch_total, has_children=has_children)
    title, subject = r.title, r.subject
    if runs.is_root(job):  # a run's root stands for the run (the submission) in a list
        title, subject = runs.run_name(job.payload) or r.title, "pipeline run"
    return ListRow(id=r.id, owner=r.owner, job_type=r.job_type, job_subtype=r.job_subtype, label=r.label,
                   title=title, subject=subject, created=r.created, created_exact=r.created_exact,
                   marker=r.marker, batch_id=r.batch_id, batch_total=r.batch_total)


def _short(msg: str) -> str:
    return msg if len(msg) <= 140 else msg[:139] + "…"


def row_live(job: Job, run: Optional[runs.RunState] = None) -> RowLive:
    """The live part of a job's row; a run's root shows the state of the whole run."""
    if run is not None:
        return run_live(run, attempt=job.attempt)
    return RowLive(status=job.status, message=_short(job.last_message or ""),
                   progress=-1 if job.progress is None else int(round(job.progress * 100)), attempt=job.attempt,
                   info=(job.info or "") if job.status in ("FAILED", "CRASHED") else "",
                   duration=f"ran {duration(job.started_at, job.finished_at)}" if job.finished_at and job.started_at
                   else "", running_since=iso(job.started_at) if job.started_at and not job.finished_at else "")


def run_live(run: runs.RunState, *, attempt: int = 1) -> RowLive:
    return RowLive(status=run.status, message=_short(run.last_message), progress=-1, attempt=attempt,
                   info=run.summary if run.failed else "",
                   duration=f"ran {duration(run.started_at, run.finished_at)}" if run.finished_at and run.started_at
                   else "", running_since=iso(run.started_at) if run.started_at and not run.finished_at else "")


def sort_key(job: Job) -> str:
    """Newest first in a list, as the keyset (created_at, id) orders them."""
    return paging.sort_key(job.created_at, job.id)


@dataclasses.dataclass
class MessageRow:
    at: str = ""
    at_exact: str = ""
    level: str = "info"
    status: str = ""
    attempt: int = 1
    text: str = ""


def message_row(m: JobMessage) -> MessageRow:
    return MessageRow(at=iso(m.at), at_exact=exact(m.at), level=m.level, status=m.status or "",
                      attempt=m.attempt, text=m.text)


@dataclasses.dataclass
class FileRow:
    name: str = ""
    size: str = ""
    sha256: str = ""


def human_size(n: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"


def file_row(f: JobFile) -> FileRow:
    return FileRow(name=f.name, size=human_size(f.size), sha256=f.sha256)


@dataclasses.dataclass
class BatchRow:
    id: str = ""
    owner: str = ""
    label: str = ""
    created: str = ""
    created_exact: str = ""
    total: int = 0
    done: int = 0
    percent: int = 0
    summary: str = "empty"  # succeeded | failures | in_progress | lodging | empty
    lodged: int = 0  # jobs lodged so far: fewer than total while a big batch is still being lodged
    counts: dict[str, int] = dataclasses.field(default_factory=dict)
    submission_job_id: str = ""


def batch_row(b: Batch) -> BatchRow:
    counts = {s: getattr(b, s.lower()) for s in STATUSES}
    final = counts["SUCCEEDED"] + counts["FAILED"] + counts["CRASHED"] + counts["CANCELLED"]
    lodged = sum(counts.values())
    if b.total == 0:
        summary = "empty"
    elif lodged < b.total:
        summary = "lodging"
    elif final < b.total:
        summary = "in_progress"
    elif counts["SUCCEEDED"] == b.total:
        summary = "succeeded"
    else:
        summary = "failures"
    return BatchRow(id=b.id, owner=b.owner, label=b.label or "(no label)", created=iso(b.created_at),
                    created_exact=exact(b.created_at), total=b.total, done=final,
                    percent=int(100 * final / b.total) if b.total else 0, summary=summary, counts=counts,
                    lodged=lodged,
                    submission_job_id=b.submission_job_id or "")


@dataclasses.dataclass
class ItemRow:
    id: str = ""
    subtype: str = ""
    display_name: str = ""
    description: str = ""
    owner: str = ""
    version: int = 1
    record_status: str = ""
    created: str = ""
    created_exact: str = ""
    previous_version_id: str = ""
    next_version_id: str = ""
    version_reason: str = ""


def item_row(i: Item) -> ItemRow:
    return ItemRow(id=i.id, subtype=i.subtype, display_name=i.display_name, description=i.description,
                   owner=i.owner, version=i.version, record_status=i.record_status,
                   created=iso(i.created_at), created_exact=exact(i.created_at),
                   previous_version_id=i.previous_version_id or "", next_version_id=i.next_version_id or "",
                   version_reason=i.version_reason or "")


def pretty_json(value: Any) -> str:
    if value is None or value == {}:
        return ""
    return json.dumps(value, indent=2, sort_keys=True, default=str)


# --- workflow graphs ------------------------------------------------------------------

COLUMN_W, ROW_H = 240, 90


def flow_elements(nodes: list[dict[str, Any]], edges: list[dict[str, str]]) -> tuple[list[dict], list[dict]]:
    """React Flow nodes and edges of a workflow graph (app.queries.WorkflowGraph): a
    column per step of the chain, parallel steps one under the other, each workflow in
    its own band, oldest on top."""
    parent = {e["target"]: e["source"] for e in edges}
    depth: dict[str, int] = {}

    def depth_of(node_id: str) -> int:
        if node_id not in depth:
            depth[node_id] = 0  # guards a cycle, which the data cannot have anyway
            depth[node_id] = depth_of(parent[node_id]) + 1 if node_id in parent else 0
        return depth[node_id]

    bands: dict[str, list[dict[str, Any]]] = {}
    for n in nodes:
        bands.setdefault(n.get("workflow_id") or n["id"], []).append(n)
    out_nodes, row0 = [], 0
    for band in bands.values():
        used: dict[int, int] = {}
        for n in band:
            d = depth_of(n["id"])
            row = used.get(d, 0)
            used[d] = row + 1
            status = n["status"]
            label = label_of(n["job_type"], n["job_subtype"])
            attempt = f" · attempt {n['attempt']}" if n.get("attempt", 1) > 1 else ""
            out_nodes.append({
                "id": n["id"],
                "position": {"x": d * COLUMN_W, "y": (row0 + row) * ROW_H},
                "data": {"label": f"{label}\n{status.replace('_', ' ')}{attempt}"},
                "className": f"wf-node status-{status}",
                "sourcePosition": "right",
                "targetPosition": "left",
                "width": 200,
            })
        row0 += max(used.values(), default=1)
    running = {n["id"] for n in nodes if n["status"] in ("PENDING", "DEQUEUED", "IN_PROGRESS")}
    out_edges = [{"id": f"{e['source']}->{e['target']}", "source": e["source"], "target": e["target"],
                  "animated": e["target"] in running, "markerEnd": {"type": "arrowclosed"}} for e in edges]
    return out_nodes, out_edges
