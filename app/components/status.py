"""How a status looks everywhere: one colour per status, its description on hover."""

from __future__ import annotations

import reflex as rx

from app.lifecycle import DESCRIPTIONS, JobStatus

COLORS = {
    "PENDING": "gray", "DEQUEUED": "cyan", "IN_PROGRESS": "blue", "SUCCEEDED": "green",
    "FAILED": "red", "CRASHED": "orange", "CANCELLED": "amber",
}
ICONS = {
    "PENDING": "clock", "DEQUEUED": "loader", "IN_PROGRESS": "loader-circle", "SUCCEEDED": "circle-check",
    "FAILED": "circle-x", "CRASHED": "octagon-alert", "CANCELLED": "ban", "NONE": "circle-dashed",
}
LABELS = {s.value: s.value.replace("_", " ").lower() for s in JobStatus}
DESCRIPTION_TEXT = {s.value: d for s, d in DESCRIPTIONS.items()}


def color_of(status) -> rx.Var:
    return rx.match(status, *[(k, v) for k, v in COLORS.items()], "gray")


def badge_text(status) -> rx.Component:
    """What a status badge says: IN PROGRESS for IN_PROGRESS."""
    return rx.match(status, *[(k, v.upper()) for k, v in LABELS.items()], status)


def description_of(status) -> rx.Var:
    return rx.Var.create(DESCRIPTION_TEXT)[status]


def status_badge(status, description=None, **props) -> rx.Component:
    """A coloured badge; hovering it says what the status means (a plain title: lists
    show many, and a title costs nothing to render)."""
    desc = description if description is not None else description_of(status)
    return rx.badge(
        badge_text(status),
        color_scheme=color_of(status),
        variant="soft",
        radius="full",
        title=desc,
        custom_attrs={"data-status": status},
        class_name="status-badge",
        **props,
    )


def status_icon(status, size: int = 18) -> rx.Component:
    return rx.match(
        status,
        *[(k, rx.icon(v, size=size, color=f"var(--{COLORS.get(k, 'gray')}-9)")) for k, v in ICONS.items()],
        rx.icon("circle-dashed", size=size),
    )
