"""The admin overview (/admin): backends (queue, workers, settings, wake up, change),
every user's job counts, stuck jobs. Also the frame of every admin page: its own
navigation, and the "admins only" page a non-admin sees instead."""

from __future__ import annotations

import reflex as rx

from app import routes
from app.components.common import empty_state, section
from app.components.layout import page
from app.components.status import status_badge
from app.state.admin import AdminState, BackendRow, CountRow, StuckRow
from app.state.base import AuthState

ADMIN_NAV = [("Overview", routes.ADMIN, "gauge"), ("Metrics", routes.ADMIN_METRICS, "chart-line"),
             ("Queues", routes.ADMIN_QUEUES, "list-ordered"), ("Workers", routes.ADMIN_WORKERS, "cpu"),
             ("Submissions", routes.ADMIN_SUBMISSIONS, "inbox"),
             ("Configuration", routes.ADMIN_CONFIGURATION, "settings"), ("Users", routes.ADMIN_USERS, "users"),
             ("Schedules", routes.ADMIN_SCHEDULES, "calendar-clock"), ("Audit", routes.ADMIN_AUDIT, "scroll-text")]


def _admin_tab(label: str, href: str, icon: str) -> rx.Component:
    path = rx.State.router.url.path  # type: ignore[attr-defined]
    active = (path == href) | (path == href + "/")
    return rx.link(
        rx.button(rx.icon(icon, size=14), label, variant=rx.cond(active, "solid", "soft"),
                  color_scheme=rx.cond(active, "indigo", "gray"), size="2"),
        href=href, underline="none", class_name="admin-tab",
    )


def admins_only() -> rx.Component:
    return rx.center(
        rx.vstack(
            rx.icon("shield-x", size=40, color="var(--gray-9)"),
            rx.heading("Admins only", size="6"),
            rx.text("This part of the console is for administrators: it shows every user's submissions, the "
                    "workers and the backends, and changes them. You are signed in as ",
                    rx.text.strong(AuthState.username), ", who is not an administrator. Ask one if something "
                    "of yours must be stopped or changed.",
                    color_scheme="gray", align="center", max_width="34em"),
            rx.link(rx.button(rx.icon("arrow-left", size=16), "Back to my jobs", variant="soft"), href=routes.JOBS),
            align="center",
            spacing="3",
        ),
        padding_y="4em",
        width="100%",
        class_name="admins-only",
    )


def admin_page(*children: rx.Component, title: str, actions=None, tick=None, every_ms: int = 3000) -> rx.Component:
    """An admin page: the console's layout, the admin navigation, the content; for
    anyone but an admin only the "admins only" page. `tick` is read again every
    `every_ms` while the page is open."""
    timer = []
    if tick is not None:  # the moment re-renders each interval; its on_change asks the server to read again
        timer = [rx.moment(interval=every_ms, format="HH:mm:ss", on_change=tick, display="none")]
    return page(
        rx.cond(
            AuthState.is_admin,
            rx.vstack(
                rx.flex(rx.heading(title, size="7", class_name="page-title"),
                        rx.hstack(*(actions or []), spacing="2", wrap="wrap"),
                        justify="between", align="center", wrap="wrap", spacing="3", width="100%"),
                rx.flex(*[_admin_tab(*n) for n in ADMIN_NAV], spacing="2", wrap="wrap", class_name="admin-nav"),
                *timer,
                *children,
                spacing="4",
                width="100%",
            ),
            admins_only(),
        ),
    )


# --- the overview ---------------------------------------------------------------------------


def _stat(label: str, value, hint=None) -> rx.Component:
    parts = [rx.text(label, size="1", color_scheme="gray"), rx.text(value, size="4", weight="bold")]
    if hint is not None:
        parts.append(rx.text(hint, size="1", color_scheme="gray"))
    return rx.vstack(*parts, spacing="0", min_width="6em")


def _backend_card(b: BackendRow) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.flex(
                rx.hstack(rx.icon("server", size=18), rx.heading(b.name, size="4"), align="center", spacing="2"),
                rx.hstack(
                    rx.cond(b.can_wake,
                            rx.button(rx.icon("alarm-clock", size=14), "Wake up", size="1", variant="soft",
                                      on_click=AdminState.wake(b.name), class_name="wake-backend")),
                    rx.button(rx.icon("pencil", size=14), "Change", size="1", variant="soft",
                              on_click=AdminState.open_edit(b.name), class_name="edit-backend"),
                    spacing="2",
                ),
                justify="between", align="center", wrap="wrap", spacing="2", width="100%",
            ),
            rx.grid(
                _stat("Queue", rx.text(b.queued, custom_attrs={"data-field": "queued"}),
                      rx.cond(b.scheduled > 0, rx.text("+ ", b.scheduled, " retries due later"), "jobs waiting")),
                _stat("By priority",
                      rx.text(rx.el.span(b.queued_high, custom_attrs={"data-field": "queued-high"}), " · ",
                              rx.el.span(b.queued_normal, custom_attrs={"data-field": "queued-normal"}), " · ",
                              rx.el.span(b.queued_low, custom_attrs={"data-field": "queued-low"})),
                      "high · normal · low"),
                _stat("Workers", rx.text(b.workers, custom_attrs={"data-field": "workers"}),
                      rx.text(b.busy, " busy · ", b.idle, " idle", custom_attrs={"data-field": "busy-idle"})),
                _stat("Max workers", rx.text(b.max_workers, custom_attrs={"data-field": "max-workers"})),
                _stat("Idle timeout", rx.text(b.idle_timeout, custom_attrs={"data-field": "idle-timeout"})),
                _stat("Job time limit", rx.text(b.job_timeout, custom_attrs={"data-field": "job-timeout"})),
                _stat("Served by", rx.cond(b.served_by != "", b.served_by, "no pool")),
                columns=rx.breakpoints(initial="2", sm="3"),
                spacing="3",
                width="100%",
            ),
            rx.cond(b.unavailable != "",
                    rx.callout(b.unavailable, icon="triangle-alert", color_scheme="orange", size="1", width="100%")),
            spacing="3",
            width="100%",
        ),
        custom_attrs={"data-backend": b.name},
        class_name="backend-card",
    )


def _field(label: str, name: str, hint: str) -> rx.Component:
    bad = AdminState.edit_field == name
    return rx.vstack(
        rx.text(label, size="2", weight="medium", as_="label", html_for=f"backend-{name}"),
        rx.input(id=f"backend-{name}", name=name, type="number", default_value=AdminState.edit_values[name],
                 aria_label=label,
                 width="100%", color_scheme=rx.cond(bad, "red", "gray"),
                 custom_attrs={"aria-invalid": rx.cond(bad, "true", "false")}),
        rx.text(hint, size="1", color_scheme="gray"),
        spacing="1",
        width="100%",
    )


def _edit_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Change backend ", AdminState.editing),
            rx.dialog.description("Pools and workers apply these as soon as you save. Running jobs keep the "
                                  "time limit they started with.", size="2", color_scheme="gray"),
            rx.form(
                rx.vstack(
                    _field("Max workers", "max_workers",
                           "0 to 100 across all pools. 0 pauses the backend: from then on no worker takes a job of it "
                           "(its jobs wait), idle workers stop at once, a running job finishes first. Lowering it "
                           "stops the idle workers past the new maximum at once; a busy one stops after its job."),
                    _field("Idle timeout (seconds)", "idle_timeout_s",
                           "1 to 86400: how long an idle worker waits for work before it stops."),
                    _field("Job time limit (seconds)", "job_timeout_s",
                           "0 to 86400; a job running longer is stopped (CRASHED). 0: each job type's own limit."),
                    rx.cond(AdminState.edit_error != "",
                            rx.callout(AdminState.edit_error, icon="triangle-alert", color_scheme="red",
                                       width="100%", class_name="form-error")),
                    rx.flex(rx.dialog.close(rx.button("Cancel", variant="soft", color_scheme="gray", type="button")),
                            rx.button("Save", type="submit", class_name="save-backend"),
                            spacing="3", justify="end", width="100%"),
                    spacing="4",
                    width="100%",
                ),
                on_submit=AdminState.save_edit,
                reset_on_submit=False,
            ),
            max_width="30em",
        ),
        open=AdminState.editing != "",
        on_open_change=AdminState.set_edit_open,
    )


def _count(c: CountRow) -> rx.Component:
    return rx.card(
        rx.vstack(
            status_badge(c.status),
            rx.text(c.count, size="6", weight="bold"),
            rx.text("A_A: ", c.aa_name, size="1", color_scheme="gray"),
            spacing="1",
            align="start",
        ),
        size="1",
        custom_attrs={"data-count-status": c.status},
        class_name="status-count",
    )


def _stuck_row(s: StuckRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.link(rx.vstack(rx.text(s.label, weight="medium"),
                                        rx.text(s.job_id, size="1", color_scheme="gray", class_name="mono-id"),
                                        spacing="0"),
                              href=routes.job(s.job_id), underline="hover", class_name="job-link")),
        rx.table.cell(rx.text(s.owner, size="2")),
        rx.table.cell(rx.badge(s.backend, variant="outline", color_scheme="gray")),
        rx.table.cell(rx.text(s.waiting, size="2")),
        rx.table.cell(rx.text(s.reason, size="2", color_scheme="orange"), min_width="16em"),
        custom_attrs={"data-job-id": s.job_id},
        class_name="stuck-row",
    )


def _stuck() -> rx.Component:
    return section(
        "Stuck jobs",
        rx.cond(
            AdminState.stuck.length() > 0,  # type: ignore[attr-defined]
            rx.box(rx.table.root(
                rx.table.header(rx.table.row(
                    rx.table.column_header_cell("Job"), rx.table.column_header_cell("Owner"),
                    rx.table.column_header_cell("Backend"), rx.table.column_header_cell("Waiting"),
                    rx.table.column_header_cell("Why no worker takes it"))),
                rx.table.body(rx.foreach(AdminState.stuck, _stuck_row)),
                variant="surface", size="1", width="100%"), overflow_x="auto", width="100%"),
            rx.text("None: every waiting job has a worker able to take it. A job shows here when it has waited "
                    "longer than JOBDECK_STUCK_AFTER_S on a backend that no worker can serve.",
                    size="2", color_scheme="gray", class_name="no-stuck-jobs"),
        ),
        class_name="stuck-jobs",
    )


def admin_overview_page() -> rx.Component:
    return admin_page(
        rx.cond(AdminState.error != "",
                rx.callout(AdminState.error, icon="unplug", color_scheme="red", width="100%")),
        rx.cond(
            AdminState.loaded,
            rx.vstack(
                rx.heading("Backends", size="4"),
                rx.cond(
                    AdminState.backends.length() > 0,  # type: ignore[attr-defined]
                    rx.grid(rx.foreach(AdminState.backends, _backend_card),
                            columns=rx.breakpoints(initial="1", md="2", lg="3"), spacing="3", width="100%"),
                    empty_state("server-off", "No backends", "A backend is a queue with its own workers; job types "
                                "name theirs. None could be read."),
                ),
                rx.flex(rx.heading("Jobs of every user", size="4"),
                        rx.text("Total ", rx.text.strong(AdminState.total), size="2", color_scheme="gray"),
                        rx.link("See them all", href=routes.JOBS, size="2"),
                        spacing="3", align="baseline", wrap="wrap"),
                rx.grid(rx.foreach(AdminState.counts, _count),
                        columns=rx.breakpoints(initial="2", sm="4", lg="7"), spacing="2", width="100%"),
                rx.hstack(rx.icon("archive", size=14, color="var(--gray-10)"),
                          rx.text(rx.text.strong("Retention: "), AdminState.retention, size="2",
                                  color_scheme="gray", class_name="retention-policy"),
                          spacing="2", align="center"),
                _stuck(),
                spacing="4",
                width="100%",
            ),
            rx.center(rx.spinner(), padding="3em", width="100%"),
        ),
        _edit_dialog(),
        title="Admin",
        actions=[rx.text("Reads again every 3 s", size="1", color_scheme="gray")],
        tick=AdminState.tick,
    )

