"""React Flow (@xyflow/react) wrapped as Reflex components: a workflow, and an item's lineage, drawn with it.

The graph's layout is computed on the server (a column per step, a row per parallel
branch), so the browser only draws: nodes cannot be dragged or connected.
"""

from __future__ import annotations

from typing import Any

import reflex as rx
from reflex.event import passthrough_event_spec
from reflex.vars import Var

XYFLOW = "@xyflow/react@12.12.1"


def _node_click(event: Var, node: Var) -> list[Var[str]]:
    return [node.to(dict)["id"].to(str)]


class ReactFlow(rx.Component):
    library = XYFLOW
    tag = "ReactFlow"

    nodes: Var[list[dict[str, Any]]]
    edges: Var[list[dict[str, Any]]]
    fit_view: Var[bool]
    fit_view_options: Var[dict[str, Any]]
    nodes_draggable: Var[bool]
    nodes_connectable: Var[bool]
    elements_selectable: Var[bool]
    pan_on_scroll: Var[bool]
    zoom_on_scroll: Var[bool]
    prevent_scrolling: Var[bool]
    min_zoom: Var[float]
    max_zoom: Var[float]
    color_mode: Var[str]

    on_node_click: rx.EventHandler[_node_click]

    def add_imports(self) -> dict[str, Any]:
        return {"": "@xyflow/react/dist/style.css"}


class Background(rx.Component):
    library = XYFLOW
    tag = "Background"

    gap: Var[int]
    size: Var[float]


class Controls(rx.Component):
    library = XYFLOW
    tag = "Controls"

    show_interactive: Var[bool]


def workflow_graph(nodes: Var, edges: Var, on_node_click, height: str = "340px") -> rx.Component:
    """A workflow as a graph; clicking a node calls `on_node_click(job_id)`."""
    return rx.box(
        ReactFlow.create(
            Background.create(gap=16, size=1),
            Controls.create(show_interactive=False),
            nodes=nodes,
            edges=edges,
            fit_view=True,
            fit_view_options={"padding": 0.2, "maxZoom": 1.2},
            nodes_draggable=False,
            nodes_connectable=False,
            elements_selectable=True,
            zoom_on_scroll=False,
            prevent_scrolling=False,
            min_zoom=0.3,
            max_zoom=2.0,
            color_mode=rx.color_mode_cond(light="light", dark="dark"),
            on_node_click=on_node_click,
        ),
        height=height,
        width="100%",
        border="1px solid var(--gray-a5)",
        border_radius="var(--radius-3)",
        overflow="hidden",
        class_name="workflow-graph",
    )


class LineageGraph(rx.Component):
    """An item's lineage (assets/lineage_graph.jsx): nodes link to their items' pages, and a
    node's "more" button calls `on_more(node_id)`."""

    library = "$/public/lineage_graph.jsx"
    tag = "LineageGraph"
    lib_dependencies: list[str] = [XYFLOW]

    nodes: Var[list[dict[str, Any]]]
    edges: Var[list[dict[str, Any]]]
    color_mode: Var[str]

    on_more: rx.EventHandler[passthrough_event_spec(str)]


def lineage_graph(nodes: Var, edges: Var, on_more, height: str = "420px") -> rx.Component:
    return rx.box(
        LineageGraph.create(nodes=nodes, edges=edges, on_more=on_more,
                            color_mode=rx.color_mode_cond(light="light", dark="dark")),
        height=height, width="100%", border="1px solid var(--gray-a5)", border_radius="var(--radius-3)",
        overflow="hidden", class_name="lineage-graph",
    )


class RunGraph(rx.Component):
    """A pipeline run's steps (assets/run_graph.jsx): an order per row, parallel steps
    side by side, each lodged step a link to its job page."""

    library = "$/public/run_graph.jsx"
    tag = "RunGraph"
    lib_dependencies: list[str] = [XYFLOW]

    nodes: Var[list[dict[str, Any]]]
    edges: Var[list[dict[str, Any]]]
    color_mode: Var[str]


def run_graph(nodes: Var, edges: Var, height: Var | str = "300px") -> rx.Component:
    return rx.box(
        RunGraph.create(nodes=nodes, edges=edges, color_mode=rx.color_mode_cond(light="light", dark="dark")),
        height=height, width="100%", border="1px solid var(--gray-a5)", border_radius="var(--radius-3)",
        overflow="hidden", class_name="run-graph",
    )
