"""State of an item page's lineage graph: what the item came from (to the left) and
what came from it (to the right), each node a link to its item; a node's "more" loads
the next level from it."""

from __future__ import annotations

from typing import Any

import reflex as rx

from app import lineage, routes
from app.errors import JobdeckError
from app.state.base import viewer

FIRST_DEPTH = 2  # levels shown each way when the page opens
NODES_EACH_WAY = 60  # the first view's cap, each way
NODES_PER_MORE = 40  # a "more"'s cap
MAX_SHOWN = 400  # past this, a "more" asks to explore from that item's own page
COLUMN_W, ROW_H = 310, 80

KINDS = {"USER": "User", "CREATE": "Create activity", "VERSION": "Version activity"}


def kind_of(subtype: str) -> str:
    return KINDS.get(subtype) or subtype.replace("_", " ").capitalize() or "Unknown"


def merge(graph: dict[str, Any], found: lineage.Lineage, at_level: int) -> None:
    """Add a walk from the node at `at_level` (signed: upstream to the left) to the graph."""
    sign = -1 if found.direction == "upstream" else 1
    nodes, edges = graph["nodes"], graph["edges"]
    for n in found.nodes:
        if n.id in nodes:
            if n.id == found.start_id:
                nodes[n.id]["more_" + found.direction] = n.more
            continue
        nodes[n.id] = {"id": n.id, "label": n.label, "kind": kind_of(n.subtype), "item_id": n.item_id,
                       "level": at_level + sign * n.level, "more_" + found.direction: n.more}
    for e in found.edges:
        edges.setdefault(f"{e.source}|{e.relation}|{e.target}", {"source": e.source, "target": e.target,
                                                                  "relation": e.relation})


def flow_of(graph: dict[str, Any]) -> tuple[list[dict], list[dict]]:
    """React Flow nodes and edges: a column per level, each column's nodes centred in the
    order the walk found them."""
    columns: dict[int, list[dict]] = {}
    for n in graph["nodes"].values():
        columns.setdefault(n["level"], []).append(n)
    out_nodes = []
    for level, column in columns.items():
        top = -(len(column) - 1) * ROW_H / 2
        for row, n in enumerate(column):
            more = "up" if n.get("more_upstream") else "down" if n.get("more_downstream") else ""
            out_nodes.append({
                "id": n["id"], "type": "lineage", "position": {"x": level * COLUMN_W, "y": top + row * ROW_H},
                "data": {"label": n["label"], "kind": n["kind"], "title": n["id"], "more": more,
                         "href": routes.item(n["item_id"]) if n["item_id"] else ""},
                "className": "lineage-node" + (" lineage-start" if level == 0 else ""), "width": 200,
            })
    out_edges = [{"id": key, "source": e["source"], "target": e["target"], "label": e["relation"],
                  "markerEnd": {"type": "arrowclosed"}, "className": "lineage-edge"}
                 for key, e in graph["edges"].items()]
    return out_nodes, out_edges


class LineageState(rx.State):
    nodes: list[dict[str, Any]] = []
    edges: list[dict[str, Any]] = []
    notes: list[str] = []
    node_count: int = 0
    _graph: dict[str, Any] = {}

    def _show(self) -> None:
        self.nodes, self.edges = flow_of(self._graph)
        self.node_count = len(self.nodes)

    @rx.event
    async def load(self):
        self.nodes, self.edges, self.notes, self._graph = [], [], [], {}
        user = await viewer(self)
        if user is None:
            return  # the item page's own load sends the visitor to sign in
        item_id = routes.id_in(self.router.url.path)
        graph: dict[str, Any] = {"nodes": {}, "edges": {}}
        try:
            for direction in lineage.DIRECTIONS:
                found = lineage.explore(start_id=item_id, direction=direction, depth=FIRST_DEPTH,
                                        max_nodes=NODES_EACH_WAY)
                merge(graph, found, 0)
                if found.note:
                    self.notes.append(f"{direction.capitalize()}: {found.note}")
        except JobdeckError:
            return  # no such item: the page says so
        self._graph = graph
        self._show()

    @rx.event
    async def more(self, node_id: str):
        if await viewer(self) is None or node_id not in self._graph.get("nodes", {}):
            return
        node = self._graph["nodes"][node_id]
        if len(self._graph["nodes"]) >= MAX_SHOWN:
            return rx.toast.info(f"The graph shows {MAX_SHOWN} nodes already: open {node['label']!r} to explore "
                                 f"from there.")
        for direction in lineage.DIRECTIONS:
            if node.get("more_" + direction):
                try:
                    found = lineage.explore(start_id=node_id, direction=direction, depth=1,
                                            max_nodes=NODES_PER_MORE)
                except JobdeckError as exc:
                    return rx.toast.error(exc.message)
                merge(self._graph, found, node["level"])
                if found.note:
                    self.notes.append(f"{node['label']}: {found.note}")
        self._show()
