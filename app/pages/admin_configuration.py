"""Configuration (/admin/configuration): backends, tasks and pipelines as configured (each
empty table says what it is for), backends, tasks and pipelines created, edited,
duplicated and deleted in forms (app.pages.admin_config_backends, app.pages.admin_config_forms); the whole configuration downloaded as one YAML
document, and one uploaded, checked (what it would create, change and remove) and
applied."""

from __future__ import annotations

import reflex as rx

from app import routes
from app.components.common import empty_state, section, when
from app.pages.admin import admin_page
from app.pages.admin_config_backends import backend_actions, backend_delete_dialog, backend_dialog
from app.pages.admin_config_forms import delete_dialog, pipeline_actions, pipeline_dialog, task_actions, task_dialog
from app.state.admin_configuration import IMPORT_UPLOAD_ID, BackendConfigRow, ChangeRow, PipelineRow, TaskRow
from app.state.admin_configuration import AdminConfigurationState as C
from app.state.admin_config_backends import BackendEditState as B
from app.state.admin_pipeline_edit import PipelineEditState
from app.state.admin_task_edit import TaskEditState


def _table(headers: list[str], rows, render, name: str) -> rx.Component:
    return rx.box(rx.table.root(
        rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in headers])),
        rx.table.body(rx.foreach(rows, render)),
        variant="surface", size="1", width="100%", class_name=name), overflow_x="auto", width="100%")


def _small(value) -> rx.Component:
    return rx.text(value, size="2")


def _code(value) -> rx.Component:
    return rx.cond(value != "", rx.code(value, size="1", variant="ghost"), rx.text("—", color_scheme="gray"))


def _backend(b: BackendConfigRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.text(b.name, weight="medium")), rx.table.cell(_small(b.description)),
        rx.table.cell(_small(b.max_workers)), rx.table.cell(_small(b.idle_timeout)),
        rx.table.cell(_small(b.job_timeout)), rx.table.cell(when(b.created, b.created_exact)),
        rx.table.cell(backend_actions(b.name, b.built_in)),
        custom_attrs={"data-backend": b.name}, class_name="config-backend-row")


def _task(t: TaskRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.vstack(rx.text(t.name, weight="medium"),
                                rx.text(t.description, size="1", color_scheme="gray"), spacing="0")),
        rx.table.cell(rx.badge(t.backend, variant="outline", color_scheme="gray")),
        rx.table.cell(rx.vstack(rx.text(t.kind, size="1", color_scheme="gray"), _code(t.runs), spacing="0")),
        rx.table.cell(_small(rx.cond(t.parameters != "", t.parameters, "—"))),
        rx.table.cell(rx.vstack(rx.hstack(rx.text("in", size="1", color_scheme="gray"), _code(t.inputs)),
                                rx.hstack(rx.text("out", size="1", color_scheme="gray"), _code(t.outputs)),
                                spacing="1")),
        rx.table.cell(rx.vstack(
            _small(t.ok_exit_codes),
            rx.cond(t.retries > 0, rx.text(t.retries, " retries", size="1", color_scheme="gray",
                                           class_name="task-retries")), spacing="0")),
        rx.table.cell(_small(t.timeout)),
        rx.table.cell(rx.vstack(
            rx.cond(t.environment != "", _code(t.environment), rx.text("—", color_scheme="gray")),
            rx.cond(t.software_version != "", rx.text(t.software_version, size="1", color_scheme="gray",
                                                      class_name="task-version")),
            spacing="1"), class_name="task-env"),
        rx.table.cell(task_actions(t.name)),
        custom_attrs={"data-task": t.name}, class_name="config-task-row")


def _pipeline(p: PipelineRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.vstack(rx.hstack(rx.text(p.name, weight="medium"),
                                          rx.cond(p.public, rx.badge("public", size="1", color_scheme="green",
                                                                     class_name="pipeline-public")),
                                          rx.cond(~p.runnable, rx.badge("runnable: false", size="1",
                                                                        color_scheme="red",
                                                                        class_name="pipeline-not-runnable")),
                                          spacing="2", align="center"),
                                rx.text(p.description, size="1", color_scheme="gray"), spacing="0")),
        rx.table.cell(_small(rx.cond(p.steps != "", p.steps, "no steps yet"))),
        rx.table.cell(_small(p.fair_use), class_name="config-fair-use"),
        rx.table.cell(_small(rx.cond(p.validators != "", p.validators, "none")), class_name="config-validators"),
        rx.table.cell(pipeline_actions(p.name)),
        custom_attrs={"data-pipeline": p.name}, class_name="config-pipeline-row")


_ACTION_COLOURS = {"create": "green", "change": "amber", "remove": "red"}


def _change(c: ChangeRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.match(c.action, *[(k, rx.badge(k, color_scheme=v, variant="soft"))
                                           for k, v in _ACTION_COLOURS.items()], rx.badge(c.action))),
        rx.table.cell(_small(c.kind)), rx.table.cell(rx.text(c.name, weight="medium")),
        rx.table.cell(_small(rx.cond(c.fields != "", c.fields, "—"))),
        custom_attrs={"data-action": c.action, "data-kind": c.kind, "data-name": c.name}, class_name="config-change")


def _import() -> rx.Component:
    return section(
        "Import a configuration",
        rx.text("A YAML document as Download YAML writes it. Each of its sections (backends, tasks, pipelines) "
                "becomes the whole of that kind: what it lists is created or changed, what it leaves out is "
                "removed (not a task or pipeline a run under way uses, nor a backend a task runs on or a job waits "
                "on; a built-in backend always stays); a section left out changes nothing. "
                "Check says what it would do; nothing is written until you apply it, and then all of it or none.",
                size="2", color_scheme="gray"),
        rx.upload(
            rx.vstack(rx.icon("file-up", size=24, color="var(--gray-9)"),
                      rx.text(rx.cond(C.import_file != "", C.import_file,
                                      "Drop a YAML file here, or click to choose one."), size="2"),
                      align="center", spacing="1"),
            id=IMPORT_UPLOAD_ID, max_files=1, multiple=False,
            accept={"application/yaml": [".yaml", ".yml"], "text/plain": [".yaml", ".yml", ".txt", ".json"]},
            on_drop=C.pick(rx.upload_files(upload_id=IMPORT_UPLOAD_ID)),
            border="2px dashed var(--gray-a7)", border_radius="var(--radius-3)", padding="1em", width="100%",
            cursor="pointer", class_name="config-drop"),
        rx.hstack(
            rx.button(rx.icon("list-checks", size=14), "Check", variant="soft", on_click=C.check,
                      disabled=C.import_file == "", class_name="config-check"),
            rx.button(rx.icon("upload", size=14), "Apply", on_click=C.apply, disabled=~C.checked_ok,
                      class_name="config-apply"),
            rx.cond(C.import_file != "", rx.button("Start over", variant="ghost", on_click=C.start_over)),
            spacing="2", wrap="wrap"),
        rx.cond(C.import_error != "", rx.callout(C.import_error, icon="triangle-alert", color_scheme="red",
                                                 class_name="config-import-error",
                                                 custom_attrs={"data-field": C.import_field})),
        rx.cond(C.checked_ok, rx.vstack(
            rx.text("If applied: ", rx.text.strong(C.check_summary), size="2", class_name="config-check-summary"),
            rx.cond(C.changes.length() > 0,  # type: ignore[attr-defined]
                    _table(["", "Kind", "Name", "Fields"], C.changes, _change, "config-changes"),
                    rx.text("The configuration is already as the document says.", size="2")),
            spacing="2", width="100%")),
        class_name="config-import",
    )


def _new(label: str, on_click, name: str) -> rx.Component:
    return rx.button(rx.icon("plus", size=14), label, size="2", variant="soft", on_click=on_click,
                     class_name=name, align_self="flex-start")


def admin_configuration_page() -> rx.Component:
    return admin_page(
        rx.cond(
            C.loaded,
            rx.vstack(
                section("Backends", _new("New backend", B.new_backend, "backend-new"), rx.cond(
                    C.backends.length() > 0,  # type: ignore[attr-defined]
                    _table(["Name", "Description", "Max workers", "Idle timeout", "Job time limit", "Configured", ""],
                           C.backends, _backend, "config-backends"),
                    empty_state("server", "No backend configured",
                                "A backend is where tasks run: a queue with its own pool of workers (how many at "
                                "most, how long idle ones wait, how long a job may run). Until one is configured "
                                "each job type's backend runs with the defaults; change one on the overview.",
                                rx.link(rx.button("Go to the overview", variant="soft"), href=routes.ADMIN)),
                )),
                section("Tasks", _new("New task", TaskEditState.new_task, "task-new"), rx.cond(
                    C.tasks.length() > 0,  # type: ignore[attr-defined]
                    _table(["Task", "Backend", "Runs", "Parameters", "Input / output files", "OK exit codes",
                            "Time limit", "Environment, version", ""], C.tasks, _task, "config-tasks"),
                    empty_state("terminal", "No tasks yet",
                                "A task is one executable step a pipeline can run: a command template (e.g. "
                                "wc -l {input}) or a registered Python handler, with its parameters, the files it "
                                "reads and writes, and the exit codes that count as success, bound to a backend."),
                )),
                section("Pipelines", _new("New pipeline", PipelineEditState.new_pipeline, "pipeline-new"), rx.cond(
                    C.pipelines.length() > 0,  # type: ignore[attr-defined]
                    _table(["Pipeline", "Steps (equal order runs in parallel)", "Fair use (live submissions)",
                            "Input validators", ""], C.pipelines, _pipeline,
                           "config-pipelines"),
                    empty_state("workflow", "No pipelines yet",
                                "A pipeline is a recipe of ordered task steps; running it lodges a workflow whose "
                                "steps of equal order run in parallel, each order after the one before succeeds."),
                )),
                _import(),
                task_dialog(), pipeline_dialog(), delete_dialog(), backend_dialog(), backend_delete_dialog(),
                spacing="4",
                width="100%",
            ),
            rx.center(rx.spinner(), padding="3em", width="100%"),
        ),
        title="Configuration",
        actions=[rx.button(rx.icon("download", size=14), "Download YAML", variant="soft", on_click=C.download,
                           class_name="config-download")],
    )
