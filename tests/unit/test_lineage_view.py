"""The item page's lineage graph as React Flow draws it: upstream to the left, downstream
to the right, a level per column; "more" merges the next level in place."""

from app.lineage import Lineage, LineageEdge, LineageNode
from app.state.lineage import COLUMN_W, flow_of, merge


def _walk(start, direction, nodes, edges, more=()):
    return Lineage(start, direction, 1, [LineageNode(i, "ENTITY", sub, i, lvl, i if sub != "USER" else None,
                                                     i in more) for i, sub, lvl in nodes],
                   [LineageEdge(s, o, r) for s, r, o in edges], False, "")


def test_levels_sides_links_and_a_merged_level():
    graph = {"nodes": {}, "edges": {}}
    merge(graph, _walk("ds", "upstream", [("ds", "DATASET", 0), ("user/al", "USER", 1)],
                       [("ds", "wasAttributedTo", "user/al")]), 0)
    merge(graph, _walk("ds", "downstream", [("ds", "DATASET", 0), ("run", "MODEL_RUN", 1), ("out", "DATASET", 2)],
                       [("run", "used", "ds"), ("out", "wasGeneratedBy", "run")], more={"out"}), 0)
    nodes, edges = flow_of(graph)
    by_id = {n["id"]: n for n in nodes}
    assert {i: n["position"]["x"] for i, n in by_id.items()} == {"ds": 0, "user/al": -COLUMN_W, "run": COLUMN_W,
                                                                 "out": 2 * COLUMN_W}
    assert by_id["run"]["data"] | {} == {"label": "run", "kind": "Model run", "title": "run", "more": "",
                                         "href": "/items/run"}
    assert by_id["user/al"]["data"]["href"] == "" and by_id["user/al"]["data"]["kind"] == "User"
    assert by_id["out"]["data"]["more"] == "down" and "lineage-start" in by_id["ds"]["className"]
    assert {(e["source"], e["label"], e["target"]) for e in edges} == {
        ("ds", "wasAttributedTo", "user/al"), ("run", "used", "ds"), ("out", "wasGeneratedBy", "run")}

    # "more" on out: its next level lands a column further right, and out is walked now.
    merge(graph, _walk("out", "downstream", [("out", "DATASET", 0), ("run2", "MODEL_RUN", 1),
                                             ("run3", "MODEL_RUN", 1)],
                       [("run2", "used", "out"), ("run3", "used", "out")], more={"run2"}), 2)
    nodes, _ = flow_of(graph)
    by_id = {n["id"]: n for n in nodes}
    assert by_id["out"]["data"]["more"] == "" and by_id["run2"]["data"]["more"] == "down"
    assert by_id["run2"]["position"]["x"] == by_id["run3"]["position"]["x"] == 3 * COLUMN_W
    assert by_id["run2"]["position"]["y"] != by_id["run3"]["position"]["y"]
