"""A public pipeline walked signed out: the Pipelines page lists only the public ones,
runs one anonymously on an upload, the run's page follows it to the end by its id
alone, says how long the pipeline usually takes once it has history; nothing else
(the jobs panel, another pipeline) opens without signing in. Its A_A routes answer on
the console's port."""

from __future__ import annotations

import json
import re
import urllib.request

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import at, shot

pytestmark = pytest.mark.e2e

NAME = "Public sort"
LINES = b"pear\napple\nfig\n"


def _public_pipeline(console) -> None:
    from app import auth, pipelines

    with console.domain():
        admin = auth.get_user("admin")
        if not any(p.name == NAME for p in pipelines.list_pipelines(actor=admin)):
            pipelines.create_task(actor=admin, name="public sort lines", command="sort {input} -o {output_dir}/s.txt",
                                  output_glob="s.txt", timeout_s=60)
            pipelines.create_pipeline(actor=admin, name=NAME, public=True,
                                      steps=[{"order": 1, "task": "public sort lines"}])


def test_a_public_pipeline_runs_signed_out(page, console):
    page.set_default_timeout(20_000)
    _public_pipeline(console)
    page.goto(console.url("/pipelines"))
    expect(page.locator(".anonymous-note")).to_be_visible()
    expect(page.locator(f".pipeline-card[data-pipeline='{NAME}']")).to_be_visible()
    expect(page.locator(".pipeline-card[data-pipeline='Text summary']")).to_have_count(0)  # not public
    page.locator(f".pipeline-card[data-pipeline='{NAME}']").get_by_role("button", name="Choose").click()
    page.locator(".pipeline-drop input[type=file]").set_input_files(
        files=[{"name": "fruit.txt", "mimeType": "text/plain", "buffer": LINES}])
    expect(page.locator(".chosen-file")).to_have_text("fruit.txt")
    page.get_by_role("button", name=f"Run {NAME}").click()
    expect(page).to_have_url(re.compile(r"/jobs/[0-9a-f-]{36}/?$"))
    run_url = page.url
    root = re.search(r"/jobs/([0-9a-f-]{36})", run_url).group(1)
    expect(page.locator(".pipeline-run .run-status")).to_have_attribute("data-status", "SUCCEEDED", timeout=60_000)
    shot(page, "public-run-signed-out")

    # The run was anonymous, known by its address; its A_A answer is on the same port.
    with console.domain():
        from app.launch import get_job

        job = get_job(root)
        assert job.owner == "anonymous" and job.client_addr
    with urllib.request.urlopen(console.url(f"/analytics_automated/submission/single/{root}")) as r:
        sub = json.loads(r.read())
    assert (sub["job_name"], sub["state"]) == (NAME, 2)
    with urllib.request.urlopen(console.url("/analytics_automated" + sub["results"][0]["data_path"])) as r:
        assert r.read() == b"apple\nfig\npear\n"

    # Nothing else opens signed out.
    page.goto(console.url("/jobs"))
    expect(page).to_have_url(re.compile(r"/sign-in"))

    # With a complete run behind it, the form and the run's page say how long it takes.
    page.goto(console.url("/pipelines"))
    page.locator(f".pipeline-card[data-pipeline='{NAME}']").get_by_role("button", name="Choose").click()
    expect(page.locator(".pipeline-estimate")).to_contain_text(f"{NAME} usually takes about")
    page.goto(run_url)
    expect(page.locator(".run-estimate")).to_contain_text("usually takes about")
    assert page.url == run_url or at(console, f"/jobs/{root}").match(page.url)
