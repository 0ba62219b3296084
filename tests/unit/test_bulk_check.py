"""Checking a model-run CSV row by row (the console shows every problem before anything
is lodged), its template, and a batch written back in the same columns."""

from __future__ import annotations

import csv
import io

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st
from sqlmodel import select

from app import bulk, launch
from app.db import session
from app.errors import InvalidInput
from app.models import Item, Job
from tests.conftest import model_run_record, run_workers


def batch_jobs_in_order(**kw):
    from app.queries import batch_jobs_in_order

    return batch_jobs_in_order(**kw)


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
    assert by_line[4].column == "outputs" and "Could not find the given key (no-such-dataset)" in by_line[4].message
    assert by_line[4].message.startswith("An output dataset validation process failed")
    assert by_line[5].column == "modeller_id" and "is a ORGANISATION, not a PERSON" in by_line[5].message
    assert by_line[5].message.startswith(f"Modeller with id {world['org'].id} was not a valid person")


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
    jobs = batch_jobs_in_order(viewer=users["alice"], batch_id=batch.id, limit=10).jobs
    text = bulk.batch_csv(jobs)
    assert text.splitlines()[0].startswith("session_id,status,info,model_run_id,display_name")
    got = bulk.check_model_runs_csv(text)
    assert got.problems == []
    assert [r["display_name"] for r in got.records] == ["run 0", "run 1", "run 2"]


def test_a_batch_keeps_the_files_order_and_its_csv_names_the_model_runs_registered(world, users):
    """50 rows lodged in one instant: the view and the CSV list them as the file did
    (not by their random ids), and each row of the CSV names the model run it registered."""
    names = [f"run {i:02d}" for i in range(1, 51)]
    batch = bulk.register_model_runs(actor=users["alice"], records=[model_run_record(world, display_name=n)
                                                                     for n in names])
    shown = []
    page = batch_jobs_in_order(viewer=users["alice"], batch_id=batch.id, limit=20)
    while True:
        shown += [j.payload["record"]["display_name"] for j in page.jobs]
        if not page.next_cursor:
            break
        page = batch_jobs_in_order(viewer=users["alice"], batch_id=batch.id, cursor=page.next_cursor, limit=20)
    assert shown == names
    run_workers()
    jobs = batch_jobs_in_order(viewer=users["alice"], batch_id=batch.id, limit=100).jobs
    rows = list(csv.DictReader(io.StringIO(bulk.batch_csv(jobs))))
    assert [r["display_name"] for r in rows] == names
    assert [r["model_run_id"] for r in rows] == [j.result["record_id"] for j in jobs]
    with session() as s:
        assert [s.get(Item, r["model_run_id"]).display_name for r in rows] == names
    # A job lodged into the batch afterwards is its last row.
    late = launch.launch_job(actor=users["alice"], job_type="PROV_LODGE", job_subtype="MODEL_RUN_PROV_LODGE",
                             payload={"record": model_run_record(world, display_name="late")}, batch_id=batch.id)
    assert late.batch_row == 51
    last = batch_jobs_in_order(viewer=users["alice"], batch_id=batch.id, limit=100).jobs[-1]
    assert last.id == late.id
    # ... and the batch's order is read on its index, not by sorting the batch.
    with session() as s:
        stmt = select(Job).where(Job.batch_id == batch.id).order_by(Job.batch_row, Job.id).limit(51)
        plan = " ".join(str(r[-1]) for r in s.connection().execute(
            sa.text("EXPLAIN QUERY PLAN " + str(stmt.compile(compile_kwargs={"literal_binds": True})))))
    assert "ix_job_batch_row" in plan and "TEMP B-TREE" not in plan, plan


def test_cells_a_spreadsheet_would_run_are_neutralised_and_read_back_as_they_were(world, users):
    risky = {"display_name": "=HYPERLINK(\"http://evil.example\",\"open\")", "description": "+cmd|' /C calc'!A0",
             "model_version": "-2+3", "annotations": {"@SUM(A1)": "1", "note": "'=quoted already"}}
    # Names refuse control characters; a description keeps tabs and line ends.
    records = [model_run_record(world, **risky), model_run_record(world, description="\tTabbed"),
               model_run_record(world, description="\rcarriage")]
    batch = bulk.register_model_runs(actor=users["alice"], records=records)
    with session() as s:
        s.exec(sa.update(Job).where(Job.batch_id == batch.id).values(info="-1 failed: =2+2"))
        s.commit()
    jobs = batch_jobs_in_order(viewer=users["alice"], batch_id=batch.id, limit=10).jobs
    text = bulk.batch_csv(jobs)
    cells = [c for row in csv.reader(io.StringIO(text)) for c in row]
    assert not [c for c in cells if c.startswith(("=", "+", "-", "@", "\t", "\r"))]
    assert "'=HYPERLINK" in text and "'-1 failed" in text and "'\tTabbed" in text
    # Uploaded again (to fix failed rows, say), the file reads back to what was lodged.
    got = bulk.check_model_runs_csv(text)
    assert got.problems == []
    for back, sent in zip(got.records, records):
        for key in ("display_name", "description", "model_version", "annotations"):
            assert back.get(key) == sent.get(key), key


@given(st.text())
def test_neutralised_cells_restore_exactly_and_never_start_a_formula(cell):
    from app import csvcells

    out = csvcells.neutralise(cell)
    assert not out.startswith(csvcells.TRIGGERS)
    assert csvcells.restore(out) == cell


def test_a_time_cell_of_5000_digits_or_out_of_range_is_a_problem_of_its_line_and_column(world):
    good = bulk.record_row(model_run_record(world))
    rows = [{**good, "start_time": "9" * 5000}, {**good, "end_time": "99999999999999"},
            {**good, "start_time": "-1"}, {**good, "start_time": "²"},
            {**good, "end_time": "10000-01-01T00:00:00Z"}, {**good, "description": "x" * 20_000}]
    got = bulk.check_model_runs_csv(_csv(rows))
    assert [(p.line, p.column) for p in got.problems] == [(2, "start_time"), (3, "end_time"), (4, "start_time"),
                                                          (5, "start_time"), (6, "end_time"), (7, "description")]
    assert "too long for a time" in got.problems[0].message
    assert "out of range" in got.problems[1].message and "out of range" in got.problems[2].message
    assert "20000 characters" in got.problems[5].message
    with pytest.raises(InvalidInput) as caught:
        bulk.parse_model_runs_csv(_csv(rows))
    assert caught.value.field == "start_time" and "Line 2, column start_time" in caught.value.message
    assert len(caught.value.errors) == 6


def test_every_problem_of_every_row_is_listed_at_once(world):
    good = bulk.record_row(model_run_record(world))
    both = {**good, "start_time": "2024-03-02", "end_time": "2024-03-01", "workflow_template_id": "no-such-wf"}
    three = {**good, "display_name": "", "inputs": "tpl-only", "modeller_id": world["org"].id}
    got = bulk.check_model_runs_csv(_csv([good, both, three]))
    assert got.records == []
    by_line: dict[int, list] = {}
    for p in got.problems:
        by_line.setdefault(p.line, []).append(p)
    assert {p.column for p in by_line[3]} == {"end_time", "workflow_template_id"}
    # the unreadable inputs cell leaves the workflow's required input missing (rule 4) too
    assert {p.column for p in by_line[4]} == {"display_name", "inputs", "modeller_id"}
    assert not [p for p in got.problems if "Value error" in p.message]
    assert "start_time must not be after end_time" in by_line[3][0].message
    assert got.summary == "6 problems in 2 rows"
    # The REST answer lists them all too, with the registry's rules.
    with pytest.raises(InvalidInput) as caught:
        bulk.parse_model_runs_csv(_csv([good, both, three]))
    assert [(e["line"], e["field"]) for e in caught.value.errors] == [
        (3, "end_time"), (3, "workflow_template_id"), (4, "inputs"), (4, "display_name"), (4, "inputs"),
        (4, "modeller_id")]
    assert caught.value.message.startswith("6 problems in 2 rows; nothing was lodged.")
    assert "Value error" not in caught.value.message


def test_problem_summaries_count_properly():
    one = [bulk.RowProblem(2, "x", "m")]
    assert bulk.problems_summary(one) == "1 problem in 1 row"
    assert bulk.problems_summary(one * 3 + [bulk.RowProblem(5, "y", "m")]) == "4 problems in 2 rows"
    assert bulk.problems_summary([bulk.RowProblem(1, "c", "m")] * 2) == "2 problems in the header"
    assert bulk.problems_summary([bulk.RowProblem(0, "", "m")]) == "1 problem in the file"


def test_a_csv_with_bare_carriage_returns_is_refused_with_a_reason_not_a_crash():
    # what the API fuzzer sent: a lone \r inside an unquoted field
    with pytest.raises(InvalidInput, match="Unknown CSV column"):
        bulk.parse_model_runs_csv("\U000d032c\r\U000ad597\U0009b0a4")
    with pytest.raises(InvalidInput):
        bulk.parse_model_runs_csv('display_name\r"unclosed')


def run(coro):
    """Run a coroutine on a thread of its own: a browser test may leave this thread's
    event loop running, and asyncio.run refuses to start inside it."""
    import asyncio
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def test_the_console_reads_no_more_of_an_upload_than_its_limit_and_one_byte():
    from pathlib import Path

    import reflex as rx

    from app.state.bulk import MAX_CSV_BYTES, read_upload

    big = io.BytesIO(b"x" * (8 * MAX_CSV_BYTES))
    assert run(read_upload(rx.UploadFile(file=big, path=Path("big.csv")))) is None
    assert big.tell() == MAX_CSV_BYTES + 1  # the rest of the file was never read
    exact = io.BytesIO(b"y" * MAX_CSV_BYTES)
    assert run(read_upload(rx.UploadFile(file=exact, path=Path("ok.csv")))) == b"y" * MAX_CSV_BYTES
