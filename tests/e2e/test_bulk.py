"""Bulk model-run registration: a bad row is shown before anything is lodged; the fixed
file lodges a batch whose view reaches 100% live."""

from __future__ import annotations

import csv
import io
import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import shot

pytestmark = pytest.mark.e2e


def _rows_from_template(text: str, n: int) -> tuple[list[str], list[dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(text))
    example = next(reader)
    return reader.fieldnames, [{**example, "display_name": f"Calibration run {i + 1}"} for i in range(n)]


def _csv(header: list[str], rows: list[dict[str, str]]) -> bytes:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=header)
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue().encode()


def _choose(page, name: str, data: bytes) -> None:
    page.locator(".csv-drop input[type=file]").set_input_files(
        files=[{"name": name, "mimeType": "text/csv", "buffer": data}])


def test_bad_row_is_shown_then_the_fixed_file_lodges_a_live_batch(alice_page, console):
    page = alice_page
    page.goto(console.url("/model-runs/new"))
    with page.expect_download() as dl:
        page.get_by_role("button", name="Download the CSV template").click()
    template = open(dl.value.path(), encoding="utf-8").read()
    header, rows = _rows_from_template(template, 12)
    assert header[0] == "display_name"
    rows[0]["description"] = "=SUM(1,2) calibrated"  # a formula, should a spreadsheet open the batch's CSV

    # Row 3 (line 4) has two problems at once: a dataset that does not exist and times out of
    # order; row 4 (line 5) an unknown workflow template; row 5 (line 6) a time no computer can hold.
    good = dict(rows[2])
    rows[2].update(outputs=good["outputs"].split(":")[0] + ":no-such-dataset", start_time="2024-03-02T00:00:00Z",
                   end_time="2024-03-01T00:00:00Z")
    rows[3]["workflow_template_id"] = "no-such-template"
    rows[4]["start_time"] = "9" * 5000
    _choose(page, "runs.csv", _csv(header, rows))
    expect(page.locator(".check-failed")).to_contain_text(
        "Nothing was lodged from runs.csv: 4 problems in 3 rows. Fix them and choose the file again.")
    line4 = page.locator(".problem-row[data-line='4']")
    expect(line4).to_have_count(2)
    expect(line4.filter(has_text="Could not find the given key (no-such-dataset)")).to_contain_text("outputs")
    expect(line4.filter(has_text="start_time must not be after end_time")).to_contain_text("end_time")
    expect(page.locator(".problem-row[data-line='5']").filter(
        has_text="Provided model run workflow definition with id no-such-template was not a valid id")
    ).to_contain_text("workflow_template_id")
    expect(page.locator(".problem-row[data-line='6']")).to_contain_text("5000 characters is too long for a time")
    expect(page.get_by_text("Value error")).to_have_count(0)
    expect(page.get_by_text("4 problems in 3 rows; nothing was lodged.")).to_be_visible()  # the toast
    shot(page, "model-runs-problems")

    rows[2], rows[3]["workflow_template_id"] = good, good["workflow_template_id"]
    rows[4]["start_time"] = rows[5]["start_time"]
    _choose(page, "runs-fixed.csv", _csv(header, rows))
    expect(page.locator(".check-passed")).to_contain_text("All 12 rows of runs-fixed.csv are valid")
    shot(page, "model-runs-ready")
    page.get_by_label("Batch label").fill("Calibration runs")
    with console.paused("prov"):  # the batch waits until the page shows it: its progress arrives live
        page.get_by_role("button", name="Register 12 model runs").click()
        expect(page).to_have_url(re.compile(r"/batches/[0-9a-f-]{36}/?$"))
        expect(page.get_by_role("heading", name="Calibration runs")).to_be_visible()
        expect(page.locator(".job-row[data-status=PENDING]")).to_have_count(12)
        expect(page.locator(".batch-percent")).to_have_text("0%")
        shot(page, "batch-waiting")
    expect(page.locator(".batch-percent")).to_have_text("100%", timeout=30_000)
    expect(page.locator(".batch-banner")).to_have_attribute("data-summary", "succeeded")
    expect(page.locator(".batch-banner")).to_contain_text("All 12 jobs succeeded.")
    expect(page.locator(".job-row[data-status=SUCCEEDED]")).to_have_count(12)
    # The file's order, not the order of the jobs' random ids.
    expect(page.locator(".job-row .job-link")).to_have_text([f"Calibration run {i + 1}" for i in range(12)])
    shot(page, "batch")

    with page.expect_download() as dl:
        page.get_by_role("button", name="Payloads as CSV").click()
    back = open(dl.value.path(), encoding="utf-8").read()
    assert back.splitlines()[0].startswith("session_id,status,info,model_run_id,display_name")
    exported = list(csv.DictReader(io.StringIO(back)))
    assert [r["display_name"] for r in exported] == [f"Calibration run {i + 1}" for i in range(12)]
    assert all(r["status"] == "SUCCEEDED" and re.fullmatch(r"[0-9a-f-]{36}", r["model_run_id"]) for r in exported)
    assert exported[0]["description"] == "'=SUM(1,2) calibrated"  # neutralised for spreadsheets
    with console.domain():
        from app.db import session
        from app.models import Item

        with session() as s:
            assert [s.get(Item, r["model_run_id"]).display_name for r in exported] == \
                [r["display_name"] for r in exported]

    # Clicking the words beside the switch toggles it.
    switch = page.get_by_role("switch", name="Failures only")
    expect(switch).to_have_attribute("aria-checked", "false")
    page.locator(".failures-only").get_by_text("Failures only").click()
    expect(switch).to_have_attribute("aria-checked", "true")
    expect(page.get_by_text("No job of this batch failed or crashed.")).to_be_visible()
    shot(page, "batch-failures-only-by-label")
    page.locator(".failures-only").get_by_text("Failures only").click()
    expect(switch).to_have_attribute("aria-checked", "false")
    expect(page.locator(".job-row")).to_have_count(12)

    # The exported file, uploaded again, checks clean: the neutralised cell reads back as lodged.
    page.goto(console.url("/model-runs/new"))
    _choose(page, "batch.csv", back.encode())
    expect(page.locator(".check-passed")).to_contain_text("All 12 rows of batch.csv are valid")

    page.goto(console.url("/batches"))
    row = page.locator(".batch-row", has_text="Calibration runs")
    expect(row.locator(".batch-summary")).to_have_text("all succeeded")
    shot(page, "batches")


def test_a_batch_with_failures_says_so_and_retries_them(alice_page, console):
    """Two runs that fail when they run (an item was deleted after the check, say)."""
    from app import auth, bulk

    page = alice_page
    with console.domain():
        from tests.conftest import model_run_record  # noqa: F401
        alice = auth.get_user("alice")
        _, [example] = _rows_from_template(bulk.template_csv(), 1)
        good, problems, _ = bulk._record_of(example)
        assert problems == []
        bad = {**good, "display_name": "Run with a missing modeller",
               "associations": {"modeller_id": "no-such-person"}}
        batch = bulk.register_model_runs(actor=alice, records=[good, bad, bad], label="Mixed runs")
    page.goto(console.url(f"/batches/{batch.id}"))
    expect(page.locator(".batch-percent")).to_have_text("100%", timeout=30_000)
    expect(page.locator(".batch-banner")).to_have_attribute("data-summary", "failures")
    expect(page.locator(".batch-banner")).to_contain_text("2 of 3 jobs failed or crashed")
    page.get_by_role("switch", name="Failures only").click()
    expect(page.locator(".job-row")).to_have_count(2)
    page.locator(".job-row .why").first.click()
    expect(page.locator(".error-text")).to_contain_text("Modeller with id no-such-person was not a valid person")
    expect(page.locator(".rt-PopoverContent")).to_have_css("opacity", "1")  # opened, not fading in
    shot(page, "batch-why-open")
    page.keyboard.press("Escape")
    shot(page, "batch-failures")
    page.get_by_role("button", name="Retry failed").click()
    expect(page.get_by_text("Retrying 2 failed jobs")).to_be_visible()
    # They fail again (the modeller still does not exist), on their second attempt.
    expect(page.locator(".job-row[data-status=FAILED]")).to_have_count(2, timeout=30_000)
    page.get_by_role("switch", name="Failures only").click()
    expect(page.locator(".job-row", has_text="Run with a missing modeller").first.locator("td.col-attempt")).to_have_text("2")
    # A job lodged into the batch later (POST /api/jobs with its batch_id) is its last row, live.
    with console.domain():
        from app import launch

        late = launch.launch_job(actor=alice, job_type="PROV_LODGE", job_subtype="MODEL_RUN_PROV_LODGE",
                                 payload={"record": good}, batch_id=batch.id)
    expect(page.locator(".job-row").last).to_have_attribute("data-job-id", late.id)
    expect(page.locator(".job-row")).to_have_count(4)
    expect(page.locator(".job-row").last).to_have_attribute("data-status", "SUCCEEDED", timeout=30_000)


def test_the_template_of_a_workflow_template_in_provenas_columns_lodges_as_it_is_filled(alice_page, console):
    """The workflow template chosen on the page gives Provena's CSV: one column per dataset
    template (and resource key, annotation); filled in, it checks and lodges as one batch."""
    from sqlmodel import select

    from app.db import session
    from app.demo import DEMO_NAMES
    from app.models import Item

    page = alice_page
    with console.domain(), session() as s:
        ids = {k: s.exec(select(Item.id).where(Item.display_name == n)).first() for k, n in DEMO_NAMES.items()}
    page.goto(console.url("/model-runs/new"))
    page.locator(".workflow-choice").click()
    page.get_by_role("option", name=DEMO_NAMES["wf"]).click()
    with page.expect_download() as dl:
        page.get_by_role("button", name="Download its template").click()
    [header] = list(csv.reader(io.StringIO(open(dl.value.path(), encoding="utf-8").read())))
    assert header[0] == f"_workflow template id {ids['wf']}" and header[-4:] == [
        "_job_id", "_job_status", "_model_run_record_id", "_error_info"]
    assert header[8] == f"Input dataset id for template: {DEMO_NAMES['template']} [template id: {ids['template']}]"
    values = {"display name": "Run from Provena's columns", "description": "one row", "agent id": ids["person"],
              header[6]: "2024-03-01 09:00:00+00:00", header[7]: "2024-03-01 10:00:00+00:00",
              header[8]: ids["rain"], header[9]: ids["flow"]}
    buf = io.StringIO()
    csv.writer(buf).writerows([header, [values.get(h, "") for h in header],
                               [dict(values, **{"agent id": ids["org"]}).get(h, "") for h in header]])
    _choose(page, "provena.csv", buf.getvalue().encode())
    expect(page.locator(".problem-row[data-line='3']")).to_contain_text(
        f"Modeller with id {ids['org']} was not a valid person")
    buf = io.StringIO()
    csv.writer(buf).writerows([header, [values.get(h, "") for h in header]])
    _choose(page, "provena-fixed.csv", buf.getvalue().encode())
    expect(page.locator(".check-passed")).to_contain_text("provena-fixed.csv")
    page.get_by_role("button", name="Register 1 model runs").click()
    expect(page).to_have_url(re.compile(r"/batches/[0-9a-f-]{36}/?$"))
    expect(page.locator(".batch-percent")).to_have_text("100%", timeout=30_000)
    expect(page.locator(".batch-banner")).to_have_attribute("data-summary", "succeeded")
