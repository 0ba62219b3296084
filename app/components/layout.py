"""The one layout of the console: top navigation, the page, dark mode."""

from __future__ import annotations

import reflex as rx

from app import routes
from app.components.notices import notices
from app.state.base import AuthState
from app.state.notices import NoticeState

NAV = [("Jobs", routes.JOBS, "list-checks"), ("Items", routes.ITEMS, "boxes"),
       ("Batches", routes.BATCHES, "layers"), ("Pipelines", routes.PIPELINES, "workflow")]


def _nav_link(label: str, href: str, icon: str) -> rx.Component:
    active = rx.State.router.url.path.startswith(href)  # type: ignore[attr-defined]
    return rx.link(
        rx.hstack(rx.icon(icon, size=16), rx.text(label, size="3", weight="medium"), spacing="2", align="center"),
        href=href,
        underline="none",
        color_scheme=rx.cond(active, "indigo", "gray"),
        high_contrast=~active,
        padding_x="0.6em",
        padding_y="0.3em",
        border_radius="var(--radius-2)",
        background=rx.cond(active, "var(--accent-a3)", "transparent"),
        class_name="nav-link",
    )


def _user_menu() -> rx.Component:
    return rx.menu.root(
        rx.menu.trigger(
            rx.button(rx.icon("circle-user-round", size=16),
                      rx.text(AuthState.username, display=["none", "none", "inline"]),
                      variant="ghost", size="2", class_name="user-menu", aria_label="Account"),
        ),
        rx.menu.content(
            rx.box(rx.text(AuthState.display_name, " (", AuthState.role, ")", size="2", color_scheme="gray"),
                   padding_x="0.75em", padding_y="0.4em"),
            rx.menu.separator(),
            rx.menu.item(rx.hstack(rx.icon("key-round", size=14), rx.text("Profile and API tokens")),
                         on_click=rx.redirect(routes.PROFILE)),
            rx.menu.item(rx.hstack(rx.icon("chart-column", size=14), rx.text("Your metrics")),
                         on_click=rx.redirect(routes.MY_METRICS), class_name="my-metrics-link"),
            rx.menu.item(rx.hstack(rx.icon("log-out", size=14), rx.text("Sign out")),
                         on_click=AuthState.sign_out, class_name="sign-out"),
        ),
    )


def _mobile_menu() -> rx.Component:
    items = [rx.menu.item(label, on_click=rx.redirect(href)) for label, href, _ in NAV]
    items.append(rx.cond(AuthState.is_admin, rx.menu.item("Admin", on_click=rx.redirect(routes.ADMIN))))
    return rx.box(
        rx.menu.root(
            rx.menu.trigger(rx.icon_button(rx.icon("menu", size=18), variant="ghost", aria_label="Menu")),
            rx.menu.content(*items),
        ),
        display=["block", "block", "none"],
    )


def navbar() -> rx.Component:
    return rx.box(
        rx.hstack(
            rx.hstack(
                _mobile_menu(),
                rx.link(rx.hstack(rx.icon("square-stack", size=20, color="var(--accent-9)"),
                                  rx.heading("Jobdeck", size="5"), spacing="2", align="center"),
                        href=routes.JOBS, underline="none", color_scheme="gray", high_contrast=True),
                rx.hstack(
                    *[_nav_link(*n) for n in NAV],
                    rx.cond(AuthState.is_admin, _nav_link("Admin", routes.ADMIN, "shield")),
                    spacing="1",
                    display=["none", "none", "flex"],
                ),
                spacing="4",
                align="center",
            ),
            rx.hstack(
                rx.color_mode.button(variant="ghost", size="2", aria_label="Dark mode"),
                _user_menu(),
                spacing="3",
                align="center",
            ),
            justify="between",
            align="center",
            width="100%",
            max_width="1200px",
            margin_x="auto",
            padding_x="1em",
            padding_y="0.6em",
        ),
        position="sticky",
        top="0",
        z_index="10",
        background="var(--color-panel-solid)",
        border_bottom="1px solid var(--gray-a5)",
        width="100%",
        class_name="navbar",
    )


def page(*children: rx.Component, title=None, actions=None, open_when=None) -> rx.Component:
    """A signed-in page: navigation, a heading with its actions, the content. Until
    the sign-in is checked nothing of the page is shown; `open_when` (a state var) shows
    it signed out too, once the page's state has decided the visitor may see it."""
    head = []
    if title is not None:
        head = [rx.flex(rx.heading(title, size="7", class_name="page-title"),
                        rx.hstack(*(actions or []), spacing="2", wrap="wrap"),
                        justify="between", align="center", wrap="wrap", spacing="3", width="100%")]
    return rx.box(
        navbar(),
        rx.cond(
            AuthState.signed_in if open_when is None else AuthState.signed_in | open_when,
            rx.box(
                rx.vstack(*head, *children, spacing="4", width="100%"),
                max_width="1200px",
                margin_x="auto",
                padding_x=["0.75em", "1em", "1.5em"],
                padding_y="1.5em",
                width="100%",
            ),
            rx.center(rx.spinner(size="3"), padding_y="6em"),
        ),
        rx.cond(AuthState.signed_in, notices()),
        min_height="100vh",
        background="var(--gray-1)",
        on_mount=NoticeState.register,
    )
