"""Batches (/batches): the viewer's batches with their progress, live."""

from __future__ import annotations

import reflex as rx

from app import routes
from app.components.batch import SUMMARY, count_chips, progress_bar
from app.components.common import empty_state, when
from app.components.layout import page
from app.state.base import AuthState
from app.state.batches import BatchesState
from app.state.views import BatchRow


def summary_badge(summary) -> rx.Component:
    return rx.badge(
        rx.match(summary, ("succeeded", "all succeeded"), ("failures", "has failures"),
                 ("in_progress", "in progress"), "empty"),
        color_scheme=rx.match(summary, *[(k, v[0]) for k, v in SUMMARY.items()], "gray"),
        variant="soft",
        class_name="batch-summary",
    )


def _row(b: BatchRow) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.flex(
                rx.link(rx.text(b.label, weight="medium"), href=routes.batch(b.id), class_name="batch-link"),
                rx.hstack(summary_badge(b.summary), rx.text(b.done, " / ", b.total, size="2"), align="center"),
                justify="between", width="100%", wrap="wrap", spacing="2",
            ),
            progress_bar(b.counts, b.total),
            rx.flex(count_chips(b.counts),
                    rx.hstack(rx.cond(BatchesState.all_users, rx.text(b.owner, size="1", color_scheme="gray")),
                              when(b.created, b.created_exact), spacing="2", align="center"),
                    justify="between", width="100%", wrap="wrap", spacing="2"),
            spacing="2",
            width="100%",
        ),
        width="100%",
        custom_attrs={"data-batch-id": b.id},
        class_name="batch-row",
    )


def batches_page() -> rx.Component:
    return page(
        rx.cond(AuthState.is_admin,
                rx.hstack(rx.switch(checked=BatchesState.all_users, on_change=BatchesState.set_all_users,
                                    aria_label="All users"),
                          rx.text("All users' batches", size="2"), align="center")),
        rx.cond(
            BatchesState.rows.length() > 0,  # type: ignore[attr-defined]
            rx.vstack(
                rx.foreach(BatchesState.rows, _row),
                rx.cond(BatchesState.next_cursor != "",
                        rx.center(rx.button("Load more", variant="soft", on_click=BatchesState.load_more),
                                  width="100%")),
                spacing="3",
                width="100%",
            ),
            rx.cond(BatchesState.loaded,
                    empty_state("layers", "No batches yet",
                                "A batch holds jobs lodged together. Register model runs from a CSV file to "
                                "lodge your first batch.",
                                rx.link(rx.button(rx.icon("upload", size=14), "Register model runs"),
                                        href=routes.MODEL_RUNS_NEW)),
                    rx.center(rx.spinner(), padding="3em", width="100%")),
        ),
        title="Batches",
        actions=[rx.link(rx.button(rx.icon("upload", size=14), "Register model runs (CSV)"),
                         href=routes.MODEL_RUNS_NEW)],
    )
