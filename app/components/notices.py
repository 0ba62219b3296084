"""The notices of a tab (app.state.notices): small cards at the bottom right, each a link
to what ended and a button to dismiss it; and, when this browser was asked to, the same
as a system notification while the tab is hidden (assets/browser_notices.jsx)."""

from __future__ import annotations

import reflex as rx

from app.state.notices import NoticeRow, NoticeState

_ICON = {"SUCCEEDED": ("circle-check", "green"), "FAILED": ("circle-x", "red"), "CRASHED": ("octagon-alert", "orange"),
         "CANCELLED": ("ban", "gray")}


def _notice(n: NoticeRow) -> rx.Component:
    icon = rx.match(n.status, *[(k, rx.icon(i, size=18, color=f"var(--{c}-9)")) for k, (i, c) in _ICON.items()],
                    rx.icon("bell", size=18))
    return rx.card(
        rx.hstack(
            icon,
            rx.link(n.text, href=n.href, size="2", weight="medium", class_name="notice-link", flex_grow="1"),
            rx.icon_button(rx.icon("x", size=14), variant="ghost", size="1", color_scheme="gray",
                           aria_label="Dismiss", on_click=NoticeState.dismiss(n.key), class_name="notice-dismiss"),
            align="center", spacing="3", width="100%",
        ),
        size="1", width="100%", class_name="notice",
        custom_attrs={"data-status": n.status, "role": "status"},
    )


class BrowserNotifier(rx.Component):
    """Shows each new notice as a system notification while the tab is hidden, when this
    browser was asked to (assets/browser_notices.jsx)."""

    library = "$/public/browser_notices.jsx"
    tag = "BrowserNotifier"

    notices: rx.Var[list]


class BrowserNoticesToggle(rx.Component):
    """The toggle of browser notifications, remembered by this browser (localStorage),
    asking for the browser's permission when turned on."""

    library = "$/public/browser_notices.jsx"
    tag = "BrowserNoticesToggle"


browser_notices_toggle = BrowserNoticesToggle.create


def notices() -> rx.Component:
    return rx.box(
        BrowserNotifier.create(notices=NoticeState.notices),
        rx.foreach(NoticeState.notices, _notice),
        position="fixed", bottom="1em", right="1em", z_index="30", width="min(24em, calc(100vw - 2em))",
        display="flex", flex_direction="column", gap="0.5em", class_name="notices",
        custom_attrs={"aria-live": "polite"},
    )
