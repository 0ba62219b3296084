"""Your metrics (/profile/metrics): your own jobs finished per minute by status over the
last hour and per 10 minutes over the day, run time p50/p95 per job type and failures
by type over the day; read again every 10 s. Everyone sees only their own."""

from __future__ import annotations

import reflex as rx

from app import routes
from app.components.charts import STATUS_COLORS, failures_chart, finished_chart, quantiles_section
from app.components.common import empty_state, section
from app.components.layout import page
from app.state.my_metrics import MyMetricsState as S


def _stat(label: str, value, key: str) -> rx.Component:
    return rx.vstack(rx.text(label, size="1", color_scheme="gray"),
                     rx.text(value, size="5", weight="bold", custom_attrs={"data-my-stat": key}),
                     spacing="0", min_width="7em")


def _run_times() -> rx.Component:
    return quantiles_section("Run time of your jobs per type, last day (p50 and p95, seconds)", S.run_times,
                             name="job_type", count="ran", count_words="runs", chart="my-runs",
                             row_class="my-run-time", empty="None of your jobs ran to its end in the last day.")


def _failures() -> rx.Component:
    return section(
        "Failures of your jobs by type, last day",
        rx.cond(
            S.failures.length() > 0,  # type: ignore[attr-defined]
            rx.vstack(
                failures_chart(S.failures, "job_type", "my-failures", name_width=140),
                rx.hstack(rx.foreach(S.failures, lambda f: rx.badge(
                    f["job_type"], ": ", f["FAILED"], " failed, ", f["CRASHED"], " crashed", color_scheme="red",
                    variant="soft", custom_attrs={"data-failed-type": f["job_type"], "data-failed": f["FAILED"],
                                                  "data-crashed": f["CRASHED"]}, class_name="my-failure-count")),
                    wrap="wrap", spacing="2"),
                width="100%",
            ),
            empty_state("circle-check", "No failures", "None of your jobs failed or crashed in the last day."),
        ),
        custom_attrs={"data-chart": "my-failures"},
    )


def my_metrics_page() -> rx.Component:
    return page(
        rx.flex(
            rx.text("Your own jobs only; every figure is kept as your jobs end. Read at ", S.read_at,
                    ", again every 10 s.", size="2", color_scheme="gray", class_name="my-metrics-read-at"),
            rx.link("Your jobs", href=routes.JOBS, size="2"),
            justify="between", wrap="wrap", width="100%", spacing="3"),
        rx.moment(interval=10_000, format="HH:mm:ss", on_change=S.tick, display="none"),
        rx.cond(
            S.loaded,
            rx.vstack(
                rx.card(rx.flex(
                    _stat("Finished, last hour", S.hour_total, "hour"),
                    *[_stat(s.capitalize(), S.finished_hour[s], s) for s in STATUS_COLORS],
                    _stat("Finished, last day", S.day_total, "day"),
                    spacing="5", wrap="wrap"), width="100%"),
                rx.grid(
                    section("Your jobs finished per minute, last hour (UTC)", finished_chart(S.last_hour, "my-hour", 9),
                            custom_attrs={"data-chart": "my-finished-hour"}),
                    section("Your jobs finished per 10 minutes, last day (UTC)",
                            finished_chart(S.last_day, "my-day", 23), custom_attrs={"data-chart": "my-finished-day"}),
                    _run_times(), _failures(),
                    columns=rx.breakpoints(initial="1", lg="2"), spacing="4", width="100%",
                ),
                spacing="4", width="100%",
            ),
            rx.center(rx.spinner(), padding="3em", width="100%"),
        ),
        title="Your metrics",
    )
