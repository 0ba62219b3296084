"""A pipeline run shown as a run: its steps as a graph (parallel steps side by side in
lanes, coloured by status, each a link to its step; the order that will never start
drawn as planned), every file of every step in one table and downloaded as one zip,
Run again landing on the new run, and the pipeline's past runs on the Pipelines page."""

from __future__ import annotations

import re
import zipfile

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import ARTIFACTS, new_user, shot, sign_in

pytestmark = pytest.mark.e2e

POEM = b"The rain in Spain\nstays mainly in the plain\nin Spain it rains\n"
PIPELINE = "Fan out then stop"
RUN = f"{PIPELINE} on poem.txt"


def _run(console, username: str) -> str:
    """A run whose first order (two steps side by side) succeeds keeping a file each,
    whose second order fails, so its third stays planned; the root's id."""
    from app import auth, pipelines

    with console.domain():
        admin = auth.get_user("admin")
        if not any(p.name == PIPELINE for p in pipelines.list_pipelines(actor=admin)):
            pipelines.create_task(actor=admin, name="fan sort", command="sort {input} -o {output_dir}/sorted.txt",
                                  output_glob="sorted.txt", timeout_s=60)
            pipelines.create_task(actor=admin, name="fan count",
                                  command="sh -c 'wc -l < \"$0\" > \"$1/lines.txt\"' {input} {output_dir}",
                                  output_glob="lines.txt", timeout_s=60)
            pipelines.create_task(actor=admin, name="fan refuse", command="sh -c 'exit 3'", timeout_s=60)
            pipelines.create_pipeline(actor=admin, name=PIPELINE, steps=[
                {"order": 1, "task": "fan sort"}, {"order": 1, "task": "fan count"},
                {"order": 2, "task": "fan refuse"}, {"order": 3, "task": "fan sort"}])
        return pipelines.run_pipeline(actor=auth.get_user(username), pipeline=PIPELINE, file_name="poem.txt",
                                      content=POEM, parameters={}).id


def test_a_run_reads_as_a_graph_its_files_download_as_one_zip_and_it_runs_again(page, console, tmp_path):
    page.set_default_timeout(20_000)
    page.set_viewport_size({"width": 1280, "height": 1000})
    username, password = new_user(console, "grapher")
    card = page.locator(".pipeline-run")
    graph = card.locator(".run-graph")
    # The backend paused, so the page is open before any step runs: the graph starts with
    # order 1 waiting and the later orders planned, and what follows arrives live.
    with console.paused("pipeline"):
        root = _run(console, username)
        sign_in(page, console, username, path=f"/jobs/{root}", password=password)
        expect(graph.locator(".run-node-body[data-order='1'][data-status=PENDING]")).to_have_count(2)
        expect(graph.locator(".run-node-body[data-status=PLANNED]")).to_have_count(2)
        expect(card.locator(".run-files-empty")).to_be_visible()
        expect(card.locator(".run-download-all")).to_be_disabled()
        shot(page, "run-graph-waiting")
    expect(card.locator(".run-status")).to_have_attribute("data-status", "FAILED", timeout=60_000)
    nodes = graph.locator(".run-node-body")
    expect(nodes).to_have_count(4)
    # statuses as the pushes left them: both lanes of order 1 succeeded, order 2 failed, order 3 planned
    expect(graph.locator(".run-node-body[data-order='1'][data-status=SUCCEEDED]")).to_have_count(2)
    expect(graph.locator(".run-node-body[data-order='2']")).to_have_attribute("data-status", "FAILED")
    planned = graph.locator(".run-node-body[data-order='3']")
    expect(planned).to_have_attribute("data-status", "PLANNED")
    expect(planned).to_contain_text("planned")
    expect(planned.locator("a")).to_have_count(0)  # nothing to open yet
    # lanes: the parallel steps side by side on one row, each order below the one before
    lanes = [graph.locator(f".run-node-body[data-order='1'][data-lane='{n}']").bounding_box() for n in (1, 2)]
    assert abs(lanes[0]["y"] - lanes[1]["y"]) < 2 and lanes[1]["x"] > lanes[0]["x"] + lanes[0]["width"], lanes
    second = graph.locator(".run-node-body[data-order='2']").bounding_box()
    assert second["y"] > lanes[0]["y"] + lanes[0]["height"]
    assert lanes[0]["x"] < second["x"] + second["width"] / 2 < lanes[1]["x"] + lanes[1]["width"]  # centred
    # the join: every step of order 1 to the step of order 2, and order 2 to the planned one
    expect(graph.locator(".react-flow__edge")).to_have_count(3)
    shot(page, "run-graph-and-files")
    card.screenshot(path=str(ARTIFACTS / "run-card.png"))  # the run card alone, at full size

    # every file of every step, in one place
    files = card.locator(".run-file")
    expect(files).to_have_count(2)
    assert sorted(files.evaluate_all("rs => rs.map(r => r.dataset.member)")) == ["1-fan-count/lines.txt",
                                                                                  "1-fan-sort/sorted.txt"]
    expect(card.locator(".run-file[data-member='1-fan-sort/sorted.txt'] .run-file-step")).to_contain_text("fan sort")
    with page.expect_download() as got:
        card.locator(".run-download-all").click()
    saved = tmp_path / "run.zip"
    got.value.save_as(saved)
    assert got.value.suggested_filename.endswith(".zip")
    with zipfile.ZipFile(saved) as z:
        assert sorted(z.namelist()) == ["1-fan-count/lines.txt", "1-fan-sort/sorted.txt"]
        assert z.read("1-fan-count/lines.txt").strip() == b"3"
    with page.expect_download() as one:
        card.locator(".run-file[data-member='1-fan-sort/sorted.txt']").get_by_role("button").click()
    assert one.value.suggested_filename == "sorted.txt"

    # a node opens its step
    graph.locator(".run-node-body[data-order='2'] a").click()
    expect(page.locator(".job-heading")).to_have_text("fan refuse")
    expect(page).not_to_have_url(re.compile(rf"/jobs/{root}/?$"))
    page.locator(".run-link").click()
    expect(page).to_have_url(re.compile(rf"/jobs/{root}/?$"))

    # Run again: a new run of the same file with the same parameters, and its page opens
    page.locator(".pipeline-run .run-again").click()
    expect(page).not_to_have_url(re.compile(rf"/jobs/{root}/?$"), timeout=30_000)
    expect(page).to_have_url(re.compile(r"/jobs/[0-9a-f-]{36}/?$"))
    new = re.search(r"/jobs/([0-9a-f-]{36})", page.url).group(1)
    expect(page.locator(".pipeline-run .run-name")).to_have_text(RUN)
    expect(page.locator(".pipeline-run .run-status")).to_have_attribute("data-status", "FAILED", timeout=60_000)
    expect(page.locator(".pipeline-run .run-node-body[data-order='3']")).to_have_attribute("data-status", "PLANNED")
    with console.domain():
        from app.launch import get_job

        assert get_job(new).payload["upload"]["sha256"] == get_job(root).payload["upload"]["sha256"]

    # the pipeline's past runs, newest first, each a link to its run
    page.goto(console.url("/pipelines"))
    page.locator(f".pipeline-card[data-pipeline='{PIPELINE}']").get_by_role("button", name="Choose").click()
    past = page.locator(".past-runs-card .past-run")
    expect(past).to_have_count(2)
    assert past.evaluate_all("rs => rs.map(r => r.dataset.runId)") == [new, root]
    expect(past.first).to_have_attribute("data-status", "FAILED")
    expect(page.locator(".past-runs-card")).to_contain_text("Your past runs of " + PIPELINE)
    shot(page, "pipelines-past-runs")
    past.nth(1).locator(".past-run-link").click()
    expect(page).to_have_url(re.compile(rf"/jobs/{root}/?$"))

    # on a phone: the card fits the width, the graph shrinks to fit
    page.set_viewport_size({"width": 390, "height": 900})
    expect(page.locator(".pipeline-run .run-node-body")).to_have_count(4)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    shot(page, "run-card-phone")


def test_past_runs_load_more_a_page_at_a_time(page, console):
    page.set_default_timeout(20_000)
    username, password = new_user(console, "pager")
    roots = [_run(console, username) for _ in range(12)]
    sign_in(page, console, username, path="/pipelines", password=password)
    page.locator(f".pipeline-card[data-pipeline='{PIPELINE}']").get_by_role("button", name="Choose").click()
    past = page.locator(".past-runs-card .past-run")
    expect(past).to_have_count(10)
    page.locator(".past-runs-more").click()
    expect(past).to_have_count(12)
    expect(page.locator(".past-runs-more")).to_have_count(0)
    assert past.evaluate_all("rs => rs.map(r => r.dataset.runId)") == roots[::-1]


def test_a_public_pipelines_run_signed_out_downloads_its_zip_and_runs_again(page, console, tmp_path):
    """Reached by its address alone: the graph, the files' zip, and Run again (run
    anonymously too, by the visitor's address)."""
    from app import aa_compat, auth, pipelines

    page.set_default_timeout(20_000)
    with console.domain():
        admin = auth.get_user("admin")
        if not any(p.name == "Open fan" for p in pipelines.list_pipelines(actor=admin)):
            pipelines.create_task(actor=admin, name="open sort", command="sort {input} -o {output_dir}/s.txt",
                                  output_glob="s.txt", timeout_s=60)
            pipelines.create_pipeline(actor=admin, name="Open fan", public=True,
                                      steps=[{"order": 1, "task": "open sort"}, {"order": 1, "task": "open sort"}])
        root = pipelines.run_pipeline(actor=aa_compat.anonymous_user(), pipeline="Open fan", file_name="poem.txt",
                                      content=POEM, parameters={}, client_addr="127.0.0.1").id
    page.goto(console.url(f"/jobs/{root}"))
    card = page.locator(".pipeline-run")
    expect(card.locator(".run-status")).to_have_attribute("data-status", "SUCCEEDED", timeout=60_000)
    expect(card.locator(".run-node-body[data-order='1'][data-status=SUCCEEDED]")).to_have_count(2)
    expect(card.locator(".run-file")).to_have_count(2)
    # two files of one name from the same task side by side: their lanes tell them apart
    assert sorted(card.locator(".run-file-step").all_inner_texts()) == ["order 1 open sort · lane 1",
                                                                       "order 1 open sort · lane 2"]
    with page.expect_download() as got:
        card.locator(".run-download-all").click()
    got.value.save_as(tmp_path / "open.zip")
    with zipfile.ZipFile(tmp_path / "open.zip") as z:  # the same task twice: the second lane's folder told apart
        assert sorted(z.namelist()) == ["1-open-sort-2/s.txt", "1-open-sort/s.txt"]
    shot(page, "public-run-graph-signed-out")
    card.locator(".run-again").click()
    expect(page).not_to_have_url(re.compile(rf"/jobs/{root}/?$"), timeout=30_000)
    new = re.search(r"/jobs/([0-9a-f-]{36})", page.url).group(1)
    expect(page.locator(".pipeline-run .run-status")).to_have_attribute("data-status", "SUCCEEDED", timeout=60_000)
    with console.domain():
        from app.launch import get_job

        job = get_job(new)
        assert job.owner == "anonymous" and job.client_addr
