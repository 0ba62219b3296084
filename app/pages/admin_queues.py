"""The queues page (/admin/queues): per backend the jobs waiting in its queues in the
order its workers take them (position, priority, waiting since, a link to the job), a
page at a time; purge the queue or one job (each ends CANCELLED); pause and resume."""

from __future__ import annotations

import reflex as rx

from app import routes
from app.components.common import empty_state
from app.pages.admin import admin_page
from app.state.admin_queues import AdminQueuesState as S, QueueRow

PRIORITY_COLORS = {"high": "red", "normal": "indigo", "low": "gray"}


def _row(r: QueueRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.text(r.position, size="2", weight="medium")),
        rx.table.cell(rx.badge(r.priority, color_scheme=rx.match(r.priority, *PRIORITY_COLORS.items(), "gray"),
                               variant="soft")),
        rx.table.cell(rx.vstack(rx.link(r.job_id[:8], href=routes.JOBS + "/" + r.job_id, class_name="job-link"),
                                rx.text(r.kind, size="1", color_scheme="gray"), spacing="0")),
        rx.table.cell(rx.text(r.subject, size="2"), display=["none", "table-cell"]),
        rx.table.cell(rx.text(r.owner, size="2"), display=["none", "table-cell"]),
        rx.table.cell(rx.tooltip(rx.text(r.waiting, size="2", white_space="nowrap"), content=r.since_exact)),
        rx.table.cell(rx.button(rx.icon("trash-2", size=14), "Purge", size="1", variant="soft", color_scheme="red",
                                on_click=S.purge(r.job_id), class_name="purge-job")),
        custom_attrs={"data-job-id": r.job_id, "data-position": r.position, "data-priority": r.priority},
        class_name="queue-row",
    )


def _confirm() -> rx.Component:
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title("Purge the queue of ", S.backend, "?"),
            rx.alert_dialog.description(
                "Every job waiting in its queues (", rx.text.strong(S.total), ") is taken off and ends CANCELLED, "
                "with \"Purged from the queue by admin\" in its history. Running jobs are not touched."),
            rx.flex(
                rx.alert_dialog.cancel(rx.button("Keep them", variant="soft", color_scheme="gray")),
                rx.button("Purge the queue", color_scheme="red", on_click=S.purge(""), class_name="confirm-purge"),
                spacing="3", justify="end", margin_top="1em", wrap="wrap",
            ),
            max_width="32em",
        ),
        open=S.confirm_purge,
        on_open_change=S.set_confirm_purge,
    )


def _head() -> rx.Component:
    return rx.flex(
        rx.hstack(
            rx.select(S.backend_names, value=S.backend, on_change=S.select, aria_label="Backend"),
            rx.cond(S.paused,
                    rx.badge("paused", color_scheme="amber", variant="soft", class_name="backend-paused"),
                    rx.badge("up to ", S.max_workers, " workers", color_scheme="green", variant="soft")),
            rx.text(S.depth["high"], " high · ", S.depth["normal"], " normal · ", S.depth["low"], " low", size="2",
                    color_scheme="gray", class_name="queue-depths"),
            align="center", spacing="3", wrap="wrap",
        ),
        rx.hstack(
            rx.cond(S.paused,
                    rx.button(rx.icon("play", size=14), "Resume", on_click=S.pause(True), class_name="resume-backend"),
                    rx.button(rx.icon("pause", size=14), "Pause", variant="soft", color_scheme="amber",
                              on_click=S.pause(False), class_name="pause-backend")),
            rx.button(rx.icon("trash-2", size=14), "Purge queue", color_scheme="red", variant="soft",
                      disabled=S.total == 0, on_click=S.set_confirm_purge(True), class_name="purge-queue"),
            spacing="2",
        ),
        justify="between", align="center", wrap="wrap", spacing="3", width="100%",
    )


def _table() -> rx.Component:
    return rx.cond(
        S.rows.length() > 0,  # type: ignore[attr-defined]
        rx.vstack(
            rx.box(rx.table.root(
                rx.table.header(rx.table.row(
                    rx.table.column_header_cell("#"), rx.table.column_header_cell("Priority"),
                    rx.table.column_header_cell("Job"),
                    rx.table.column_header_cell("Subject", display=["none", "table-cell"]),
                    rx.table.column_header_cell("Owner", display=["none", "table-cell"]),
                    rx.table.column_header_cell("Waiting"), rx.table.column_header_cell(""))),
                rx.table.body(rx.foreach(S.rows, _row)),
                variant="surface", size="1", width="100%", class_name="queue-table"), overflow_x="auto",
                width="100%"),
            rx.flex(
                rx.text(S.showing, size="2", color_scheme="gray", class_name="queue-showing"),
                rx.hstack(
                    rx.button(rx.icon("chevron-left", size=14), "Earlier", size="1", variant="soft",
                              disabled=S.offset == 0, on_click=S.page(False)),
                    rx.button("Later", rx.icon("chevron-right", size=14), size="1", variant="soft",
                              disabled=S.next_offset < 0, on_click=S.page(True), class_name="queue-next"),
                    spacing="2"),
                justify="between", align="center", width="100%", wrap="wrap",
            ),
            width="100%",
        ),
        empty_state("inbox", "No job is waiting",
                    "Jobs of this backend that no worker has taken yet show here, in the order workers take them."),
    )


def admin_queues_page() -> rx.Component:
    return admin_page(
        rx.cond(S.error != "", rx.callout(S.error, icon="unplug", color_scheme="red", width="100%")),
        rx.cond(S.loaded, rx.vstack(_head(), _table(), _confirm(), spacing="4", width="100%"),
                rx.center(rx.spinner(), padding="3em", width="100%")),
        title="Queues",
        actions=[rx.text("Reads again every 3 s", size="1", color_scheme="gray")],
        tick=S.tick,
        every_ms=3000,
    )
