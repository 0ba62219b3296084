"""An admin's walk from nothing to a run and a change, in the console, with the pool's real
workers: a backend created (a bad max workers refused at its field), a task on it with a
parameter and an environment variable (a bad name refused at the variables), a pipeline
of it run on the Pipelines page; a second run waits on the paused backend, and the
task's form lists it; the task changed (its variable and version), the waiting run still
runs the definition it was lodged with (its history says the task was changed since)
and a run lodged after the save runs the new one, each record naming what it ran; the
backend, still the task's, is not deleted (the dialog names the task)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import shot, sign_in

pytestmark = pytest.mark.e2e

BACKEND = "walk-e2e"
TASK = "greet e2e"
PIPELINE = "Walk e2e"
POEM = b"first line\nsecond line\nthird line\n"


def _pick(page, within, option: str) -> None:
    within.get_by_role("combobox").click()
    page.get_by_role("option", name=option, exact=True).click()


def _run_on_the_pipelines_page(page, console) -> str:
    page.goto(console.url("/pipelines"))
    page.locator(f".pipeline-card[data-pipeline='{PIPELINE}']").get_by_role("button", name="Choose").click()
    page.locator(".pipeline-drop input[type=file]").set_input_files(
        files=[{"name": "poem.txt", "mimeType": "text/plain", "buffer": POEM}])
    expect(page.locator(".chosen-file")).to_have_text("poem.txt")
    page.get_by_role("button", name=f"Run {PIPELINE}").click()
    expect(page).to_have_url(re.compile(r"/jobs/[0-9a-f-]{36}/?$"))
    return re.search(r"/jobs/([0-9a-f-]{36})", page.url).group(1)


def _record_task(console, job_id: str) -> dict:
    from app import auth, records

    with console.domain():
        return records.record_for(auth.get_user("admin"), job_id).code["task"]


def test_an_admin_creates_a_backend_task_and_pipeline_runs_it_and_changes_the_task(page, console, request):
    page.set_default_timeout(20_000)
    page.set_viewport_size({"width": 1280, "height": 900})
    from app import auth, config_import

    with console.domain():
        original = config_import.export_configuration(actor=auth.get_user("admin"))

    def restore():  # the console serves the other tests of the package
        from app import backends

        with console.domain():
            admin = auth.get_user("admin")
            config_import.import_configuration(actor=admin, content=original)
            if BACKEND in backends.backend_configs(refresh=True):
                backends.delete_backend(actor=admin, name=BACKEND)
    request.addfinalizer(restore)

    sign_in(page, console, "admin", "/admin/configuration")

    # A backend: 500 workers is refused at its field, 1 is taken.
    page.get_by_role("button", name="New backend").click()
    bform = page.locator(".backend-form")
    bform.locator("input[name=name]").fill(BACKEND)
    bform.locator("input[name=description]").fill("The walk's own queue and workers")
    bform.locator("input[name=max_workers]").fill("500")
    bform.get_by_role("button", name="Create the backend").click()
    expect(bform.locator(".field-error[data-field=max_workers]")).to_contain_text(
        "Max workers must be between 0 and 100; 500 is out of range.")
    shot(page, "admin-config-backend-form")
    bform.locator("input[name=max_workers]").fill("1")
    expect(bform.locator(".field-error")).to_have_count(0)  # gone once the field changes
    bform.locator("input[name=idle_timeout_s]").fill("30")
    bform.get_by_role("button", name="Create the backend").click()
    expect(page.get_by_text(f"Backend {BACKEND} created.")).to_be_visible()
    brow = page.locator(f".config-backend-row[data-backend='{BACKEND}']")
    expect(brow).to_contain_text("The walk's own queue and workers")
    expect(brow).to_contain_text("30 s")

    # A task on it: a command with a parameter and an environment variable (a bad name refused).
    page.get_by_role("button", name="New task").click()
    form = page.locator(".task-form")
    form.locator("input[name=name]").fill(TASK)
    _pick(page, form.locator(".field-backend"), BACKEND)
    form.locator("textarea[name=command]").fill("sh -c 'echo \"$GREETING\"; head -n \"$0\" \"$1\"' {lines} {input}")
    form.get_by_role("button", name="Add a parameter").click()
    prow = form.locator(".param-row").nth(0)
    prow.locator(".param-name input").fill("lines")
    prow.locator(".param-default input").fill("1")
    form.get_by_role("button", name="Add a variable").click()
    env = form.locator(".env-row").nth(0)
    env.locator(".env-name input").fill("1GREETING")
    env.locator(".env-value input").fill("hello from v1")
    form.locator("input[name=software_version]").fill("greeter v1")
    form.locator("input[name=retries]").fill("-1")
    form.get_by_role("button", name="Create the task").click()
    expect(form.locator(".field-error[data-field=environment]")).to_contain_text(
        "'1GREETING' is not a variable name")
    shot(page, "admin-config-task-environment")
    env.locator(".env-name input").fill("GREETING")
    expect(form.locator(".field-error[data-field=environment]")).to_have_count(0)
    form.get_by_role("button", name="Create the task").click()
    expect(form.locator(".field-error[data-field=retries]")).to_contain_text("retries must be from 0 to 10")
    form.locator("input[name=retries]").fill("1")
    form.get_by_role("button", name="Create the task").click()
    expect(page.get_by_text(f"Task {TASK} created.")).to_be_visible()
    trow = page.locator(f".config-task-row[data-task='{TASK}']")
    expect(trow).to_contain_text("GREETING=hello from v1")
    expect(trow).to_contain_text("greeter v1")

    # A pipeline of it.
    page.get_by_role("button", name="New pipeline").click()
    pform = page.locator(".pipeline-form")
    pform.locator("input[name=name]").fill(PIPELINE)
    _pick(page, pform.locator(".step-row").nth(0), TASK)
    pform.get_by_role("button", name="Create the pipeline").click()
    expect(page.get_by_text(f"Pipeline {PIPELINE} created.")).to_be_visible()

    # Run it: the pool serves the new backend; the step echoes the variable, then the first line.
    first = _run_on_the_pipelines_page(page, console)
    expect(page.locator(".pipeline-run .run-status")).to_have_attribute("data-status", "SUCCEEDED", timeout=60_000)
    expect(page.get_by_text("hello from v1").first).to_be_visible()
    told = _record_task(console, first)
    assert (told["software_version"], told["environment"]) == ("greeter v1", {"GREETING": "hello from v1"})

    # A second run waits on the paused backend; the task's form lists it as under way.
    with console.paused(BACKEND):
        second = _run_on_the_pipelines_page(page, console)
        page.goto(console.url("/admin/configuration"))
        trow.get_by_role("button", name="Edit").click()
        expect(form.locator(".task-live")).to_have_text("1 run under way uses it.")
        link = form.locator(f".live-run[data-run='{second}']")
        expect(link).to_have_text(f"{PIPELINE} on poem.txt")
        expect(link).to_have_attribute("href", re.compile(f"/jobs/{second}"))
        expect(form.locator(f".live-run[data-run='{first}']")).to_have_count(0)  # it ended
        form.locator(".env-row").nth(0).locator(".env-value input").fill("hello from v2")
        form.locator("input[name=software_version]").fill("greeter v2")
        form.get_by_role("button", name="Save the task").click()
        expect(page.get_by_text(f"Task {TASK} saved.")).to_be_visible()
        expect(trow).to_contain_text("GREETING=hello from v2")

    # Resumed: the waiting run keeps the version it was lodged with, and says the task changed since.
    page.goto(console.url(f"/jobs/{second}"))
    expect(page.locator(".pipeline-run .run-status")).to_have_attribute("data-status", "SUCCEEDED", timeout=60_000)
    expect(page.get_by_text("hello from v1").first).to_be_visible()
    expect(page.get_by_text(f"Task {TASK} was changed since this run was lodged").first).to_be_visible()
    told = _record_task(console, second)
    assert (told["software_version"], told["environment"]) == ("greeter v1", {"GREETING": "hello from v1"})
    # A run lodged after the save runs the new definition; the first run's record keeps the old one.
    third = _run_on_the_pipelines_page(page, console)
    expect(page.locator(".pipeline-run .run-status")).to_have_attribute("data-status", "SUCCEEDED", timeout=60_000)
    expect(page.get_by_text("hello from v2").first).to_be_visible()
    told = _record_task(console, third)
    assert (told["software_version"], told["environment"]) == ("greeter v2", {"GREETING": "hello from v2"})
    told = _record_task(console, first)
    assert (told["software_version"], told["environment"]) == ("greeter v1", {"GREETING": "hello from v1"})

    # The backend still runs the task: not deleted, the dialog names it.
    page.goto(console.url("/admin/configuration"))
    brow.get_by_role("button", name="Delete").click()
    page.locator(".confirm-backend-delete").click()
    expect(page.locator(".backend-delete-error")).to_contain_text(f"runs task {TASK}")
    page.get_by_role("button", name="Keep it").click()
    expect(brow).to_be_visible()
    # Duplicated: the same settings under a name of its own.
    brow.get_by_role("button", name="Duplicate").click()
    expect(bform.locator("input[name=name]")).to_have_value(f"{BACKEND}-copy")
    expect(bform.locator("input[name=idle_timeout_s]")).to_have_value("30")
    bform.get_by_role("button", name="Create the backend").click()
    copy_row = page.locator(f".config-backend-row[data-backend='{BACKEND}-copy']")
    expect(copy_row).to_contain_text("The walk's own queue and workers")
    copy_row.get_by_role("button", name="Delete").click()
    page.locator(".confirm-backend-delete").click()
    expect(copy_row).to_have_count(0)
