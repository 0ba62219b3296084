"""The metrics pages' charts (Recharts through Reflex), shared by the admin metrics page
and a user's own (app.pages.my_metrics): finished per step by status, p50 and p95 per
name, failures per name, workers busy and idle over time."""

from __future__ import annotations

import reflex as rx

from app.components.common import section

CHART_HEIGHT = 240
STATUS_COLORS = {"SUCCEEDED": "var(--green-9)", "FAILED": "var(--red-9)", "CRASHED": "var(--orange-9)",
                 "CANCELLED": "var(--gray-9)"}


def finished_chart(data, key: str, x_interval: int) -> rx.Component:
    return rx.recharts.bar_chart(
        rx.recharts.cartesian_grid(stroke_dasharray="3 3", vertical=False),
        *[rx.recharts.bar(data_key=s, stack_id="status", fill=c, name=s.capitalize(), is_animation_active=False)
          for s, c in STATUS_COLORS.items()],
        rx.recharts.x_axis(data_key="label", interval=x_interval, tick_size=4),
        rx.recharts.y_axis(allow_decimals=False, width=40),
        rx.recharts.graphing_tooltip(),
        rx.recharts.legend(),
        data=data, width="100%", height=CHART_HEIGHT, class_name=f"metrics-chart chart-{key}",
    )


def quantiles_chart(data, x_key: str, key: str, *, unit: str = "s") -> rx.Component:
    """p50 and p95 bars (seconds) per `x_key`."""
    return rx.recharts.bar_chart(
        rx.recharts.cartesian_grid(stroke_dasharray="3 3", vertical=False),
        rx.recharts.bar(data_key="p50", fill="var(--indigo-9)", name="p50 (median)", unit=unit,
                        is_animation_active=False),
        rx.recharts.bar(data_key="p95", fill="var(--indigo-6)", name="p95", unit=unit, is_animation_active=False),
        rx.recharts.x_axis(data_key=x_key),
        rx.recharts.y_axis(width=50, unit=unit),
        rx.recharts.graphing_tooltip(),
        rx.recharts.legend(),
        data=data, width="100%", height=CHART_HEIGHT, class_name=f"metrics-chart chart-{key}",
    )


def failures_chart(data, name_key: str, key: str, *, name_width: int = 220) -> rx.Component:
    """FAILED and CRASHED stacked, one horizontal bar per `name_key`."""
    return rx.recharts.bar_chart(
        rx.recharts.cartesian_grid(stroke_dasharray="3 3", horizontal=False),
        rx.recharts.bar(data_key="FAILED", stack_id="f", fill=STATUS_COLORS["FAILED"], name="Failed",
                        is_animation_active=False),
        rx.recharts.bar(data_key="CRASHED", stack_id="f", fill=STATUS_COLORS["CRASHED"], name="Crashed",
                        is_animation_active=False),
        rx.recharts.x_axis(type_="number", allow_decimals=False),
        rx.recharts.y_axis(data_key=name_key, type_="category", width=name_width),
        rx.recharts.graphing_tooltip(),
        rx.recharts.legend(),
        data=data, layout="vertical", width="100%", height=CHART_HEIGHT, class_name=f"metrics-chart chart-{key}",
    )


def workers_chart(data) -> rx.Component:
    """Workers busy, idle and starting or stopping per minute (means of the samples), stacked."""
    return rx.recharts.area_chart(
        rx.recharts.cartesian_grid(stroke_dasharray="3 3", vertical=False),
        rx.recharts.area(data_key="busy", stack_id="w", stroke="var(--indigo-9)", fill="var(--indigo-9)",
                         name="Busy", type_="step", is_animation_active=False, connect_nulls=False),
        rx.recharts.area(data_key="idle", stack_id="w", stroke="var(--teal-8)", fill="var(--teal-6)",
                         name="Idle", type_="step", is_animation_active=False, connect_nulls=False),
        rx.recharts.area(data_key="other", stack_id="w", stroke="var(--gray-8)", fill="var(--gray-6)",
                         name="Starting or stopping", type_="step", is_animation_active=False, connect_nulls=False),
        rx.recharts.x_axis(data_key="label", interval=9, tick_size=4),
        rx.recharts.y_axis(allow_decimals=False, width=40),
        rx.recharts.graphing_tooltip(),
        rx.recharts.legend(),
        data=data, width="100%", height=CHART_HEIGHT, class_name="metrics-chart chart-workers",
    )


def quantiles_section(title: str, rows, *, name: str, count: str, count_words: str, chart: str, row_class: str,
                      empty: str) -> rx.Component:
    """A p50/p95 chart per name with a line of figures under it (`rows`: dicts of
    `name`, p50_text, p95_text and `count`, e.g. run times per job type, waits per
    backend); each figure carries data-<name> and data-<count> for tests and scripts."""
    return section(
        title,
        rx.cond(
            rows.length() > 0,  # type: ignore[attr-defined]
            rx.vstack(
                quantiles_chart(rows, name, chart),
                rx.hstack(rx.foreach(rows, lambda r: rx.text(
                    rx.text.strong(r[name]), ": p50 ", r["p50_text"], ", p95 ", r["p95_text"], " (",
                    r[count], f" {count_words})", size="1", color_scheme="gray",
                    custom_attrs={f"data-{name.replace('_', '-')}": r[name], f"data-{count}": r[count]},
                    class_name=row_class)),
                    wrap="wrap", spacing="3"),
                width="100%",
            ),
            rx.text(empty, size="2", color_scheme="gray"),
        ),
        custom_attrs={"data-chart": chart},
    )
