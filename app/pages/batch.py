"""A batch (/batches/[batch_id]): its progress, its jobs (selected for bulk actions, or the whole
batch cancelled at once), retry the failed ones, CSV."""

from __future__ import annotations

import reflex as rx

from app import routes
from app.components import plain
from app.components.batch import SUMMARY, count_chips, progress_bar
from app.components.bulk_bar import bulk_bar, page_tick, tick
from app.components.common import copy_id, empty_state, link_problem, not_found, when
from app.components.layout import page
from app.state.batches import BatchSelectionState, BatchState
from app.state.views import ListRow


def _banner() -> rx.Component:
    b = BatchState.batch
    failed = b.counts["FAILED"].to(int) + b.counts["CRASHED"].to(int)
    text = rx.match(
        b.summary,
        ("succeeded", rx.text("All ", b.total, " jobs succeeded.")),
        ("failures", rx.text(failed, " of ", b.total, " jobs failed or crashed. Open a job for its message, retry "
                             "the failed ones, or download the CSV to fix their rows.")),
        ("in_progress", rx.text("In progress: ", b.done, " of ", b.total, " jobs done.")),
        ("lodging", rx.text("Lodging: ", b.lodged, " of ", b.total, " jobs lodged so far; the first ones are "
                            "already running.")),
        rx.text("This batch has no jobs."),
    )
    return rx.callout(
        text,
        icon=rx.match(b.summary, *[(k, v[1]) for k, v in SUMMARY.items()], "info"),
        color_scheme=rx.match(b.summary, *[(k, v[0]) for k, v in SUMMARY.items()], "gray"),
        width="100%",
        custom_attrs={"data-summary": b.summary},
        class_name="batch-banner",
    )


def _progress() -> rx.Component:
    b = BatchState.batch
    return rx.card(
        rx.vstack(
            rx.flex(
                rx.vstack(rx.heading(b.label, size="5"),
                          rx.hstack(rx.text("Batch", size="2", color_scheme="gray"), copy_id(b.id), align="center"),
                          spacing="1"),
                rx.vstack(rx.heading(b.percent, "%", size="7", class_name="batch-percent"),
                          rx.text(b.done, " of ", b.total, " done", size="2", color_scheme="gray"),
                          align="end", spacing="0"),
                justify="between", width="100%", wrap="wrap", spacing="3",
            ),
            progress_bar(b.counts, b.total, height="14px"),
            count_chips(b.counts),
            _banner(),
            rx.hstack(rx.text("Created ", size="2", color_scheme="gray"), when(b.created, b.created_exact),
                      rx.cond(b.submission_job_id != "",
                              rx.link("its submission job", href=routes.job(b.submission_job_id), size="2")),
                      spacing="2", align="center"),
            spacing="3",
            width="100%",
        ),
        width="100%",
    )


@rx.memo
def batch_job_row(job_id: rx.Var[str], name: rx.Var[str], status: rx.Var[str], message: rx.Var[str],
                  attempt: rx.Var[int], info: rx.Var[str], selected: rx.Var[bool]) -> rx.Component:
    """One job of the batch; plain-value props, so a push re-renders only its own row,
    and plain elements (components.plain) but for a failure's popover."""
    why = rx.popover.root(
        rx.popover.trigger(rx.button(rx.icon("message-square-warning", size=14), "Why?", size="1",
                                     variant="soft", color_scheme="red", class_name="why")),
        rx.popover.content(
            rx.vstack(rx.text(info, size="2", class_name="error-text"),
                      rx.link("Open the job", href=routes.job(job_id), size="2"), spacing="2"),
            max_width="28em",
        ),
    )
    return rx.el.tr(
        plain.td(tick(selected, BatchSelectionState.toggle, job_id), class_name="col-select"),
        plain.td(plain.link(name, to=routes.job(job_id), class_name="job-link")),
        plain.td(rx.el.div(plain.status_badge(status), rx.cond(info != "", why),
                           class_name="rt-Flex rt-r-ai-center rt-r-gap-2")),
        plain.td(plain.text(attempt), class_name="col-attempt"),
        plain.td(plain.text(message, gray=True, class_name="last-message", title=message), class_name="col-message"),
        custom_attrs={"data-job-id": job_id, "data-status": status},
        class_name="rt-TableRow job-row",
    )


def _row(row: ListRow) -> rx.Component:
    live = BatchState.live[row.id]
    return batch_job_row(job_id=row.id, name=rx.cond(row.title != "", row.title, row.label), status=live.status,
                         message=live.message, attempt=live.attempt, info=live.info,
                         selected=BatchSelectionState.selected.contains(row.id), key=row.id)


@rx.memo
def batch_jobs_table() -> rx.Component:
    """The batch's jobs. Memoised: a push re-renders this and the rows whose values
    changed."""
    return rx.cond(
        BatchState.jobs.length() > 0,  # type: ignore[attr-defined]
        rx.el.div(
            plain.table([rx.el.th(page_tick(BatchSelectionState), scope="col",
                                  class_name="rt-TableCell rt-TableColumnHeaderCell col-select"),
                         plain.th("Job", "col-job"), plain.th("Status", "col-status"),
                         plain.th("Attempt", "col-attempt"), plain.th("Last message", "col-message")],
                        rx.foreach(BatchState.jobs, _row), class_name="batch-jobs-table"),
            class_name="table-scroll",
        ),
        rx.cond(BatchState.failures_only,
                empty_state("circle-check", "No failures", "No job of this batch failed or crashed."),
                empty_state("layers", "No jobs", "This batch holds no jobs.")),
    )


def _bulk_bar() -> rx.Component:
    c = BatchState.batch.counts
    live = c["PENDING"].to(int) + c["DEQUEUED"].to(int) + c["IN_PROGRESS"].to(int)
    return bulk_bar(BatchSelectionState, more=BatchState.next_cursor != "",
                    shown=BatchState.jobs.length(),  # type: ignore[attr-defined]
                    every_words="jobs of this batch", whole=live > 0)


def _jobs() -> rx.Component:
    return rx.vstack(
        rx.flex(
            rx.heading("Jobs", size="4"),
            rx.hstack(
                # a <label> around switch and words: clicking the words toggles the switch
                rx.text(rx.flex(rx.switch(checked=BatchState.failures_only, on_change=BatchState.set_failures_only),
                                rx.el.span("Failures only"), spacing="2", align="center"),
                        as_="label", size="2", class_name="failures-only"),
                rx.button(rx.icon("rotate-ccw", size=14), "Retry failed", variant="soft",
                          on_click=BatchState.retry_failed,
                          disabled=(BatchState.batch.counts["FAILED"].to(int)
                                    + BatchState.batch.counts["CRASHED"].to(int)) == 0),
                rx.button(rx.icon("download", size=14), "Payloads as CSV", variant="soft",
                          on_click=BatchState.download_csv),
                spacing="3", align="center", wrap="wrap",
            ),
            justify="between", align="center", width="100%", wrap="wrap", spacing="2",
        ),
        link_problem(BatchState.link_problem),
        _bulk_bar(),
        batch_jobs_table(),
        rx.cond(BatchState.next_cursor != "",
                rx.center(rx.button("Load more", variant="soft", on_click=BatchState.load_more), width="100%")),
        spacing="3",
        width="100%",
    )


def batch_page() -> rx.Component:
    return page(
        rx.cond(
            BatchState.loaded,
            rx.cond(
                BatchState.found,
                rx.vstack(
                    rx.hstack(rx.link(rx.button(rx.icon("arrow-left", size=14), "All batches", variant="soft"),
                                      href=routes.BATCHES),
                              rx.link(rx.button(rx.icon("list-checks", size=14), "Jobs panel", variant="soft"),
                                      href=routes.JOBS), spacing="2"),
                    _progress(),
                    _jobs(),
                    spacing="4",
                    width="100%",
                ),
                not_found("Batch not found", "There is no batch with this id that you may see. Check the id, "
                          "or find it among your batches.", routes.BATCHES, "Back to your batches"),
            ),
            rx.center(rx.spinner(size="3"), padding="4em", width="100%"),
        ),
        title="Batch",
    )
