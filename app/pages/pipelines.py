"""Pipelines (/pipelines): every pipeline with its steps; choose one, upload a file, set
its parameters and run it, then follow the run on its job page."""

from __future__ import annotations

import reflex as rx

from app import routes
from app.components.common import empty_state, when
from app.components.layout import page
from app.components.status import status_badge
from app.state.pipelines import UPLOAD_ID, OrderRow, ParameterRow, PastRunRow, PipelineRow, PipelinesState


def _order(o: OrderRow) -> rx.Component:
    return rx.hstack(
        rx.badge("order ", o.order, variant="surface", color_scheme="indigo", flex_shrink="0"),
        rx.text(o.tasks, size="2"),
        rx.cond(o.parallel, rx.badge("in parallel", variant="soft", color_scheme="gray", size="1")),
        spacing="2",
        align="center",
        class_name="pipeline-order",
    )


def _parameter(p: ParameterRow) -> rx.Component:
    """One parameter with its rule (type, allowed values, range), whether it is required
    and its default: what the run is checked against before anything is lodged."""
    bad = PipelinesState.error_field == "parameters." + p.name
    field = rx.cond(
        p.type == "choice",
        rx.select.root(
            rx.select.trigger(placeholder=rx.cond(p.default != "", "default: " + p.default, "choose"),
                              width="100%", aria_label=p.name, color_scheme=rx.cond(bad, "red", "gray")),
            rx.select.content(rx.foreach(p.choices, lambda c: rx.select.item(c, value=c))),
            on_change=lambda v: PipelinesState.set_value(p.name, v),
            class_name="pipeline-parameter",
        ),
        rx.input(placeholder=rx.cond(p.default != "", "default: " + p.default, ""), aria_label=p.name,
                 on_change=lambda v: PipelinesState.set_value(p.name, v), width="100%", max_length=1000,
                 color_scheme=rx.cond(bad, "red", "gray"), class_name="pipeline-parameter"),
    )
    return rx.vstack(
        rx.hstack(rx.text(p.name, size="2", weight="medium"),
                  rx.badge(p.type, variant="soft", color_scheme="gray", size="1"),
                  rx.cond(p.required, rx.badge("required", variant="soft", color_scheme="amber", size="1")),
                  spacing="2", align="center"),
        field,
        rx.text(rx.text.span("Must be " + p.rule, class_name="parameter-rule"),
                rx.cond(p.default != "", "; default " + p.default, ""),
                rx.cond(p.required, "; required", ""), ". Used by ", p.tasks, ".",
                size="1", color_scheme=rx.cond(bad, "red", "gray")),
        spacing="1",
        width="100%",
        class_name="pipeline-parameter-field",
        custom_attrs={"data-parameter": p.name},
    )


def _file() -> rx.Component:
    chosen = rx.hstack(
        rx.icon("file-text", size=18, color="var(--accent-9)"),
        rx.text(PipelinesState.file_name, weight="medium", class_name="chosen-file"),
        rx.text(PipelinesState.file_size, size="1", color_scheme="gray"),
        rx.button(rx.icon("x", size=12), "Choose another", variant="ghost", size="1", on_click=PipelinesState.clear_file),
        spacing="2",
        align="center",
    )
    drop = rx.upload(
        rx.vstack(rx.icon("upload", size=26, color="var(--gray-9)"),
                  rx.text("Drop the file to run it on here, or click to choose one.", size="2"),
                  rx.text("It is kept with the run; the steps read it from there.", size="1", color_scheme="gray"),
                  align="center", spacing="1"),
        id=UPLOAD_ID,
        max_files=1,
        multiple=False,
        on_drop=PipelinesState.pick_file(rx.upload_files(upload_id=UPLOAD_ID)),
        border=rx.cond(PipelinesState.error_field == "file", "2px dashed var(--red-8)", "2px dashed var(--gray-a7)"),
        border_radius="var(--radius-3)",
        padding="1.2em",
        width="100%",
        cursor="pointer",
        class_name="pipeline-drop",
    )
    return rx.cond(PipelinesState.file_name != "", chosen, drop)


def _run_card() -> rx.Component:
    current = PipelinesState.current
    return rx.card(
        rx.vstack(
            rx.heading("Run a pipeline", size="4"),
            rx.select.root(
                rx.select.trigger(aria_label="Pipeline", width="100%"),
                rx.select.content(rx.foreach(PipelinesState.rows, lambda r: rx.select.item(r.name, value=r.key))),
                value=PipelinesState.selected_key,
                on_change=PipelinesState.choose,
            ),
            rx.cond(current.description != "", rx.text(current.description, size="2", color_scheme="gray")),
            rx.cond(current.estimate != "", rx.text(current.name, " ", current.estimate, ".", size="2",
                                                    color_scheme="gray", class_name="pipeline-estimate")),
            rx.cond(~PipelinesState.signed_in,
                    rx.callout("You are not signed in: public pipelines run anonymously. Keep the address of the "
                               "run's page to come back to it.", icon="info", width="100%",
                               class_name="anonymous-note")),
            rx.vstack(rx.foreach(current.orders, _order), spacing="2", width="100%"),
            rx.text("Steps of equal order run side by side; the next order starts when all of them succeeded, "
                    "with the files they kept.", size="1", color_scheme="gray"),
            rx.divider(),
            rx.text("File", size="2", weight="medium"),
            rx.cond(current.accepts != "",
                    rx.text("It must be ", current.accepts, ": checked before the run starts.", size="1",
                            color_scheme="gray", class_name="pipeline-accepts")),
            _file(),
            rx.cond(current.parameters.length() > 0,  # type: ignore[attr-defined]
                    rx.vstack(rx.text("Parameters", size="2", weight="medium"),
                              rx.grid(rx.foreach(current.parameters, _parameter),
                                      columns=rx.breakpoints(initial="1", sm="2"), spacing="3", width="100%"),
                              spacing="2", width="100%")),
            rx.vstack(
                rx.text("Email me when it ends (optional)", size="2", weight="medium"),
                rx.input(placeholder="you@example.org", type="email", value=PipelinesState.email,
                         on_change=PipelinesState.set_email, width="100%", max_length=254, aria_label="Email",
                         color_scheme=rx.cond(PipelinesState.error_field == "email", "red", "gray"),
                         class_name="pipeline-email"),
                spacing="1", width="100%"),
            rx.cond(PipelinesState.error != "",
                    rx.callout(PipelinesState.error, icon="triangle-alert", color_scheme="red", width="100%",
                               class_name="run-error")),
            rx.button(rx.icon("play", size=14), "Run ", current.name, on_click=PipelinesState.run,
                      disabled=PipelinesState.file_name == "", class_name="run-pipeline"),
            spacing="3",
            width="100%",
        ),
        width="100%",
        class_name="run-card",
    )


def _past_run(r: PastRunRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.link(r.name, href=routes.job(r.id), class_name="past-run-link", weight="medium")),
        rx.table.cell(status_badge(r.status, r.description)),
        rx.table.cell(when(r.created, r.created_exact)),
        rx.table.cell(rx.text(r.summary, size="1", color_scheme="gray"), display=["none", "table-cell"]),
        rx.cond(PipelinesState.past_everyone, rx.table.cell(rx.text(r.owner, size="2"))),
        class_name="past-run",
        custom_attrs={"data-run-id": r.id, "data-status": r.status},
    )


def _past_runs() -> rx.Component:
    """The chosen pipeline's past runs (the viewer's; admins: everyone's), newest first,
    a page at a time."""
    return rx.cond(
        PipelinesState.signed_in,
        rx.card(
            rx.vstack(
                rx.heading(rx.cond(PipelinesState.past_everyone, "Past runs of ", "Your past runs of "),
                           PipelinesState.current.name, size="4"),
                rx.cond(
                    PipelinesState.past.length() > 0,  # type: ignore[attr-defined]
                    rx.table.root(
                        rx.table.header(rx.table.row(
                            rx.table.column_header_cell("Run"), rx.table.column_header_cell("State"),
                            rx.table.column_header_cell("Started"),
                            rx.table.column_header_cell("Steps", display=["none", "table-cell"]),
                            rx.cond(PipelinesState.past_everyone, rx.table.column_header_cell("Owner")))),
                        rx.table.body(rx.foreach(PipelinesState.past, _past_run)),
                        size="1", width="100%", class_name="past-runs"),
                    rx.text(rx.cond(PipelinesState.past_everyone, "No one has run ", "You have not run "),
                            PipelinesState.current.name, " yet.", size="2", color_scheme="gray",
                            class_name="past-runs-empty")),
                rx.cond(PipelinesState.past_cursor != "",
                        rx.button("Load more", variant="soft", size="1", on_click=PipelinesState.more_past,
                                  class_name="past-runs-more")),
                spacing="3", width="100%",
            ),
            width="100%", class_name="past-runs-card",
        ),
    )


def _pipeline(r: PipelineRow) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.flex(
                rx.vstack(rx.heading(r.name, size="3"),
                          rx.text(r.steps, " step(s)", size="1", color_scheme="gray"), spacing="0"),
                rx.button("Choose", size="1", variant=rx.cond(r.id == PipelinesState.selected, "solid", "soft"),
                          on_click=PipelinesState.choose(r.key)),
                justify="between", align="center", width="100%",
            ),
            rx.cond(r.description != "", rx.text(r.description, size="2", color_scheme="gray")),
            rx.vstack(rx.foreach(r.orders, _order), spacing="1", width="100%"),
            spacing="2",
            width="100%",
        ),
        width="100%",
        class_name="pipeline-card",
        custom_attrs={"data-pipeline": r.name},
    )


def pipelines_page() -> rx.Component:
    return page(
        rx.text("A pipeline runs the tasks an administrator configured on a file you upload. Each run is one "
                "submission: its page shows every step live, with the files each one kept.", color_scheme="gray"),
        rx.cond(
            PipelinesState.rows.length() > 0,  # type: ignore[attr-defined]
            rx.grid(
                rx.vstack(_run_card(), _past_runs(), spacing="4", width="100%"),
                rx.vstack(rx.foreach(PipelinesState.rows, _pipeline), spacing="3", width="100%"),
                columns=rx.breakpoints(initial="1", md="2"),
                spacing="4",
                width="100%",
            ),
            rx.cond(PipelinesState.loaded,
                    empty_state("workflow", "No pipelines yet",
                                "An administrator configures tasks and pipelines (REST: /api/tasks, "
                                "/api/pipelines); they show here."),
                    rx.center(rx.spinner(), padding="3em", width="100%")),
        ),
        title="Pipelines",
        open_when=PipelinesState.loaded,  # signed out: the public pipelines
        actions=[rx.link(rx.button(rx.icon("list-checks", size=14), "Your jobs", variant="soft"), href=routes.JOBS)],
    )
