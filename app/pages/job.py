"""Job details (/jobs/[job_id]): status, times, inputs and outputs, history, files."""

from __future__ import annotations

import reflex as rx

from app import routes
from app.components.common import copy_id, field_row, not_found, section, when
from app.components.layout import page
from app.components.pipeline import pipeline_run
from app.components.record import record_card
from app.components.status import status_badge
from app.state.base import AuthState
from app.state.job import JobState
from app.state.views import FileRow, JobRow, MessageRow

LEVEL_COLORS = {"info": "gray", "warning": "amber", "error": "red"}


def _actions() -> list[rx.Component]:
    return [
        rx.link(rx.button(rx.icon("arrow-left", size=14), "All jobs", variant="soft"), href=routes.JOBS),
        rx.cond(JobState.row.batch_id != "",
                rx.link(rx.button(rx.icon("layers", size=14), "Its batch", variant="soft"),
                        href=routes.batch(JobState.row.batch_id))),
        rx.cond(JobState.can_cancel,
                rx.alert_dialog.root(
                    rx.alert_dialog.trigger(rx.button(rx.icon("ban", size=14), "Cancel", color_scheme="red",
                                                      variant="soft", class_name="cancel-job")),
                    rx.alert_dialog.content(
                        rx.alert_dialog.title("Cancel this job?"),
                        rx.alert_dialog.description(
                            "A pending job will not run; a running job is stopped and its outcome dropped. "
                            "You can retry it afterwards."),
                        rx.flex(rx.alert_dialog.cancel(rx.button("Keep it", variant="soft", color_scheme="gray")),
                                rx.alert_dialog.action(rx.button("Cancel the job", color_scheme="red",
                                                                 on_click=JobState.cancel,
                                                                 class_name="confirm-cancel")),
                                spacing="3", justify="end", margin_top="1em"),
                    ),
                )),
        rx.cond(JobState.can_retry,
                rx.button(rx.icon("rotate-ccw", size=14), "Retry", on_click=JobState.retry, class_name="retry-job")),
    ]


def _summary() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.flex(
                rx.vstack(rx.heading(JobState.heading, size="5", class_name="job-heading"),
                          rx.text(JobState.row.job_type, " / ", JobState.row.job_subtype, size="2",
                                  color_scheme="gray"), spacing="1"),
                rx.vstack(status_badge(JobState.row.status, JobState.row.description, size="3"),
                          rx.text(JobState.row.description, size="1", color_scheme="gray", max_width="24em",
                                  align="right"),
                          align="end", spacing="1"),
                justify="between", wrap="wrap", spacing="3", width="100%",
            ),
            rx.cond(JobState.row.status == "IN_PROGRESS",
                    rx.cond(JobState.row.progress >= 0,
                            rx.hstack(rx.progress(value=JobState.row.progress, width="100%"),
                                      rx.text(JobState.row.progress, " %", size="1", color_scheme="gray",
                                              white_space="nowrap", class_name="job-progress-text"),
                                      align="center", spacing="2", width="100%"))),
            rx.cond(JobState.stuck != "",
                    rx.callout(rx.text(rx.text.strong("No worker can take it now. "), JobState.stuck),
                               icon="clock-alert", color_scheme="amber", width="100%", class_name="job-stuck")),
            # While it waits, why it waits is read again every 2 s: it changes with no event of the job.
            rx.cond(JobState.row.status == "PENDING",
                    rx.moment(interval=2000, format="HH:mm:ss", on_change=JobState.recheck_waiting, display="none")),
            rx.cond(JobState.info != "",
                    rx.callout(JobState.info,
                               icon=rx.cond(JobState.row.status == "SUCCEEDED", "info", "triangle-alert"),
                               color_scheme=rx.match(JobState.row.status, ("SUCCEEDED", "green"),
                                                     ("FAILED", "red"), ("CRASHED", "orange"), "gray"),
                               width="100%", class_name="job-info")),
            rx.cond(AuthState.is_admin & (JobState.error_detail != ""),
                    rx.accordion.root(rx.accordion.item(
                        header="Traceback (admins only)",
                        content=rx.code_block(JobState.error_detail, language="python", wrap_long_lines=True),
                    ), collapsible=True, type="single", width="100%", variant="soft")),
            rx.data_list.root(
                field_row("Session id", copy_id(JobState.row.id)),
                field_row("Owner", rx.text(JobState.owner)),
                field_row("Attempt", rx.text(JobState.row.attempt)),
                field_row("Batch", rx.cond(JobState.row.batch_id != "",
                                           rx.link(JobState.batch_label, " (", JobState.row.batch_total, " jobs)",
                                                   href=routes.batch(JobState.row.batch_id)),
                                           rx.text("—"))),
                field_row("Workflow", rx.cond(JobState.workflow_href != "",
                                              rx.cond(JobState.workflow_name != "",
                                                      rx.link(JobState.workflow_name,
                                                              href=JobState.workflow_href,
                                                              class_name=JobState.workflow_class),
                                                      rx.code(JobState.row.entity_id)),
                                              rx.text(rx.cond(JobState.row.marker == "workflow", "step", "—")))),
                field_row("Lodged by", rx.cond(JobState.parent_job_id != "",
                                               rx.link("job ", JobState.parent_job_id,
                                                       href=routes.job(JobState.parent_job_id)),
                                               rx.cond(JobState.lodged_by != "",
                                                       rx.text(JobState.lodged_by, ", for ", JobState.owner,
                                                               class_name="lodged-by"),
                                                       rx.text("its owner", class_name="lodged-by")))),
                field_row("Queue / worker", rx.text(JobState.queue, rx.cond(JobState.worker != "", " · ", ""),
                                                    JobState.worker, size="2")),
                orientation=rx.breakpoints(initial="vertical", sm="horizontal"),
                size="2",
            ),
            spacing="4",
            width="100%",
        ),
        width="100%",
    )


def _time(t: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(t[0]),
        rx.table.cell(when(t[1], t[2])),
        rx.table.cell(rx.text(t[2], size="1", color_scheme="gray"), display=["none", "table-cell"]),
        rx.table.cell(rx.text(t[3], size="2")),
    )


def _times() -> rx.Component:
    return section("Times", rx.table.root(rx.table.body(rx.foreach(JobState.times, _time)), size="1",
                                          width="100%"))


def _json_block(title: str, value: rx.Var, empty: str, cls: str) -> rx.Component:
    return rx.accordion.item(
        header=title,
        content=rx.cond(value != "",
                        rx.code_block(value, language="json", wrap_long_lines=True, class_name=cls),
                        rx.text(empty, color_scheme="gray", size="2")),
        value=cls,
    )


def _io() -> rx.Component:
    return rx.accordion.root(
        _json_block("Inputs", JobState.payload_json, "This job has no inputs.", "job-inputs"),
        _json_block("Outputs", JobState.result_json, "No outputs yet: they appear when the job succeeds.",
                    "job-outputs"),
        type="multiple",
        default_value=["job-inputs", "job-outputs"],
        collapsible=True,
        width="100%",
        variant="outline",
    )


def _message(m: MessageRow) -> rx.Component:
    return rx.hstack(
        rx.box(width="10px", height="10px", border_radius="50%", margin_top="0.4em", flex_shrink="0",
               background=rx.match(m.level, *[(k, f"var(--{v}-9)") for k, v in LEVEL_COLORS.items()],
                                   "var(--gray-9)")),
        rx.vstack(
            rx.text(m.text, size="2", class_name="message-text"),
            rx.hstack(when(m.at, m.at_exact), rx.cond(m.status != "", status_badge(m.status, size="1")),
                      rx.cond(m.attempt > 1, rx.text("attempt ", m.attempt, size="1", color_scheme="gray")),
                      spacing="2", align="center"),
            spacing="1",
        ),
        spacing="3",
        align="start",
        padding_left="0.2em",
        border_left="2px solid var(--gray-a5)",
        padding_y="0.3em",
        class_name="message",
    )


def _messages() -> rx.Component:
    return section("Message history",
                   rx.vstack(rx.foreach(JobState.messages, _message), spacing="1", width="100%",
                             class_name="timeline"))


def _file(f: FileRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.text(f.name, weight="medium")),
        rx.table.cell(f.size),
        rx.table.cell(rx.code(f.sha256[:12], size="1"), display=["none", "table-cell"]),
        rx.table.cell(rx.button(rx.icon("download", size=14), "Download", size="1", variant="soft",
                                on_click=JobState.download(f.name))),
    )


def _files() -> rx.Component:
    return section("Files produced", rx.cond(
        JobState.files.length() > 0,  # type: ignore[attr-defined]
        rx.table.root(rx.table.body(rx.foreach(JobState.files, _file)), size="1", width="100%"),
        rx.text("This job produced no files.", color_scheme="gray", size="2"),
    ))


def _child(c: JobRow) -> rx.Component:
    return rx.hstack(rx.link(rx.cond(c.title != "", c.title, c.label), href=routes.job(c.id), class_name="child-link"),
                     status_badge(c.status, c.description),
                     spacing="2", align="center")


def _children() -> rx.Component:
    return rx.cond(JobState.children.length() > 0,  # type: ignore[attr-defined]
                   section("Next steps it lodged", rx.vstack(rx.foreach(JobState.children, _child), spacing="2")))


def job_page() -> rx.Component:
    return page(
        rx.cond(
            JobState.loaded,
            rx.cond(
                JobState.found,
                rx.vstack(
                    rx.flex(rx.hstack(*_actions(), spacing="2", wrap="wrap"), width="100%"),
                    # a step of a pipeline run: the run as a whole first, then this step
                    pipeline_run(JobState.run, JobState.steps, JobState.pipeline_name,
                                 JobState.run.id == JobState.row.id, JobState.estimate),
                    _summary(),
                    record_card(),
                    rx.grid(_times(), _messages(), columns=rx.breakpoints(initial="1", md="2"), spacing="4",
                            width="100%"),
                    _io(),
                    _files(),
                    _children(),
                    spacing="4",
                    width="100%",
                ),
                not_found("Job not found",
                          "There is no job with this session id that you may see. Check the id, or find the "
                          "job in your jobs panel.",
                          routes.JOBS, "Back to your jobs"),
            ),
            rx.center(rx.spinner(size="3"), padding="4em", width="100%"),
        ),
        title="Job details",
        open_when=JobState.signed_out_view,  # an anonymous run's step, reached by its id
    )
