"""Compare (/jobs/compare?a=…&b=…): two jobs or pipeline runs side by side — their
parameters, inputs and outputs by sha256, code, environment and times — and whether
their outputs match."""

from __future__ import annotations

import reflex as rx

from app.components.layout import page
from app.components.record import VERDICTS
from app.state.compare import CompareState as C


def _form() -> rx.Component:
    return rx.card(rx.form(rx.flex(
        rx.input(placeholder="Job or run A (session id)", default_value=C.a, name="a", class_name="compare-a",
                 width="20em"),
        rx.input(placeholder="Job or run B (session id)", default_value=C.b, name="b", class_name="compare-b",
                 width="20em"),
        rx.select(["auto", "job", "workflow"], default_value=rx.cond(C.scope == "", "auto", C.scope),
                  name="scope", class_name="compare-scope"),
        rx.button(rx.icon("git-compare", size=14), "Compare", type="submit", class_name="compare-go"),
        spacing="2", wrap="wrap", align="center"), on_submit=C.submit, reset_on_submit=False,
        key=C.a + "|" + C.b + "|" + C.scope), width="100%")  # remounted with the ids the page loads


def _row(r) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(rx.text(r[0], size="2")),
        rx.table.cell(rx.text(r[1], size="2", class_name="mono-id", word_break="break-all")),
        rx.table.cell(rx.text(r[2], size="2", class_name="mono-id", word_break="break-all")),
        rx.table.cell(rx.badge(r[3], color_scheme=rx.cond(r[3] == "same", "gray", "amber"))),
        class_name="diff-row", custom_attrs={"data-same": r[3]},
        background=rx.cond(r[3] == "same", "transparent", "var(--amber-a3)"),
    )


def _section(title: str, rows, cls: str, empty: str) -> rx.Component:
    return rx.card(rx.vstack(
        rx.heading(title, size="3"),
        rx.cond(rows.length() > 0,
                rx.table.root(
                    rx.table.header(rx.table.row(rx.table.column_header_cell(""),
                                                 rx.table.column_header_cell("A"),
                                                 rx.table.column_header_cell("B"),
                                                 rx.table.column_header_cell(""))),
                    rx.table.body(rx.foreach(rows, _row)), size="1", width="100%"),
                rx.text(empty, size="2", color_scheme="gray")),
        spacing="2", width="100%"), width="100%", class_name=f"diff-{cls}")


def _head() -> rx.Component:
    return rx.card(rx.vstack(
        rx.flex(
            rx.vstack(rx.text("A", weight="bold"), rx.link(C.a_name, href="/jobs/" + C.a, class_name="diff-a-link"),
                      rx.text(C.a_status, size="1", color_scheme="gray"), spacing="1"),
            rx.vstack(rx.text("B", weight="bold"), rx.link(C.b_name, href="/jobs/" + C.b, class_name="diff-b-link"),
                      rx.text(C.b_status, size="1", color_scheme="gray"), spacing="1"),
            rx.vstack(rx.text("Outputs", weight="bold"),
                      rx.badge(C.verdict, class_name="diff-verdict", custom_attrs={"data-verdict": C.verdict},
                               color_scheme=rx.match(C.verdict, *[(k, c) for k, (c, _) in VERDICTS.items()], "gray")),
                      spacing="1"),
            justify="between", wrap="wrap", spacing="4", width="100%"),
        rx.text(rx.cond(C.shown_scope == "workflow", "Whole runs compared, steps paired by order and task.",
                        "The two jobs compared."), " ", C.reproduction, size="2", color_scheme="gray"),
        spacing="3", width="100%"), width="100%", class_name="diff-head")


def compare_page() -> rx.Component:
    return page(
        rx.vstack(
            _form(),
            rx.cond(C.error != "", rx.callout(C.error, icon="triangle-alert", color_scheme="red", width="100%",
                                              class_name="diff-error")),
            rx.cond(C.loaded & (C.error == "") & (C.a_name != ""),
                    rx.vstack(
                        _head(),
                        _section("Parameters", C.parameters, "parameters", "No parameters."),
                        _section("Inputs (sha256)", C.inputs, "inputs", "No inputs."),
                        _section("Outputs (sha256)", C.outputs, "outputs", "No outputs."),
                        _section("Code", C.code, "code", "—"),
                        _section("Environment", C.environment, "environment", "—"),
                        rx.cond(C.packages.length() > 0,
                                _section("Distributions that differ", C.packages, "packages", "")),
                        _section("Timings", C.timings, "timings", "—"),
                        spacing="4", width="100%")),
            spacing="4", width="100%"),
        title="Compare jobs",
    )
