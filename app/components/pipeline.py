"""A pipeline run as the job page of any of its steps shows it first: the run's name
and overall state, Run again and Download all, the graph of its steps (planned ones
greyed), its steps (order, task, status, files kept) and every file they kept."""

from __future__ import annotations

import reflex as rx

from app import routes
from app.components.flow import run_graph
from app.components.status import status_badge
from app.state.pipelines import StepRow
from app.state.runview import RunActionsState, RunFileRow


def _step(s: StepRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.badge("order ", s.order, variant="surface", color_scheme="indigo")),
        rx.table.cell(rx.cond(s.current, rx.text(s.task, weight="bold"),
                              rx.link(s.task, href=routes.job(s.id), class_name="step-link"))),
        rx.table.cell(status_badge(s.status, s.description)),
        rx.table.cell(rx.text(s.files, " file(s)", size="2"), class_name="step-files"),
        rx.table.cell(rx.text(s.info, size="1", color_scheme="gray"), display=["none", "table-cell"]),
        class_name="pipeline-step",
        custom_attrs={"data-task": s.task, "data-status": s.status},
    )


def _file(f: RunFileRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.text(f.name, weight="medium", class_name="run-file-name")),
        rx.table.cell(rx.link(rx.badge("order ", f.order, variant="surface", color_scheme="indigo", size="1"), " ", f.task,
                              rx.cond(f.lane != "", rx.text.span(" · ", f.lane, color_scheme="gray")),
                              href=routes.job(f.job_id), size="2", class_name="run-file-step")),
        rx.table.cell(rx.text(f.size, size="2")),
        rx.table.cell(rx.button(rx.icon("download", size=14), "Download", size="1", variant="soft",
                                on_click=RunActionsState.download_file(f.job_id, f.name),
                                aria_label="Download " + f.member)),
        class_name="run-file",
        custom_attrs={"data-member": f.member},
    )


def _files(files, total) -> rx.Component:
    return rx.vstack(
        rx.hstack(rx.text("Files of this run", size="2", weight="medium"),
                  rx.text(total, size="1", color_scheme="gray", class_name="run-files-total"),
                  spacing="2", align="baseline"),
        rx.cond(files.length() > 0,
                rx.table.root(
                    rx.table.header(rx.table.row(
                        rx.table.column_header_cell("File"), rx.table.column_header_cell("Step"),
                        rx.table.column_header_cell("Size"), rx.table.column_header_cell(""))),
                    rx.table.body(rx.foreach(files, _file)), size="1", width="100%", class_name="run-files"),
                rx.text("No step has kept a file yet: they appear here as each step succeeds.", size="2",
                        color_scheme="gray", class_name="run-files-empty")),
        spacing="2", width="100%",
    )


def _run_actions(files) -> rx.Component:
    return rx.hstack(
        rx.button(rx.icon("rotate-cw", size=14), "Run again", variant="soft", on_click=RunActionsState.run_again,
                  loading=RunActionsState.starting, class_name="run-again",
                  title="A new run of this pipeline on the same file with the same parameters"),
        rx.button(rx.icon("folder-down", size=14), "Download all (zip)", variant="soft",
                  on_click=RunActionsState.download_all, disabled=files.length() == 0, class_name="run-download-all",
                  title="Every file of every step, a folder per step"),
        spacing="2", wrap="wrap",
    )


def pipeline_run(run, steps, pipeline_name, current_is_root, estimate="", nodes=None, edges=None,
                 graph_height="240px", files=None, files_total="") -> rx.Component:
    """Shown for a PIPELINE job, above the step itself: the run as a whole (its state is
    that of all its steps together), its steps as a graph and a table, and their files,
    kept current by the page's live pushes (the page watches the run's workflow)."""
    title = rx.cond(current_is_root, rx.heading(run.name, size="5", class_name="run-name"),
                    rx.link(rx.heading(run.name, size="5", class_name="run-name"), href=routes.job(run.id),
                            underline="hover"))
    return rx.cond(
        steps.length() > 0,
        rx.card(
            rx.vstack(
                rx.flex(
                    rx.vstack(rx.text("Pipeline run", size="1", color_scheme="gray", weight="medium"), title,
                              rx.text(run.summary, rx.cond(run.duration != "", " · " + run.duration, ""), size="2",
                                      color_scheme="gray", class_name="run-summary"),
                              rx.cond(estimate != "", rx.text(pipeline_name, " ", estimate, ".", size="1",
                                                              color_scheme="gray", class_name="run-estimate")),
                              spacing="1"),
                    rx.vstack(status_badge(run.status, run.description, size="3"),
                              rx.text(run.description, size="1", color_scheme="gray", max_width="24em",
                                      align="right"),
                              align="end", spacing="1", class_name="run-status",
                              custom_attrs={"data-status": run.status}),
                    justify="between", wrap="wrap", spacing="3", width="100%",
                ),
                _run_actions(files),
                run_graph(nodes, edges, graph_height),
                rx.text(pipeline_name, ": steps of equal order run side by side; the next order starts when they "
                        "all succeeded. Dashed steps are planned: not started yet.", size="1", color_scheme="gray"),
                rx.table.root(rx.table.body(rx.foreach(steps, _step)), size="1", width="100%"),
                _files(files, files_total),
                spacing="3",
                width="100%",
            ),
            width="100%",
            class_name="pipeline-run",
        ),
    )
