"""Small pieces shared by the pages."""

from __future__ import annotations

import reflex as rx


class RelativeTime(rx.Component):
    """A time relative to now ("3 minutes ago") on one clock shared by the page
    (assets/relative_time.jsx): cheap enough for every row of a live list."""

    library = "$/public/relative_time.jsx"
    tag = "RelativeTime"

    date: rx.Var[str]


relative_time = RelativeTime.create


class RunningFor(rx.Component):
    """How long something has run so far ("running for 3 minutes"), on the same clock."""

    library = "$/public/relative_time.jsx"
    tag = "RunningFor"

    since: rx.Var[str]


running_for = RunningFor.create


def when(ts, exact=None) -> rx.Component:
    """A time shown relative ("3 minutes ago"), exact on hover."""
    return rx.cond(
        ts != "",
        rx.text(relative_time(date=ts), size="2", class_name="when", title=exact if exact is not None else ts),
        rx.text("—", color_scheme="gray"),
    )


def empty_state(icon: str, title: str, hint, *actions: rx.Component) -> rx.Component:
    """What an empty list says: what it is and what to do."""
    return rx.center(
        rx.vstack(
            rx.icon(icon, size=32, color="var(--gray-9)"),
            rx.heading(title, size="4"),
            rx.text(hint, color_scheme="gray", align="center", max_width="32em"),
            rx.hstack(*actions, spacing="3"),
            align="center",
            spacing="3",
        ),
        padding_y="3em",
        width="100%",
        class_name="empty-state",
    )


def copy_id(value) -> rx.Component:
    return rx.hstack(
        rx.code(value, size="2", variant="ghost", class_name="mono-id"),
        rx.icon_button(rx.icon("copy", size=14), size="1", variant="ghost",
                       on_click=[rx.set_clipboard(value), rx.toast.info("Copied to the clipboard.")],
                       aria_label="Copy"),
        spacing="1",
        align="center",
    )


def section(title: str, *children: rx.Component, **props) -> rx.Component:
    return rx.card(rx.vstack(rx.heading(title, size="3"), *children, spacing="3", width="100%"),
                   width="100%", **props)


def field_row(label: str, value: rx.Component) -> rx.Component:
    return rx.data_list.item(rx.data_list.label(label, min_width="9em"), rx.data_list.value(value))


def not_found(title: str, hint: str, back_href: str, back_label: str) -> rx.Component:
    return rx.center(
        rx.vstack(
            rx.icon("search-x", size=40, color="var(--gray-9)"),
            rx.heading(title, size="6"),
            rx.text(hint, color_scheme="gray", align="center", max_width="34em"),
            rx.link(rx.button(rx.icon("arrow-left", size=16), back_label, variant="soft"), href=back_href),
            align="center",
            spacing="3",
        ),
        padding_y="4em",
        width="100%",
        class_name="not-found",
    )


def link_problem(problem) -> rx.Component:
    """What of a page's address was no filter's value, and so left out (app.state.address)."""
    return rx.cond(problem != "",
                   rx.callout(rx.text("Some of this link's filters are no filters, so they were left out: ",
                                      problem, "."),
                              icon="link-2-off", color_scheme="amber", size="1", width="100%",
                              class_name="link-problem"))
