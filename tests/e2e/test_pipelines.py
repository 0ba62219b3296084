"""Pipelines as a person uses them: upload a small file, run the demo pipeline "Text
summary" with a parameter, land on the run's page, see its steps succeed live (the
parallel pair, then the step they join into) and download a file a step kept."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import new_user, shot, sign_in

pytestmark = pytest.mark.e2e

POEM = b"The rain in Spain\nstays mainly in the plain\nin Spain it rains\n"


def test_a_user_runs_text_summary_sees_its_steps_succeed_live_and_downloads_an_output(page, console):
    page.set_default_timeout(15_000)
    # The backend paused (until its idle workers have stopped), so the run's page is open
    # before any step runs: what it shows next arrives live.
    with console.paused("pipeline"):
        _run_and_watch(page, console)
    page.locator(".pipeline-run").scroll_into_view_if_needed()
    steps = page.locator(".pipeline-run .pipeline-step")
    expect(steps).to_have_count(3, timeout=30_000)
    expect(page.locator(".pipeline-run .pipeline-step[data-status=SUCCEEDED]")).to_have_count(3, timeout=30_000)
    expect(page.locator(".pipeline-step[data-task='line count']")).to_contain_text("line count: exit code 0")
    shot(page, "pipeline-run-done")

    page.locator(".pipeline-step[data-task='word frequencies'] .step-link").click()
    # the file in the run's files (on every step's page) and in the step's own
    expect(page.get_by_text("word_frequencies.csv", exact=True)).to_have_count(2)
    with page.expect_download() as dl:
        page.get_by_role("button", name="Download", exact=True).click()
    assert dl.value.suggested_filename == "word_frequencies.csv"
    with open(dl.value.path(), encoding="utf-8") as f:
        assert f.read().splitlines() == ["word,count", "in,3", "spain,2"]


def _run_and_watch(page, console) -> None:
    username, password = new_user(console, "reader")
    sign_in(page, console, username, path="/pipelines", password=password)
    card = page.locator(".pipeline-card[data-pipeline='Text summary']")
    expect(card).to_contain_text("line count · sort lines")
    expect(card).to_contain_text("in parallel")
    card.get_by_role("button", name="Choose").click()

    page.locator(".pipeline-drop input[type=file]").set_input_files(
        files=[{"name": "poem.txt", "mimeType": "text/plain", "buffer": POEM}])
    expect(page.locator(".chosen-file")).to_have_text("poem.txt")
    page.get_by_label("top").fill("2")
    shot(page, "pipelines-run-form")

    page.get_by_role("button", name="Run Text summary").click()
    expect(page).to_have_url(re.compile(r"/jobs/[0-9a-f-]{36}/?$"))
    expect(page.locator(".pipeline-run .pipeline-step")).to_have_count(2)
    expect(page.locator(".pipeline-run .pipeline-step[data-status=PENDING]")).to_have_count(2)
    shot(page, "pipeline-run-waiting")
