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
    header, rows = _rows_from_template(template, 5)
    assert header[0] == "display_name"

    # Row 3 (line 4 of the file) names a dataset that does not exist.
    good_outputs = rows[2]["outputs"]
    rows[2]["outputs"] = good_outputs.split(":")[0] + ":no-such-dataset"
    _choose(page, "runs.csv", _csv(header, rows))
    expect(page.locator(".check-failed")).to_contain_text("Nothing was lodged")
    problems = page.locator(".problem-row")
    expect(problems).to_have_count(1)
    expect(problems.first).to_have_attribute("data-line", "4")
    expect(problems.first).to_contain_text("outputs")
    expect(problems.first).to_contain_text("no item no-such-dataset")
    shot(page, "model-runs-problems")

    rows[2]["outputs"] = good_outputs
    _choose(page, "runs-fixed.csv", _csv(header, rows))
    expect(page.locator(".check-passed")).to_contain_text("All 5 rows of runs-fixed.csv are valid")
    shot(page, "model-runs-ready")
    page.get_by_label("Batch label").fill("Calibration runs")
    with console.paused("prov"):  # the batch waits until the page shows it: its progress arrives live
        page.get_by_role("button", name="Register 5 model runs").click()
        expect(page).to_have_url(re.compile(r"/batches/[0-9a-f-]{36}/?$"))
        expect(page.get_by_role("heading", name="Calibration runs")).to_be_visible()
        expect(page.locator(".job-row[data-status=PENDING]")).to_have_count(5)
        expect(page.locator(".batch-percent")).to_have_text("0%")
        shot(page, "batch-waiting")
    expect(page.locator(".batch-percent")).to_have_text("100%", timeout=30_000)
    expect(page.locator(".batch-banner")).to_have_attribute("data-summary", "succeeded")
    expect(page.locator(".batch-banner")).to_contain_text("All 5 jobs succeeded.")
    expect(page.locator(".job-row[data-status=SUCCEEDED]")).to_have_count(5)
    shot(page, "batch")

    with page.expect_download() as dl:
        page.get_by_role("button", name="Payloads as CSV").click()
    back = open(dl.value.path(), encoding="utf-8").read()
    assert back.splitlines()[0].startswith("session_id,status,info,display_name")
    assert back.count(",SUCCEEDED,") == 5 and "Calibration run 3" in back

    page.get_by_role("switch", name="Failures only").click()
    expect(page.get_by_text("No job of this batch failed or crashed.")).to_be_visible()

    page.get_by_role("link", name="All batches").click()
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
        good = bulk._record_of(example, "Line 2")
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
    expect(page.locator(".error-text")).to_contain_text("no item no-such-person")
    expect(page.locator(".rt-PopoverContent")).to_have_css("opacity", "1")  # opened, not fading in
    shot(page, "batch-why-open")
    page.keyboard.press("Escape")
    shot(page, "batch-failures")
    page.get_by_role("button", name="Retry failed").click()
    expect(page.get_by_text("Retrying 2 failed jobs")).to_be_visible()
    # They fail again (the modeller still does not exist), on their second attempt.
    expect(page.locator(".job-row[data-status=FAILED]")).to_have_count(2, timeout=30_000)
    page.get_by_role("switch", name="Failures only").click()
    expect(page.locator(".job-row", has_text="Run with a missing modeller").first.locator("td").nth(2)).to_have_text("2")
    # A job lodged into the batch later (POST /api/jobs with its batch_id) shows on top, live.
    with console.domain():
        from app import launch

        late = launch.launch_job(actor=alice, job_type="PROV_LODGE", job_subtype="MODEL_RUN_PROV_LODGE",
                                 payload={"record": good}, batch_id=batch.id)
    expect(page.locator(".job-row").first).to_have_attribute("data-job-id", late.id)
    expect(page.locator(".job-row")).to_have_count(4)
    expect(page.locator(".job-row").first).to_have_attribute("data-status", "SUCCEEDED", timeout=30_000)
