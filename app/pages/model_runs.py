"""Register model runs in bulk (/model-runs/new): template, upload, check, lodge."""

from __future__ import annotations

import reflex as rx

from app import routes
from app.bulk import COLUMNS, REQUIRED_COLUMNS
from app.components.layout import page
from app.state.bulk import UPLOAD_ID, BulkState, PreviewRow, ProblemRow

COLUMN_HELP = {
    "display_name": "name of the model run",
    "description": "what the run did",
    "workflow_template_id": "id of a model run workflow template item",
    "modeller_id": "id of the person who ran the model",
    "start_time": "ISO 8601 (2024-03-01T09:00:00Z) or seconds since 1970",
    "end_time": "same form; not before start_time",
    "requesting_organisation_id": "id of an organisation",
    "study_id": "id of a study",
    "model_version": "free text",
    "inputs": "TEMPLATE_ID:DATASET_ID pairs separated by ';'",
    "outputs": "TEMPLATE_ID:DATASET_ID pairs separated by ';'",
    "annotations": "key=value pairs separated by ';'",
}


def _step(n: str, title: str, *children: rx.Component) -> rx.Component:
    return rx.card(
        rx.hstack(
            rx.center(rx.text(n, weight="bold", color="var(--accent-contrast)"), width="2em", height="2em",
                      border_radius="50%", background="var(--accent-9)", flex_shrink="0"),
            rx.vstack(rx.heading(title, size="4"), *children, spacing="3", width="100%"),
            spacing="4",
            align="start",
            width="100%",
        ),
        width="100%",
    )


def _columns() -> rx.Component:
    return rx.accordion.root(
        rx.accordion.item(
            header="The columns",
            content=rx.table.root(rx.table.body(*[
                rx.table.row(rx.table.cell(rx.code(c)),
                             rx.table.cell(rx.text(COLUMN_HELP.get(c, ""),
                                                   " (required)" if c in REQUIRED_COLUMNS else "", size="2")))
                for c in COLUMNS]), size="1", width="100%"),
        ),
        collapsible=True, type="single", width="100%", variant="soft",
    )


def _problem(p: ProblemRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.cond(p.line > 0, rx.text(p.line), rx.text("file"))),
        rx.table.cell(rx.code(p.column)),
        rx.table.cell(rx.text(p.message, size="2")),
        class_name="problem-row",
        custom_attrs={"data-line": p.line},
    )


def _preview(r: PreviewRow) -> rx.Component:
    return rx.table.row(rx.table.cell(r.display_name), rx.table.cell(r.inputs), rx.table.cell(r.outputs),
                        rx.table.cell(r.start, display=["none", "table-cell"]),
                        rx.table.cell(r.end, display=["none", "table-cell"]))


def _result() -> rx.Component:
    problems = rx.vstack(
        rx.callout(
            rx.text("Nothing was lodged from ", BulkState.file_name, ": ", BulkState.summary,
                    ". Fix them and choose the file again."),
            icon="triangle-alert", color_scheme="red", width="100%", class_name="check-failed"),
        rx.box(rx.table.root(
            rx.table.header(rx.table.row(rx.table.column_header_cell("Line"), rx.table.column_header_cell("Column"),
                                         rx.table.column_header_cell("Problem"))),
            rx.table.body(rx.foreach(BulkState.problems, _problem)),
            size="1", width="100%", variant="surface",
        ), overflow_x="auto", width="100%"),
        width="100%",
    )
    ready = rx.vstack(
        rx.callout(rx.text("All ", BulkState.ready, " rows of ", BulkState.file_name,
                           " are valid and name items of the registry."),
                   icon="circle-check", color_scheme="green", width="100%", class_name="check-passed"),
        rx.box(rx.table.root(
            rx.table.header(rx.table.row(rx.table.column_header_cell("Model run"), rx.table.column_header_cell("Inputs"),
                                         rx.table.column_header_cell("Outputs"),
                                         rx.table.column_header_cell("Start", display=["none", "table-cell"]),
                                         rx.table.column_header_cell("End", display=["none", "table-cell"]))),
            rx.table.body(rx.foreach(BulkState.preview, _preview)),
            size="1", width="100%", variant="surface",
        ), overflow_x="auto", width="100%"),
        rx.cond(BulkState.ready > 20, rx.text("… and ", BulkState.ready - 20, " more.", size="2",
                                              color_scheme="gray")),
        rx.form(
            rx.flex(
                rx.input(name="label", placeholder="Label of the batch (optional)", aria_label="Batch label",
                         width=["100%", "22em"]),
                rx.button(rx.icon("send", size=14), "Register ", BulkState.ready, " model runs", type="submit",
                          class_name="lodge"),
                spacing="2", wrap="wrap",
            ),
            on_submit=BulkState.lodge,
            width="100%",
        ),
        width="100%",
        spacing="3",
    )
    return rx.cond(BulkState.checked, rx.cond(BulkState.problems.length() > 0, problems, ready))  # type: ignore[attr-defined]


def model_runs_page() -> rx.Component:
    return page(
        rx.text("Register many model runs at once: one row of a CSV file per run. Every row is checked, "
                "and nothing is lodged until the whole file is right; then the runs are lodged as one batch "
                "and you can follow it live.", color_scheme="gray"),
        _step("1", "Start from the template",
              rx.text("Its example row names items of this registry, so it checks clean as it is.", size="2"),
              rx.hstack(rx.button(rx.icon("download", size=14), "Download the CSV template", variant="soft",
                                  on_click=BulkState.download_template, class_name="download-template"),
                        rx.link(rx.button(rx.icon("boxes", size=14), "Find item ids", variant="ghost"),
                                href=routes.ITEMS), spacing="2", wrap="wrap"),
              _columns(),
              rx.cond(BulkState.workflows.length() > 0, rx.vstack(
                  rx.text("Or the template of one workflow template, in Provena's columns: one per dataset "
                          "template, deferred resource key and annotation it asks for.", size="2"),
                  rx.hstack(
                      rx.select.root(rx.select.trigger(aria_label="Workflow template", placeholder="Workflow template",
                                                       class_name="workflow-choice"),
                                     rx.select.content(rx.foreach(BulkState.workflows,
                                                                  lambda w: rx.select.item(w[1], value=w[0]))),
                                     value=BulkState.workflow_id, on_change=BulkState.set_workflow_id),
                      rx.button(rx.icon("download", size=14), "Download its template", variant="soft",
                                on_click=BulkState.download_workflow_template,
                                class_name="download-workflow-template"),
                      spacing="2", wrap="wrap"),
                  spacing="2", width="100%"))),
        _step("2", "Choose your file",
              rx.upload(
                  rx.vstack(rx.icon("file-spreadsheet", size=28, color="var(--gray-9)"),
                            rx.text("Drop a CSV file here, or click to choose one.", size="2"),
                            rx.text("It is checked at once; nothing is lodged yet.", size="1", color_scheme="gray"),
                            align="center", spacing="1"),
                  id=UPLOAD_ID,
                  accept={"text/csv": [".csv"], "text/plain": [".csv", ".txt"]},
                  max_files=1,
                  multiple=False,
                  on_drop=BulkState.check(rx.upload_files(upload_id=UPLOAD_ID)),
                  border="2px dashed var(--gray-a7)",
                  border_radius="var(--radius-3)",
                  padding="1.5em",
                  width="100%",
                  cursor="pointer",
                  class_name="csv-drop",
              ),
              rx.cond(BulkState.checked,
                      rx.button(rx.icon("rotate-ccw", size=14), "Start over", variant="ghost", size="1",
                                on_click=BulkState.start_over))),
        rx.cond(BulkState.checked, _step("3", "Check and register", _result())),
        title="Register model runs",
        actions=[rx.link(rx.button(rx.icon("layers", size=14), "Your batches", variant="soft"),
                         href=routes.BATCHES)],
    )
