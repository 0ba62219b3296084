"""An item (/items/[item_id]): details, versions, new version, its workflow and its lineage as graphs."""

from __future__ import annotations

import reflex as rx

from app import routes
from app.components.common import copy_id, field_row, not_found, section, when
from app.components.flow import lineage_graph, workflow_graph
from app.components.layout import page
from app.components.status import DESCRIPTION_TEXT, LABELS, status_icon
from app.pages.items import record_badge
from app.state.item import ItemState
from app.state.lineage import LineageState
from app.state.views import ItemRow

OVERALL_TEXT = {**{k: v.capitalize() for k, v in LABELS.items()}, "NONE": "No jobs"}


def _details() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.flex(
                rx.vstack(rx.heading(ItemState.item.display_name, size="6", class_name="item-name"),
                          rx.hstack(rx.badge(ItemState.item.subtype, variant="outline", color_scheme="gray"),
                                    rx.badge("version ", ItemState.item.version, variant="soft",
                                             class_name="item-version"),
                                    record_badge(ItemState.item.record_status),
                                    rx.cond(ItemState.is_seed,
                                            rx.tooltip(rx.badge("seed", color_scheme="amber", class_name="seed-badge"),
                                                       content="A field its kind needs is blank: a model run cannot "
                                                               "name it yet.")),
                                    spacing="2", wrap="wrap"),
                          spacing="2"),
                spacing="3", justify="between", wrap="wrap", width="100%",
            ),
            rx.cond(ItemState.item.description != "", rx.text(ItemState.item.description, color_scheme="gray")),
            rx.data_list.root(
                field_row("Id", copy_id(ItemState.item.id)),
                field_row("Owner", rx.text(ItemState.item.owner)),
                field_row("Created", when(ItemState.item.created, ItemState.item.created_exact)),
                rx.foreach(ItemState.fields, lambda f: field_row(f[0], rx.text(f[1], class_name="kind-field"))),
                rx.cond(ItemState.item.version_reason != "",
                        field_row("Why this version", rx.text(ItemState.item.version_reason))),
                rx.cond(ItemState.item.next_version_id != "",
                        field_row("Newer version", rx.link("open the newer version",
                                                           href=routes.item(ItemState.item.next_version_id)))),
                orientation=rx.breakpoints(initial="vertical", sm="horizontal"),
            ),
            rx.cond(ItemState.record_json != "",
                    rx.accordion.root(rx.accordion.item(header="Record", content=rx.code_block(
                        ItemState.record_json, language="json", wrap_long_lines=True)),
                        collapsible=True, type="single", width="100%", variant="soft")),
            spacing="3",
            width="100%",
        ),
        width="100%",
    )


def _version(v: ItemRow) -> rx.Component:
    current = v.id == ItemState.item.id
    return rx.table.row(
        rx.table.cell(rx.cond(current, rx.text("v", v.version, " (this one)", weight="bold"),
                              rx.link("v", v.version, href=routes.item(v.id)))),
        rx.table.cell(rx.text(rx.cond(v.version_reason != "", v.version_reason, "first version"), size="2")),
        rx.table.cell(record_badge(v.record_status)),
        rx.table.cell(when(v.created, v.created_exact), display=["none", "table-cell"]),
        class_name="version-row",
    )


def _versions() -> rx.Component:
    return section(
        "Versions",
        rx.table.root(rx.table.body(rx.foreach(ItemState.versions, _version)), size="1", width="100%"),
    )


def _version_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.trigger(rx.button(rx.icon("git-commit-horizontal", size=14), "New version",
                                    class_name="new-version")),
        rx.dialog.content(
            rx.dialog.title("Make a new version"),
            rx.dialog.description("The new version starts its version workflow: a Version activity is recorded "
                                  "and its provenance lodged. Say why it is needed.", size="2", color_scheme="gray"),
            rx.form(
                rx.vstack(
                    rx.text("Reason", size="2", weight="medium"),
                    rx.text_area(name="reason", aria_label="Reason", width="100%", rows="3",
                                 placeholder="e.g. Corrected the station coordinates"),
                    rx.cond(ItemState.version_error != "",
                            rx.callout(ItemState.version_error, icon="triangle-alert", color_scheme="red",
                                       width="100%", class_name="form-error")),
                    rx.flex(rx.dialog.close(rx.button("Cancel", variant="soft", color_scheme="gray", type="button")),
                            rx.button("Create version", type="submit", class_name="create-version"),
                            spacing="3", justify="end", width="100%"),
                    spacing="3",
                    width="100%",
                ),
                on_submit=ItemState.new_version,
                reset_on_submit=False,
            ),
            max_width="30em",
        ),
        open=ItemState.version_open,
        on_open_change=ItemState.set_version_open,
    )


def _workflow() -> rx.Component:
    header = rx.flex(
        rx.hstack(
            rx.box(status_icon(ItemState.overall, size=20), custom_attrs={"data-overall": ItemState.overall},
                   class_name="workflow-overall"),
            rx.heading("Workflow", size="4"),
            rx.tooltip(rx.badge(rx.match(ItemState.overall, *OVERALL_TEXT.items(), ItemState.overall),
                                variant="soft", class_name="overall-text"),
                       content=rx.match(ItemState.overall, *DESCRIPTION_TEXT.items(),
                                        "This item has no jobs.")),
            rx.text(ItemState.job_count, " jobs", size="2", color_scheme="gray"),
            spacing="2",
            align="center",
        ),
        rx.button(rx.icon(rx.cond(ItemState.graph_open, "chevron-up", "chevron-down"), size=16),
                  rx.cond(ItemState.graph_open, "Collapse", "Expand"), variant="ghost", size="2",
                  on_click=ItemState.toggle_graph, class_name="toggle-graph",
                  aria_expanded=ItemState.graph_open),
        justify="between",
        align="center",
        width="100%",
    )
    return rx.card(
        rx.vstack(
            header,
            rx.cond(
                ItemState.may_see_workflow,
                rx.cond(ItemState.graph_open,
                        rx.vstack(
                            workflow_graph(ItemState.nodes, ItemState.edges, ItemState.open_job),
                            rx.text("Click a job to open its details. Colours show each job's status.",
                                    size="1", color_scheme="gray"),
                            width="100%", spacing="2")),
                rx.text("The jobs of this item's workflow belong to ", ItemState.item.owner, ".", size="2",
                        color_scheme="gray"),
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
        class_name="workflow-panel",
    )


def _lineage() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(rx.heading("Lineage", size="4"),
                      rx.text(LineageState.node_count, " nodes", size="2", color_scheme="gray",
                              class_name="lineage-count"),
                      spacing="2", align="center"),
            rx.text("What this item came from is on the left (what it used, who made it), what came from it on "
                    "the right: the model runs that used it, what they generated, its newer versions. Open a node "
                    "to go to its item; more shows the next level.", size="2", color_scheme="gray"),
            lineage_graph(LineageState.nodes, LineageState.edges, LineageState.more),
            rx.foreach(LineageState.notes, lambda note: rx.callout(note, icon="info", size="1", width="100%",
                                                                  class_name="lineage-note")),
            spacing="3",
            width="100%",
        ),
        width="100%",
        class_name="lineage-panel",
    )


def item_page() -> rx.Component:
    return page(
        rx.cond(
            ItemState.loaded,
            rx.cond(
                ItemState.found,
                rx.vstack(
                    rx.flex(
                        rx.link(rx.button(rx.icon("arrow-left", size=14), "All items", variant="soft"),
                                href=routes.ITEMS),
                        rx.cond(ItemState.may_version, _version_dialog()),
                        spacing="2", wrap="wrap", justify="between", width="100%",
                    ),
                    _details(),
                    _workflow(),
                    _lineage(),
                    _versions(),
                    spacing="4",
                    width="100%",
                ),
                not_found("Item not found", "There is no item with this id. Check the id, or find the item in "
                          "the items list.", routes.ITEMS, "Back to the items"),
            ),
            rx.center(rx.spinner(size="3"), padding="4em", width="100%"),
        ),
        title="Item",
    )
