"""Lineage: the provenance graph walked from one item, upstream (what it came from:
edges out of it, `subject → object`) or downstream (what came from it: edges into it).

The walk is bounded three ways: `depth` hops (1-10, as Provena allows), at most
`max_nodes` nodes, and at most four edge rows read per node allowed, so a node with a
million links (a person, a popular dataset) costs what a small one does. Every read is
one index probe per node, served by `uq_prov_edge (subject, relation, object)` upstream
and `ix_prov_edge_object_relation_subject` downstream, each in the index's own order so a
`LIMIT` stops the read early; nothing scans the edge table.

Every signed-in user reads every item (app/registry.py), so its lineage too: callers check
the sign-in, as they do for an item. A lineage names items, activities and users, never jobs.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Iterable, Optional

import sqlalchemy as sa

from app.db import session
from app.errors import JobdeckError, NotFound
from app.models import Activity, Item, ProvEdge

_item = Item.__table__
_act = Activity.__table__
_edge = ProvEdge.__table__

DIRECTIONS = ("upstream", "downstream")
MAX_DEPTH = 10
MAX_NODES = 500
EDGES_PER_NODE = 4  # edge rows a walk may read per node it may show
_CHUNK = 100  # nodes per statement (one index probe each)
USER_PREFIX = "user/"

# Provena's item categories of Jobdeck's item subtypes; any other subtype is an entity.
CATEGORY = {"MODEL_RUN": "ACTIVITY", "STUDY": "ACTIVITY", "PERSON": "AGENT", "ORGANISATION": "AGENT"}
ACTIVITY_SUBTYPE = {"Create": "CREATE", "Version": "VERSION", "ModelRun": "MODEL_RUN"}


@dataclasses.dataclass
class LineageNode:
    id: str
    category: str  # ENTITY | ACTIVITY | AGENT ("" when the node is not in the registry)
    subtype: str  # the item's subtype; CREATE / VERSION for those activities; USER for a Jobdeck user
    label: str
    level: int  # hops from the start
    item_id: Optional[str]  # the item page it stands for (an activity's: the item it made)
    more: bool = False  # it has links in this direction that were not walked


@dataclasses.dataclass
class LineageEdge:
    source: str  # the PROV subject
    target: str  # the PROV object
    relation: str


@dataclasses.dataclass
class Lineage:
    start_id: str
    direction: str
    depth: int
    nodes: list[LineageNode]
    edges: list[LineageEdge]
    capped: bool
    note: str


def check_request(direction: str, depth: int, max_nodes: int = MAX_NODES) -> None:
    if direction not in DIRECTIONS:
        raise JobdeckError(f"direction must be upstream or downstream, not {direction!r}.", field="direction")
    if not 1 <= depth <= MAX_DEPTH:
        raise JobdeckError(f"depth must be between 1 and {MAX_DEPTH}, not {depth}.", field="depth")
    if not 1 <= max_nodes <= MAX_NODES:
        raise JobdeckError(f"max_nodes must be between 1 and {MAX_NODES}, not {max_nodes}.", field="max_nodes")


def _keys(direction: str) -> tuple[str, str]:
    """(the column the walk looks a node up by, the column naming where it leads)."""
    return ("subject", "object") if direction == "upstream" else ("object", "subject")


def _chunks(ids: list[str]) -> Iterable[list[str]]:
    for i in range(0, len(ids), _CHUNK):
        yield ids[i:i + _CHUNK]


@functools.lru_cache(maxsize=64)
def _per_node_sql(direction: str, count: int, columns: str) -> str:
    """`count` index probes, one per node (`:n0`…), each at most `:per_node` rows in the
    index's order, then at most `:total` rows in all: the database stops reading there.
    Written as text, once per shape: built as expressions, 100 subqueries cost more
    to compile than to run."""
    key, other = _keys(direction)
    part = (f"SELECT * FROM (SELECT {columns} FROM {_edge.name} WHERE {key} = :n{{i}} "
            f"ORDER BY relation, {other} LIMIT :per_node) AS p{{i}}")
    union = " UNION ALL ".join(part.format(i=i) for i in range(count))
    return f"SELECT * FROM ({union}) AS u LIMIT :total"


def _params(ids: list[str], **limits: int) -> dict:
    return {**{f"n{i}": n for i, n in enumerate(ids)}, **limits}


def links_statement(ids: list[str], direction: str, limit: int) -> tuple[sa.TextClause, dict]:
    """The links of these nodes in one direction, node by node, at most `limit` rows."""
    return sa.text(_per_node_sql(direction, len(ids), "subject, relation, object")), \
        _params(ids, per_node=limit, total=limit)


def has_links_statement(ids: list[str], direction: str) -> tuple[sa.TextClause, dict]:
    """Which of these nodes have a link in this direction (one index probe each)."""
    key, _ = _keys(direction)
    return sa.text(_per_node_sql(direction, len(ids), f"{key} AS node")), \
        _params(ids, per_node=1, total=len(ids))


def _start_exists(conn: sa.Connection, start_id: str) -> bool:
    for table in (_item, _act):
        if conn.execute(sa.select(table.c.id).where(table.c.id == start_id)).first():
            return True
    return False


def _describe(conn: sa.Connection, level: dict[str, int]) -> dict[str, LineageNode]:
    ids = list(level)
    items, acts = {}, {}
    for chunk in _chunks(ids):
        items.update({r.id: r for r in conn.execute(
            sa.select(_item.c.id, _item.c.subtype, _item.c.display_name, _item.c.version)
            .where(_item.c.id.in_(chunk)))})
        acts.update({r.id: r for r in conn.execute(
            sa.select(_act.c.id, _act.c.kind, _act.c.item_id, _act.c.agent).where(_act.c.id.in_(chunk)))})
    out = {}
    for n in ids:
        if n in items:
            i = items[n]
            label = i.display_name + (f" (v{i.version})" if i.version > 1 else "")
            out[n] = LineageNode(n, CATEGORY.get(i.subtype, "ENTITY"), i.subtype, label, level[n], n)
        elif n in acts:
            a = acts[n]
            out[n] = LineageNode(n, "ACTIVITY", ACTIVITY_SUBTYPE.get(a.kind, a.kind.upper()),
                                 f"{a.kind} by {a.agent.removeprefix(USER_PREFIX)}", level[n], a.item_id)
        elif n.startswith(USER_PREFIX):
            out[n] = LineageNode(n, "AGENT", "USER", n[len(USER_PREFIX):], level[n], None)
        else:  # named by an edge but not in the registry (kept so the edge still has its ends)
            out[n] = LineageNode(n, "", "", n, level[n], None)
    return out


def explore(*, start_id: str, direction: str, depth: int,
            max_nodes: int = MAX_NODES) -> Lineage:
    """The lineage of an item (or activity) `depth` hops in one direction, breadth first:
    nodes nearer the start come first, and each node's links in index order."""
    check_request(direction, depth, max_nodes)
    budget = max_nodes * EDGES_PER_NODE
    with session() as s:
        conn = s.connection()
        if not _start_exists(conn, start_id):
            raise NotFound(f"No item or activity {start_id}.")
        level = {start_id: 0}
        edges: dict[tuple[str, str, str], LineageEdge] = {}
        frontier, unread, capped = [start_id], [], False
        for hop in range(1, depth + 1):
            if not frontier:
                break
            nxt: list[str] = []
            for chunk in _chunks(frontier):
                if budget <= 0 or len(level) >= max_nodes:
                    capped = True
                    unread += chunk
                    continue
                rows = conn.execute(*links_statement(chunk, direction, budget + 1)).all()
                if len(rows) > budget:
                    rows, capped = rows[:budget], True
                    unread += chunk  # some of these nodes' links were not read
                budget -= len(rows)
                for s_, r, o in rows:
                    there = o if direction == "upstream" else s_
                    if there not in level:
                        if len(level) >= max_nodes:
                            capped = True
                            unread.append(s_ if direction == "upstream" else o)
                            continue
                        level[there] = hop
                        nxt.append(there)
                    edges.setdefault((s_, r, o), LineageEdge(s_, o, r))
            frontier = nxt
            if capped:
                break
        nodes = _describe(conn, level)
        unread_ids = list(dict.fromkeys(unread + frontier))
        for chunk in _chunks(unread_ids):
            for (n,) in conn.execute(*has_links_statement(chunk, direction)):
                nodes[n].more = True
    note = ""
    if capped:
        note = (f"Capped at {max_nodes} nodes and {max_nodes * EDGES_PER_NODE} links: the graph shows the "
                f"nearest; expand a node marked more, or start from it, to see past it.")
    return Lineage(start_id, direction, depth, list(nodes.values()), list(edges.values()), capped, note)


# --- Provena's graph shape --------------------------------------------------------------

# Provena's ItemSubType values; a Jobdeck user is the person acting.
PROVENA_SUBTYPES = {"WORKFLOW_RUN", "MODEL_RUN", "STUDY", "CREATE", "VERSION", "PERSON", "ORGANISATION",
                    "SOFTWARE", "MODEL", "WORKFLOW_TEMPLATE", "MODEL_RUN_WORKFLOW_TEMPLATE", "DATASET",
                    "DATASET_TEMPLATE"}


def provena_answer(lineage: Lineage) -> dict:
    """A LineageResponse as Provena's prov-api answers it: networkx's node-link form of
    a directed graph with one link per (source, target), its nodes those of its links
    only. A node Provena has no subtype for is left out, with its links."""
    def subtype(n: LineageNode) -> str:
        return "PERSON" if n.subtype == "USER" else n.subtype

    known = {n.id: n for n in lineage.nodes if n.category and subtype(n) in PROVENA_SUBTYPES}
    links: dict[tuple[str, str], dict] = {}
    for e in lineage.edges:
        if e.source in known and e.target in known:
            links.setdefault((e.source, e.target), {"source": e.source, "target": e.target, "type": e.relation})
    used = {n for pair in links for n in pair}
    nodes = [{"item_category": known[n].category, "item_subtype": subtype(known[n]), "id": n}
             for n in known if n in used]
    details = f"Made {lineage.direction} lineage query (with depth {lineage.depth})."
    if lineage.note:
        details += " " + lineage.note
    return {"status": {"success": True, "details": details}, "record_count": len(nodes),
            "graph": {"directed": True, "multigraph": False, "graph": {}, "nodes": nodes,
                      "links": list(links.values())}}
