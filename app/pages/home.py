"""The landing page."""

import reflex as rx

from app import routes


def home() -> rx.Component:
    return rx.center(
        rx.vstack(
            rx.heading("Jobdeck", size="8"),
            rx.text("Background jobs of the research data registry, live."),
            rx.link(rx.button("Open the jobs panel"), href=routes.JOBS),
            align="center",
            spacing="4",
        ),
        height="80vh",
    )
