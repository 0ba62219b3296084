"""A pipeline run as the job page of any of its steps shows it first: the run's name
and overall state, then its steps (order, task, status, files kept)."""

from __future__ import annotations

import reflex as rx

from app import routes
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


def pipeline_run(run, steps, pipeline_name, current_is_root, estimate="") -> rx.Component:
    """Shown for a PIPELINE job, above the step itself: the run as a whole (its state is
    that of all its steps together) and every step, kept current by the page's live
    pushes (the page watches the run's workflow)."""
    title = rx.cond(current_is_root, rx.heading(run.name, size="5", class_name="run-name"),
                    rx.link(rx.heading(run.name, size="5", class_name="run-name"), href=routes.job(run.id),
                            underline="hover"))
    return rx.cond(
        steps.length() > 0,
        rx.card(
            rx.vstack(
                rx.flex(
                    rx.vstack(rx.text("Pipeline run", size="1", color_scheme="gray", weight="medium"), title,
                              rx.text(run.summary, rx.cond(run.duration != "", " · " + run.duration, ""), size="2",
                                      color_scheme="gray", class_name="run-summary"),
                              rx.cond(estimate != "", rx.text(pipeline_name, " ", estimate, ".", size="1",
                                                              color_scheme="gray", class_name="run-estimate")),
                              spacing="1"),
                    rx.vstack(status_badge(run.status, run.description, size="3"),
                              rx.text(run.description, size="1", color_scheme="gray", max_width="24em",
                                      align="right"),
                              align="end", spacing="1", class_name="run-status",
                              custom_attrs={"data-status": run.status}),
                    justify="between", wrap="wrap", spacing="3", width="100%",
                ),
                rx.table.root(rx.table.body(rx.foreach(steps, _step)), size="1", width="100%"),
                rx.text(pipeline_name, ": steps of equal order run side by side; the next order starts when they "
                        "all succeeded.", size="1", color_scheme="gray"),
                spacing="3",
                width="100%",
            ),
            width="100%",
            class_name="pipeline-run",
        ),
    )
