"""The audit log (/admin/audit): who did what, when, from where, via what, on which
target, with what outcome; newest first, filtered, "load more" by keyset."""

from __future__ import annotations

import reflex as rx

from app.components.common import empty_state
from app.pages.admin import admin_page
from app.state.admin_audit import AdminAuditState as S
from app.state.admin_audit import AuditRow


def _row(r: AuditRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.text(r.at_exact, size="1", title=r.at), white_space="nowrap"),
        rx.table.cell(rx.text(r.actor, weight="medium"), class_name="audit-actor"),
        rx.table.cell(rx.code(r.action), class_name="audit-action"),
        rx.table.cell(rx.text(r.target, size="2"), class_name="audit-target", max_width="18em",
                      style={"overflow_wrap": "anywhere"}),
        rx.table.cell(rx.badge(r.outcome, color_scheme=rx.cond(r.outcome == "ok", "green", "red")),
                      rx.cond(r.message != "", rx.text(r.message, size="1", color_scheme="gray")),
                      class_name="audit-outcome"),
        rx.table.cell(rx.text(r.via, rx.cond(r.address != "", " · " + r.address, ""), size="1", color_scheme="gray"),
                      display=["none", "table-cell"]),
        class_name="audit-row",
    )


def _filters() -> rx.Component:
    return rx.form(
        rx.flex(
            rx.input(name="actor", placeholder="Actor (username)", default_value=S.actor_filter, width="12em",
                     aria_label="Actor filter"),
            rx.select(S.action_choices, name="action", default_value="any", aria_label="Action filter"),
            rx.input(name="target", placeholder="Target (id or name)", default_value=S.target_filter, width="14em",
                     aria_label="Target filter"),
            rx.select(["any", "ok", "refused"], name="outcome", default_value="any", aria_label="Outcome filter"),
            rx.input(name="since", type="datetime-local", default_value=S.since_filter, aria_label="From (UTC)"),
            rx.input(name="until", type="datetime-local", default_value=S.until_filter, aria_label="Until (UTC)"),
            rx.button(rx.icon("filter", size=14), "Filter", type="submit", variant="soft"),
            rx.button(rx.icon("x", size=14), "Clear", type="button", variant="ghost", on_click=S.clear_filters),
            spacing="2", wrap="wrap", align="center",
        ),
        rx.cond(S.filter_error != "", rx.callout(S.filter_error, icon="triangle_alert", color_scheme="red",
                                                 size="1", margin_top="0.5em")),
        on_submit=S.apply_filters, reset_on_submit=False, width="100%",
    )


def _table() -> rx.Component:
    return rx.box(
        rx.table.root(
            rx.table.header(rx.table.row(
                rx.table.column_header_cell("When (UTC)"),
                rx.table.column_header_cell("Actor"),
                rx.table.column_header_cell("Action"),
                rx.table.column_header_cell("Target"),
                rx.table.column_header_cell("Outcome"),
                rx.table.column_header_cell("Via · from", display=["none", "table-cell"]),
            )),
            rx.table.body(rx.foreach(S.rows, _row)),
            variant="surface", size="1", width="100%", class_name="audit-table",
        ),
        overflow_x="auto",
        width="100%",
    )


def admin_audit_page() -> rx.Component:
    return admin_page(
        rx.text("Every action that changed something, or was refused, through the console, the API or the "
                "host's commands. The log is hash-chained: `python -m app.manage verify-audit` finds an entry "
                "altered or removed.", size="2", color_scheme="gray"),
        _filters(),
        rx.cond(
            S.rows.length() > 0,  # type: ignore[attr-defined]
            rx.vstack(
                _table(),
                rx.cond(S.next_cursor != "",
                        rx.center(rx.button("Load more", variant="soft", on_click=S.load_more, class_name="load-more"),
                                  width="100%"),
                        rx.center(rx.text("That is all.", size="2", color_scheme="gray"), width="100%")),
                spacing="3", width="100%",
            ),
            rx.cond(S.loaded, empty_state("scroll-text", "No entries", "Nothing matches these filters."),
                    rx.center(rx.spinner(), padding="3em", width="100%")),
        ),
        title="Audit log",
        actions=[rx.button(rx.icon("refresh-cw", size=14), "Refresh", variant="soft", on_click=S.load)],
    )
