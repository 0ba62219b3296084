"""The sign-in page (/sign-in): the only page open without a sign-in."""

from __future__ import annotations

import reflex as rx

from app.state.signin import SignInState


def sign_in_page() -> rx.Component:
    return rx.center(
        rx.card(
            rx.form(
                rx.vstack(
                    rx.hstack(rx.icon("square-stack", size=26, color="var(--accent-9)"),
                              rx.heading("Jobdeck", size="7"), align="center", spacing="2"),
                    rx.text("Sign in to see your jobs, items and batches.", color_scheme="gray"),
                    rx.cond(SignInState.error != "",
                            rx.callout(SignInState.error, icon="triangle-alert", color_scheme="red",
                                       width="100%", class_name="sign-in-error")),
                    rx.vstack(rx.text("Username", as_="label", size="2", weight="medium", html_for="username"),
                              rx.input(id="username", name="username", aria_label="Username", auto_complete="username", auto_focus=True,
                                       width="100%", size="3"),
                              spacing="1", width="100%"),
                    rx.vstack(rx.text("Password", as_="label", size="2", weight="medium", html_for="password"),
                              rx.input(id="password", name="password", type="password", aria_label="Password",
                                       auto_complete="current-password", width="100%", size="3"),
                              spacing="1", width="100%"),
                    rx.button("Sign in", type="submit", size="3", width="100%", class_name="sign-in-submit"),
                    spacing="4",
                    width="100%",
                ),
                on_submit=SignInState.sign_in,
                reset_on_submit=False,
            ),
            width="100%",
            max_width="24em",
            size="4",
        ),
        rx.box(rx.color_mode.button(variant="ghost", aria_label="Dark mode"), position="fixed", top="1em",
               right="1em"),
        min_height="100vh",
        padding="1em",
        background="var(--gray-2)",
    )
