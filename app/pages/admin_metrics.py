"""The admin metrics page (/admin/metrics): jobs finished per minute by status over the
last hour and day, queue depth per backend, run time p50/p95 per job type, failures by
type; Recharts charts read again every 5 s."""

from __future__ import annotations

import reflex as rx

from app.components.common import empty_state, section
from app.pages.admin import admin_page
from app.state.admin_metrics import PRIORITY_COLORS, STATUS_COLORS, AdminMetricsState as S

CHART_HEIGHT = 240


def _stat(label: str, value, key: str) -> rx.Component:
    return rx.vstack(rx.text(label, size="1", color_scheme="gray"),
                     rx.text(value, size="5", weight="bold", custom_attrs={"data-stat": key}),
                     spacing="0", min_width="7em")


def _finished_chart(data, key: str, x_interval: int) -> rx.Component:
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


def _finished() -> rx.Component:
    return rx.grid(
        section("Jobs finished per minute, last hour (UTC)", _finished_chart(S.last_hour, "hour", 9),
                custom_attrs={"data-chart": "finished-hour"}),
        section("Jobs finished per 10 minutes, last day (UTC)", _finished_chart(S.last_day, "day", 23),
                custom_attrs={"data-chart": "finished-day"}),
        columns=rx.breakpoints(initial="1", lg="2"), spacing="4", width="100%",
    )


def _queues() -> rx.Component:
    return section(
        "Queue depth per backend",
        rx.recharts.bar_chart(
            rx.recharts.cartesian_grid(stroke_dasharray="3 3", vertical=False),
            *[rx.recharts.bar(data_key=p, stack_id="priority", fill=c, name=p, is_animation_active=False)
              for p, c in PRIORITY_COLORS.items()],
            rx.recharts.x_axis(data_key="backend"),
            rx.recharts.y_axis(allow_decimals=False, width=40),
            rx.recharts.graphing_tooltip(),
            rx.recharts.legend(),
            data=S.queue_depth, width="100%", height=CHART_HEIGHT, class_name="metrics-chart chart-queues",
        ),
        rx.hstack(rx.foreach(S.queue_depth, lambda q: rx.badge(
            q["backend"], ": ", q["total"], variant="soft", color_scheme="gray",
            custom_attrs={"data-backend": q["backend"], "data-queued": q["total"]}, class_name="queue-depth")),
            wrap="wrap", spacing="2"),
        custom_attrs={"data-chart": "queues"},
    )


def _run_times() -> rx.Component:
    return section(
        "Run time per job type, last day (p50 and p95, seconds)",
        rx.cond(
            S.run_times.length() > 0,  # type: ignore[attr-defined]
            rx.vstack(
                rx.recharts.bar_chart(
                    rx.recharts.cartesian_grid(stroke_dasharray="3 3", vertical=False),
                    rx.recharts.bar(data_key="p50", fill="var(--indigo-9)", name="p50", is_animation_active=False),
                    rx.recharts.bar(data_key="p95", fill="var(--indigo-6)", name="p95", is_animation_active=False),
                    rx.recharts.x_axis(data_key="job_type"),
                    rx.recharts.y_axis(width=50),
                    rx.recharts.graphing_tooltip(),
                    rx.recharts.legend(),
                    data=S.run_times, width="100%", height=CHART_HEIGHT, class_name="metrics-chart chart-runs",
                ),
                rx.hstack(rx.foreach(S.run_times, lambda r: rx.text(
                    rx.text.strong(r["job_type"]), ": p50 ", r["p50_text"], ", p95 ", r["p95_text"], " (",
                    r["ran"], " runs)", size="1", color_scheme="gray",
                    custom_attrs={"data-job-type": r["job_type"], "data-ran": r["ran"]}, class_name="run-time")),
                    wrap="wrap", spacing="3"),
                width="100%",
            ),
            rx.text("No job ran to its end in the last day.", size="2", color_scheme="gray"),
        ),
        custom_attrs={"data-chart": "runs"},
    )


def _failures() -> rx.Component:
    return section(
        "Failures by type, last day",
        rx.cond(
            S.failures.length() > 0,  # type: ignore[attr-defined]
            rx.vstack(
                rx.recharts.bar_chart(
                    rx.recharts.cartesian_grid(stroke_dasharray="3 3", horizontal=False),
                    rx.recharts.bar(data_key="FAILED", stack_id="f", fill=STATUS_COLORS["FAILED"], name="Failed",
                                    is_animation_active=False),
                    rx.recharts.bar(data_key="CRASHED", stack_id="f", fill=STATUS_COLORS["CRASHED"], name="Crashed",
                                    is_animation_active=False),
                    rx.recharts.x_axis(type_="number", allow_decimals=False),
                    rx.recharts.y_axis(data_key="name", type_="category", width=220),
                    rx.recharts.graphing_tooltip(),
                    rx.recharts.legend(),
                    data=S.failures, layout="vertical", width="100%", height=CHART_HEIGHT,
                    class_name="metrics-chart chart-failures",
                ),
                rx.hstack(rx.foreach(S.failures, lambda f: rx.badge(
                    f["name"], ": ", f["FAILED"], " failed, ", f["CRASHED"], " crashed", color_scheme="red",
                    variant="soft", custom_attrs={"data-failed-type": f["name"], "data-failed": f["FAILED"],
                                                  "data-crashed": f["CRASHED"]}, class_name="failure-count")),
                    wrap="wrap", spacing="2"),
                width="100%",
            ),
            empty_state("circle-check", "No failures", "No job failed or crashed in the last day."),
        ),
        custom_attrs={"data-chart": "failures"},
    )


def admin_metrics_page() -> rx.Component:
    return admin_page(
        rx.cond(S.error != "", rx.callout(S.error, icon="unplug", color_scheme="red", width="100%")),
        rx.cond(
            S.loaded,
            rx.vstack(
                rx.card(rx.flex(
                    _stat("Finished, last hour", S.finished_total, "finished"),
                    *[_stat(s.capitalize(), S.finished[s], s) for s in STATUS_COLORS],
                    _stat("Waiting in queues", S.queued_total, "queued"),
                    spacing="5", wrap="wrap"), width="100%"),
                _finished(),
                rx.grid(_queues(), _run_times(), columns=rx.breakpoints(initial="1", lg="2"), spacing="4",
                        width="100%"),
                _failures(),
                rx.text("Prometheus reads the same figures at /metrics (docs/operating.md).", size="1",
                        color_scheme="gray"),
                spacing="4", width="100%",
            ),
            rx.center(rx.spinner(), padding="3em", width="100%"),
        ),
        title="Metrics",
        actions=[rx.text("Read at ", S.read_at, "; again every 5 s", size="1", color_scheme="gray",
                         class_name="metrics-read-at")],
        tick=S.tick,
        every_ms=5000,
    )
