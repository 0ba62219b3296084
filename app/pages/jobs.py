"""The jobs panel (/jobs): the viewer's jobs newest first, live."""

from __future__ import annotations

import reflex as rx

from app import routes
from app.components import plain
from app.components.bulk_bar import bulk_bar, page_tick, tick
from app.components.common import empty_state, link_problem, relative_time, running_for
from app.components.layout import page
from app.components.status import COLORS, LABELS
from app.state.base import AuthState
from app.state.bulk_select import JobsSelectionState
from app.job_search import WINDOW
from app.state.jobs import ANY, SORTS, TYPE_OPTIONS, JobsListState, JobsState
from app.state.views import STATUSES, ListRow


_CHIP = "rt-reset rt-BaseButton rt-r-size-1 rt-Button count-chip"  # a Radix button (size 1) as plain classes


def _count_chip(status: str, active_status: rx.Var) -> rx.Component:
    active = active_status == status
    return rx.el.button(
        plain.text(LABELS[status], size="1"),
        plain.badge(JobsListState.counts.get(status, 0), color=COLORS[status], variant="solid", full=True),
        type="button",
        on_click=JobsState.set_status_filter(rx.cond(active, ANY, status)),
        class_name=rx.cond(active, f"{_CHIP} rt-variant-solid", f"{_CHIP} rt-variant-soft"),
        custom_attrs={"data-count-status": status, "data-accent-color": COLORS[status],
                      "aria-pressed": rx.cond(active, "true", "false")},
    )


@rx.memo
def status_counts(active_status: rx.Var[str]) -> rx.Component:
    """Per-status counts; clicking one filters by it. Memoised and plain elements
    (components.plain): it follows every push."""
    return rx.el.div(
        plain.text("Total ", rx.el.strong(JobsListState.total, class_name="rt-Strong"), gray=True),
        *[_count_chip(s, active_status) for s in STATUSES],
        class_name="rt-Flex rt-r-ai-center rt-r-fw-wrap rt-r-gap-2 status-counts",
    )


def _marker(marker: rx.Var, batch_id: rx.Var, batch_total: rx.Var) -> rx.Component:
    return rx.match(
        marker,
        ("batch", plain.link(plain.badge(rx.icon("layers", size=12), "batch · ", batch_total, color="violet",
                                         variant="outline"), to=routes.batch(batch_id))),
        ("workflow", plain.badge(rx.icon("git-branch", size=12), "workflow", color="teal", variant="outline")),
        plain.badge("standalone", color="gray", variant="outline"),
    )


def _when(created: rx.Var, created_exact: rx.Var) -> rx.Component:
    return plain.text(relative_time(date=created), title=created_exact, class_name="when")


@rx.memo
def job_list_row(job_id: rx.Var[str], label: rx.Var[str], subject: rx.Var[str], job_type: rx.Var[str],
                 job_subtype: rx.Var[str], created: rx.Var[str], created_exact: rx.Var[str], marker: rx.Var[str],
                 batch_id: rx.Var[str], batch_total: rx.Var[int], owner: rx.Var[str], status: rx.Var[str],
                 message: rx.Var[str], progress: rx.Var[int], duration: rx.Var[str],
                 running_since: rx.Var[str], selected: rx.Var[bool]) -> rx.Component:
    """One row. Its props are plain values, so a push re-renders only the rows whose
    values changed (React.memo), not the whole table; and it is plain elements
    (components.plain), so that render is cheap: this is what keeps many open tabs
    cheap for the browser. What it is about (its subject) shares the label's line; how
    long it ran has a column of its own ("running for …" on the page's one clock while
    it runs)."""
    return rx.el.tr(
        plain.td(tick(selected, JobsSelectionState.toggle, job_id), class_name="col-select"),
        plain.td(
            plain.link(plain.text(label,
                                  rx.cond(subject != "", rx.el.span(" · ", subject, class_name="job-subject",
                                                                    custom_attrs={"data-accent-color": "gray"})),
                                  weight="medium", class_name="job-label", title=subject),
                       plain.text(job_type, " / ", job_subtype, size="1", gray=True, class_name="job-kind"),
                       to=routes.job(job_id), class_name="job-link"),
            rx.el.div(_when(created, created_exact), class_name="phone-only"),
        ),
        plain.td(
            plain.status_badge(status),
            rx.cond((status == "IN_PROGRESS") & (progress >= 0), plain.progress(progress)),
            class_name="status-cell",
        ),
        plain.td(rx.cond(duration != "", plain.text(duration, size="2", class_name="job-duration"),
                         rx.cond(running_since != "",
                                 plain.text(running_for(since=running_since), size="2", gray=True,
                                            class_name="job-running-for"))),
                 class_name="col-duration"),
        plain.td(_when(created, created_exact), class_name="col-created"),
        plain.td(_marker(marker, batch_id, batch_total), class_name="col-kind"),
        plain.td(plain.text(owner), class_name="col-owner"),
        plain.td(plain.text(message, gray=True, class_name="last-message", title=message), class_name="col-message"),
        custom_attrs={"data-job-id": job_id, "data-status": status, "data-marker": marker},
        class_name="rt-TableRow job-row",
    )


def _row(row: ListRow) -> rx.Component:
    live = JobsListState.live[row.id]
    return job_list_row(
        job_id=row.id, label=rx.cond(row.title != "", row.title, row.label), subject=row.subject,
        job_type=row.job_type,
        job_subtype=row.job_subtype, created=row.created, created_exact=row.created_exact, marker=row.marker,
        batch_id=row.batch_id, batch_total=row.batch_total, owner=rx.cond(JobsListState.show_owner, row.owner, ""),
        status=live.status, message=live.message, progress=live.progress, duration=live.duration,
        running_since=live.running_since, selected=JobsSelectionState.selected.contains(row.id), key=row.id,
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
                # keyed by the search: the box shows the address's search after back or a link
                rx.input(rx.input.slot(rx.icon("search", size=14)), name="q",
                         placeholder="Id, id prefix, or words of a label, item or pipeline",
                         default_value=JobsState.search, width=["100%", "24em"], aria_label="Search",
                         key=JobsState.search,
                         title=f"An id or batch id; 4 or more first characters of an id; or words of what a job is "
                               f"about (a batch's label, an item's name, a pipeline's name, any case), looked for "
                               f"among the next {WINDOW:,} jobs at a time"),
                rx.button("Find", type="submit", variant="soft"),
                spacing="2",
            ),
            on_submit=JobsState.apply_search,
            reset_on_submit=False, width="auto",
        ),
        rx.select.root(
            rx.select.trigger(placeholder="Sort", aria_label="Sort"),
            rx.select.content(*[rx.select.item(label, value=v) for v, label in SORTS.items()]),
            value=JobsState.sort,
            on_change=JobsState.set_sort,
        ),
        _range(),
        rx.cond(JobsState.filtered, rx.button(rx.icon("x", size=14), "Clear filters", variant="ghost",
                                              on_click=JobsState.clear_filters)),
        spacing="2",
        wrap="wrap",
        align="center",
        width="100%",
    )


def _range() -> rx.Component:
    """The created-time range: two days (UTC), either may be left open."""
    return rx.form(
        rx.flex(  # wraps on a phone rather than widening the page
            rx.text("Created (UTC)", size="2", color_scheme="gray", white_space="nowrap"),
            rx.input(type="date", name="from", default_value=JobsState.date_from, aria_label="Created from",
                     key="from-" + JobsState.date_from, width="9.5em"),
            rx.text("to", size="2", color_scheme="gray"),
            rx.input(type="date", name="to", default_value=JobsState.date_to, aria_label="Created to",
                     key="to-" + JobsState.date_to, width="9.5em"),
            rx.button("Apply", type="submit", variant="soft", class_name="apply-range"),
            spacing="2", align="center", wrap="wrap",
        ),
        on_submit=JobsState.apply_range, reset_on_submit=False, width="auto", class_name="created-range",
    )


def _admin_scope() -> rx.Component:
    return rx.cond(
        AuthState.is_admin,
        rx.flex(
            rx.text("Admin view:", size="2", weight="medium"),
            rx.text(rx.flex(rx.switch(checked=JobsState.all_users, on_change=JobsState.set_all_users),
                            rx.el.span("All users"), spacing="2", align="center"),
                    as_="label", size="2", class_name="all-users"),  # the words toggle the switch too
            rx.form(
                rx.hstack(rx.input(name="owner", placeholder="Username", default_value=JobsState.owner_filter,
                                   width="12em", aria_label="Username filter", key=JobsState.owner_filter),
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
    return rx.el.div(
        plain.table(
            [rx.el.th(page_tick(JobsSelectionState), scope="col",
                      class_name="rt-TableCell rt-TableColumnHeaderCell col-select"),
             plain.th("Job", "col-job"), plain.th("Status", "col-status"), plain.th("Duration", "col-duration"),
             plain.th("Created", "col-created"),
             plain.th("Kind", "col-kind"), plain.th("Owner", "col-owner"), plain.th("Last message", "col-message")],
            rx.foreach(JobsListState.rows, _row),
            class_name=rx.cond(JobsListState.show_owner, "jobs-table with-owner", "jobs-table"),
        ),
        class_name="table-scroll",
    )


def _bulk_bar() -> rx.Component:
    # "all matching" only where the search is a filter a bulk action takes (not an id
    # prefix or words of a subject): never act on more than is shown
    return bulk_bar(JobsSelectionState, more=(JobsListState.next_cursor != "") & JobsListState.takes_every,
                    shown=JobsListState.rows.length())  # type: ignore[attr-defined]


def _empty() -> rx.Component:
    return rx.cond(
        JobsListState.search_kind == "none",
        empty_state("search-x", "No job or batch with that id, nor a job about those words",
                    "No job or batch has that id, no id starts so, and no job's label, item or pipeline has "
                    "those words; you can only find your own jobs.",
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
            rx.cond(JobsListState.bounded,
                    rx.text(f"Looked through the next {WINDOW:,} jobs in this order; Load more looks further.",
                            size="2", color_scheme="gray", class_name="bounded-note")),
            rx.cond(JobsListState.next_cursor != "",
                    rx.center(rx.button("Load more", variant="soft", on_click=JobsState.load_more,
                                        class_name="load-more"), width="100%"),
                    rx.center(rx.text("That is all.", size="2", color_scheme="gray"), width="100%")),
            width="100%",
            spacing="3",
        ),
        rx.cond(JobsListState.loaded,
                rx.cond(JobsListState.next_cursor != "",  # a bounded read found none yet: it may look further
                        rx.vstack(rx.text(f"None among the next {WINDOW:,} jobs in this order.", size="2",
                                          class_name="bounded-note"),
                                  rx.button("Look further", variant="soft", on_click=JobsState.load_more,
                                            class_name="load-more"), align="center", width="100%"),
                        _empty()),
                rx.center(rx.spinner(), padding="3em", width="100%")),
    )


def jobs_page() -> rx.Component:
    return page(
        _admin_scope(),
        status_counts(active_status=JobsState.status_filter),
        _filters(),
        link_problem(JobsState.link_problem),
        _bulk_bar(),
        jobs_list(),
        title="Jobs",
        actions=[rx.button(rx.icon("refresh-cw", size=14), "Refresh", variant="soft", on_click=JobsState.refresh,
                           class_name="refresh")],
    )
