"""The job page's provenance card: PROV-JSON downloads, reproduce, compare, and the
verdict of a reproduction (do its outputs' hashes match the original's?)."""

from __future__ import annotations

import reflex as rx

from app.state.record import JobRecordState as R

VERDICTS = {"match": ("green", "Outputs match: every output's sha256 is the same."),
            "mismatch": ("red", "Outputs differ: at least one output's sha256 is not the same."),
            "waiting": ("gray", "Waiting for it to end to compare the outputs.")}


def _verdict_text(v) -> rx.Component:
    return rx.match(v, *[(k, rx.text(t, as_="span")) for k, (_, t) in VERDICTS.items()], rx.text(""))


def _verdict_badge(v) -> rx.Component:
    return rx.badge(v, color_scheme=rx.match(v, *[(k, c) for k, (c, _) in VERDICTS.items()], "gray"),
                    class_name="repro-verdict", custom_attrs={"data-verdict": v})


def _reproduced(row) -> rx.Component:
    return rx.hstack(rx.link(row[0], href=row[3].to(str), class_name="repro-link"), _verdict_badge(row[1]),
                     rx.link("compare", href=row[2].to(str), size="1"),
                     spacing="2", align="center")


def record_card() -> rx.Component:
    return rx.card(rx.vstack(
        rx.heading("Provenance", size="3"),
        rx.cond(R.verdict != "",
                rx.callout(rx.vstack(
                    rx.text("This reproduces ", rx.cond(R.reproduces_scope == "workflow", "run ", "job "),
                            rx.link(R.reproduces, href="/jobs/" + R.reproduces, class_name="repro-of"), "."),
                    rx.hstack(_verdict_badge(R.verdict), _verdict_text(R.verdict), spacing="2", align="center"),
                    spacing="1"),
                    icon=rx.match(R.verdict, ("match", "circle-check"), ("mismatch", "circle-x"), "clock"),
                    color_scheme=rx.match(R.verdict, ("match", "green"), ("mismatch", "red"), "gray"),
                    width="100%", class_name="reproduction")),
        rx.cond(R.polling,
                rx.moment(interval=2000, format="HH:mm:ss", on_change=R.recheck, display="none")),
        rx.cond(R.reproduced_by.length() > 0,
                rx.vstack(rx.text("Reproduced by", size="2", weight="medium"),
                          rx.foreach(R.reproduced_by, _reproduced), spacing="1", class_name="reproduced-by")),
        rx.text("Each attempt that ends records what it used and made (by sha256), the code and environment "
                "it ran with, its parameters and times.", size="2", color_scheme="gray"),
        rx.hstack(
            rx.button(rx.icon("download", size=14), "PROV-JSON of this job", variant="soft", size="2",
                      on_click=R.download_prov(False), class_name="prov-download"),
            rx.cond(R.workflow,
                    rx.button(rx.icon("download", size=14), "PROV-JSON of its run", variant="soft", size="2",
                              on_click=R.download_prov(True), class_name="prov-download-run")),
            rx.button(rx.icon("copy", size=14), "Reproduce", size="2", on_click=R.reproduce,
                      class_name="reproduce-job"),
            rx.link(rx.button(rx.icon("git-compare", size=14), "Compare", variant="soft", size="2"),
                    href=R.compare_href, class_name="compare-link"),
            spacing="2", wrap="wrap"),
        spacing="3", width="100%"), width="100%", class_name="job-record")
