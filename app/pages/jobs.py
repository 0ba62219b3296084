"""The jobs panel (/jobs): the viewer's jobs newest first, live."""

from __future__ import annotations

import reflex as rx

from app import routes
from app.components.common import empty_state, when
from app.components.layout import page
from app.components.status import COLORS, LABELS, status_badge
from app.state.base import AuthState
from app.state.jobs import ANY, TYPE_OPTIONS, JobsListState, JobsState
from app.state.views import STATUSES, ListRow


def _count_chip(status: str, active_status: rx.Var) -> rx.Component:
    active = active_status == status
    return rx.button(
        rx.text(LABELS[status]),
        rx.badge(JobsListState.counts.get(status, 0), color_scheme=COLORS[status], variant="solid", radius="full"),
        variant=rx.cond(active, "solid", "soft"),
        color_scheme=COLORS[status],
        size="1",
        on_click=JobsState.set_status_filter(rx.cond(active, ANY, status)),
        custom_attrs={"data-count-status": status},
        class_name="count-chip",
    )


@rx.memo
def status_counts(active_status: rx.Var[str]) -> rx.Component:
    """Per-status counts; clicking one filters by it. Memoised: it alone follows pushes."""
    return rx.flex(
        rx.text("Total ", rx.text.strong(JobsListState.total), size="2", color_scheme="gray"),
        *[_count_chip(s, active_status) for s in STATUSES],
        spacing="2",
        wrap="wrap",
        align="center",
        class_name="status-counts",
    )


def _marker(marker: rx.Var, batch_id: rx.Var, batch_total: rx.Var) -> rx.Component:
    return rx.match(
        marker,
        ("batch", rx.link(rx.badge(rx.icon("layers", size=12), "batch · ", batch_total, variant="outline",
                                   color_scheme="violet"), href=routes.batch(batch_id))),
        ("workflow", rx.badge(rx.icon("git-branch", size=12), "workflow", variant="outline", color_scheme="teal")),
        rx.badge("standalone", variant="outline", color_scheme="gray"),
    )


@rx.memo
def job_list_row(job_id: rx.Var[str], label: rx.Var[str], job_type: rx.Var[str], job_subtype: rx.Var[str],
                 created: rx.Var[str], created_exact: rx.Var[str], marker: rx.Var[str], batch_id: rx.Var[str],
                 batch_total: rx.Var[int], owner: rx.Var[str], status: rx.Var[str], message: rx.Var[str],
                 progress: rx.Var[int]) -> rx.Component:
    """One row. Its props are plain values, so a push re-renders only the rows whose
    values changed (React.memo), not the whole table: this is what keeps many open
    tabs cheap for the browser."""
    return rx.table.row(
        rx.table.cell(
            rx.link(rx.vstack(rx.text(label, weight="medium"),
                              rx.text(job_type, " / ", job_subtype, size="1", color_scheme="gray"),
                              spacing="0"),
                    href=routes.job(job_id), underline="hover", class_name="job-link"),
            rx.box(when(created, created_exact), display=["block", "none"], margin_top="0.2em"),
        ),
        rx.table.cell(rx.vstack(
            status_badge(status),
            rx.cond((status == "IN_PROGRESS") & (progress >= 0), rx.progress(value=progress, width="6em", size="1")),
            spacing="1")),
        rx.table.cell(when(created, created_exact), display=["none", "table-cell"]),
        rx.table.cell(_marker(marker, batch_id, batch_total), display=["none", "table-cell"]),
        rx.table.cell(rx.text(owner, size="2"), display=rx.cond(owner != "", "table-cell", "none")),
        rx.table.cell(rx.text(message, size="2", color_scheme="gray", class_name="last-message"),
                      display=["none", "none", "table-cell"], max_width="22em"),
        custom_attrs={"data-job-id": job_id, "data-status": status, "data-marker": marker},
        class_name="job-row",
    )


def _row(row: ListRow) -> rx.Component:
    live = JobsListState.live[row.id]
    return job_list_row(
        job_id=row.id, label=rx.cond(row.title != "", row.title, row.label), job_type=row.job_type, job_subtype=row.job_subtype, created=row.created,
        created_exact=row.created_exact, marker=row.marker, batch_id=row.batch_id, batch_total=row.batch_total,
        owner=rx.cond(JobsListState.show_owner, row.owner, ""),
        status=live.status, message=live.message, progress=live.progress,
        key=row.id,
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
                rx.table.column_header_cell("Job", width=["64%", "40%", "28%"]),
                rx.table.column_header_cell("Status", width=["36%", "22%", "14%"]),
                rx.table.column_header_cell("Created", display=["none", "table-cell"], width=["0", "20%", "13%"]),
                rx.table.column_header_cell("Kind", display=["none", "table-cell"], width=["0", "18%", "12%"]),
                rx.table.column_header_cell("Owner", display=rx.cond(JobsListState.show_owner, "table-cell", "none"),
                                            width="8%"),
                rx.table.column_header_cell("Last message", display=["none", "none", "table-cell"],
                                            width=["0", "0", "33%"]),
            )),
            rx.table.body(rx.foreach(JobsListState.rows, _row)),
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
        JobsListState.search_kind == "none",
        empty_state("search-x", "No job or batch with that id",
                    "Check the session id or batch id; you can only find your own jobs.",
                    rx.button("Clear the search", variant="soft", on_click=JobsState.clear_filters)),
        rx.cond(
            JobsListState.filtered,
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


@rx.memo
def jobs_list() -> rx.Component:
    """The table, load more, or what to do when it is empty. Memoised: a push re-renders
    this and the rows whose values changed, not the page around it."""
    return rx.cond(
        JobsListState.rows.length() > 0,  # type: ignore[attr-defined]
        rx.vstack(
            _table(),
            rx.cond(JobsListState.next_cursor != "",
                    rx.center(rx.button("Load more", variant="soft", on_click=JobsState.load_more,
                                        class_name="load-more"), width="100%"),
                    rx.center(rx.text("That is all.", size="2", color_scheme="gray"), width="100%")),
            width="100%",
            spacing="3",
        ),
        rx.cond(JobsListState.loaded, _empty(), rx.center(rx.spinner(), padding="3em", width="100%")),
    )


def jobs_page() -> rx.Component:
    return page(
        _admin_scope(),
        status_counts(active_status=JobsState.status_filter),
        _filters(),
        jobs_list(),
        title="Jobs",
        actions=[rx.button(rx.icon("refresh-cw", size=14), "Refresh", variant="soft", on_click=JobsState.refresh,
                           class_name="refresh")],
    )
