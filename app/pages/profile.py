"""Profile (/profile): who you are, and your personal API tokens for the REST API and
the `jobdeck` command: create one (shown once), see when each was last used, revoke."""

from __future__ import annotations

import reflex as rx

from app import routes

from app.components.common import empty_state, section, when
from app.components.layout import page
from app.components.notices import browser_notices_toggle
from app.state.base import AuthState
from app.state.profile import ProfileState, TokenRow


def _who() -> rx.Component:
    return section(
        "You",
        rx.hstack(
            rx.icon("circle-user-round", size=28, color="var(--accent-9)"),
            rx.vstack(
                rx.text(AuthState.display_name, weight="bold", size="4"),
                rx.hstack(rx.code(AuthState.username, variant="ghost"),
                          rx.badge(AuthState.role, variant="soft", class_name="role-badge"), spacing="2"),
                spacing="1",
            ),
            spacing="3",
            align="center",
        ),
    )


def _new_token() -> rx.Component:
    return rx.cond(
        ProfileState.new_token != "",
        rx.callout.root(
            rx.callout.icon(rx.icon("key-round")),
            rx.vstack(
                rx.text("Copy the token ", rx.text.strong(ProfileState.new_token_name),
                        " now: it is shown this once, and only its fingerprint is kept.", size="2"),
                rx.hstack(
                    rx.code(ProfileState.new_token, size="3", class_name="new-token",
                            style={"word_break": "break-all"}),
                    rx.icon_button(rx.icon("copy", size=14), size="1", variant="soft",
                                   on_click=[rx.set_clipboard(ProfileState.new_token),
                                             rx.toast.info("Token copied to the clipboard.")],
                                   aria_label="Copy the token"),
                    align="center",
                    spacing="2",
                ),
                rx.text("Use it as ", rx.code("Authorization: Bearer <token>"), " with the REST API, or run ",
                        rx.code("jobdeck login --token <token>"), ".", size="2", color_scheme="gray"),
                rx.button("I have copied it", size="1", variant="soft", on_click=ProfileState.dismiss_new_token,
                          class_name="dismiss-token"),
                spacing="2",
                align="start",
            ),
            color_scheme="green",
            width="100%",
            class_name="new-token-callout",
        ),
    )


def _create_form() -> rx.Component:
    return rx.form(
        rx.hstack(
            rx.input(name="name", placeholder="What is it for? e.g. laptop CLI", aria_label="Token name",
                     max_length=128, width="20em", class_name="token-name"),
            rx.button(rx.icon("plus", size=14), "Create token", type="submit", class_name="create-token"),
            spacing="2",
            wrap="wrap",
        ),
        rx.cond(ProfileState.form_error != "",
                rx.text(ProfileState.form_error, color_scheme="red", size="2", class_name="form-error")),
        on_submit=ProfileState.create,
        reset_on_submit=True,
    )


def _row(t: TokenRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.text(t.name, weight="medium")),
        rx.table.cell(when(t.created, t.created_exact)),
        rx.table.cell(rx.cond(t.last_used != "", when(t.last_used, t.last_used_exact),
                              rx.text("never", color_scheme="gray"))),
        rx.table.cell(rx.button("Revoke", size="1", color_scheme="red", variant="soft",
                                on_click=ProfileState.ask_revoke(t.id, t.name), class_name="revoke-token")),
        custom_attrs={"data-token-name": t.name},
        class_name="token-row",
    )


def _tokens() -> rx.Component:
    return section(
        "API tokens",
        rx.text("A token lets a script or the ", rx.code("jobdeck"), " command act as you, with your "
                "permissions, through the REST API (", rx.link("API docs", href="/api/docs", is_external=True),
                "). Revoke a token you no longer use.", size="2", color_scheme="gray"),
        _create_form(),
        _new_token(),
        rx.cond(
            ProfileState.tokens.length() > 0,
            rx.table.root(
                rx.table.header(rx.table.row(
                    rx.table.column_header_cell("Name"), rx.table.column_header_cell("Created"),
                    rx.table.column_header_cell("Last used"), rx.table.column_header_cell(""))),
                rx.table.body(rx.foreach(ProfileState.tokens, _row)),
                width="100%",
                class_name="tokens-table",
            ),
            rx.cond(ProfileState.loaded,
                    empty_state("key-round", "No API tokens", "Create one above to use the REST API or the "
                                                              "jobdeck command.")),
        ),
    )


def _confirm_revoke() -> rx.Component:
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title("Revoke this token?"),
            rx.alert_dialog.description(
                rx.text("Scripts and command lines that use ", rx.text.strong(ProfileState.revoke_name),
                        " will be refused from now on. This cannot be undone.")),
            rx.flex(
                rx.alert_dialog.cancel(rx.button("Keep it", variant="soft", color_scheme="gray",
                                                 on_click=ProfileState.keep)),
                rx.alert_dialog.action(rx.button("Revoke", color_scheme="red", on_click=ProfileState.revoke,
                                                 class_name="confirm-revoke")),
                spacing="3",
                justify="end",
                margin_top="1em",
            ),
        ),
        open=ProfileState.revoke_id != 0,
    )


def _password_input(name: str, label: str, autocomplete: str) -> rx.Component:
    return rx.vstack(
        rx.text(label, size="2", weight="medium"),
        rx.input(name=name, type="password", auto_complete=autocomplete, width="16em", aria_label=label,
                 aria_invalid=rx.cond(ProfileState.password_field == name, "true", "false")),
        spacing="1",
    )


def _password() -> rx.Component:
    return section(
        "Password",
        rx.form(
            rx.flex(
                _password_input("current", "Current password", "current-password"),
                _password_input("new", "New password", "new-password"),
                _password_input("again", "New password again", "new-password"),
                rx.button("Change password", type="submit", variant="soft", class_name="change-password"),
                spacing="3",
                wrap="wrap",
                align="end",
            ),
            rx.cond(ProfileState.password_error != "",
                    rx.text(ProfileState.password_error, color_scheme="red", size="2",
                            class_name="password-error")),
            rx.text("At least 8 characters. Changing it signs you out of other browsers; API tokens keep "
                    "working.", size="1", color_scheme="gray"),
            on_submit=ProfileState.change_password,
            reset_on_submit=True,
        ),
    )


def _browser_notices() -> rx.Component:
    return section(
        "Notices",
        rx.text("When a job, batch or run of yours that took a while ends while you are elsewhere in the console, "
                "a notice says so at the bottom right.", size="2", color_scheme="gray"),
        browser_notices_toggle(),
        custom_attrs={"data-section": "browser-notices"},
    )


def profile_page() -> rx.Component:
    return page(_who(), _password(), _browser_notices(), _tokens(), _confirm_revoke(), title="Profile",
                actions=[rx.link(rx.button(rx.icon("chart-column", size=16), "Your metrics", variant="soft"),
                                 href=routes.MY_METRICS, class_name="profile-metrics-link")])
