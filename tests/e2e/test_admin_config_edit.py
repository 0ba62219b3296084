"""The configuration page's forms as an admin uses them: a task created with a parameter (a
bad flag and an unknown placeholder each refused at its field), edited and duplicated; a
pipeline of two steps side by side and one after, its preview read before saving, then
seen on the Pipelines page ready to run; both deleted (a task that is a step refused). A
pipeline's steps reordered by dragging their grips (and by a number typed), saved in
the order shown."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import shot, sign_in

pytestmark = pytest.mark.e2e

TASK = "head lines e2e"
PIPELINE = "Edited in the console"


def _pick(page, within, option: str) -> None:
    """Choose an option of a Radix select inside `within`."""
    within.get_by_role("combobox").click()
    page.get_by_role("option", name=option, exact=True).click()


def test_admin_creates_edits_copies_and_deletes_tasks_and_pipelines(page, console, request):
    page.set_default_timeout(15_000)
    page.set_viewport_size({"width": 1280, "height": 900})
    from app import auth, config_import

    with console.domain():
        original = config_import.export_configuration(actor=auth.get_user("admin"))

    def restore():
        with console.domain():
            config_import.import_configuration(actor=auth.get_user("admin"), content=original)
    request.addfinalizer(restore)  # the console serves the other tests of the package

    sign_in(page, console, "admin", "/admin/configuration")
    expect(page.locator(".config-task-row[data-task='line count']")).to_be_visible()

    # A new task with a parameter; a flag that is no flag is refused at that parameter's row.
    page.get_by_role("button", name="New task").click()
    form = page.locator(".task-form")
    form.locator("input[name=name]").fill(TASK)
    form.locator("input[name=description]").fill("The first lines of a file.")
    form.locator("textarea[name=command]").fill("head -n {count} {input}")
    form.get_by_role("button", name="Add a parameter").click()
    row = form.locator(".param-row").nth(0)
    row.locator(".param-name input").fill("lines")
    row.locator(".param-flag input").fill("lines")
    row.locator(".param-default input").fill("5")
    form.get_by_role("button", name="Create the task").click()
    expect(row.locator(".field-error[data-field='parameters.0.flag']")).to_contain_text(
        "Flag 'lines' of parameter lines must look like")
    shot(page, "admin-config-task-refused-flag")

    # The flag fixed, the unknown placeholder {count} is refused at the command.
    row.locator(".param-flag input").fill("")
    form.get_by_role("button", name="Create the task").click()
    expect(form.locator(".field-error[data-field=command]")).to_contain_text("Unknown placeholder {count}")
    expect(row.locator(".field-error")).to_have_count(0)
    form.locator("textarea[name=command]").fill("head -n {lines} {input}")
    expect(form.locator(".field-error[data-field=command]")).to_have_count(0)  # gone once the field changes
    _pick(page, row, "integer")
    row.locator(".param-minimum input").fill("1")
    shot(page, "admin-config-task-form")
    form.get_by_role("button", name="Create the task").click()
    expect(page.get_by_text(f"Task {TASK} created.")).to_be_visible()
    task_row = page.locator(f".config-task-row[data-task='{TASK}']")
    expect(task_row).to_contain_text("head -n {lines} {input}")
    expect(task_row).to_contain_text("lines=5")

    # Edited: the form opens with what is configured.
    task_row.get_by_role("button", name="Edit").click()
    expect(form.locator("input[name=name]")).to_have_value(TASK)
    expect(form.locator(".param-row").nth(0).locator(".param-name input")).to_have_value("lines")
    form.locator("input[name=description]").fill("The first lines of a file (edited).")
    form.locator("input[name=timeout_s]").fill("120")
    form.get_by_role("button", name="Save the task").click()
    expect(page.get_by_text(f"Task {TASK} saved.")).to_be_visible()
    expect(task_row).to_contain_text("(edited)")

    # Duplicated: a copy with its own name and the same parameters.
    task_row.get_by_role("button", name="Duplicate").click()
    expect(form.locator("input[name=name]")).to_have_value(f"Copy of {TASK}")
    form.get_by_role("button", name="Create the task").click()
    copy_row = page.locator(f".config-task-row[data-task='Copy of {TASK}']")
    expect(copy_row).to_contain_text("lines=5")

    # A pipeline: two steps of order 1 side by side, one of order 2 after them.
    page.get_by_role("button", name="New pipeline").click()
    pform = page.locator(".pipeline-form")
    pform.locator("input[name=name]").fill(PIPELINE)
    steps = pform.locator(".step-row")
    _pick(page, steps.nth(0), TASK)
    pform.get_by_role("button", name="Add a step").click()
    steps.nth(1).locator(".step-order input").fill("1")
    _pick(page, steps.nth(1), "line count")
    pform.get_by_role("button", name="Add a step").click()
    expect(steps.nth(2).locator(".step-order input")).to_have_value("2")
    _pick(page, steps.nth(2), f"Copy of {TASK}")
    preview = pform.locator(".pipeline-preview")
    expect(preview.locator(".preview-lane[data-order='1']")).to_contain_text(
        f"{TASK} and line count run side by side first")
    expect(preview.locator(".preview-lane[data-order='2']")).to_contain_text(
        f"Copy of {TASK} runs, once order 1 has succeeded")
    graph = preview.locator(".run-graph")  # the run view's graph, every step planned
    expect(graph.locator(".run-node-body[data-order='1']")).to_have_count(2)
    expect(graph.locator(f".run-node-body[data-order='2'][data-task='Copy of {TASK}']")).to_have_count(1)
    shot(page, "admin-config-pipeline-form")
    pform.get_by_role("button", name="Create the pipeline").click()
    expect(page.get_by_text(f"Pipeline {PIPELINE} created.")).to_be_visible()
    prow = page.locator(f".config-pipeline-row[data-pipeline='{PIPELINE}']")
    expect(prow).to_contain_text(f"1. {TASK}, line count (in parallel) → 2. Copy of {TASK}")

    # Editing it says a run keeps what it started with, and how many runs use it now.
    prow.get_by_role("button", name="Edit").click()
    expect(pform).to_contain_text("A run under way keeps the pipeline it started with")
    expect(pform.locator(".pipeline-live")).to_have_text("No run under way uses it.")
    pform.get_by_role("button", name="Cancel").click()
    shot(page, "admin-config-edited")

    # On the Pipelines page, ready to run.
    page.goto(console.url("/pipelines"))
    card = page.locator(f".pipeline-card[data-pipeline='{PIPELINE}']")
    expect(card).to_contain_text("3 step(s)")
    card.get_by_role("button", name="Choose").click()
    expect(page.get_by_role("button", name=f"Run {PIPELINE}")).to_be_visible()

    # Deleting: a task that is a step is refused (said in the dialog); the pipeline, then the tasks.
    page.goto(console.url("/admin/configuration"))
    task_row.get_by_role("button", name="Delete").click()
    page.locator(".confirm-delete").click()
    expect(page.locator(".delete-error")).to_contain_text(f"is a step of {PIPELINE}")
    page.get_by_role("button", name="Keep it").click()
    prow.get_by_role("button", name="Delete").click()
    page.locator(".confirm-delete").click()
    expect(prow).to_have_count(0)
    for row in (task_row, copy_row):
        row.get_by_role("button", name="Delete").click()
        page.locator(".confirm-delete").click()
        expect(row).to_have_count(0)
    expect(page.locator(".config-task-row[data-task='line count']")).to_be_visible()


DRAGGED = "Reordered by dragging"


def test_admin_reorders_a_pipelines_steps_by_dragging_and_the_saved_order_is_the_one_shown(page, console, request):
    """Steps dragged by their grip (the browser's own drag and drop) and renumbered, a
    number typed still reorders, equal numbers side by side; what is saved is that order."""
    page.set_default_timeout(15_000)
    page.set_viewport_size({"width": 1280, "height": 900})
    from app import auth, config_import
    from app.pipelines import config

    with console.domain():
        original = config_import.export_configuration(actor=auth.get_user("admin"))

    def restore():
        with console.domain():
            config_import.import_configuration(actor=auth.get_user("admin"), content=original)
    request.addfinalizer(restore)

    sign_in(page, console, "admin", "/admin/configuration")
    page.get_by_role("button", name="New pipeline").click()
    pform = page.locator(".pipeline-form")
    pform.locator("input[name=name]").fill(DRAGGED)
    rows = pform.locator(".step-drag")
    for i, task in enumerate(("line count", "sort lines", "word frequencies")):
        if i:
            pform.get_by_role("button", name="Add a step").click()
        expect(rows.nth(i).locator(".step-order input")).to_have_value(str(i + 1))
        _pick(page, rows.nth(i), task)

    def shown() -> list:
        return [(r.get_attribute("data-order"), r.get_attribute("data-task")) for r in
                pform.locator(".step-row").all()]

    def expect_rows(*want) -> None:
        for i, (order, task) in enumerate(want):
            row = rows.nth(i).locator(".step-row")
            expect(row).to_have_attribute("data-task", task)
            expect(row.locator(".step-order input")).to_have_value(order)
        expect(rows).to_have_count(len(want))

    # word frequencies dragged onto line count: it takes its place (moved up: before it)
    rows.nth(2).locator(".step-grip").drag_to(rows.nth(0))
    expect_rows(("1", "word frequencies"), ("2", "line count"), ("3", "sort lines"))
    preview = pform.locator(".pipeline-preview")
    expect(preview.locator(".preview-lane[data-order='1']")).to_contain_text("word frequencies runs first")

    # the number still reorders (the keyboard's way): sort lines beside line count
    rows.nth(2).locator(".step-order input").fill("2")
    expect(preview.locator(".preview-lane[data-order='2']")).to_contain_text(
        "line count and sort lines run side by side")
    # word frequencies dragged onto sort lines (moved down: after it), alone after the pair
    rows.nth(0).locator(".step-grip").drag_to(rows.nth(2))
    expect_rows(("1", "line count"), ("1", "sort lines"), ("2", "word frequencies"))
    shot(page, "admin-config-pipeline-dragged")
    assert shown() == [("1", "line count"), ("1", "sort lines"), ("2", "word frequencies")]

    pform.get_by_role("button", name="Create the pipeline").click()
    expect(page.get_by_text(f"Pipeline {DRAGGED} created.")).to_be_visible()
    prow = page.locator(f".config-pipeline-row[data-pipeline='{DRAGGED}']")
    expect(prow).to_contain_text("1. line count, sort lines (in parallel) → 2. word frequencies")
    with console.domain():
        saved = config.get_pipeline(actor=auth.get_user("admin"), pipeline=DRAGGED)
    assert [(st.order, st.task) for st in saved.steps] == [(1, "line count"), (1, "sort lines"),
                                                             (2, "word frequencies")]

    # Editing it, a drag and a save: the saved order follows again.
    prow.get_by_role("button", name="Edit").click()
    expect_rows(("1", "line count"), ("1", "sort lines"), ("2", "word frequencies"))
    rows.nth(2).locator(".step-grip").drag_to(rows.nth(1))  # up, between the pair: it joins them
    expect_rows(("1", "line count"), ("1", "word frequencies"), ("1", "sort lines"))
    pform.get_by_role("button", name="Save the pipeline").click()
    expect(page.get_by_text(f"Pipeline {DRAGGED} saved.")).to_be_visible()
    with console.domain():
        saved = config.get_pipeline(actor=auth.get_user("admin"), pipeline=DRAGGED)
    assert sorted((st.order, st.task) for st in saved.steps) == [(1, "line count"), (1, "sort lines"),
                                                                   (1, "word frequencies")]
