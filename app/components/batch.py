"""How a batch's progress looks: a bar in status colours, and its summary."""

from __future__ import annotations

import reflex as rx

from app.components.status import COLORS, LABELS
from app.state.views import STATUSES

ORDER = ["SUCCEEDED", "FAILED", "CRASHED", "CANCELLED", "IN_PROGRESS", "DEQUEUED", "PENDING"]


def progress_bar(counts, total, height: str = "10px") -> rx.Component:
    """One segment per status, as wide as its share of the batch."""
    return rx.flex(
        *[rx.box(width=rx.cond(total > 0, (counts[s].to(int) * 100 / total).to_string() + "%", "0%"),
                 background=f"var(--{COLORS[s]}-9)", height="100%", transition="width 0.3s",
                 custom_attrs={"data-segment": s})
          for s in ORDER],
        width="100%",
        height=height,
        background="var(--gray-a4)",
        border_radius="999px",
        overflow="hidden",
        class_name="batch-progress",
    )


def count_chips(counts) -> rx.Component:
    return rx.flex(
        *[rx.cond(counts[s].to(int) > 0,
                  rx.badge(LABELS[s], " ", counts[s], color_scheme=COLORS[s], variant="soft",
                           custom_attrs={"data-count-status": s}))
          for s in STATUSES],
        spacing="2",
        wrap="wrap",
    )


SUMMARY = {
    "succeeded": ("green", "circle-check"),
    "failures": ("red", "circle-x"),
    "in_progress": ("blue", "loader-circle"),
    "lodging": ("blue", "loader-circle"),
    "empty": ("gray", "circle-dashed"),
}
