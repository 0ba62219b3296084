"""Diff and reproduce as a researcher uses them: two runs of a pipeline with different
parameters side by side, the difference marked; Reproduce on a run's page lodges a new
run, whose page says, once it ended, that its outputs match the original's; PROV-JSON
downloads from the job page and reads back with the `prov` library."""

from __future__ import annotations


import prov
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import at, new_user, shot, sign_in
from tests.pools import wait_for

pytestmark = pytest.mark.e2e

POEM = b"the rain in spain\nfalls mainly\non the plain\nthe rain\n"
PIPELINE = "Count words for records"


def _runs(console, username: str) -> tuple[str, str]:
    """Two finished runs of a deterministic pipeline, top=2 and top=3; their roots."""
    from app import auth, pipelines
    from app.models import Job
    from app.record_tables import JobRecord
    from app.db import session

    with console.domain():
        admin = auth.get_user("admin")
        if not any(p.name == PIPELINE for p in pipelines.list_pipelines(actor=admin)):
            pipelines.create_task(actor=admin, name="count words (records)", kind="handler",
                                  handler="app.pipelines.word_frequencies", output_glob="*.csv",
                                  parameters=[{"name": "top", "default": "3"}], timeout_s=60)
            pipelines.create_pipeline(actor=admin, name=PIPELINE, steps=[{"order": 1, "task": "count words (records)"}])
        user = auth.get_user(username)
        ids = [pipelines.run_pipeline(actor=user, pipeline=PIPELINE, file_name="poem.txt", content=POEM,
                                      parameters={"top": top}).id for top in ("2", "3")]
        def recorded():
            with session() as s:
                return all(s.get(JobRecord, i) is not None and s.get(JobRecord, i).status == "SUCCEEDED" for i in ids)
        try:
            wait_for(recorded, timeout=120, message="both runs recorded")
        except AssertionError:
            with session() as s:
                seen = [(j.id, j.status, j.last_message, s.get(JobRecord, j.id) is not None)
                        for j in (s.get(Job, i) for i in ids)]
            raise AssertionError(f"runs not recorded: {seen}") from None
    return ids[0], ids[1]


def test_compare_two_runs_then_reproduce_one_and_its_outputs_match(page, browser, console):
    page.set_default_timeout(20_000)
    page.set_viewport_size({"width": 1280, "height": 900})
    username, password = new_user(console, "recorder")
    a, b = _runs(console, username)
    sign_in(page, console, username, path="/jobs", password=password)
    page.goto(console.url(f"/jobs/compare?a={a}"))  # as the Compare button of a's page opens it
    expect(page.get_by_placeholder("Job or run A (session id)")).to_have_value(a)
    page.get_by_placeholder("Job or run B (session id)").fill(b)
    page.locator(".compare-go").click()
    page.wait_for_url(lambda url: f"b={b}" in url)

    # side by side: the parameter differs, the upload is the same, the outputs differ
    expect(page.locator(".diff-head")).to_be_visible(timeout=30_000)
    top = page.locator(".diff-parameters .diff-row").filter(has_text="top")
    expect(top).to_have_attribute("data-same", "differs")
    expect(top).to_contain_text("2")
    expect(page.locator(".diff-inputs .diff-row").first).to_have_attribute("data-same", "same")
    expect(page.locator(".diff-outputs .diff-row").first).to_have_attribute("data-same", "differs")
    expect(page.locator(".diff-verdict")).to_have_attribute("data-verdict", "mismatch")
    shot(page, "compare two runs")

    # the run's page: its PROV-JSON downloads and reads back with prov
    page.goto(console.url(f"/jobs/{a}"))
    expect(page.locator(".job-record")).to_be_visible()
    with page.expect_download() as dl:
        page.locator(".prov-download").click()
    doc = prov.read(str(dl.value.path()), format="json")
    assert f"jd:job/{a}" in {str(x.identifier) for x in doc.get_records(prov.model.ProvActivity)}

    # Reproduce: a new run's page, which says once it ended that the outputs match
    page.locator(".reproduce-job").click()
    page.wait_for_url(lambda url: f"/jobs/{a}" not in url and "/jobs/" in url)
    new = page.url.rstrip("/").rsplit("/", 1)[-1]
    assert new != a
    card = page.locator(".reproduction")
    expect(card.locator(".repro-of")).to_have_text(a)
    expect(card.locator(".repro-verdict")).to_have_attribute("data-verdict", "match", timeout=90_000)
    expect(card).to_contain_text("Outputs match")
    shot(page, "reproduced run")
    # and the comparison it links to says so too
    page.locator(".compare-link").click()
    page.wait_for_url(at(console, "/jobs/compare"))
    expect(page.locator(".diff-verdict")).to_have_attribute("data-verdict", "match")
    expect(page.locator(".diff-head")).to_contain_text("B reproduces A")
    # the original's page lists its reproduction
    page.goto(console.url(f"/jobs/{a}"))
    expect(page.locator(".reproduced-by .repro-link")).to_have_text(new)
    expect(page.locator(".reproduced-by .repro-verdict")).to_have_attribute("data-verdict", "match")

    # someone else's run cannot be compared: it reads as no job
    other, pw2 = new_user(console, "other")
    theirs = browser.new_context().new_page()
    theirs.set_default_timeout(20_000)
    sign_in(theirs, console, other, path="/jobs", password=pw2)
    theirs.goto(console.url(f"/jobs/compare?a={a}&b={b}"))
    expect(theirs.locator(".diff-error")).to_contain_text(f"No job {a}.")
    expect(theirs.locator(".diff-head")).to_have_count(0)
    theirs.context.close()
