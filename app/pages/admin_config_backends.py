"""The configuration page's backend editor: a backend's form (its name, which names its
queues; max workers, idle timeout, job time limit) and the confirmation of a deletion.
Each refusal is shown at the field it names (data-field on the message)."""

from __future__ import annotations

import reflex as rx

from app.state.admin_config_backends import BackendEditState as B


def _field(label: str, hint: str, control: rx.Component, field: str) -> rx.Component:
    return rx.vstack(
        rx.text(label, size="2", weight="medium"),
        control,
        rx.cond(hint != "", rx.text(hint, size="1", color_scheme="gray")),
        rx.cond(B.b_field == field, rx.text(B.b_error, size="1", color_scheme="red", class_name="field-error",
                                            custom_attrs={"data-field": field})),
        spacing="1", width="100%", class_name=f"field-{field}")


def _input(value, on_change, name: str, **props) -> rx.Component:
    return rx.input(value=value, on_change=on_change, name=name, width="100%", **props)


def backend_dialog() -> rx.Component:
    return rx.dialog.root(rx.dialog.content(
        rx.dialog.title(rx.cond(B.editing != "", "Edit the backend", "New backend")),
        rx.dialog.description(
            rx.cond(B.editing != "",
                    "Pools apply a change within seconds: more workers start, or idle ones stop as they finish.",
                    "A backend is where tasks run: queues of its own (high, normal, low priority) and a pool of "
                    "workers that start when jobs wait and stop when idle."),
            size="2", color_scheme="gray"),
        rx.vstack(
            rx.cond((B.b_error != "") & (B.b_field == ""),
                    rx.callout(B.b_error, icon="triangle-alert", color_scheme="red", class_name="form-error")),
            _field("Name", rx.cond(B.editing != "", "A backend keeps its name: its queues are named after it.",
                                   "Lower-case letters, digits, - and _, e.g. gpu. Tasks choose it by this name."),
                   _input(B.b_name, B.set_b_name, "name", disabled=B.editing != ""), "name"),
            _field("Description", "", _input(B.b_description, B.set_b_description, "description"), "description"),
            rx.hstack(
                _field("Max workers", "At most this many run at once (0-100); 0 pauses it: jobs wait.",
                       _input(B.b_workers, B.set_b_workers, "max_workers"), "max_workers"),
                _field("Idle timeout (seconds)", "An idle worker stops after this long (1-86400).",
                       _input(B.b_idle, B.set_b_idle, "idle_timeout_s"), "idle_timeout_s"),
                _field("Job time limit (seconds)", "Caps every job on it (0-86400); 0: each job's own limit.",
                       _input(B.b_limit, B.set_b_limit, "job_timeout_s"), "job_timeout_s"),
                spacing="3", width="100%"),
            rx.flex(
                rx.dialog.close(rx.button("Cancel", variant="soft", color_scheme="gray", type="button")),
                rx.button(rx.cond(B.editing != "", "Save the backend", "Create the backend"),
                          on_click=B.save_backend, class_name="backend-save"),
                spacing="3", justify="end", width="100%"),
            spacing="3", width="100%", margin_top="1em"),
        max_width="48em", class_name="backend-form"),
        open=B.open, on_open_change=B.set_open)


def backend_delete_dialog() -> rx.Component:
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title("Delete this backend?"),
            rx.alert_dialog.description(
                rx.text.strong(B.del_name),
                " is removed with its settings. A backend a task still runs on, or with jobs waiting or running, "
                "is not deleted."),
            rx.cond(B.del_error != "", rx.callout(B.del_error, icon="triangle-alert", color_scheme="red",
                                                  class_name="backend-delete-error", margin_top="1em")),
            rx.flex(
                rx.alert_dialog.cancel(rx.button("Keep it", variant="soft", color_scheme="gray",
                                                 on_click=B.cancel_delete)),
                rx.button("Delete", color_scheme="red", on_click=B.confirm_delete,
                          class_name="confirm-backend-delete"),
                spacing="3", justify="end", margin_top="1em"),
            max_width="34em"),
        open=B.del_name != "",
        on_open_change=lambda _open: B.cancel_delete())


def backend_actions(name, built_in) -> rx.Component:
    return rx.hstack(
        rx.button("Edit", size="1", variant="soft", on_click=B.edit_backend(name), class_name="row-edit"),
        rx.button("Duplicate", size="1", variant="soft", color_scheme="gray", on_click=B.copy_backend(name),
                  class_name="row-copy"),
        rx.cond(built_in, rx.badge("built in", variant="outline", color_scheme="gray", title="Job types run on it"),
                rx.button("Delete", size="1", variant="soft", color_scheme="red", on_click=B.ask_delete(name),
                          class_name="row-delete")),
        spacing="1")
