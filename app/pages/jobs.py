"""The jobs panel (/jobs): the viewer's jobs newest first, live."""

from __future__ import annotations

import reflex as rx

from app import routes
from app.components.common import empty_state, when
from app.components.layout import page
from app.components.status import COLORS, LABELS, status_badge
from app.state.base import AuthState
from app.state.jobs import ANY, TYPE_OPTIONS, JobsState
from app.state.views import STATUSES, ListRow


def _count_chip(status: str) -> rx.Component:
    active = JobsState.status_filter == status
    return rx.button(
        rx.text(LABELS[status]),
        rx.badge(JobsState.counts.get(status, 0), color_scheme=COLORS[status], variant="solid", radius="full"),
        variant=rx.cond(active, "solid", "soft"),
        color_scheme=COLORS[status],
        size="1",
        on_click=JobsState.set_status_filter(rx.cond(active, ANY, status)),
        custom_attrs={"data-count-status": status},
        class_name="count-chip",
    )


def _counts() -> rx.Component:
    return rx.flex(
        rx.text("Total ", rx.text.strong(JobsState.total), size="2", color_scheme="gray"),
        *[_count_chip(s) for s in STATUSES],
        spacing="2",
        wrap="wrap",
        align="center",
        class_name="status-counts",
    )


def _marker(row: ListRow) -> rx.Component:
    return rx.match(
        row.marker,
        ("batch", rx.link(rx.badge(rx.icon("layers", size=12), "batch · ", row.batch_total, variant="outline",
                                   color_scheme="violet"), href=routes.batch(row.batch_id))),
        ("workflow", rx.badge(rx.icon("git-branch", size=12), "workflow", variant="outline", color_scheme="teal")),
        rx.badge("standalone", variant="outline", color_scheme="gray"),
    )


def _row(row: ListRow) -> rx.Component:
    live = JobsState.live[row.id]
    return rx.table.row(
        rx.table.cell(
            rx.link(rx.vstack(rx.text(row.label, weight="medium"),
                              rx.text(row.job_type, " / ", row.job_subtype, size="1", color_scheme="gray"),
                              spacing="0"),
                    href=routes.job(row.id), underline="hover", class_name="job-link"),
        ),
        rx.table.cell(rx.vstack(
            status_badge(live.status),
            rx.cond((live.status == "IN_PROGRESS") & (live.progress >= 0),
                    rx.progress(value=live.progress, width="6em", size="1")),
            spacing="1")),
        rx.table.cell(when(row.created, row.created_exact)),
        rx.table.cell(_marker(row), display=["none", "table-cell"]),
        rx.table.cell(rx.cond(JobsState.all_users | (JobsState.owner_filter != ""), rx.text(row.owner, size="2"))),
        rx.table.cell(rx.text(live.message, size="2", color_scheme="gray", class_name="last-message"),
                      display=["none", "none", "table-cell"], max_width="22em"),
        custom_attrs={"data-job-id": row.id, "data-status": live.status},
        class_name="job-row",
    )


def _filters() -> rx.Component:
    return rx.flex(
        rx.select.root(
            rx.select.trigger(placeholder="Status", aria_label="Status filter"),
            rx.select.content(rx.select.item("Any status", value=ANY),
                              *[rx.select.item(LABELS[s], value=s) for s in STATUSES]),
            value=JobsState.status_filter,
            on_change=JobsState.set_status_filter,
        ),
        rx.select.root(
            rx.select.trigger(placeholder="Type", aria_label="Type filter"),
            rx.select.content(rx.select.item("Any type", value=ANY),
                              *[rx.select.item(label, value=v) for v, label in TYPE_OPTIONS]),
            value=JobsState.type_filter,
            on_change=JobsState.set_type_filter,
        ),
        rx.form(
            rx.hstack(
                rx.input(rx.input.slot(rx.icon("search", size=14)), name="q", placeholder="Session id or batch id",
                         default_value=JobsState.search, width=["100%", "20em"], aria_label="Search"),
                rx.button("Find", type="submit", variant="soft"),
                spacing="2",
            ),
            on_submit=JobsState.apply_search,
            reset_on_submit=False, width="auto",
        ),
        rx.cond(JobsState.filtered, rx.button(rx.icon("x", size=14), "Clear filters", variant="ghost",
                                              on_click=JobsState.clear_filters)),
        spacing="2",
        wrap="wrap",
        align="center",
        width="100%",
    )


def _admin_scope() -> rx.Component:
    return rx.cond(
        AuthState.is_admin,
        rx.flex(
            rx.text("Admin view:", size="2", weight="medium"),
            rx.hstack(rx.switch(checked=JobsState.all_users, on_change=JobsState.set_all_users,
                                aria_label="All users"),
                      rx.text("All users", size="2"), align="center"),
            rx.form(
                rx.hstack(rx.input(name="owner", placeholder="Username", default_value=JobsState.owner_filter,
                                   width="12em", aria_label="Username filter"),
                          rx.input(type="hidden", name="q", value=JobsState.search),
                          rx.button("Show user", type="submit", variant="soft", size="2"), spacing="2"),
                on_submit=JobsState.apply_search,
                reset_on_submit=False, width="auto",
            ),
            rx.cond(JobsState.owner_filter != "",
                    rx.button(rx.icon("x", size=14), "Only my jobs", variant="ghost", size="2",
                              on_click=JobsState.clear_owner)),
            spacing="3",
            wrap="wrap",
            align="center",
            padding="0.6em",
            border="1px dashed var(--gray-a6)",
            border_radius="var(--radius-3)",
            width="100%",
        ),
    )


def _table() -> rx.Component:
    return rx.box(
        rx.table.root(
            rx.table.header(rx.table.row(
                rx.table.column_header_cell("Job"),
                rx.table.column_header_cell("Status"),
                rx.table.column_header_cell("Created"),
                rx.table.column_header_cell("Kind", display=["none", "table-cell"]),
                rx.table.column_header_cell(rx.cond(JobsState.all_users | (JobsState.owner_filter != ""),
                                                    "Owner", "")),
                rx.table.column_header_cell("Last message", display=["none", "none", "table-cell"]),
            )),
            rx.table.body(rx.foreach(JobsState.rows, _row)),
            variant="surface",
            size="2",
            width="100%",
            class_name="jobs-table",
        ),
        overflow_x="auto",
        width="100%",
    )


def _empty() -> rx.Component:
    return rx.cond(
        JobsState.search_kind == "none",
        empty_state("search-x", "No job or batch with that id",
                    "Check the session id or batch id; you can only find your own jobs.",
                    rx.button("Clear the search", variant="soft", on_click=JobsState.clear_filters)),
        rx.cond(
            JobsState.filtered,
            empty_state("filter-x", "No jobs match these filters", "Change or clear the filters to see more.",
                        rx.button("Clear filters", variant="soft", on_click=JobsState.clear_filters)),
            empty_state("inbox", "No jobs yet",
                        "Jobs appear here as soon as you start one: create or version an item, or "
                        "register model runs in bulk.",
                        rx.link(rx.button(rx.icon("plus", size=14), "Create an item"), href=routes.ITEMS),
                        rx.link(rx.button(rx.icon("upload", size=14), "Register model runs", variant="soft"),
                                href=routes.MODEL_RUNS_NEW)),
        ),
    )


def jobs_page() -> rx.Component:
    return page(
        _admin_scope(),
        _counts(),
        _filters(),
        rx.cond(
            JobsState.rows.length() > 0,  # type: ignore[attr-defined]
            rx.vstack(
                _table(),
                rx.cond(JobsState.next_cursor != "",
                        rx.center(rx.button("Load more", variant="soft", on_click=JobsState.load_more,
                                            class_name="load-more"), width="100%"),
                        rx.center(rx.text("That is all.", size="2", color_scheme="gray"), width="100%")),
                width="100%",
                spacing="3",
            ),
            rx.cond(JobsState.loaded, _empty(), rx.center(rx.spinner(), padding="3em", width="100%")),
        ),
        title="Jobs",
        actions=[rx.button(rx.icon("refresh-cw", size=14), "Refresh", variant="soft", on_click=JobsState.refresh,
                           class_name="refresh")],
    )
