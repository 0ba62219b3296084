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
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Optional

from pydantic import ValidationError

from app.errors import InvalidInput
from app.jobtypes import ModelRunRecord
from app.launch import launch_batch
from app.models import Batch, User

MAX_RECORDS = 10_000
REQUIRED_COLUMNS = ("display_name", "description", "workflow_template_id", "modeller_id",
                    "start_time", "end_time")
OPTIONAL_COLUMNS = ("requesting_organisation_id", "study_id", "model_version", "inputs", "outputs",
                    "annotations")
COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS


def _time(value: str, column: str, where: str) -> int:
    value = value.strip()
    if value.lstrip("-").isdigit():
        return int(value)
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(f"{where}, column {column}: {value!r} is neither seconds since 1970 nor an "
                           f"ISO 8601 time.", field=column) from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=timezone.utc)
    return int(t.timestamp())


def _pairs(value: str, column: str, where: str) -> list[dict[str, str]]:
    out = []
    for part in filter(None, (p.strip() for p in value.split(";"))):
        template, sep, dataset = part.partition(":")
        if not sep or not template.strip() or not dataset.strip():
            raise InvalidInput(f"{where}, column {column}: {part!r} is not TEMPLATE_ID:DATASET_ID.",
                               field=column)
        out.append({"dataset_template_id": template.strip(), "dataset_id": dataset.strip()})
    return out


def _annotations(value: str, where: str) -> Optional[dict[str, str]]:
    out = {}
    for part in filter(None, (p.strip() for p in value.split(";"))):
        key, sep, val = part.partition("=")
        if not sep or not key.strip():
            raise InvalidInput(f"{where}, column annotations: {part!r} is not key=value.", field="annotations")
        out[key.strip()] = val.strip()
    return out or None


def parse_model_runs_csv(text: str) -> list[dict[str, Any]]:
    """Model run records from CSV text, or InvalidInput naming the line and column."""
    try:
        return _parse_model_runs_csv(text)
    except csv.Error as exc:  # not CSV at all (a stray quote or line break, say)
        raise InvalidInput(f"The file is not valid CSV: {exc}.", field="file") from None


def _parse_model_runs_csv(text: str) -> list[dict[str, Any]]:
    # newline="": the csv module reads \r, \n and \r\n line ends itself
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff"), newline=""))
    header = [h.strip() for h in (reader.fieldnames or [])]
    if not header:
        raise InvalidInput("The CSV file is empty; it needs a header row and one row per model run.",
                           field="file")
    reader.fieldnames = header
    unknown = [h for h in header if h not in COLUMNS]
    if unknown:
        raise InvalidInput(f"Unknown CSV column(s): {', '.join(unknown)}; known columns: "
                           f"{', '.join(COLUMNS)}.", field=unknown[0])
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise InvalidInput(f"The CSV file lacks the column(s): {', '.join(missing)}.", field=missing[0])
    records = []
    for row in reader:
        where = f"Line {reader.line_num}"
        if None in row:
            raise InvalidInput(f"{where}: more values than columns.", field="file")
        cells = {k: (v or "").strip() for k, v in row.items()}
        if not any(cells.values()):
            continue  # a blank line
        records.append(_record_of(cells, where))
        if len(records) > MAX_RECORDS:
            raise InvalidInput(f"At most {MAX_RECORDS} model runs per file.", field="file")
    if not records:
        raise InvalidInput("The CSV file has a header but no model runs.", field="file")
    return records


def _record_of(cells: dict[str, str], where: str) -> dict[str, Any]:
    """One row's model run record, or InvalidInput naming its line and column."""
    rec: dict[str, Any] = {
        "display_name": cells["display_name"], "description": cells["description"],
        "workflow_template_id": cells["workflow_template_id"],
        "associations": {"modeller_id": cells["modeller_id"]},
        "start_time": _time(cells["start_time"], "start_time", where),
        "end_time": _time(cells["end_time"], "end_time", where),
        "inputs": _pairs(cells.get("inputs", ""), "inputs", where),
        "outputs": _pairs(cells.get("outputs", ""), "outputs", where),
    }
    if cells.get("requesting_organisation_id"):
        rec["associations"]["requesting_organisation_id"] = cells["requesting_organisation_id"]
    for opt in ("study_id", "model_version"):
        if cells.get(opt):
            rec[opt] = cells[opt]
    if cells.get("annotations"):
        rec["annotations"] = _annotations(cells["annotations"], where)
    try:
        ModelRunRecord.model_validate(rec)
    except ValidationError as exc:
        e = exc.errors()[0]
        column = ".".join(str(p) for p in e["loc"]) or "row"
        column = column.removeprefix("associations.")
        raise InvalidInput(f"{where}, column {column}: {e['msg']}.", field=column) from None
    return rec


def register_model_runs(*, actor: User, records: list[Any], label: str = "") -> Batch:
    """Lodge one MODEL_RUN_PROV_LODGE job per record, all in one batch."""
    if not records:
        raise InvalidInput("Give at least one model run record.", field="records")
    if len(records) > MAX_RECORDS:
        raise InvalidInput(f"At most {MAX_RECORDS} model runs per request.", field="records")
    label = label or f"{len(records)} model run{'s' if len(records) != 1 else ''}"
    try:
        return launch_batch(actor=actor, job_type="PROV_LODGE", job_subtype="MODEL_RUN_PROV_LODGE",
                            payloads=[{"record": r} for r in records], label=label[:256])
    except InvalidInput as exc:
        # launch_batch names payloads.N.record.FIELD; the caller sent records.N.FIELD
        if exc.field and exc.field.startswith("payloads."):
            exc.field = exc.field.replace("payloads.", "records.", 1).replace(".payload.record.", ".", 1)
            exc.detail["field"] = exc.field
        raise


# --- checking a whole file, for the console ----------------------------------------


# What a batch's CSV adds before the template's columns; ignored when it comes back.
EXPORT_COLUMNS = ("session_id", "status", "info")


@dataclass(frozen=True)
class RowProblem:
    line: int  # line of the file (the header is line 1; 0 for the file as a whole)
    column: str
    message: str


@dataclass
class CsvCheck:
    records: list[dict[str, Any]]  # ready to lodge only when there are no problems
    problems: list[RowProblem]
    rows: int


def check_model_runs_csv(text: str, *, max_problems: int = 200) -> CsvCheck:
    """Every row checked, every problem kept with its line (the first `max_problems`):
    the shape of each row, then that each item it names exists with the right kind.
    Nothing is written."""
    from app.db import session
    from app.provenance import check_model_run_references

    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip() for h in (reader.fieldnames or [])]
    if not header:
        return CsvCheck([], [RowProblem(0, "", "The file is empty: it needs the template's header row and "
                                                "one row per model run.")], 0)
    reader.fieldnames = header
    problems = [RowProblem(1, h, f"Unknown column {h!r}; the template lists the columns.")
                for h in header if h not in COLUMNS and h not in EXPORT_COLUMNS]
    problems += [RowProblem(1, c, f"The column {c!r} is missing.") for c in REQUIRED_COLUMNS if c not in header]
    if problems:
        return CsvCheck([], problems, 0)
    records, lines, rows = [], [], 0
    for row in reader:
        line = reader.line_num
        cells = {k: (v or "").strip() for k, v in row.items() if k in COLUMNS}
        if None in row:
            problems.append(RowProblem(line, "", "More values than columns."))
            continue
        if not any(cells.values()):
            continue
        rows += 1
        if rows > MAX_RECORDS:
            problems.append(RowProblem(line, "", f"At most {MAX_RECORDS} model runs per file."))
            break
        try:
            records.append(_record_of(cells, f"Line {line}"))
            lines.append(line)
        except InvalidInput as exc:
            problems.append(RowProblem(line, exc.field or "", exc.message.split(": ", 1)[-1]))
        if len(problems) >= max_problems:
            break
    if rows == 0 and not problems:
        problems.append(RowProblem(2, "", "The file has a header but no model runs."))
    if records and len(problems) < max_problems:
        with session() as s:
            conn = s.connection()
            for rec, line in zip(records, lines):
                for p in check_model_run_references(conn, ModelRunRecord.model_validate(rec)):
                    where, _, what = p.partition(": ")
                    column = where.split(".")[0] if where.startswith(("inputs", "outputs")) else \
                        where.removeprefix("associations.")
                    problems.append(RowProblem(line, column, f"{where}: {what}."))
    problems.sort(key=lambda p: p.line)
    return CsvCheck(records if not problems else [], problems[:max_problems], rows)


def template_csv() -> str:
    """The CSV template: the header and one example row that names items of this
    registry (its newest workflow template, person, organisation and datasets)."""
    from sqlmodel import select

    from app.db import session
    from app.models import Item

    def newest(subtype: str, n: int = 1) -> list[str]:
        with session() as s:
            got = list(s.exec(select(Item.id).where(Item.subtype == subtype, Item.next_version_id.is_(None))
                              .order_by(Item.created_at.desc()).limit(n)))
        return got + [f"<{subtype.lower()} id>"] * (n - len(got))

    template = newest("DATASET_TEMPLATE")[0]
    out_ds, in_ds = newest("DATASET", 2)
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(COLUMNS)
    example = {"display_name": "Water balance run 1", "description": "Calibrated run of the upper catchment",
               "workflow_template_id": newest("MODEL_RUN_WORKFLOW_TEMPLATE")[0], "modeller_id": newest("PERSON")[0],
               "start_time": "2024-03-01T09:00:00Z", "end_time": "2024-03-01T11:30:00Z",
               "requesting_organisation_id": newest("ORGANISATION")[0], "study_id": "", "model_version": "2.1",
               "inputs": f"{template}:{in_ds}", "outputs": f"{template}:{out_ds}",
               "annotations": "calibration=2023;gauges=12"}
    w.writerow([example[c] for c in COLUMNS])
    return buf.getvalue()


def record_row(record: dict[str, Any]) -> dict[str, str]:
    """A model run record as a row of the template (what `_record_of` reads back)."""
    iso = lambda t: datetime.fromtimestamp(int(t), timezone.utc).isoformat().replace("+00:00", "Z")  # noqa: E731
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
    """A batch's jobs and payloads as CSV: model runs in the template's columns after the
    job's session id, status and message (fix the failed rows, upload them again);
    other jobs with their payload as JSON."""
    import json

    buf = io.StringIO()
    w = csv.writer(buf)
    runs = all(j.job_subtype == "MODEL_RUN_PROV_LODGE" for j in jobs)
    w.writerow(["session_id", "status", "info"] + (list(COLUMNS) if runs else ["job_type", "job_subtype",
                                                                              "payload"]))
    for j in jobs:
        head = [j.id, j.status, j.info or ""]
        if runs:
            row = record_row((j.payload or {}).get("record") or {})
            w.writerow(head + [row[c] for c in COLUMNS])
        else:
            w.writerow(head + [j.job_type, j.job_subtype, json.dumps(j.payload, sort_keys=True)])
    return buf.getvalue()
