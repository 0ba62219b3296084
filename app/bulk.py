"""Bulk registration of model runs, from JSON records or a CSV file: every record is
checked before anything is written, and all are lodged as one batch of
PROV_LODGE / MODEL_RUN_PROV_LODGE jobs (one transaction), so a bad row refuses the
whole file with a message naming its line and column.

CSV columns (a header row is required; names as below, any order):

| column | meaning |
|---|---|
| display_name, description | required text |
| workflow_template_id | required: a MODEL_RUN_WORKFLOW_TEMPLATE item |
| modeller_id | required: a PERSON item |
| requesting_organisation_id, study_id, model_version | optional |
| start_time, end_time | required: seconds since 1970 or an ISO 8601 time (UTC unless it says) |
| inputs, outputs | `TEMPLATE_ID:DATASET_ID` pairs separated by `;` |
| annotations | `key=value` pairs separated by `;` |
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Iterator, Optional

from pydantic import ValidationError

from app import csvcells, gcpause
from app.errors import InvalidInput
from app.csvrows import (MAX_CELL_CHARS, MAX_RECORDS, RowProblem, problems_summary,  # noqa: F401  (callers read them here)
                         EPOCH as _EPOCH, read_time as _time)
from app.payloads import MAX_TIME, ModelRunProvLodge, ModelRunRecord, error_message
from app.launch import launch_batch
from app.models import Batch, User

REQUIRED_COLUMNS = ("display_name", "description", "workflow_template_id", "modeller_id",
                    "start_time", "end_time")
OPTIONAL_COLUMNS = ("requesting_organisation_id", "study_id", "model_version", "inputs", "outputs",
                    "annotations")
COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
# What a batch's CSV adds before the template's columns; ignored when it comes back.
EXPORT_COLUMNS = ("session_id", "status", "info", "model_run_id")



def _pairs(value: str) -> tuple[list[dict[str, str]], list[str]]:
    out, bad = [], []
    for part in filter(None, (p.strip() for p in value.split(";"))):
        template, sep, dataset = part.partition(":")
        if not sep or not template.strip() or not dataset.strip():
            bad.append(f"{part!r} is not TEMPLATE_ID:DATASET_ID.")
        else:
            out.append({"dataset_template_id": template.strip(), "dataset_id": dataset.strip()})
    return out, bad


def _annotations(value: str) -> tuple[dict[str, str], list[str]]:
    out, bad = {}, []
    for part in filter(None, (p.strip() for p in value.split(";"))):
        key, sep, val = part.partition("=")
        if not sep or not key.strip():
            bad.append(f"{part!r} is not key=value.")
        else:
            out[key.strip()] = val.strip()
    return out, bad


def _column_of(loc: tuple[Any, ...]) -> str:
    """The CSV column a pydantic error of the record is about."""
    if not loc:
        return "end_time"  # the record as a whole: its times out of order
    if loc[0] == "associations" and len(loc) > 1:
        return str(loc[1])
    return str(loc[0])


def _record_of(cells: dict[str, str]) -> tuple[dict[str, Any], list[tuple[str, str]], Optional[ModelRunRecord]]:
    """One row's model run record, every (column, problem) of the row, and the record as
    checked (None when its shape is wrong); it is ready to lodge only when there is no
    problem."""
    problems: list[tuple[str, str]] = [(c, f"The cell holds {len(v)} characters; at most {MAX_CELL_CHARS}.")
                                       for c, v in cells.items() if len(v) > MAX_CELL_CHARS]
    oversize = {c for c, _ in problems}
    cells = {c: "" if c in oversize else v for c, v in cells.items()}
    times = {}
    for column in ("start_time", "end_time"):
        t, why = _time(cells[column]) if column not in oversize else (0, "")
        if why:
            problems.append((column, why))
        # a bad time stands in as the widest one, so the order of the two is not blamed on it
        ok = not why and column not in oversize
        times[column] = t if ok else (0 if column == "start_time" else MAX_TIME)
    rec: dict[str, Any] = {
        "display_name": cells["display_name"], "description": cells["description"],
        "workflow_template_id": cells["workflow_template_id"],
        "associations": {"modeller_id": cells["modeller_id"]}, **times,
    }
    for side in ("inputs", "outputs"):
        rec[side], bad = _pairs(cells.get(side, ""))
        problems += [(side, why) for why in bad]
    if cells.get("requesting_organisation_id"):
        rec["associations"]["requesting_organisation_id"] = cells["requesting_organisation_id"]
    for opt in ("study_id", "model_version"):
        if cells.get(opt):
            rec[opt] = cells[opt]
    if cells.get("annotations"):
        annotations, bad = _annotations(cells["annotations"])
        problems += [("annotations", why) for why in bad]
        if annotations:
            rec["annotations"] = annotations
    model = None
    try:
        model = ModelRunRecord.model_validate(rec)
    except ValidationError as exc:
        reported = {c for c, _ in problems}
        for e in exc.errors():
            column = _column_of(tuple(e["loc"]))
            if column not in reported:  # an oversize or unreadable cell is blamed once
                problems.append((column, error_message(e) + "."))
    return rec, problems, model


@dataclass
class _Shape:
    """A file's rows as records, and every problem of their shape."""

    records: list[dict[str, Any]]
    lines: list[int]  # the line of each record
    problems: list[RowProblem]
    rows: int
    capped: bool = False
    models: list[Optional[ModelRunRecord]] = field(default_factory=list)  # each record as checked


def _rows(reader: csv.DictReader) -> Iterator[dict[str, Optional[str]]]:
    try:
        yield from reader
    except csv.Error as exc:  # a stray quote, a cell past the csv module's own limit
        raise _NotCsv(reader.line_num + 1, str(exc)) from None  # the line it was reading


class _NotCsv(Exception):
    def __init__(self, line: int, why: str):
        self.line, self.why = line, why


def _read_shape(text: str, max_problems: int) -> _Shape:
    if text.lstrip("\ufeff").lstrip('"').startswith("_workflow template id "):
        # Provena's CSV of one workflow template (app.provena_csv), as its route gives it out
        from app import provena_csv

        got = provena_csv.read(text, max_problems=max_problems)
        shape = _Shape(got.records, got.lines, got.problems, got.rows, capped=len(got.problems) >= max_problems)
        if not shape.records and not shape.problems:
            shape.problems.append(RowProblem(2, "", "The file has a header but no model runs to register."))
        return shape
    # newline="": the csv module reads \r, \n and \r\n line ends itself
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff"), newline=""))
    shape = _Shape([], [], [], 0)
    try:
        fieldnames = reader.fieldnames
    except csv.Error as exc:
        shape.problems.append(RowProblem(1, "", f"The file is not valid CSV: {exc}."))
        return shape
    header = [h.strip() for h in (fieldnames or [])]
    if not header:
        shape.problems.append(RowProblem(0, "", "The file is empty: it needs the template's header row and "
                                                "one row per model run."))
        return shape
    reader.fieldnames = header
    shape.problems += [RowProblem(1, h[:64], f"Unknown CSV column {h[:64]!r}; known columns: {', '.join(COLUMNS)}.")
                       for h in header if h not in COLUMNS and h not in EXPORT_COLUMNS]
    shape.problems += [RowProblem(1, c, f"The CSV file lacks the column {c!r}.")
                       for c in REQUIRED_COLUMNS if c not in header]
    if shape.problems:
        return shape
    try:
        for row in _rows(reader):
            line = reader.line_num
            if None in row:
                shape.problems.append(RowProblem(line, "", "More values than columns."))
                continue
            cells = {k: csvcells.restore((v or "").strip()) for k, v in row.items() if k in COLUMNS}
            if not any(cells.values()):
                continue  # a blank line
            shape.rows += 1
            if shape.rows > MAX_RECORDS:
                shape.problems.append(RowProblem(line, "", f"At most {MAX_RECORDS} model runs per file."))
                break
            rec, problems, model = _record_of(cells)
            shape.records.append(rec)
            shape.models.append(model)
            shape.lines.append(line)
            shape.problems += [RowProblem(line, c, why) for c, why in problems]
            if len(shape.problems) >= max_problems:
                shape.capped = True
                break
    except _NotCsv as exc:
        shape.problems.append(RowProblem(exc.line, "", f"The file is not valid CSV from here on: {exc.why}."))
    if shape.rows == 0 and not shape.problems:
        shape.problems.append(RowProblem(2, "", "The file has a header but no model runs."))
    return shape


def parse_model_runs_csv(text: str, *, max_problems: int = 200) -> list[dict[str, Any]]:
    """Model run records from CSV text, or InvalidInput listing every problem of every
    row (the first `max_problems`), each with its line and column: the shape of each
    row, and the registry's rules (app.modelrun_rules): each item a row names must exist
    with the right kind, as the console checks, so a file the console refuses is refused
    here before lodging."""
    got = check_model_runs_csv(text, max_problems=max_problems)
    if got.problems:
        _refuse(got.problems, capped=got.capped)
    return got.records


def checked_model_runs_csv(text: str, *, max_problems: int = 200) -> list[Any]:
    """As parse_model_runs_csv, but the records as they were checked (ModelRunRecord),
    so lodging them does not check their shape a second time."""
    got = check_model_runs_csv(text, max_problems=max_problems)
    if got.problems:
        _refuse(got.problems, capped=got.capped)
    return got.models


def _refuse(problems: list[RowProblem], *, capped: bool) -> None:
    listed = "; ".join(f"{p.where()}{p.message.rstrip('.')}" for p in problems[:20])
    more = f"; and {len(problems) - 20} more (see errors)" if len(problems) > 20 else ""
    first = problems[0]
    raise InvalidInput(f"{problems_summary(problems, capped=capped).capitalize()}; nothing was lodged. "
                       f"{listed}{more}.", field=first.column or "file",
                       errors=[{"line": p.line, "field": p.column or "file", "message": p.message}
                               for p in problems])


@gcpause.paused()  # the console's uploads too (the route holds it from reading the body on)
def register_model_runs(*, actor: User, records: list[Any], label: str = "") -> Batch:
    """Lodge one MODEL_RUN_PROV_LODGE job per record, all in one batch. A record already
    checked (a ModelRunRecord, as a request's body or a CSV file's check made it) is not
    checked again: at 10,000 records the second walk of each was a third of the time."""
    if not records:
        raise InvalidInput("Give at least one model run record.", field="records")
    if len(records) > MAX_RECORDS:
        raise InvalidInput(f"At most {MAX_RECORDS} model runs per request.", field="records")
    label = label or f"{len(records)} model run{'s' if len(records) != 1 else ''}"
    # A checked record is wrapped without validating it again (pydantic would call every
    # nested model's shape check once more: a fifth of lodging 10,000 records).
    try:
        return launch_batch(actor=actor, job_type="PROV_LODGE", job_subtype="MODEL_RUN_PROV_LODGE",
                            payloads=[ModelRunProvLodge.model_construct(record=r, revalidate=True)
                                      if isinstance(r, ModelRunRecord) else {"record": r}
                                      for r in records], label=label[:256])
    except InvalidInput as exc:
        # launch_batch names payloads.N.record.FIELD; the caller sent records.N.FIELD
        if exc.field and exc.field.startswith("payloads."):
            exc.field = exc.field.replace("payloads.", "records.", 1).replace(".payload.record.", ".", 1)
            exc.detail["field"] = exc.field
        raise


# --- checking a whole file, for the console ----------------------------------------


@dataclass
class CsvCheck:
    records: list[dict[str, Any]]  # ready to lodge only when there are no problems
    problems: list[RowProblem]
    rows: int
    capped: bool = False  # stopped at max_problems: there may be more
    models: list[Any] = field(default_factory=list)  # the records as checked, ready to lodge

    @property
    def summary(self) -> str:
        return problems_summary(self.problems, capped=self.capped)


def _column_of_rule(field: str) -> str:
    """The CSV column a rule's place in the record is in."""
    head = field.split(".")[0]
    return field.removeprefix("associations.") if head == "associations" else head


@gcpause.paused()
def check_model_runs_csv(text: str, *, max_problems: int = 200) -> CsvCheck:
    """Every row checked, every problem of every row kept with its line and column (the
    first `max_problems`): the shape of each row, and the registry's rules for model
    runs (app.modelrun_rules: the items it names, its workflow template's templates,
    resource keys and annotations). Nothing is written."""
    from app.db import session
    from app.modelrun_rules import check_records

    shape = _read_shape(text, max_problems)
    problems = list(shape.problems)
    if shape.records and len(problems) < max_problems:
        with session() as s:
            found = check_records(s.connection(), shape.records)
        for rule_problems, line in zip(found, shape.lines):
            problems += [RowProblem(line, _column_of_rule(p.field), p.message) for p in rule_problems]
    problems.sort(key=lambda p: p.line)  # stable: a row's own order is kept
    capped = shape.capped or len(problems) > max_problems
    ok = not problems
    # Provena's template's reader gives the records only: those are checked when lodged.
    models = (shape.models if len(shape.models) == len(shape.records) else list(shape.records)) if ok else []
    return CsvCheck(shape.records if ok else [], problems[:max_problems], shape.rows, capped, models)


def template_csv() -> str:
    """The CSV template: the header and one example row that names items of this
    registry (its newest workflow template, person, organisation and datasets)."""
    from sqlmodel import select

    from app.db import session
    from app.models import Item

    def newest(subtype: str, n: int = 1) -> list[str]:
        with session() as s:
            got = list(s.exec(select(Item.id).where(Item.subtype == subtype, Item.next_version_id.is_(None),
                                                    Item.record_type == "COMPLETE_ITEM")
                              .order_by(Item.created_at.desc()).limit(n)))
        return got + [f"<{subtype.lower()} id>"] * (n - len(got))

    # A workflow template and what it asks for, so the example row checks clean.
    with session() as s:
        wf = s.exec(select(Item).where(Item.subtype == "MODEL_RUN_WORKFLOW_TEMPLATE",
                                       Item.record_type == "COMPLETE_ITEM", Item.next_version_id.is_(None))
                    .order_by(Item.created_at.desc()).limit(1)).first()
    record = (wf.record or {}) if wf else {}

    def first_template(side: str) -> str:
        got = [t["template_id"] for t in record.get(side) or [] if isinstance(t, dict) and t.get("template_id")]
        return got[0] if got else newest("DATASET_TEMPLATE")[0]

    out_ds, in_ds = newest("DATASET", 2)
    notes = record.get("annotations") if isinstance(record.get("annotations"), dict) else {}
    keys = list(notes.get("required") or []) or ["calibration"]
    buf = io.StringIO()
    w = csvcells.writer(buf)
    w.writerow(COLUMNS)
    example = {"display_name": "Water balance run 1", "description": "Calibrated run of the upper catchment",
               "workflow_template_id": wf.id if wf else newest("MODEL_RUN_WORKFLOW_TEMPLATE")[0],
               "modeller_id": newest("PERSON")[0],
               "start_time": "2024-03-01T09:00:00Z", "end_time": "2024-03-01T11:30:00Z",
               "requesting_organisation_id": newest("ORGANISATION")[0], "study_id": "", "model_version": "2.1",
               "inputs": f"{first_template('input_templates')}:{in_ds}",
               "outputs": f"{first_template('output_templates')}:{out_ds}",
               "annotations": ";".join(f"{k}=example" for k in keys)}
    w.writerow([example[c] for c in COLUMNS])
    return buf.getvalue()


def record_row(record: dict[str, Any]) -> dict[str, str]:
    """A model run record as a row of the template (what `_record_of` reads back)."""
    iso = lambda t: (_EPOCH + timedelta(seconds=int(t))).isoformat().replace("+00:00", "Z")  # noqa: E731
    assoc = record.get("associations") or {}
    pairs = lambda ds: ";".join(f"{d['dataset_template_id']}:{d['dataset_id']}" for d in ds or [])  # noqa: E731
    return {"display_name": record.get("display_name", ""), "description": record.get("description", ""),
            "workflow_template_id": record.get("workflow_template_id", ""),
            "modeller_id": assoc.get("modeller_id", ""),
            "start_time": iso(record["start_time"]) if "start_time" in record else "",
            "end_time": iso(record["end_time"]) if "end_time" in record else "",
            "requesting_organisation_id": assoc.get("requesting_organisation_id") or "",
            "study_id": record.get("study_id") or "", "model_version": record.get("model_version") or "",
            "inputs": pairs(record.get("inputs")), "outputs": pairs(record.get("outputs")),
            "annotations": ";".join(f"{k}={v}" for k, v in (record.get("annotations") or {}).items())}


def batch_csv(jobs: list[Any]) -> str:
    """A batch's jobs and payloads as CSV, in the order given (the batch's own): model
    runs in the template's columns after the job's session id, status, message and the
    id of the model run it registered (fix the failed rows, upload them again); other
    jobs with their payload as JSON. Cells a spreadsheet would run are neutralised."""
    import json

    buf = io.StringIO()
    w = csvcells.writer(buf)
    runs = all(j.job_subtype == "MODEL_RUN_PROV_LODGE" for j in jobs)
    w.writerow(list(EXPORT_COLUMNS[:3]) + (["model_run_id", *COLUMNS] if runs else ["job_type", "job_subtype",
                                                                                     "payload"]))
    for j in jobs:
        head = [j.id, j.status, j.info or ""]
        if runs:
            row = record_row((j.payload or {}).get("record") or {})
            registered = str((j.result or {}).get("record_id") or "") if j.status == "SUCCEEDED" else ""
            w.writerow(head + [registered] + [row[c] for c in COLUMNS])
        else:
            w.writerow(head + [j.job_type, j.job_subtype, json.dumps(j.payload, sort_keys=True)])
    return buf.getvalue()
