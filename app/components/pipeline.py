"""A pipeline run's steps, as the job page shows them: order, task, status, files kept."""

from __future__ import annotations

import reflex as rx

from app import routes
from app.components.common import section
from app.components.status import status_badge
from app.state.pipelines import StepRow


def _step(s: StepRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.badge("order ", s.order, variant="surface", color_scheme="indigo")),
        rx.table.cell(rx.cond(s.current, rx.text(s.task, weight="bold"),
                              rx.link(s.task, href=routes.job(s.id), class_name="step-link"))),
        rx.table.cell(status_badge(s.status, s.description)),
        rx.table.cell(rx.text(s.files, " file(s)", size="2"), class_name="step-files"),
        rx.table.cell(rx.text(s.info, size="1", color_scheme="gray"), display=["none", "table-cell"]),
        class_name="pipeline-step",
        custom_attrs={"data-task": s.task, "data-status": s.status},
    )


def pipeline_steps(steps, pipeline_name) -> rx.Component:
    """Shown for a PIPELINE job: every step of its run, kept current by the page's live
    pushes (the page watches the run's workflow)."""
    return rx.cond(
        steps.length() > 0,
        section(
            "Pipeline run",
            rx.text(pipeline_name, ": steps of equal order run side by side; the next order starts when they "
                    "all succeeded.", size="2", color_scheme="gray"),
            rx.table.root(rx.table.body(rx.foreach(steps, _step)), size="1", width="100%"),
            class_name="pipeline-run",
        ),
    )
