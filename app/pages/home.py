"""The landing page: the jobs panel is home."""

import reflex as rx

from app import routes


def home() -> rx.Component:
    return rx.center(rx.spinner(size="3"), height="60vh")


# An event spec, not a function: Reflex runs page load events it can serialise.
go_home = rx.redirect(routes.JOBS)
