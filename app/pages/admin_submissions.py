"""Submissions (/admin/submissions): what every user asked for, newest first, live, with
cancel and delete behind a confirmation, and the selection bar of bulk actions."""

from __future__ import annotations

import reflex as rx

from app.components.bulk_bar import bulk_bar, page_tick, tick
from app.components.common import empty_state, link_problem, when
from app.components.status import status_badge
from app.pages.admin import admin_page
from app.state.admin_submissions import AdminSubmissionsState as S
from app.state.admin_submissions import SubmissionRow
from app.state.admin_submissions import SubmissionsSelectionState as Sel


def _action(icon: str, label: str, color: str, **props) -> rx.Component:
    # Words on wide screens, icons alone on a phone (the label stays for screen readers).
    return rx.button(rx.icon(icon, size=14), rx.text(label, display=["none", "none", "inline"]), size="1",
                     variant="soft", color_scheme=color, aria_label=f"{label} submission", **props)


def _row(r: SubmissionRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(tick(Sel.selected.contains(r.id), Sel.toggle, r.id, what="submission"), class_name="col-select"),
        rx.table.cell(rx.vstack(
            rx.link(rx.text(r.label, weight="medium"), href=r.href, underline="hover", class_name="submission-link"),
            rx.cond(r.subject != "", rx.text(r.subject, size="2")),
            rx.text(r.kind_text, size="1", color_scheme="gray", display=["none", "block"]),
            rx.text(r.owner, size="1", color_scheme="gray", display=["block", "none"]),
            spacing="0"), min_width="10em"),
        rx.table.cell(rx.text(r.owner, size="2", class_name="submission-owner"), display=["none", "table-cell"]),
        rx.table.cell(rx.vstack(
            status_badge(r.status, r.description),
            rx.text("A_A: ", rx.el.span(r.aa_status, class_name="aa-status"), size="1", color_scheme="gray",
                    white_space="nowrap"),
            spacing="1")),
        rx.table.cell(rx.text(r.finished, " / ", r.jobs, size="2", white_space="nowrap"),
                      display=["none", "table-cell"]),
        rx.table.cell(when(r.created, r.created_exact), display=["none", "table-cell"]),
        rx.table.cell(rx.text(r.last_message, size="2", color_scheme="gray", class_name="last-message"),
                      display=["none", "none", "table-cell"], max_width="22em"),
        rx.table.cell(rx.flex(
            _action("ban", "Cancel", "amber", disabled=~r.live, on_click=S.ask("cancel", r.id),
                    class_name="cancel-submission"),
            _action("trash-2", "Delete", "red", on_click=S.ask("delete", r.id), class_name="delete-submission"),
            spacing="2", wrap="nowrap")),
        custom_attrs={"data-submission-id": r.id, "data-status": r.status, "data-kind": r.kind},
        class_name="submission-row",
    )


def _confirm_dialog() -> rx.Component:
    deleting = S.confirm_kind == "delete"
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title(rx.cond(deleting, "Delete this submission?", "Cancel this submission?")),
            rx.alert_dialog.description(
                rx.text.strong(S.confirm_label), ". ",
                rx.cond(deleting,
                        "Its live jobs are cancelled first (running ones halted), then its jobs, their history and "
                        "files, and its batches are removed for good. Registry items and provenance stay.",
                        "Every job of it that has not finished is stopped: waiting ones leave their queues, "
                        "running ones are halted. Finished jobs keep their results."),
            ),
            rx.flex(
                rx.alert_dialog.cancel(rx.button("Keep it", variant="soft", color_scheme="gray",
                                                 disabled=S.working)),
                rx.button(rx.cond(S.working, rx.spinner(size="1"), rx.fragment()),
                          rx.cond(deleting, "Delete the submission", "Cancel the submission"),
                          color_scheme=rx.cond(deleting, "red", "amber"), disabled=S.working,
                          on_click=S.confirm, class_name="confirm-action"),
                spacing="3", justify="end", margin_top="1em", wrap="wrap",
            ),
            max_width="32em",
        ),
        open=S.confirm_kind != "",
        on_open_change=S.set_confirm_open,
    )


def _filter() -> rx.Component:
    return rx.flex(
        rx.form(
            rx.hstack(rx.input(rx.input.slot(rx.icon("user", size=14)), name="owner", placeholder="Username",
                               default_value=S.owner_filter, width=["100%", "14em"], aria_label="Username filter",
                               key=S.owner_filter),
                      rx.button("Show user", type="submit", variant="soft"), spacing="2"),
            on_submit=S.apply_owner, reset_on_submit=False, width="auto",
        ),
        rx.cond(S.owner_filter != "",
                rx.button(rx.icon("x", size=14), "Every user", variant="ghost", on_click=S.clear_owner)),
        spacing="2",
        wrap="wrap",
        align="center",
        width="100%",
    )


def _table() -> rx.Component:
    return rx.box(
        rx.table.root(
            rx.table.header(rx.table.row(
                rx.table.column_header_cell(page_tick(Sel), class_name="col-select"),
                rx.table.column_header_cell("Submission"),
                rx.table.column_header_cell("Owner", display=["none", "table-cell"]),
                rx.table.column_header_cell("Status"),
                rx.table.column_header_cell("Jobs", display=["none", "table-cell"]),
                rx.table.column_header_cell("Submitted", display=["none", "table-cell"]),
                rx.table.column_header_cell("Last message", display=["none", "none", "table-cell"]),
                rx.table.column_header_cell(""),
            )),
            rx.table.body(rx.foreach(S.rows, _row)),
            variant="surface", size="2", width="100%", class_name="submissions-table",
        ),
        overflow_x="auto",
        width="100%",
    )


def admin_submissions_page() -> rx.Component:
    return admin_page(
        rx.text("A submission is what a user asked for: a job and the workflow it started (with any batch it "
                "fanned out), or a batch lodged at once. Its status is that of all its jobs together.",
                size="2", color_scheme="gray"),
        _filter(),
        link_problem(S.link_problem),
        rx.cond(
            S.rows.length() > 0,  # type: ignore[attr-defined]
            rx.vstack(
                bulk_bar(Sel, more=S.next_cursor != "", shown=S.rows.length(),  # type: ignore[attr-defined]
                         actions=("cancel", "delete"), every_words="jobs of the submissions this filter shows"),
                _table(),
                rx.cond(S.next_cursor != "",
                        rx.center(rx.button("Load more", variant="soft", on_click=S.load_more, class_name="load-more"),
                                  width="100%"),
                        rx.center(rx.text("That is all.", size="2", color_scheme="gray"), width="100%")),
                spacing="3",
                width="100%",
            ),
            rx.cond(S.loaded,
                    rx.cond(S.owner_filter != "",
                            empty_state("user-x", "No submissions of this user",
                                        "Check the username, or show every user's.",
                                        rx.button("Every user", variant="soft", on_click=S.clear_owner)),
                            empty_state("inbox", "No submissions yet",
                                        "Submissions appear here when users create items, register model runs or "
                                        "lodge jobs through the API.")),
                    rx.center(rx.spinner(), padding="3em", width="100%")),
        ),
        _confirm_dialog(),
        title="Submissions",
        actions=[rx.button(rx.icon("refresh-cw", size=14), "Refresh", variant="soft", on_click=S.refresh)],
    )
