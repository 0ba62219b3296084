"""The configuration page's forms: a task's (its parameters a row each), a pipeline's (its
steps a row each and a preview of the lanes they run in), and the confirmation of a
deletion. Each refusal is shown at the field it names (data-field on the message)."""

from __future__ import annotations

import reflex as rx

from app.components.flow import run_graph
from app.components.step_drag import step_drag
from app.pipelines.checks import PLACEHOLDERS
from app.validators import VALIDATORS
from app.state.admin_config_rows import PARAM_TYPES, EnvRow, LaneRow, LiveRunRow, ParamRow, StepRow
from app.state.admin_config_edit import ConfigDeleteState as D
from app.state.admin_pipeline_edit import PipelineEditState as P
from app.state.admin_task_edit import TaskEditState as T


def _refusal(shown, message, field) -> rx.Component:
    return rx.cond(shown, rx.text(message, size="1", color_scheme="red", class_name="field-error",
                                  custom_attrs={"data-field": field}))


def _field(label: str, hint: str, control: rx.Component, error_field: str, form: str = "task") -> rx.Component:
    field, message = (T.t_field, T.t_error) if form == "task" else (P.p_field, P.p_error)
    return rx.vstack(
        rx.text(label, size="2", weight="medium"),
        control,
        rx.cond(hint != "", rx.text(hint, size="1", color_scheme="gray")),
        _refusal(field == error_field, message, error_field),
        spacing="1", width="100%", class_name=f"field-{error_field}")


def _input(value, on_change, name: str, **props) -> rx.Component:
    return rx.input(value=value, on_change=on_change, name=name, width="100%", **props)


def _general(field, message) -> rx.Component:
    """A refusal that names no field the form shows (e.g. a name already taken)."""
    return rx.cond((message != "") & (field == ""),
                   rx.callout(message, icon="triangle-alert", color_scheme="red", class_name="form-error"))


# --- a task ------------------------------------------------------------------------------------


def _param(p: ParamRow, i) -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.input(value=p.name, placeholder="name", on_change=lambda v: T.set_param(i, "name", v),
                     width="9em", class_name="param-name", aria_label="Parameter name"),
            rx.input(value=p.flag, placeholder="flag, e.g. --lines", on_change=lambda v: T.set_param(i, "flag", v),
                     width="10em", class_name="param-flag", aria_label="Flag"),
            rx.input(value=p.default, placeholder="default", on_change=lambda v: T.set_param(i, "default", v),
                     width="8em", class_name="param-default", aria_label="Default"),
            rx.select(PARAM_TYPES, value=p.type, on_change=lambda v: T.set_param(i, "type", v), size="2",
                      class_name="param-type"),
            rx.cond(p.type == "choice",
                    rx.input(value=p.choices, placeholder="allowed: a, b, c",
                             on_change=lambda v: T.set_param(i, "choices", v), width="10em",
                             class_name="param-choices", aria_label="Allowed values")),
            rx.cond((p.type == "integer") | (p.type == "number"), rx.hstack(
                rx.input(value=p.minimum, placeholder="min", on_change=lambda v: T.set_param(i, "minimum", v),
                         width="5em", class_name="param-minimum", aria_label="Minimum"),
                rx.input(value=p.maximum, placeholder="max", on_change=lambda v: T.set_param(i, "maximum", v),
                         width="5em", class_name="param-maximum", aria_label="Maximum"), spacing="1")),
            rx.checkbox("required", checked=p.required, on_change=lambda v: T.set_param(i, "required", v),
                        class_name="param-required"),
            rx.checkbox("switch (flag alone)", checked=p.bool_valued,
                        on_change=lambda v: T.set_param(i, "bool_valued", v), class_name="param-switch"),
            rx.icon_button(rx.icon("x", size=14), variant="ghost", color_scheme="gray", type="button",
                           on_click=T.remove_param(i), aria_label="Remove this parameter",
                           class_name="param-remove"),
            spacing="2", align="center", wrap="wrap"),
        _refusal(p.error != "", p.error, p.error_field),
        spacing="1", width="100%", class_name="param-row")


def _parameters() -> rx.Component:
    return rx.vstack(
        rx.text("Parameters", size="2", weight="medium"),
        rx.text("What a run may set. A parameter reaches the command as {name} where the template says so, or "
                "as its flag and value added at the end (a switch: its flag alone when true).",
                size="1", color_scheme="gray"),
        rx.cond(T.t_params.length() > 0, rx.hstack(  # type: ignore[attr-defined]
            *[rx.text(h, size="1", weight="medium", color_scheme="gray", width=w)
              for h, w in (("Name", "126px"), ("Flag", "140px"), ("Default", "112px"), ("Type, rule", "auto"))],
            spacing="2")),
        rx.foreach(T.t_params, _param),
        rx.button(rx.icon("plus", size=14), "Add a parameter", variant="soft", size="1", type="button",
                  on_click=T.add_param, class_name="param-add"),
        spacing="2", width="100%", class_name="task-parameters")


def _env(r: EnvRow, i) -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.input(value=r.name, placeholder="NAME, e.g. LC_ALL", on_change=lambda v: T.set_env(i, "name", v),
                     width="14em", class_name="env-name", aria_label="Variable name", font_family="monospace"),
            rx.text("=", color_scheme="gray"),
            rx.input(value=r.value, placeholder="value", on_change=lambda v: T.set_env(i, "value", v),
                     width="22em", class_name="env-value", aria_label="Value", font_family="monospace"),
            rx.icon_button(rx.icon("x", size=14), variant="ghost", color_scheme="gray", type="button",
                           on_click=T.remove_env(i), aria_label="Remove this variable", class_name="env-remove"),
            spacing="2", align="center"),
        _refusal(r.error != "", r.error, r.error_field),
        spacing="1", width="100%", class_name="env-row", custom_attrs={"data-name": r.name})


def _environment() -> rx.Component:
    return rx.vstack(
        rx.text("Environment variables", size="2", weight="medium"),
        rx.text("Set for the command when a step runs (never through a shell), on top of PATH, LANG and LC_ALL; "
                "HOME and TMPDIR are the step's own. Names are letters, digits and _. Values appear in each "
                "step's provenance record: keep secrets out.", size="1", color_scheme="gray"),
        rx.foreach(T.t_env, _env),
        rx.button(rx.icon("plus", size=14), "Add a variable", variant="soft", size="1", type="button",
                  on_click=T.add_env, class_name="env-add"),
        _refusal(T.t_field == "environment", T.t_error, "environment"),
        spacing="2", width="100%", class_name="task-environment")


def _live_run(r: LiveRunRow) -> rx.Component:
    return rx.el.li(rx.link(r.name, href=r.href, class_name="live-run", custom_attrs={"data-run": r.id}))


def live_runs_list(form) -> rx.Component:
    """The runs under way that use what the open form edits: the newest few, then how many more."""
    return rx.cond(form.live_runs.length() > 0, rx.box(  # type: ignore[attr-defined]
        rx.el.ul(rx.foreach(form.live_runs, _live_run), style={"margin": "0.25em 0 0 1.25em", "font-size": "0.85em"}),
        rx.cond(form.live_more != "", rx.text(form.live_more, size="1", color_scheme="gray", class_name="live-more")),
        class_name="live-runs"))


_PLACEHOLDERS = "; ".join(f"{{{k}}}: {v}" for k, v in PLACEHOLDERS.items())


def task_dialog() -> rx.Component:
    runs = rx.cond(
        T.t_kind == "command",
        _field("Command template", f"Placeholders: {_PLACEHOLDERS}; and {{name}} of a parameter.",
               rx.text_area(value=T.t_command, on_change=T.set_t_command, name="command", rows="2",
                            width="100%", font_family="monospace"), "command"),
        _field("Handler", "A registered Python handler.",
               rx.select(T.handler_names, value=T.t_handler, on_change=T.set_t_handler, name="handler",
                         placeholder="Choose a handler"), "handler"))
    return rx.dialog.root(rx.dialog.content(
        rx.dialog.title(rx.cond(T.task_id != 0, "Edit the task", "New task")),
        rx.dialog.description(
            rx.cond(T.task_id != 0,
                    rx.text("A run under way keeps the task as it was when the run started (its steps not yet "
                            "started and its retries too); runs started after you save use the new one. Each "
                            "step's record names the definition it ran. ",
                            rx.text.strong(T.t_live, class_name="task-live")),
                    "A task is one step a pipeline can run: a command or a handler, on a backend."),
            size="2", color_scheme="gray"),
        rx.vstack(
            live_runs_list(T),
            _general(T.t_field, T.t_error),
            _field("Name", "", _input(T.t_name, T.set_t_name, "name"), "name"),
            _field("Description", "", _input(T.t_description, T.set_t_description, "description"), "description"),
            rx.hstack(
                _field("Backend", "The queue and pool of workers it runs on.",
                       rx.select(T.backend_names, value=T.t_backend, on_change=T.set_t_backend, name="backend"),
                       "backend"),
                _field("Runs", "", rx.select(["command", "handler"], value=T.t_kind, on_change=T.set_t_kind,
                                             name="kind"), "kind"),
                spacing="3", width="100%"),
            runs,
            _parameters(),
            rx.hstack(
                _field("Input files (glob)", "Which of the step's files it reads, e.g. *.txt.",
                       _input(T.t_inputs, T.set_t_inputs, "input_glob"), "input_glob"),
                _field("Output files (glob)", "Which files it writes are kept.",
                       _input(T.t_outputs, T.set_t_outputs, "output_glob"), "output_glob"),
                spacing="3", width="100%"),
            rx.hstack(
                _field("Exit codes that succeed", "e.g. 0 or 0,1", _input(T.t_codes, T.set_t_codes,
                                                                          "ok_exit_codes"), "ok_exit_codes"),
                _field("Time limit (seconds)", "A step running longer is stopped.",
                       _input(T.t_timeout, T.set_t_timeout, "timeout_s"), "timeout_s"),
                spacing="3", width="100%"),
            _environment(),
            rx.hstack(
                _field("Automatic retries", "A step that fails or crashes is tried again this many times "
                       "(0-10; 2 s apart, then doubling). 0: a person retries it.",
                       _input(T.t_retries, T.set_t_retries, "retries"), "retries"),
                _field("Software version", "What each step's provenance record names as the software it ran, "
                       "e.g. wc (GNU coreutils) 9.1.", _input(T.t_version, T.set_t_version, "software_version"),
                       "software_version"),
                spacing="3", width="100%"),
            rx.flex(
                rx.dialog.close(rx.button("Cancel", variant="soft", color_scheme="gray", type="button")),
                rx.button(rx.cond(T.task_id != 0, "Save the task", "Create the task"), on_click=T.save_task,
                          class_name="task-save"),
                spacing="3", justify="end", width="100%"),
            spacing="3", width="100%", margin_top="1em"),
        max_width="56em", class_name="task-form"),
        open=T.task_open, on_open_change=T.set_task_open)


# --- a pipeline --------------------------------------------------------------------------------


def _step(st: StepRow, i) -> rx.Component:
    return step_drag(rx.vstack(
        rx.hstack(
            rx.input(value=st.order, on_change=lambda v: P.set_step(i, "order", v), width="5em",
                     aria_label="Order", class_name="step-order"),
            rx.select(P.task_names, value=st.task, on_change=lambda v: P.set_step(i, "task", v),
                      placeholder="Choose a task", class_name="step-task"),
            rx.icon_button(rx.icon("x", size=14), variant="ghost", color_scheme="gray", type="button",
                           on_click=P.remove_step(i), aria_label="Remove this step", class_name="step-remove"),
            spacing="2", align="center"),
        _refusal(st.error != "", st.error, st.error_field),
        spacing="1", class_name="step-row", custom_attrs={"data-task": st.task, "data-order": st.order}),
        index=i, on_move=P.move_step)


def _lane(lane: LaneRow) -> rx.Component:
    return rx.hstack(
        rx.badge(lane.order, variant="solid", color_scheme="gray", size="2"),
        rx.hstack(rx.foreach(lane.tasks, lambda t: rx.badge(t, variant="surface", size="2")), spacing="2",
                  wrap="wrap"),
        rx.text(lane.words, size="1", color_scheme="gray"),
        spacing="3", align="center", class_name="preview-lane", custom_attrs={"data-order": lane.order})


def _preview() -> rx.Component:
    return rx.vstack(
        rx.text("Preview: how a run goes", size="2", weight="medium"),
        rx.cond(P.lanes.length() > 0,  # type: ignore[attr-defined]
                rx.vstack(run_graph(P.preview_nodes, P.preview_edges, P.preview_height),
                          rx.foreach(P.lanes, _lane), spacing="2", width="100%"),
                rx.text("Choose a task for a step to see the run's lanes.", size="1", color_scheme="gray")),
        spacing="2", width="100%", padding="0.75em", border="1px solid var(--gray-a5)",
        border_radius="var(--radius-3)", class_name="pipeline-preview")


def pipeline_dialog() -> rx.Component:
    return rx.dialog.root(rx.dialog.content(
        rx.dialog.title(rx.cond(P.pipeline_id != 0, "Edit the pipeline", "New pipeline")),
        rx.dialog.description(
            rx.cond(P.pipeline_id != 0,
                    rx.text("A run under way keeps the pipeline it started with; runs started after you save "
                            "follow the new one. ", rx.text.strong(P.p_live, class_name="pipeline-live")),
                    "A pipeline is a recipe of task steps; a run of it goes order by order."),
            size="2", color_scheme="gray"),
        rx.vstack(
            live_runs_list(P),
            _general(P.p_field, P.p_error),
            _field("Name", "", _input(P.p_name, P.set_p_name, "name"), "name", "pipeline"),
            _field("Description", "", _input(P.p_description, P.set_p_description, "description"), "description",
                   "pipeline"),
            rx.vstack(
                rx.text("Steps", size="2", weight="medium"),
                rx.text("Each step is an order number and a task. Steps of equal number run side by side; a "
                        "higher number runs once every step before it has succeeded. Change a number to reorder, "
                        "or drag a step by its grip onto another: it takes that step's place (between two steps "
                        "side by side it joins them), and the steps are numbered again.",
                        size="1", color_scheme="gray"),
                rx.foreach(P.p_steps, _step),
                rx.button(rx.icon("plus", size=14), "Add a step", variant="soft", size="1", type="button",
                          on_click=P.add_step, class_name="step-add"),
                _refusal(P.p_field == "steps", P.p_error, "steps"),
                spacing="2", width="100%", class_name="pipeline-steps"),
            _preview(),
            rx.hstack(
                rx.checkbox("Runnable (unchecked: shown, submissions refused)", checked=P.p_runnable,
                            on_change=P.set_p_runnable, class_name="pipeline-runnable"),
                rx.checkbox("Public (anyone may run it without signing in)", checked=P.p_public,
                            on_change=P.set_p_public, class_name="pipeline-public-box"),
                spacing="4", wrap="wrap"),
            rx.hstack(
                _field("Lower priority from (live runs)", "Empty: the global setting; 0: off.",
                       _input(P.p_hog, P.set_p_hog, "queue_hog_size"), "queue_hog_size", "pipeline"),
                _field("Refused at (live runs)", "Empty: the global setting; 0: off.",
                       _input(P.p_hard, P.set_p_hard, "queue_hard_limit"), "queue_hard_limit", "pipeline"),
                spacing="3", width="100%"),
            _field("Input validators", "Checks every upload must pass, comma separated; known: " + ", ".join(sorted(VALIDATORS)) + ".",
                   _input(P.p_validators, P.set_p_validators, "validators"), "validators", "pipeline"),
            rx.flex(
                rx.dialog.close(rx.button("Cancel", variant="soft", color_scheme="gray", type="button")),
                rx.button(rx.cond(P.pipeline_id != 0, "Save the pipeline", "Create the pipeline"),
                          on_click=P.save_pipeline, class_name="pipeline-save"),
                spacing="3", justify="end", width="100%"),
            spacing="3", width="100%", margin_top="1em"),
        max_width="52em", class_name="pipeline-form"),
        open=P.pipeline_open, on_open_change=P.set_pipeline_open)


# --- deleting ----------------------------------------------------------------------------------


def delete_dialog() -> rx.Component:
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title(rx.cond(D.del_kind == "task", "Delete this task?", "Delete this pipeline?")),
            rx.alert_dialog.description(
                rx.text.strong(D.del_name),
                rx.cond(D.del_kind == "task",
                        " is removed with its parameters; runs under way keep their own version of it. A task "
                        "that is a step of a pipeline is not deleted.",
                        " is removed with its steps; runs under way finish the steps they started with.")),
            rx.cond(D.del_error != "", rx.callout(D.del_error, icon="triangle-alert", color_scheme="red",
                                                  class_name="delete-error", margin_top="1em")),
            rx.flex(
                rx.alert_dialog.cancel(rx.button("Keep it", variant="soft", color_scheme="gray",
                                                 on_click=D.cancel_delete)),
                rx.button("Delete", color_scheme="red", on_click=D.confirm_delete, class_name="confirm-delete"),
                spacing="3", justify="end", margin_top="1em"),
            max_width="34em"),
        open=D.del_kind != "",
        on_open_change=lambda _open: D.cancel_delete())


def task_actions(name) -> rx.Component:
    return _actions(T.edit_task(name), T.copy_task(name), D.ask_delete("task", name))


def pipeline_actions(name) -> rx.Component:
    return _actions(P.edit_pipeline(name), P.copy_pipeline(name), D.ask_delete("pipeline", name))


def _actions(edit, copy, delete) -> rx.Component:
    return rx.hstack(
        rx.button("Edit", size="1", variant="soft", on_click=edit, class_name="row-edit"),
        rx.button("Duplicate", size="1", variant="soft", color_scheme="gray", on_click=copy, class_name="row-copy"),
        rx.button("Delete", size="1", variant="soft", color_scheme="red", on_click=delete, class_name="row-delete"),
        spacing="1")
