"""Radix Themes' look from plain HTML elements, for the parts of a page that follow
live pushes.

A Radix Themes component costs a browser several React components and a style
computation on every render (its props are resolved to classes at run time; a
responsive prop goes through Emotion). The rows of a live list render on every push in
every open tab, so there they are plain elements carrying the classes Radix would have
put on them: the same look, a fraction of the work. The table also leaves out Radix's
scroll area, whose size observer lays the page out again after every new row.

Responsive visibility and column widths are classes in assets/jobdeck.css.
"""

from __future__ import annotations

import reflex as rx
from reflex_components_core.react_router.dom import ReactRouterLink

from app.components.status import badge_text, color_of, description_of


def table(head: list[rx.Component], body: rx.Component, *, class_name: str) -> rx.Component:
    """A Radix surface table (size 2): a header row and a body."""
    return rx.el.div(
        rx.el.table(
            rx.el.thead(rx.el.tr(*head, class_name="rt-TableRow"), class_name="rt-TableHeader"),
            rx.el.tbody(body, class_name="rt-TableBody"),
            class_name="rt-TableRootTable",
        ),
        class_name=rx.Var.create("rt-TableRoot rt-r-size-2 rt-variant-surface live-table ") + class_name,
    )


def th(label: str, class_name: str = "") -> rx.Component:
    return rx.el.th(label, scope="col", class_name=f"rt-TableCell rt-TableColumnHeaderCell {class_name}".strip())


def td(*children, class_name: str = "") -> rx.Component:
    return rx.el.td(*children, class_name=f"rt-TableCell {class_name}".strip())


def text(*children, size: str = "2", gray: bool = False, weight: str = "", class_name: str = "",
         **props) -> rx.Component:
    classes = f"rt-Text rt-r-size-{size}" + (f" rt-r-weight-{weight}" if weight else "")
    attrs = {"data-accent-color": "gray"} if gray else {}
    return rx.el.span(*children, class_name=f"{classes} {class_name}".strip(), custom_attrs=attrs, **props)


def link(*children, to, class_name: str = "") -> rx.Component:
    """A link that navigates inside the app (no page load), styled as a Radix link."""
    return ReactRouterLink.create(*children, to=to,
                                  class_name=f"rt-Text rt-reset rt-Link rt-underline-hover {class_name}".strip(),
                                  # an empty accent colour is how Radix gives a link the theme's accent
                                  custom_attrs={"data-accent-color": ""})


def badge(*children, color, variant: str = "soft", full: bool = False, class_name: str = "",
          **attrs) -> rx.Component:
    return rx.el.span(
        *children,
        class_name=f"rt-reset rt-Badge rt-r-size-1 rt-variant-{variant} {class_name}".strip(),
        custom_attrs={"data-accent-color": color, **({"data-radius": "full"} if full else {}), **attrs},
    )


def status_badge(status) -> rx.Component:
    """The status badge of components.status, as plain elements."""
    return rx.el.span(
        badge_text(status),
        title=description_of(status),
        class_name="rt-reset rt-Badge rt-r-size-1 rt-variant-soft status-badge",
        custom_attrs={"data-accent-color": color_of(status), "data-radius": "full", "data-status": status},
    )


def progress(value) -> rx.Component:
    """A Radix progress bar (size 1) at VALUE of 100."""
    return rx.el.div(
        rx.el.div(class_name="rt-ProgressIndicator", custom_attrs={"data-state": "loading"}),
        class_name="rt-ProgressRoot rt-r-size-1 rt-variant-surface live-progress",
        role="progressbar",
        style={"--progress-value": value, "--progress-max": 100},
        custom_attrs={"aria-valuenow": value, "aria-valuemin": 0, "aria-valuemax": 100, "data-state": "loading"},
    )
