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
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
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
        records.append(rec)
        if len(records) > MAX_RECORDS:
            raise InvalidInput(f"At most {MAX_RECORDS} model runs per file.", field="file")
    if not records:
        raise InvalidInput("The CSV file has a header but no model runs.", field="file")
    return records


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
