"""Schedules (/admin/schedules): periodic jobs and pipeline runs. Every schedule with
what it lodges, when (in words, as cron, in its time zone), its next and last firing
and missed count, paused or not; pause, resume, delete (confirmed); the form that makes
one; a schedule's latest firings with the jobs they lodged. Read again every 2 s."""

from __future__ import annotations

import reflex as rx

from app import routes
from app.components.common import empty_state, section
from app.pages.admin import admin_page
from app.state.admin_schedules import KIND_LABELS, PIPELINE_KIND, UPLOAD_ID, FiringRow, ScheduleRow
from app.state.admin_schedules import AdminSchedulesState as S


def _time(at, exact, rel) -> rx.Component:
    """Relative ("in 3 seconds"), and exact below it."""
    return rx.cond(at != "",
                   rx.vstack(rx.text(rel, size="2", weight="medium", title=at),
                             rx.text(exact, size="1", color_scheme="gray"), spacing="0"),
                   rx.text("—", color_scheme="gray"))


def _lodges(r: ScheduleRow) -> rx.Component:
    return rx.vstack(
        rx.hstack(rx.badge(rx.cond(r.kind == PIPELINE_KIND, "pipeline run", "job"),
                           color_scheme=rx.cond(r.kind == PIPELINE_KIND, "violet", "blue"), variant="soft"),
                  rx.text(r.lodges, weight="medium", size="2"), spacing="2", align="center"),
        rx.text(r.lodges_hint, size="1", color_scheme="gray", style={"overflow_wrap": "anywhere"}),
        rx.text("for ", r.owner, size="1", color_scheme="gray"),
        spacing="1", max_width="22em",
    )


def _when(r: ScheduleRow) -> rx.Component:
    return rx.vstack(
        rx.cond(r.words != "", rx.text(r.words, size="2", weight="medium")),
        rx.hstack(rx.code(r.cron, size="1"), rx.text(r.timezone, size="1", color_scheme="gray"), spacing="2",
                  wrap="wrap"),
        spacing="1",
    )


def _row(r: ScheduleRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.button(r.name, variant="ghost", size="2", on_click=S.show(r.id), class_name="schedule-name",
                                style={"font_weight": "bold"}),
                      rx.cond(r.paused, rx.badge("paused", color_scheme="amber", margin_left="0.5em",
                                                 class_name="schedule-paused"),
                              rx.badge("active", color_scheme="green", margin_left="0.5em",
                                       class_name="schedule-active"))),
        rx.table.cell(_lodges(r)),
        rx.table.cell(_when(r)),
        rx.table.cell(rx.cond(r.paused, rx.text("paused", size="2", color_scheme="amber"),
                              _time(r.next_at, r.next_exact, r.next_relative)), class_name="schedule-next"),
        rx.table.cell(_time(r.last_at, r.last_exact, r.last_relative),
                      rx.cond(r.last_job_id != "", rx.link("last job", href=routes.job(r.last_job_id), size="1")),
                      class_name="schedule-last"),
        rx.table.cell(rx.cond(r.missed > 0, rx.badge(r.missed, " missed", color_scheme="red"),
                              rx.text("0", color_scheme="gray")), class_name="schedule-missed"),
        rx.table.cell(rx.hstack(
            rx.cond(r.paused,
                    rx.button(rx.icon("play", size=14), "Resume", size="1", variant="soft", color_scheme="green",
                              on_click=S.set_paused(r.id, False), class_name="schedule-resume"),
                    rx.button(rx.icon("pause", size=14), "Pause", size="1", variant="soft", color_scheme="amber",
                              on_click=S.set_paused(r.id, True), class_name="schedule-pause")),
            rx.button(rx.icon("list", size=14), "Firings", size="1", variant="soft", on_click=S.show(r.id),
                      class_name="schedule-show"),
            rx.button(rx.icon("trash-2", size=14), "Delete", size="1", variant="soft", color_scheme="red",
                      on_click=S.ask_delete(r.id), class_name="schedule-delete"),
            spacing="2", wrap="wrap")),
        class_name="schedule-row", custom_attrs={"data-schedule": r.name},
    )


def _table() -> rx.Component:
    return rx.box(
        rx.table.root(
            rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in (
                "Schedule", "Lodges", "When", "Next run", "Last run", "Missed", "")])),
            rx.table.body(rx.foreach(S.rows, _row)),
            variant="surface", size="1", width="100%",
        ),
        overflow_x="auto", width="100%",
    )


def _firing(f: FiringRow) -> rx.Component:
    color = rx.match(f.outcome, ("lodged", "green"), ("missed", "red"), "amber")
    return rx.table.row(
        rx.table.cell(_time(f.due_at, f.due_exact, f.due_relative)),
        rx.table.cell(rx.badge(f.outcome, color_scheme=color), class_name="firing-outcome"),
        rx.table.cell(
            rx.cond(f.job_id != "",
                    rx.hstack(rx.link(rx.code(f.job_id, size="1"), href=routes.job(f.job_id), class_name="firing-job"),
                              rx.cond(f.job_status != "", rx.badge(f.job_status, variant="outline", size="1"),
                                      rx.text("(removed)", size="1", color_scheme="gray")),
                              rx.text(f.job_summary, size="1", color_scheme="gray"),
                              spacing="2", align="center"),
                    rx.text(f.note, size="1", color_scheme=rx.cond(f.outcome == "missed", "red", "amber"))),
        ),
        class_name="firing-row", custom_attrs={"data-outcome": f.outcome},
    )


def _detail() -> rx.Component:
    c = S.current
    return section(
        "Firings of " + c.name,
        rx.text("The latest 20, newest first. A lodged firing links to the job it lodged (for a pipeline run, the "
                "run); missed firings fell while no housekeeper ran and were not run afterwards; a refused one "
                "says why.", size="2", color_scheme="gray"),
        rx.cond(S.firings.length() > 0,  # type: ignore[attr-defined]
                rx.table.root(
                    rx.table.header(rx.table.row(rx.table.column_header_cell("Due"),
                                                 rx.table.column_header_cell("Outcome"),
                                                 rx.table.column_header_cell("Job, or why not"))),
                    rx.table.body(rx.foreach(S.firings, _firing)),
                    variant="ghost", size="1", width="100%",
                ),
                rx.text(rx.cond(c.paused, "No firings yet, and it is paused.",
                                "No firings yet; the first is due " + c.next_relative + " (" + c.next_exact + ")."),
                        size="2", color_scheme="gray", class_name="no-firings")),
        class_name="schedule-detail",
    )


# --- the form ------------------------------------------------------------------------------------


def _refusal(field: str) -> rx.Component:
    return rx.cond(S.error_field == field, rx.text(S.error, size="1", color_scheme="red", class_name="field-error",
                                                   custom_attrs={"data-field": field}))


def _labelled(label: str, field: str, control: rx.Component, hint: str = "") -> rx.Component:
    parts = [rx.text(label, size="2", weight="medium"), control]
    if hint:
        parts.append(rx.text(hint, size="1", color_scheme="gray"))
    parts.append(_refusal(field))
    return rx.vstack(*parts, spacing="1", width="100%")


def _select(items, value, on_change, label: str) -> rx.Component:
    return rx.select.root(
        rx.select.trigger(aria_label=label, width="100%"),
        rx.select.content(rx.foreach(items, lambda x: rx.select.item(x, value=x))),
        value=value, on_change=on_change,
    )


def _input(name: str, field: str, **props) -> rx.Component:
    return rx.input(name=name, color_scheme=rx.cond(S.error_field == field, "red", "gray"), width="100%",
                    aria_label=name.capitalize(), **props)


def _file() -> rx.Component:
    chosen = rx.hstack(rx.icon("file-text", size=16), rx.text(S.file_name, weight="medium", class_name="chosen-file"),
                       rx.text(S.file_size, size="1", color_scheme="gray"),
                       rx.button("Choose another", variant="ghost", size="1", type="button", on_click=S.clear_file),
                       spacing="2", align="center")
    drop = rx.upload(
        rx.text("Drop the file each run reads here, or click to choose one. It is kept with the schedule; each run "
                "gets its own copy.", size="2", color_scheme="gray"),
        id=UPLOAD_ID, max_files=1, multiple=False,
        on_drop=S.pick_file(rx.upload_files(upload_id=UPLOAD_ID)),
        border=rx.cond(S.error_field == "file", "2px dashed var(--red-8)", "2px dashed var(--gray-a7)"),
        border_radius="var(--radius-3)", padding="1em", width="100%", cursor="pointer", class_name="schedule-drop",
    )
    return rx.cond(S.file_name != "", chosen, drop)


def _what() -> rx.Component:
    pipeline = rx.vstack(
        _labelled("Pipeline", "pipeline", _select(S.pipeline_names, S.pipeline_key, S.set_pipeline_key, "Pipeline")),
        _labelled("Parameters (JSON)", "parameters",
                  rx.text_area(name="parameters", placeholder='{"top": "10"}', rows="2", width="100%",
                               aria_label="Parameters", font_family="monospace"),
                  "As a run on the Pipelines page takes them; empty for the defaults."),
        _labelled("Input file", "file", _file()),
        spacing="3", width="100%",
    )
    job = rx.vstack(
        _labelled("Job type", "job_type", _select(S.job_keys, S.job_key, S.set_job_key, "Job type")),
        _labelled("Payload (JSON)", "payload",
                  rx.text_area(name="payload", placeholder="{}", rows="3", width="100%", aria_label="Payload",
                               font_family="monospace"),
                  "Checked as a lodging of this job type is."),
        spacing="3", width="100%",
    )
    return rx.cond(S.kind == PIPELINE_KIND, pipeline, job)


def _form() -> rx.Component:
    return section(
        "New schedule",
        rx.form(
            rx.vstack(
                _labelled("Name", "name", _input("name", "name", placeholder="nightly word counts", max_length=64)),
                _labelled("It lodges", "kind",
                          rx.radio_group(KIND_LABELS, value=S.kind_label, on_change=S.set_kind_label,
                                         direction="row", spacing="4", class_name="schedule-kind")),
                _what(),
                rx.grid(
                    _labelled("Cron expression", "cron",
                              _input("cron", "cron", placeholder="0 3 * * *", font_family="monospace"),
                              "minute hour day month weekday; a sixth field, last, is seconds: * * * * * */10 is "
                              "every 10 seconds."),
                    _labelled("Time zone", "timezone",
                              _select(S.time_zones, S.time_zone, S.set_time_zone, "Time zone"),
                              "The cron's hours are this zone's (summer time included)."),
                    _labelled("Owner", "owner", _input("owner", "owner", placeholder="you"),
                              "Whose jobs (or runs) each firing lodges; empty for you."),
                    columns=rx.breakpoints(initial="1", md="3"), spacing="3", width="100%",
                ),
                rx.cond((S.error != "") & (S.error_field == ""),
                        rx.callout(S.error, icon="triangle_alert", color_scheme="red", size="1",
                                   class_name="form-error")),
                rx.hstack(
                    rx.button(rx.cond(S.saving, rx.spinner(size="1"), rx.icon("calendar-plus", size=14)),
                              "Make the schedule", type="submit", disabled=S.saving, class_name="schedule-create"),
                    rx.button("Cancel", type="button", variant="soft", color_scheme="gray", on_click=S.toggle_form),
                    spacing="2"),
                spacing="3", width="100%",
            ),
            on_submit=S.create, reset_on_submit=False, width="100%",
        ),
        class_name="schedule-form",
    )


def _confirm() -> rx.Component:
    d = S.deleting
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title("Delete this schedule?"),
            rx.alert_dialog.description(
                rx.text.strong(d.name), " (", d.lodges, ", ", d.cron, ") fires no more, and its firings' record goes "
                "with it. The jobs and runs it lodged stay; a pipeline run's kept file is removed."),
            rx.flex(
                rx.alert_dialog.cancel(rx.button("Keep it", variant="soft", color_scheme="gray", on_click=S.cancel_delete)),
                rx.button("Delete the schedule", color_scheme="red", on_click=S.delete, class_name="confirm-delete"),
                spacing="3", justify="end", margin_top="1em"),
            max_width="32em",
        ),
        open=S.confirm_delete != 0,
        on_open_change=S.set_confirm_open,
    )


def admin_schedules_page() -> rx.Component:
    return admin_page(
        rx.text("Schedules lodge a job type, or run a pipeline on a file kept with the schedule, at the times a cron "
                "expression names in a time zone. The housekeeper lodges each firing once; firings that fall while no "
                "housekeeper runs are counted as missed, not run late. Next runs update here as they pass.",
                size="2", color_scheme="gray"),
        rx.cond(S.form_open, _form()),
        rx.cond(S.rows.length() > 0,  # type: ignore[attr-defined]
                _table(),
                rx.cond(S.loaded,
                        empty_state("calendar-clock", "No schedules",
                                    "Make one to lodge a job or run a pipeline every night, every hour, or every "
                                    "few seconds."),
                        rx.center(rx.spinner(), padding="3em", width="100%"))),
        rx.cond(S.selected != 0, _detail()),
        _confirm(),
        title="Schedules",
        actions=[rx.button(rx.icon("calendar-plus", size=14), "New schedule", on_click=S.toggle_form,
                           class_name="new-schedule")],
        tick=S.refresh, every_ms=2000,
    )
