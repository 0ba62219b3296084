"""Worker status (/admin/workers): every worker seen in the last hour and every pool,
from their heartbeats, read again every two seconds."""

from __future__ import annotations

import reflex as rx

from app import routes
from app.components.common import empty_state, section
from app.pages.admin import admin_page
from app.state.admin_workers import STATE_COLORS, STATE_HINTS, AdminWorkersState, PoolRow, WorkerRow


def worker_state_badge(state) -> rx.Component:
    return rx.tooltip(
        rx.badge(state, color_scheme=rx.match(state, *STATE_COLORS.items(), "gray"), variant="soft", radius="full",
                 custom_attrs={"data-state": state}, class_name="worker-state"),
        content=rx.match(state, *STATE_HINTS.items(), ""),
    )


WIDE = ["none", "table-cell"]  # columns a phone leaves out (the worker's cell says them)
WIDER = ["none", "none", "table-cell"]


def _worker(w: WorkerRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.vstack(rx.text(w.name, size="2", weight="medium", class_name="mono-id"),
                                rx.text(w.backend, " · ", w.host, " pid ", w.pid, size="1", color_scheme="gray",
                                        display=["block", "none"]),
                                rx.cond(w.exit_reason != "", rx.text(w.exit_reason, size="1", color_scheme="gray")),
                                spacing="0"), min_width="10em"),
        rx.table.cell(rx.text(w.host, size="2"), display=WIDE),
        rx.table.cell(rx.text(w.pid, size="2"), display=WIDE),
        rx.table.cell(rx.badge(w.backend, variant="outline", color_scheme="gray"), display=WIDE),
        rx.table.cell(worker_state_badge(w.state)),
        rx.table.cell(rx.cond(w.job_id != "",
                              rx.vstack(rx.link(w.job_id[:8], href=routes.job(w.job_id), class_name="job-link"),
                                        rx.text("for ", w.job_for, size="1", color_scheme="gray"), spacing="0"),
                              rx.text("—", color_scheme="gray"))),
        rx.table.cell(rx.text(w.done, size="2"), display=WIDER),
        rx.table.cell(rx.text(w.failed, size="2", color_scheme=rx.cond(w.failed > 0, "red", "gray")), display=WIDER),
        rx.table.cell(rx.tooltip(rx.text(w.beat, size="2", class_name="heartbeat", white_space="nowrap"),
                                 content=w.beat_exact)),
        custom_attrs={"data-worker": w.name, "data-backend": w.backend, "data-state": w.state},
        class_name="worker-row",
    )


def _workers() -> rx.Component:
    return rx.cond(
        AdminWorkersState.shown.length() > 0,  # type: ignore[attr-defined]
        rx.box(rx.table.root(
            rx.table.header(rx.table.row(
                rx.table.column_header_cell("Worker"), rx.table.column_header_cell("Host", display=WIDE),
                rx.table.column_header_cell("PID", display=WIDE), rx.table.column_header_cell("Backend", display=WIDE),
                rx.table.column_header_cell("State"), rx.table.column_header_cell("Current job"),
                rx.table.column_header_cell("Done", display=WIDER),
                rx.table.column_header_cell("Failed", display=WIDER),
                rx.table.column_header_cell("Last heartbeat"))),
            rx.table.body(rx.foreach(AdminWorkersState.shown, _worker)),
            variant="surface", size="1", width="100%", class_name="workers-table"),
            overflow_x="auto", width="100%"),
        empty_state("cpu", "No workers",
                    "Workers start when a backend has work and stop after its idle timeout, so none may be "
                    "running now. Wake a backend up on the overview to start one."),
    )


def _pool(p: PoolRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.text(p.host, size="2", weight="medium")),
        rx.table.cell(rx.text(p.pid, size="2")),
        rx.table.cell(rx.text(p.backends, size="2")),
        rx.table.cell(rx.text(p.beat, size="2")),
        custom_attrs={"data-pool": p.pool_id},
        class_name="pool-row",
    )


def _pools() -> rx.Component:
    return section(
        "Pools",
        rx.cond(
            AdminWorkersState.pools.length() > 0,  # type: ignore[attr-defined]
            rx.box(rx.table.root(
                rx.table.header(rx.table.row(
                    rx.table.column_header_cell("Host"), rx.table.column_header_cell("PID"),
                    rx.table.column_header_cell("Backends served"), rx.table.column_header_cell("Last heartbeat"))),
                rx.table.body(rx.foreach(AdminWorkersState.pools, _pool)),
                variant="ghost", size="1", width="100%"), overflow_x="auto", width="100%"),
            rx.text("No pool is running: start one with `python -m worker.pool` on a host that can run the jobs "
                    "(./scripts/run starts one).", size="2", color_scheme="orange"),
        ),
    )


def admin_workers_page() -> rx.Component:
    return admin_page(
        rx.cond(AdminWorkersState.error != "",
                rx.callout(AdminWorkersState.error, icon="unplug", color_scheme="red", width="100%")),
        rx.cond(
            AdminWorkersState.loaded,
            rx.vstack(
                rx.flex(rx.text(AdminWorkersState.summary, size="2", color_scheme="gray", class_name="workers-summary"),
                        rx.hstack(rx.switch(checked=AdminWorkersState.show_gone,
                                            on_change=AdminWorkersState.set_show_gone, aria_label="Show stopped"),
                                  rx.text("Show stopped workers", size="2"), align="center"),
                        justify="between", align="center", wrap="wrap", spacing="3", width="100%"),
                _workers(),
                _pools(),
                spacing="4",
                width="100%",
            ),
            rx.center(rx.spinner(), padding="3em", width="100%"),
        ),
        title="Workers",
        actions=[rx.text("Reads again every 2 s", size="1", color_scheme="gray")],
        tick=AdminWorkersState.tick,
        every_ms=2000,
    )
