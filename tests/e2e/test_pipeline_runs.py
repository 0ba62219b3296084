"""A pipeline run as a researcher reads it: a run whose first step succeeded and a later
one failed reads FAILED first on the page of any of its steps, in the jobs panel and on
the Submissions page; runs are named after their pipeline and upload, steps after their
task; paths are those inside the run; a parameter that breaks its rule is refused
before anything is lodged, with the rule shown in the form; and the jobs panel says what
each job is about and how long it ran, rows keeping one height."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import new_user, shot, sign_in

pytestmark = pytest.mark.e2e

POEM = b"The rain in Spain\nstays mainly in the plain\nin Spain it rains\n"
RUN = "Count then break on poem.txt"


def _failing_run(console, username: str) -> str:
    """A run of a pipeline whose parallel first order succeeds and whose second step
    fails, lodged for the user; the root's id."""
    from app import auth, pipelines

    with console.domain():
        admin = auth.get_user("admin")
        if not any(p.name == "Count then break" for p in pipelines.list_pipelines(actor=admin)):
            pipelines.create_task(actor=admin, name="count words", command="wc -w {input}", timeout_s=60)
            pipelines.create_task(actor=admin, name="sort words", command="sort {input} -o {output_dir}/sorted.txt",
                                  output_glob="sorted.txt", timeout_s=60)
            pipelines.create_task(actor=admin, name="strict check", command="sh -c 'cat \"$0\"; exit 2' {input}",
                                  timeout_s=60)
            pipelines.create_pipeline(actor=admin, name="Count then break", steps=[
                {"order": 1, "task": "count words"}, {"order": 1, "task": "sort words"},
                {"order": 2, "task": "strict check"}])
        job = pipelines.run_pipeline(actor=auth.get_user(username), pipeline="Count then break",
                                     file_name="poem.txt", content=POEM, parameters={})
        return job.id


def test_a_run_that_failed_later_reads_failed_first_everywhere_named_after_its_pipeline(page, browser, console):
    page.set_default_timeout(20_000)
    page.set_viewport_size({"width": 1280, "height": 900})
    username, password = new_user(console, "runner")
    root = _failing_run(console, username)
    sign_in(page, console, username, path=f"/jobs/{root}", password=password)

    # The root (the first step, which succeeded) shows the run first, as a whole: FAILED.
    card = page.locator(".pipeline-run")
    expect(card.locator(".run-status")).to_have_attribute("data-status", "FAILED", timeout=60_000)
    expect(card.locator(".run-name")).to_have_text(RUN)
    expect(card.locator(".run-summary")).to_contain_text("3 of 3 steps finished, 1 failed")
    expect(card.locator(".pipeline-step")).to_have_count(3)
    heading = page.locator(".job-heading")
    expect(heading).to_have_text("count words")  # the step itself, named after its task
    assert card.bounding_box()["y"] < heading.bounding_box()["y"], "the run comes before its step"
    expect(page.get_by_text("Pipeline step", exact=True)).to_have_count(0)
    expect(page.locator(".run-link")).to_have_text(RUN)  # the Workflow field names the run, not "step"
    children = page.locator(".child-link")  # its parallel sibling, and the next order when it finished last
    expect(children.first).to_be_visible()
    assert set(children.all_inner_texts()) <= {"sort words", "strict check"}, children.all_inner_texts()
    # the history shows paths inside the run, not the server's
    history = page.locator(".timeline")
    expect(history).to_contain_text("Running: wc -w upload/poem.txt (time limit 60 s)")
    expect(history).to_contain_text(re.compile(r"stdout:\s+13 upload/poem\.txt"))
    expect(page.locator("body")).not_to_contain_text("/files/runs/")
    shot(page, "pipeline-run-failed-root")

    # A later step's page: the run first again, its Workflow field naming the run.
    card.locator(".pipeline-step[data-task='strict check'] .step-link").click()
    expect(page.locator(".job-heading")).to_have_text("strict check")
    expect(page.locator(".pipeline-run .run-status")).to_have_attribute("data-status", "FAILED")
    expect(page.locator(".run-link")).to_have_text(RUN)
    expect(page.locator(".timeline")).to_contain_text("/a1/out/sorted.txt (time limit 60 s)")
    expect(page.locator("body")).not_to_contain_text("/files/runs/")
    shot(page, "pipeline-run-failed-step")
    page.locator(".run-link").click()
    expect(page).to_have_url(re.compile(rf"/jobs/{root}/?$"))

    # The jobs panel: the root's row stands for the run, FAILED; steps named after their task.
    page.goto(console.url("/jobs"))
    rows = page.locator(".job-row")
    expect(rows).to_have_count(3)
    run_row = page.locator(f".job-row[data-job-id='{root}']")
    expect(run_row).to_have_attribute("data-status", "FAILED")
    expect(run_row.locator(".job-label")).to_have_text(f"{RUN} · pipeline run")
    labels = sorted(rows.locator(".job-label").all_inner_texts())
    assert labels == [f"{RUN} · pipeline run", f"sort words · {RUN}", f"strict check · {RUN}"], labels
    expect(page.locator(".job-row .job-duration")).to_have_count(3)
    for text in rows.locator(".job-duration").all_inner_texts():
        assert re.fullmatch(r"ran \d+(\.\d)? (ms|s|min)", text), text
    heights = {round(b["height"]) for b in (r.bounding_box() for r in rows.all())}
    assert len(heights) == 1, f"rows of different heights: {heights}"
    shot(page, "jobs-panel-run")

    # The Submissions page (admins): the run by its name, FAILED.
    admin = browser.new_page(viewport={"width": 1280, "height": 900})
    admin.set_default_timeout(20_000)
    try:
        sign_in(admin, console, "admin", f"/admin/submissions?owner={username}")
        row = admin.locator(f".submission-row[data-submission-id='{root}']")
        expect(row).to_have_attribute("data-status", "FAILED")
        expect(row.locator(".submission-link")).to_have_text(RUN)
        expect(row).to_contain_text("Pipeline run")
        expect(row).not_to_contain_text("Pipeline step")
        expect(row).not_to_contain_text("RUN_TASK")
        shot(admin, "admin-submissions-run")
    finally:
        admin.close()


def test_a_parameter_breaking_its_rule_is_refused_before_anything_is_lodged(page, console):
    page.set_default_timeout(20_000)
    username, password = new_user(console, "ruler")
    sign_in(page, console, username, path="/pipelines", password=password)
    page.locator(".pipeline-card[data-pipeline='Text summary']").get_by_role("button", name="Choose").click()
    field = page.locator(".run-card .pipeline-parameter-field[data-parameter=top]")
    expect(field).to_contain_text("integer")
    expect(field).to_contain_text("Must be a whole number from 1 to 100000; default 20. Used by word frequencies.")
    page.locator(".pipeline-drop input[type=file]").set_input_files(
        files=[{"name": "poem.txt", "mimeType": "text/plain", "buffer": POEM}])
    expect(page.locator(".chosen-file")).to_have_text("poem.txt")
    page.get_by_label("top").fill("0")
    page.get_by_role("button", name="Run Text summary").click()
    expect(page.locator(".run-error")).to_have_text(
        "Parameter top must be a whole number from 1 to 100000 (task word frequencies); '0' is not.")
    expect(page).to_have_url(re.compile(r"/pipelines/?(\?.*)?$"))
    shot(page, "pipelines-parameter-refused")
    with console.domain():
        from app import auth, queries

        assert queries.list_jobs(viewer=auth.get_user(username)).jobs == []  # nothing lodged
    page.get_by_label("top").fill("2")
    page.get_by_role("button", name="Run Text summary").click()
    expect(page).to_have_url(re.compile(r"/jobs/[0-9a-f-]{36}/?$"))
    expect(page.locator(".pipeline-run .run-status")).to_have_attribute("data-status", "SUCCEEDED", timeout=60_000)


def test_the_jobs_panel_says_what_each_job_is_about(page, console):
    page.set_default_timeout(20_000)
    username, password = new_user(console, "namer")
    from app import auth, launch, registry

    names = ["Daily rainfall 1990-2020", "Streamflow forecast", "Soil moisture grid"]
    with console.domain():
        user = auth.get_user(username)
        for n in names:
            registry.create_item(actor=user, subtype="DATASET", display_name=n)
        launch.launch_batch(actor=auth.get_user("admin"), job_type="SYSTEM", job_subtype="NOOP",
                            payloads=[{}, {}], label="Nightly checks", owner=username)
    sign_in(page, console, username, path="/jobs", password=password)
    rows = page.locator(".job-row")
    expect(rows).to_have_count(8, timeout=30_000)  # 3 creations, their 3 lodges, 2 checks
    expect(page.locator(".job-row[data-status=SUCCEEDED]")).to_have_count(8, timeout=60_000)
    labels = rows.locator(".job-label").all_inner_texts()
    for n in names:
        assert f"Register creation · {n}" in labels, labels
    assert labels.count("Diagnostic no-op · Nightly checks") == 2, labels
    assert len({t for t in labels if t.startswith("Register creation")}) == 3
    expect(page.locator(".job-row .job-duration")).to_have_count(8)
    heights = {round(b["height"]) for b in (r.bounding_box() for r in rows.all())}
    assert len(heights) == 1, f"rows of different heights: {heights}"
    shot(page, "jobs-panel-subjects")
