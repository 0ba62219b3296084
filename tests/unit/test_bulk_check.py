"""Checking a model-run CSV row by row (the console shows every problem before anything
is lodged), its template, and a batch written back in the same columns."""

from __future__ import annotations

import csv
import io

import pytest

from app import bulk, launch
from app.errors import InvalidInput
from tests.conftest import model_run_record


def _csv(rows: list[dict]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(bulk.COLUMNS))
    w.writeheader()
    for r in rows:
        w.writerow({c: r.get(c, "") for c in bulk.COLUMNS})
    return buf.getvalue()


def test_the_template_names_items_of_the_registry_and_checks_clean(world):
    text = bulk.template_csv()
    assert world["wf"].id in text and world["person"].id in text
    got = bulk.check_model_runs_csv(text)
    assert got.problems == [] and got.rows == 1 and len(got.records) == 1


def test_every_bad_row_is_reported_with_its_line_and_nothing_is_ready(world):
    good = bulk.record_row(model_run_record(world))
    late = {**good, "display_name": "backwards", "start_time": "2024-03-02", "end_time": "2024-03-01"}
    ghost = {**good, "display_name": "ghost", "outputs": f"{world['template'].id}:no-such-dataset"}
    wrong_kind = {**good, "modeller_id": world["org"].id}
    got = bulk.check_model_runs_csv(_csv([good, late, ghost, wrong_kind]))
    assert got.rows == 4 and got.records == []
    by_line = {p.line: p for p in got.problems}
    assert set(by_line) == {3, 4, 5}
    assert "start_time must not be after end_time" in by_line[3].message
    assert by_line[4].column == "outputs" and "no item no-such-dataset" in by_line[4].message
    assert by_line[5].column == "modeller_id" and "ORGANISATION, not a PERSON" in by_line[5].message


def test_header_problems_stop_the_check(jobdeck):
    got = bulk.check_model_runs_csv("display_name,colour\nx,red\n")
    assert {p.column for p in got.problems} >= {"colour", "description", "modeller_id"}
    assert all(p.line == 1 for p in got.problems)
    assert bulk.check_model_runs_csv("").problems[0].message.startswith("The file is empty")
    assert "no model runs" in bulk.check_model_runs_csv(",".join(bulk.COLUMNS) + "\n").problems[0].message


def test_a_batch_comes_back_as_csv_that_checks_clean(world, users):
    records = [model_run_record(world, display_name=f"run {i}") for i in range(3)]
    batch = launch.launch_batch(actor=users["alice"], job_type="PROV_LODGE", job_subtype="MODEL_RUN_PROV_LODGE",
                                payloads=[{"record": r} for r in records])
    from app.queries import batch_jobs

    jobs = batch_jobs(viewer=users["alice"], batch_id=batch.id, limit=10).jobs
    text = bulk.batch_csv(jobs)
    assert text.splitlines()[0].startswith("session_id,status,info,display_name")
    got = bulk.check_model_runs_csv(text)
    assert got.problems == []
    assert sorted(r["display_name"] for r in got.records) == ["run 0", "run 1", "run 2"]


def test_a_csv_with_bare_carriage_returns_is_refused_with_a_reason_not_a_crash():
    # what the API fuzzer sent: a lone \r inside an unquoted field
    with pytest.raises(InvalidInput, match="Unknown CSV column"):
        bulk.parse_model_runs_csv("\U000d032c\r\U000ad597\U0009b0a4")
    with pytest.raises(InvalidInput):
        bulk.parse_model_runs_csv('display_name\r"unclosed')
