"""Provena's CSV of model runs for one workflow template: the template (a header row
whose columns are that workflow's own: one per dataset template, per deferred resource
key and per annotation) and reading a filled one back into model run records.

Columns, in order: `_workflow template id <id>`; display name, description, model
version, agent id (the modeller), study id, start and end times; per input template
`Input dataset id for template: <name> [template id: <id>]` and then `Input resource:
<key>` per deferred key; the same for outputs; `annotation: <key>`; and the job
columns `_job_id, _job_status, _model_run_record_id, _error_info` that a batch's
export fills. Columns are read by place, as Provena does: a resource column belongs to
the dataset column before it.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from typing import Any, Optional

import sqlalchemy as sa
from pydantic import ValidationError

from app import csvcells
from app.csvrows import MAX_CELL_CHARS, MAX_RECORDS, RowProblem, read_time as _time
from app.errors import InvalidInput
from app.payloads import ModelRunRecord, error_message
from app.modelrun_rules import RecordRefused, load, unavailable

WORKFLOW_HEADER = "_workflow template id "
TIME_FORMAT = "(YYYY-MM-DD HH:MM:SS+HH:MM)"
BASE = ("display name", "description", "model version (optional)", "agent id", "study id",
        f"execution start time {TIME_FORMAT}", f"execution end time {TIME_FORMAT}")
JOB_COLUMNS = ("_job_id", "_job_status", "_model_run_record_id", "_error_info")
_DATASET = re.compile(r"(Input|Output) dataset id for template: .* \[template id: (?P<id>[^\]]+)\]")
_RESOURCE = re.compile(r"(Input|Output) resource: (?P<key>.+)")
_ANNOTATION = re.compile(r"annotation: (?P<key>.+)")


def is_provena_csv(first_header_cell: str) -> bool:
    return first_header_cell.startswith(WORKFLOW_HEADER)


def _workflow(conn: sa.Connection, workflow_template_id: str):
    """The workflow template and every dataset template it names, or a 400 naming what
    is missing (Provena's words for a bad workflow or template)."""
    found = load(conn, [workflow_template_id])
    why = unavailable(workflow_template_id, found.get(workflow_template_id), "MODEL_RUN_WORKFLOW_TEMPLATE")
    if why:
        raise RecordRefused(f"Provided model run workflow definition with id {workflow_template_id} was not a "
                            f"valid id, error: Failed to retrieve item with details: {why}.",
                            field="workflow_template_id")
    wf = found[workflow_template_id]
    sides = {side: [t for t in (wf.record.get(side) or []) if isinstance(t, dict) and t.get("template_id")]
             for side in ("input_templates", "output_templates")}
    templates = load(conn, [t["template_id"] for ts in sides.values() for t in ts])
    names = {}
    for t in sides["input_templates"] + sides["output_templates"]:
        tid = t["template_id"]
        why = unavailable(tid, templates.get(tid), "DATASET_TEMPLATE")
        if why:
            raise RecordRefused(f"Provided dataset template with id {tid} (associated with the workflow def.) was "
                                f"not a valid id, error: Failed to retrieve item with details: {why}.",
                                field="workflow_template_id")
        names[tid] = conn.execute(sa.text("SELECT display_name FROM item WHERE id = :i"), {"i": tid}).scalar()
    return wf, sides, templates, names


def template_header(conn: sa.Connection, workflow_template_id: str) -> list[str]:
    wf, sides, templates, names = _workflow(conn, workflow_template_id)
    header = [WORKFLOW_HEADER + workflow_template_id, *BASE]
    for side, word in (("input_templates", "Input"), ("output_templates", "Output")):
        for t in sides[side]:
            tid = t["template_id"]
            header.append(f"{word} dataset id for template: {names[tid]} [template id: {tid}]")
            for r in templates[tid].record.get("deferred_resources") or []:
                if isinstance(r, dict) and r.get("key"):
                    header.append(f"{word} resource: {r['key']}")
    annotations = wf.record.get("annotations") if isinstance(wf.record.get("annotations"), dict) else {}
    for key in list(annotations.get("required") or []) + list(annotations.get("optional") or []):
        header.append(f"annotation: {key}")
    return header + list(JOB_COLUMNS)


def template_csv(conn: sa.Connection, workflow_template_id: str) -> str:
    """Provena's CSV template of a workflow template: the header row only."""
    buf = io.StringIO()
    csvcells.writer(buf).writerow(template_header(conn, workflow_template_id))
    return buf.getvalue()


@dataclass
class Converted:
    records: list[dict[str, Any]]
    lines: list[int]
    problems: list[RowProblem]
    rows: int
    existing: list[str]  # the jobs of rows already registered (a batch's export sent back)


def _record(header: list[str], cells: list[str], workflow_template_id: str) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    problems: list[tuple[str, str]] = []
    base = dict(zip(BASE, cells[1:1 + len(BASE)]))
    rec: dict[str, Any] = {"workflow_template_id": workflow_template_id, "display_name": base[BASE[0]],
                           "description": base[BASE[1]], "associations": {"modeller_id": base[BASE[3]]},
                           "inputs": [], "outputs": []}
    if base[BASE[2]]:
        rec["model_version"] = base[BASE[2]]
    if base[BASE[4]]:
        rec["study_id"] = base[BASE[4]]
    for column, key in ((BASE[5], "start_time"), (BASE[6], "end_time")):
        t, why = _time(base[column])
        if why:
            problems.append((column, why))
        rec[key] = t if not why else (0 if key == "start_time" else 1)
    current: Optional[dict[str, Any]] = None
    annotations: dict[str, str] = {}
    for name, value in zip(header[1 + len(BASE):], cells[1 + len(BASE):]):
        if (m := _DATASET.fullmatch(name)):
            current = None
            if value:
                current = {"dataset_template_id": m["id"], "dataset_id": value, "dataset_type": "DATA_STORE"}
                rec["inputs" if m[1] == "Input" else "outputs"].append(current)
        elif (m := _RESOURCE.fullmatch(name)):
            if value and current is None:
                problems.append((name, "A resource path is given but the dataset id before it is blank."))
            elif value:
                current.setdefault("resources", {})[m["key"]] = value
        elif (m := _ANNOTATION.fullmatch(name)):
            if value:
                annotations[m["key"]] = value
    if annotations:
        rec["annotations"] = annotations
    try:
        ModelRunRecord.model_validate(rec)
    except ValidationError as exc:
        seen = {c for c, _ in problems}
        for e in exc.errors():
            loc = tuple(e["loc"])
            column = {"display_name": BASE[0], "description": BASE[1], "model_version": BASE[2],
                      "associations": BASE[3], "study_id": BASE[4], "start_time": BASE[5]}.get(
                          str(loc[0]) if loc else "", BASE[6])
            if column not in seen:
                problems.append((column, error_message(e) + "."))
    return rec, problems


def read(text: str, *, max_problems: int = 200) -> Converted:
    """A filled template's rows as model run records, with every problem of their shape
    (line and column); rows already registered are set aside as `existing`."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff"), newline=""))
    out = Converted([], [], [], 0, [])
    try:
        header = [h.strip() for h in next(reader, [])]
    except csv.Error as exc:
        out.problems.append(RowProblem(1, "", f"The file is not valid CSV: {exc}."))
        return out
    if not header or not is_provena_csv(header[0]):
        out.problems.append(RowProblem(1, header[0][:64] if header else "",
                                       f"The first column must be {WORKFLOW_HEADER!r} and the workflow template's "
                                       f"id: download the template of the workflow template first."))
        return out
    wf_id = header[0][len(WORKFLOW_HEADER):].strip()
    missing = [c for c in BASE + JOB_COLUMNS if c not in header]
    if missing or header[1:1 + len(BASE)] != list(BASE):
        out.problems += [RowProblem(1, c, f"The CSV file lacks the column {c!r} in its place.")
                         for c in (missing or BASE)]
        return out
    job = {c: header.index(c) for c in JOB_COLUMNS}
    try:
        for cells in reader:
            line = reader.line_num
            cells = [csvcells.restore(c.strip()) for c in cells]
            if not any(cells):
                continue
            if len(cells) > len(header):
                out.problems.append(RowProblem(line, "", "More values than columns."))
                continue
            cells += [""] * (len(header) - len(cells))
            out.rows += 1
            if out.rows > MAX_RECORDS:
                out.problems.append(RowProblem(line, "", f"At most {MAX_RECORDS} model runs per file."))
                break
            big = [(header[i], len(c)) for i, c in enumerate(cells) if len(c) > MAX_CELL_CHARS]
            if big:
                out.problems += [RowProblem(line, h, f"The cell holds {n} characters; at most {MAX_CELL_CHARS}.")
                                 for h, n in big]
                continue
            if cells[job["_model_run_record_id"]] and cells[job["_job_status"]] == "SUCCEEDED":
                out.existing.append(cells[job["_job_id"]])
                continue
            rec, problems = _record(header, cells, wf_id)
            out.records.append(rec)
            out.lines.append(line)
            out.problems += [RowProblem(line, c, why) for c, why in problems]
            if len(out.problems) >= max_problems:
                break
    except csv.Error as exc:
        out.problems.append(RowProblem(reader.line_num + 1, "", f"The file is not valid CSV from here on: {exc}."))
    return out


def convert(text: str) -> dict[str, Any]:
    """Provena's convert route: the rows as records, nothing registered; a bad row
    refuses the file (400) listing every problem with its line and column."""
    got = read(text)
    if got.problems:
        listed = "; ".join(f"{p.where()}{p.message.rstrip('.')}" for p in got.problems[:20])
        raise RecordRefused(f"{len(got.problems)} problem{'s' if len(got.problems) != 1 else ''} in the CSV "
                            f"file; nothing was converted. {listed}.", field=got.problems[0].column or "csv_file",
                            errors=[{"line": p.line, "field": p.column or "file", "message": p.message}
                                    for p in got.problems])
    if not got.records and not got.existing:
        raise InvalidInput("The file has a header but no model runs.", field="csv_file")
    return {"status": {"success": True, "details": f"Read {len(got.records)} new model run records and "
                                                   f"{len(got.existing)} already registered."},
            "new_records": got.records, "existing_records": got.existing, "warnings": []}
