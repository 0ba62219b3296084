"""The admin metrics page (/admin/metrics): jobs finished per minute by status over the
last hour and day, queue depth and queue wait p50/p95 per backend, run time p50/p95 per
job type, workers busy and idle over the hour, failures by type and by worker; Recharts
charts read again every 5 s."""

from __future__ import annotations

import reflex as rx

from app.components.charts import (CHART_HEIGHT, STATUS_COLORS, failures_chart, finished_chart, quantiles_section,
                                   workers_chart)
from app.components.common import empty_state, section
from app.pages.admin import admin_page
from app.state.admin_metrics import PRIORITY_COLORS, AdminMetricsState as S


def _stat(label: str, value, key: str) -> rx.Component:
    return rx.vstack(rx.text(label, size="1", color_scheme="gray"),
                     rx.text(value, size="5", weight="bold", custom_attrs={"data-stat": key}),
                     spacing="0", min_width="7em")


def _finished() -> rx.Component:
    return rx.grid(
        section("Jobs finished per minute, last hour (UTC)", finished_chart(S.last_hour, "hour", 9),
                custom_attrs={"data-chart": "finished-hour"}),
        section("Jobs finished per 10 minutes, last day (UTC)", finished_chart(S.last_day, "day", 23),
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
    return quantiles_section("Run time per job type, last day (p50 and p95, seconds)", S.run_times,
                             name="job_type", count="ran", count_words="runs", chart="runs", row_class="run-time",
                             empty="No job ran to its end in the last day.")


def _failures() -> rx.Component:
    return section(
        "Failures by type, last day",
        rx.cond(
            S.failures.length() > 0,  # type: ignore[attr-defined]
            rx.vstack(
                failures_chart(S.failures, "name", "failures"),
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


def _waits() -> rx.Component:
    return quantiles_section("Queue wait per backend, last hour (lodged to started; p50 and p95, seconds)", S.waits,
                             name="backend", count="started", count_words="started", chart="waits",
                             row_class="wait-time", empty="No job started in the last hour.")


def _workers() -> rx.Component:
    return section(
        "Workers busy and idle, last hour (mean per minute, every backend)",
        workers_chart(S.workers),
        rx.text("Last sampled minute: ", S.workers_now, ". Sampled from the workers' heartbeats every 10 s; "
                "a gap is a minute without a sample (no pool's housekeeper was running).", size="1",
                color_scheme="gray", class_name="workers-now"),
        custom_attrs={"data-chart": "workers"},
    )


def _worker_failures() -> rx.Component:
    return section(
        "Failures by worker, last day (the 12 with most)",
        rx.cond(
            S.worker_failures.length() > 0,  # type: ignore[attr-defined]
            rx.vstack(
                failures_chart(S.worker_failures, "worker", "worker-failures", name_width=260),
                rx.hstack(rx.foreach(S.worker_failures, lambda f: rx.badge(
                    f["worker"], ": ", f["FAILED"], " failed, ", f["CRASHED"], " crashed", color_scheme="red",
                    variant="soft", custom_attrs={"data-worker": f["worker"], "data-failed": f["FAILED"],
                                                  "data-crashed": f["CRASHED"]}, class_name="worker-failure-count")),
                    wrap="wrap", spacing="2"),
                width="100%",
            ),
            empty_state("circle-check", "No failures", "No worker had a job fail or crash in the last day."),
        ),
        custom_attrs={"data-chart": "worker-failures"},
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
                rx.grid(_queues(), _waits(), _run_times(), _workers(), _failures(), _worker_failures(),
                        columns=rx.breakpoints(initial="1", lg="2"), spacing="4", width="100%"),
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
