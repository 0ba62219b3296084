"""The landing page: the jobs panel is home."""

import reflex as rx

from app import routes


def home() -> rx.Component:
    return rx.center(rx.spinner(size="3"), height="60vh")


def go_home():
    return rx.redirect(routes.JOBS)
