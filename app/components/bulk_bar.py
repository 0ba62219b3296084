"""The selection bar of a list of jobs or submissions (app.state.bulk_select): a row's
checkbox (shift-click: the rows from the last one clicked), "select this page", what
is selected with the offer of every job matching the filter, the actions, a bulk job
under way, the last summary, and the confirmation stating the count. One bar for the
jobs panel, a batch's view and the admin submissions."""

from __future__ import annotations

from typing import Optional

import reflex as rx

from app.state.base import AuthState
from app.state.bulk_select import WHOLE


def tick(selected: rx.Var, toggle, row_id: rx.Var, what: str = "job") -> rx.Component:
    """A row's checkbox: a click ticks it, a shift-click the rows from the last one clicked."""
    return rx.el.button(
        rx.cond(selected, rx.icon("square-check", size=16), rx.icon("square", size=16)),
        type="button", role="checkbox", class_name="row-tick",
        on_click=lambda e: toggle(row_id, e["shift_key"]),
        custom_attrs={"aria-checked": rx.cond(selected, "true", "false"), "aria-label": f"Select this {what}"},
    )


def page_tick(sel) -> rx.Component:
    """The column header's button: select (or unselect) every row of the page."""
    return rx.el.button(rx.icon("list-checks", size=16), type="button", class_name="row-tick",
                        on_click=sel.select_page, title="Select this page",
                        custom_attrs={"aria-label": "Select this page"})


def bulk_bar(sel, *, more: rx.Var, shown: rx.Var, actions: tuple[str, ...] = ("cancel", "retry", "delete"),
             noun: str = "selected", every_words: str = "jobs matching this filter",
             whole: Optional[rx.Var] = None) -> rx.Component:
    """`sel` is the list's BulkSelection state; `more`: the list has rows past its page
    (then "all matching" is offered once the page is selected); `shown`: rows on the
    page; `whole`: when true, a "Cancel the whole batch" button."""
    chosen = rx.cond(sel.every, rx.text("All ", rx.el.strong(sel.matching_text), " ", every_words, size="2"),
                     rx.text(rx.el.strong(sel.count), " ", noun, size="2"))
    offer = rx.cond(~sel.every & (sel.count > 0) & more & (sel.count >= shown),
                    rx.button("Select all ", sel.matching_text, " ", every_words, variant="ghost",
                              size="1", on_click=sel.select_every, class_name="select-every"))
    buttons = []
    if "cancel" in actions:
        buttons.append(rx.button(rx.icon("circle-stop", size=14), "Cancel", size="1", color_scheme="orange",
                                 on_click=sel.ask("cancel"), class_name="bulk-cancel"))
    if "retry" in actions:
        buttons.append(rx.button(rx.icon("rotate-ccw", size=14), "Retry", size="1", on_click=sel.ask("retry"),
                                 class_name="bulk-retry"))
    if "delete" in actions:
        buttons.append(rx.cond(AuthState.is_admin, rx.button(rx.icon("trash-2", size=14), "Delete", size="1",
                                                             color_scheme="red", on_click=sel.ask("delete"),
                                                             class_name="bulk-delete")))
    return rx.vstack(
        rx.cond(sel.every | (sel.count > 0), rx.flex(
            chosen, offer, *buttons,
            rx.button("Clear selection", variant="ghost", size="1", on_click=sel.clear),
            spacing="3", align="center", wrap="wrap", class_name="bulk-bar",
        )),
        rx.cond(whole if whole is not None else False,
                rx.button(rx.icon("ban", size=14), "Cancel the whole batch", size="1", variant="soft",
                          color_scheme="orange", on_click=sel.ask(WHOLE), class_name="cancel-whole")),
        rx.cond(sel.bulk_job_id != "", rx.callout(
            rx.flex(rx.text("Bulk job ", rx.link(sel.bulk_job_id, href="/jobs/" + sel.bulk_job_id), " under way: ",
                            sel.report), rx.spinner(size="1"), spacing="2", align="center"),
            icon="loader", class_name="bulk-running", width="100%")),
        rx.cond(sel.summary != "", rx.callout(
            rx.flex(rx.text(sel.summary, class_name="bulk-summary"),
                    rx.icon_button(rx.icon("x", size=14), variant="ghost", size="1", on_click=sel.dismiss,
                                   aria_label="Dismiss"), justify="between", align="center", width="100%"),
            icon="check", color_scheme="green", width="100%")),
        rx.alert_dialog.root(
            rx.alert_dialog.content(
                rx.alert_dialog.title("Bulk action"),
                rx.alert_dialog.description(sel.question, class_name="bulk-question"),
                rx.flex(rx.alert_dialog.cancel(rx.button("Keep them", variant="soft", on_click=sel.keep)),
                        rx.alert_dialog.action(rx.button("Yes, do it", on_click=sel.confirm,
                                                         class_name="bulk-confirm")),
                        spacing="3", justify="end", margin_top="1em"),
            ),
            open=sel.asking != "",
        ),
        width="100%", spacing="2",
    )
