"""Items (/items): the registry's items and the form that creates one."""

from __future__ import annotations

import reflex as rx

from app import item_kinds, routes
from app.components.common import empty_state, link_problem, when
from app.components.layout import page
from app.item_search import WINDOW
from app.payloads import ITEM_SUBTYPES
from app.state.items import ANY, ItemsState
from app.state.views import ItemRow

RECORD_COLORS = {"INCOMPLETE": "gray", "COMPLETE": "blue", "LODGED": "green"}
RECORD_HINTS = {
    "INCOMPLETE": "Registered; its activity is being recorded.",
    "COMPLETE": "Its activity is recorded; its provenance is being lodged.",
    "LODGED": "Registered with its provenance lodged.",
}


def subtype_label(value: str) -> str:
    return value.replace("_", " ").capitalize()


def record_badge(status) -> rx.Component:
    return rx.tooltip(
        rx.badge(status, color_scheme=rx.match(status, *RECORD_COLORS.items(), "gray"), variant="soft",
                 custom_attrs={"data-record-status": status}, class_name="record-badge"),
        content=rx.match(status, *RECORD_HINTS.items(), ""),
    )


def _row(row: ItemRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.link(rx.text(row.display_name, weight="medium"), href=routes.item(row.id),
                              class_name="item-link")),
        rx.table.cell(rx.badge(row.subtype, variant="outline", color_scheme="gray")),
        rx.table.cell(rx.text("v", row.version)),
        rx.table.cell(record_badge(row.record_status)),
        rx.table.cell(rx.text(row.owner, size="2"), display=["none", "table-cell"]),
        rx.table.cell(when(row.created, row.created_exact), display=["none", "none", "table-cell"]),
        custom_attrs={"data-item-id": row.id},
        class_name="item-row",
    )


# Model runs are registered on their own page, checked against their workflow template.
FORM_SUBTYPES = tuple(s for s in ITEM_SUBTYPES if s != "MODEL_RUN")


def _kind_fields(subtype: str) -> rx.Component:
    """The fields of one kind of item (app.item_kinds); left blank, the item is a seed."""
    boxes = []
    for f in item_kinds.fields_of(subtype):
        if f.name == "description":
            continue  # the item's own description box above stands for it
        label = f.label + ("" if f.required else " (optional)")
        boxes.append(rx.vstack(
            rx.text(label, size="2", weight="medium"),
            rx.input(name=f"field_{f.name}", aria_label=f.label, width="100%", max_length=2000,
                     placeholder=f.help or None, class_name=f"field-{f.name}",
                     color_scheme=rx.cond(ItemsState.form_field == f"record.{f.name}", "red", "gray")),
            spacing="1", width="100%"))
    return rx.vstack(*boxes, rx.text("Leave a required field blank and the item is a seed: kept, but not yet "
                                     "something a model run can name.", size="1", color_scheme="gray"),
                     spacing="3", width="100%", class_name="kind-fields")


def create_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.trigger(rx.button(rx.icon("plus", size=14), "New item", class_name="new-item")),
        rx.dialog.content(
            rx.dialog.title("Create an item"),
            rx.dialog.description("Registering an item starts its create workflow: the activity is recorded, "
                                  "then its provenance lodged. You can watch it on the item's page.",
                                  size="2", color_scheme="gray"),
            rx.form(
                rx.vstack(
                    rx.vstack(rx.text("Kind of item", size="2", weight="medium"),
                              rx.select.root(
                                  rx.select.trigger(aria_label="Kind of item", width="100%"),
                                  rx.select.content(*[rx.select.item(subtype_label(s), value=s)
                                                      for s in FORM_SUBTYPES]),
                                  value=ItemsState.form_subtype,
                                  on_change=ItemsState.set_form_subtype,
                              ), spacing="1", width="100%"),
                    rx.vstack(rx.text("Name", size="2", weight="medium"),
                              rx.input(name="display_name", aria_label="Name", placeholder="e.g. Daily rainfall 2021",
                                       width="100%", max_length=256,
                                       color_scheme=rx.cond(ItemsState.form_field == "display_name", "red", "gray")),
                              spacing="1", width="100%"),
                    rx.vstack(rx.text("Description", size="2", weight="medium"),
                              rx.text_area(name="description", aria_label="Description", width="100%", rows="3"),
                              spacing="1", width="100%"),
                    *[rx.cond(ItemsState.form_subtype == s, _kind_fields(s)) for s in FORM_SUBTYPES
                      if item_kinds.fields_of(s)],
                    rx.cond(ItemsState.form_error != "",
                            rx.callout(ItemsState.form_error, icon="triangle-alert", color_scheme="red",
                                       width="100%", class_name="form-error")),
                    rx.flex(rx.dialog.close(rx.button("Cancel", variant="soft", color_scheme="gray", type="button")),
                            rx.button("Create", type="submit", class_name="create-item"),
                            spacing="3", justify="end", width="100%"),
                    spacing="4",
                    width="100%",
                ),
                on_submit=ItemsState.create,
                reset_on_submit=False,
            ),
            max_width="30em",
        ),
        open=ItemsState.form_open,
        on_open_change=ItemsState.set_form_open,
    )


def _filters() -> rx.Component:
    return rx.flex(
        rx.select.root(
            rx.select.trigger(aria_label="Kind filter"),
            rx.select.content(rx.select.item("Every kind", value=ANY),
                              *[rx.select.item(subtype_label(s), value=s) for s in ITEM_SUBTYPES]),
            value=ItemsState.subtype_filter,
            on_change=ItemsState.set_subtype_filter,
        ),
        rx.form(rx.hstack(rx.input(rx.input.slot(rx.icon("search", size=14)), name="q", placeholder="Name words, start*, or id",
                                   default_value=ItemsState.query, aria_label="Find items", width=["100%", "18em"],
                                   key=ItemsState.query),
                          rx.button("Find", type="submit", variant="soft"), spacing="2"),
                on_submit=ItemsState.apply_query, reset_on_submit=False, width="auto"),
        rx.hstack(rx.switch(checked=ItemsState.mine_only, on_change=ItemsState.set_mine_only, aria_label="Only mine"),
                  rx.text("Only mine", size="2"), align="center"),
        spacing="3",
        wrap="wrap",
        align="center",
        width="100%",
    )


def items_page() -> rx.Component:
    return page(
        _filters(),
        link_problem(ItemsState.link_problem),
        rx.cond(
            ItemsState.rows.length() > 0,  # type: ignore[attr-defined]
            rx.vstack(
                rx.box(rx.table.root(
                    rx.table.header(rx.table.row(
                        rx.table.column_header_cell("Name"), rx.table.column_header_cell("Kind"),
                        rx.table.column_header_cell("Version"), rx.table.column_header_cell("Record"),
                        rx.table.column_header_cell("Owner", display=["none", "table-cell"]),
                        rx.table.column_header_cell("Created", display=["none", "none", "table-cell"]),
                    )),
                    rx.table.body(rx.foreach(ItemsState.rows, _row)),
                    variant="surface", width="100%",
                ), overflow_x="auto", width="100%"),
                rx.cond(ItemsState.bounded,
                        rx.text(f"Looked through the next {WINDOW:,} items, newest first; Load more looks further.",
                                size="2", color_scheme="gray", class_name="bounded-note")),
                rx.cond(ItemsState.next_cursor != "",
                        rx.center(rx.button("Load more", variant="soft", on_click=ItemsState.load_more), width="100%")),
                width="100%",
            ),
            rx.cond(ItemsState.loaded & (ItemsState.next_cursor != ""),  # a bounded look found none yet: look further
                    rx.vstack(rx.text(f"None among the next {WINDOW:,} items, newest first.", size="2",
                                      class_name="bounded-note"),
                              rx.button("Load more", variant="soft", on_click=ItemsState.load_more),
                              align="center", width="100%", padding="2em"),
            rx.cond(ItemsState.loaded,
                    empty_state("boxes", "No items here",
                                "Create an item to register it; its create workflow runs in the background.",
                                rx.button(rx.icon("plus", size=14), "New item",
                                          on_click=ItemsState.set_form_open(True))),
                    rx.center(rx.spinner(), padding="3em", width="100%"))),
        ),
        title="Items",
        actions=[
            rx.link(rx.button(rx.icon("upload", size=14), "Register model runs (CSV)", variant="soft"),
                    href=routes.MODEL_RUNS_NEW),
            create_dialog(),
        ],
    )
