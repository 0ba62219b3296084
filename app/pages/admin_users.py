"""Users (/admin/users): every user with their role, state, console sign-ins and API
tokens; add a user, reset a password, see and revoke a user's tokens, end their
sign-ins, disable and enable them."""

from __future__ import annotations

import reflex as rx

from app.components.common import when
from app.pages.admin import admin_page
from app.state.admin_users import AdminUsersState as U
from app.state.admin_users import TokenRow, UserRow


def _state(u: UserRow) -> rx.Component:
    return rx.cond(u.disabled, rx.badge("disabled", color_scheme="red", variant="soft"),
                   rx.badge("active", color_scheme="green", variant="soft"))


def _actions(u: UserRow) -> rx.Component:
    return rx.hstack(
        rx.button("Tokens", size="1", variant="soft", color_scheme="gray", on_click=U.show_tokens(u.username),
                  class_name="user-tokens", aria_label=f"API tokens of {u.username}"),
        rx.button("Reset password", size="1", variant="soft", color_scheme="gray",
                  on_click=U.open_reset(u.username), class_name="user-reset"),
        rx.cond(u.open_sign_ins > 0,
                rx.button("End sign-ins", size="1", variant="soft", color_scheme="orange",
                          on_click=U.end_sign_ins(u.username), class_name="user-end-sign-ins")),
        rx.cond(u.disabled,
                rx.button("Enable", size="1", variant="soft", color_scheme="green", on_click=U.enable(u.username),
                          class_name="user-enable"),
                rx.button("Disable", size="1", variant="soft", color_scheme="red", on_click=U.disable(u.username),
                          class_name="user-disable")),
        spacing="2", wrap="wrap",
    )


def _user(u: UserRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.vstack(rx.text(u.username, weight="medium"),
                                rx.text(u.display_name, size="1", color_scheme="gray"), spacing="0")),
        rx.table.cell(rx.badge(u.role, variant="outline", color_scheme="gray")),
        rx.table.cell(_state(u)),
        rx.table.cell(rx.vstack(rx.text(u.open_sign_ins, " open", size="2"),
                                rx.cond(u.last_seen != "", rx.hstack(rx.text("seen", size="1", color_scheme="gray"),
                                                                     when(u.last_seen, u.last_seen_exact))),
                                spacing="0")),
        rx.table.cell(rx.text(u.api_tokens, size="2")),
        rx.table.cell(when(u.created, u.created_exact)),
        rx.table.cell(_actions(u)),
        custom_attrs={"data-user": u.username}, class_name="user-row",
    )


def _field(label: str, name: str, hint: str, **props) -> rx.Component:
    bad = U.new_user_field == name
    return rx.vstack(
        rx.text(label, size="2", weight="medium", as_="label", html_for=f"new-user-{name}"),
        rx.input(id=f"new-user-{name}", name=name, aria_label=label, width="100%",
                 color_scheme=rx.cond(bad, "red", "gray"),
                 custom_attrs={"aria-invalid": rx.cond(bad, "true", "false")}, **props),
        rx.text(hint, size="1", color_scheme="gray"),
        spacing="1", width="100%",
    )


def _error(text) -> rx.Component:
    return rx.cond(text != "", rx.callout(text, icon="triangle-alert", color_scheme="red", width="100%",
                                          class_name="form-error"))


def _add_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Add a user"),
            rx.dialog.description("They sign in with this username and password; tell them the password "
                                  "and ask them to change it on their Profile page.", size="2", color_scheme="gray"),
            rx.form(
                rx.vstack(
                    _field("Username", "username", "1-64 letters, digits, or . _ - @; it cannot change later.",
                           auto_complete="off"),
                    _field("Display name", "display_name", "How the console names them (optional)."),
                    rx.vstack(
                        rx.text("Role", size="2", weight="medium"),
                        rx.select(U.roles, name="role", default_value="user", aria_label="Role"),
                        rx.text("user: their own jobs. admin: everyone's, and this console. service: a script "
                                "that may lodge any job type.", size="1", color_scheme="gray"),
                        spacing="1", width="100%"),
                    _field("Password", "password", "At least 8 characters.", type="password",
                           auto_complete="new-password"),
                    _error(U.new_user_error),
                    rx.flex(rx.dialog.close(rx.button("Cancel", variant="soft", color_scheme="gray", type="button")),
                            rx.button("Add user", type="submit", class_name="add-user-submit"),
                            spacing="3", justify="end", width="100%"),
                    spacing="4", width="100%",
                ),
                on_submit=U.add, reset_on_submit=False,
            ),
            max_width="30em",
        ),
        open=U.adding,
        on_open_change=U.set_adding,
    )


def _reset_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("New password for ", U.resetting),
            rx.dialog.description("Every console sign-in they have ends at once; their API tokens keep working.",
                                  size="2", color_scheme="gray"),
            rx.form(
                rx.vstack(
                    rx.input(name="password", type="password", placeholder="At least 8 characters",
                             auto_complete="new-password", aria_label="New password", width="100%"),
                    _error(U.reset_error),
                    rx.flex(rx.dialog.close(rx.button("Cancel", variant="soft", color_scheme="gray", type="button")),
                            rx.button("Set password", type="submit", class_name="reset-submit"),
                            spacing="3", justify="end", width="100%"),
                    spacing="4", width="100%",
                ),
                on_submit=U.save_password, reset_on_submit=True,
            ),
            max_width="28em",
        ),
        open=U.resetting != "",
        on_open_change=U.set_reset_open,
    )


def _token(t: TokenRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.text(t.name, size="2")),
        rx.table.cell(when(t.created, t.created_exact)),
        rx.table.cell(rx.cond(t.last_used != "", when(t.last_used, t.last_used_exact),
                              rx.text("never", size="2", color_scheme="gray"))),
        rx.table.cell(rx.button("Revoke", size="1", color_scheme="red", variant="soft", on_click=U.revoke(t.id),
                                class_name="revoke-token")),
        custom_attrs={"data-token": t.name}, class_name="token-row",
    )


def _tokens_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("API tokens of ", U.tokens_of),
            rx.dialog.description("The tokens themselves are never shown (only their hashes are kept). A revoked "
                                  "token is refused from the next request on.", size="2", color_scheme="gray"),
            rx.cond(U.tokens.length() > 0,  # type: ignore[attr-defined]
                    rx.table.root(
                        rx.table.header(rx.table.row(*[rx.table.column_header_cell(h)
                                                       for h in ("Name", "Made", "Last used", "")])),
                        rx.table.body(rx.foreach(U.tokens, _token)), size="1", width="100%"),
                    rx.text("No API tokens.", size="2", color_scheme="gray", class_name="no-tokens")),
            rx.flex(rx.dialog.close(rx.button("Close", variant="soft", color_scheme="gray")), justify="end",
                    margin_top="1em"),
            max_width="36em",
        ),
        open=U.tokens_of != "",
        on_open_change=U.set_tokens_open,
    )


def admin_users_page() -> rx.Component:
    return admin_page(
        rx.cond(
            U.loaded,
            rx.box(rx.table.root(
                rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in (
                    "User", "Role", "State", "Console sign-ins", "API tokens", "Added", "")])),
                rx.table.body(rx.foreach(U.rows, _user)),
                variant="surface", size="1", width="100%", class_name="users-table"), overflow_x="auto", width="100%"),
            rx.center(rx.spinner(), padding="3em", width="100%"),
        ),
        _add_dialog(), _reset_dialog(), _tokens_dialog(),
        title="Users",
        actions=[rx.button(rx.icon("user-plus", size=14), "Add user", on_click=U.set_adding(True),
                           class_name="add-user")],
    )
