"""Provenance: activities and PROV edges, written idempotently (a lodge that runs twice
adds no edge twice), and an item's graph exported as W3C PROV-JSON."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Optional

import sqlalchemy as sa

from app import modelrun_rules
from app.db import insert_ignore, session, utcnow
from app.errors import JobFailed, NotFound
from app.payloads import ModelRunRecord
from app.models import Activity, Item, ProvEdge
from app.registry import set_record_status

_item = Item.__table__
_act = Activity.__table__
_edge = ProvEdge.__table__

RELATIONS = ("wasGeneratedBy", "used", "wasAssociatedWith", "wasAttributedTo", "wasDerivedFrom")
_NS = uuid.UUID("0f4c5a8e-3b7d-4d0e-9c51-2a9e6c1d7b33")


def agent_for(username: str) -> str:
    return f"user/{username}"


def activity_id(kind: str, key: str) -> str:
    return str(uuid.uuid5(_NS, f"{kind}/{key}"))


def _ensure_activity(conn: sa.Connection, **values: Any) -> None:
    values.setdefault("created_at", utcnow())
    conn.execute(insert_ignore(_act, conn.dialect.name).values(**values))


def _ensure_edges(conn: sa.Connection, edges: Iterable[tuple[str, str, str]], record_id: str) -> int:
    """Insert the edges that are missing; returns how many edges the record has."""
    now = utcnow()
    edges = list(dict.fromkeys(edges))
    for s, r, o in edges:
        assert r in RELATIONS, r
        conn.execute(insert_ignore(_edge, conn.dialect.name).values(
            subject=s, relation=r, object=o, record_id=record_id, created_at=now))
    return len(edges)


def _item_row(conn: sa.Connection, item_id: str):
    row = conn.execute(sa.select(_item).where(_item.c.id == item_id)).first()
    if row is None:
        raise JobFailed(f"Item {item_id} does not exist.")
    return row


def _read_item(item_id: str):
    with session() as s:
        return _item_row(s.connection(), item_id)


# Each lodge below reads and checks now (a missing item fails the job) and hands back the
# Write that the job's worker runs inside the commit that records the job's success: a
# job killed, cancelled or reaped before that commit has written nothing, and one that
# succeeded has written everything, so a job's status never belies its provenance.
Write = Callable[[sa.Connection], None]


# --- create and version ---------------------------------------------------------


def record_create_activity(*, item_id: str, job_id: str, owner: str) -> tuple[str, Write]:
    aid = activity_id("Create", item_id)
    item = _read_item(item_id)

    def write(conn: sa.Connection) -> None:
        _ensure_activity(conn, id=aid, kind="Create", item_id=item_id, job_id=job_id,
                         agent=agent_for(owner), record={"item": item_id, "subtype": item.subtype},
                         started_at=item.created_at, ended_at=utcnow())
        set_record_status(conn, item_id, "COMPLETE", only_from=("INCOMPLETE",))
    return aid, write


def record_version_activity(*, from_item_id: str, to_item_id: str, reason: str, version: int,
                            job_id: str, owner: str) -> tuple[str, Write]:
    aid = activity_id("Version", to_item_id)
    _read_item(from_item_id)
    new = _read_item(to_item_id)

    def write(conn: sa.Connection) -> None:
        _ensure_activity(conn, id=aid, kind="Version", item_id=to_item_id, job_id=job_id,
                         agent=agent_for(owner),
                         record={"from_version": from_item_id, "to_version": to_item_id,
                                 "reason": reason, "new_version_number": version},
                         started_at=new.created_at, ended_at=utcnow())
        set_record_status(conn, to_item_id, "COMPLETE", only_from=("INCOMPLETE",))
    return aid, write


def _lodge_edges(item_id: str, activity: str, edges: list[tuple[str, str, str]]) -> tuple[int, Write]:
    _read_item(item_id)

    def write(conn: sa.Connection) -> None:
        _ensure_edges(conn, edges, activity)
        set_record_status(conn, item_id, "LODGED", only_from=("INCOMPLETE", "COMPLETE"))
    return len(dict.fromkeys(edges)), write


def lodge_create(*, item_id: str, activity_id: str, owner: str) -> tuple[int, Write]:
    agent = agent_for(owner)
    return _lodge_edges(item_id, activity_id, [(item_id, "wasGeneratedBy", activity_id),
                                               (activity_id, "wasAssociatedWith", agent),
                                               (item_id, "wasAttributedTo", agent)])


def lodge_version(*, from_item_id: str, to_item_id: str, activity_id: str, owner: str) -> tuple[int, Write]:
    agent = agent_for(owner)
    return _lodge_edges(to_item_id, activity_id, [(to_item_id, "wasGeneratedBy", activity_id),
                                                  (activity_id, "used", from_item_id),
                                                  (activity_id, "wasAssociatedWith", agent),
                                                  (to_item_id, "wasAttributedTo", agent),
                                                  (to_item_id, "wasDerivedFrom", from_item_id)])


# --- model runs -----------------------------------------------------------------


def _model_run_edges(run_id: str, record: ModelRunRecord) -> list[tuple[str, str, str]]:
    edges = [(run_id, "used", record.workflow_template_id),
             (run_id, "wasAssociatedWith", record.associations.modeller_id)]
    if record.associations.requesting_organisation_id:
        edges.append((run_id, "wasAssociatedWith", record.associations.requesting_organisation_id))
    edges += [(run_id, "used", d.dataset_id) for d in record.inputs]
    for d in record.outputs:
        edges += [(d.dataset_id, "wasGeneratedBy", run_id),
                  (d.dataset_id, "wasAttributedTo", record.associations.modeller_id)]
    return edges


def model_run_id(job_id: str) -> str:
    """The record id of the model run a job registers (derived, so repeats converge)."""
    return str(uuid.uuid5(_NS, f"model_run/{job_id}"))


def lodge_model_run(*, record: ModelRunRecord, job_id: str, owner: str, previous: Optional[Item] = None,
                    reason: Optional[str] = None) -> tuple[str, int, int, Write]:
    """Validate one model run now and hand back the Write that registers it and lodges
    its graph. The record id derives from the job, so a repeat registers nothing twice.
    Returns (record id, edges, version, write)."""
    run_id = model_run_id(job_id)
    version = previous.version + 1 if previous else 1
    with session() as s:
        # Provena's rules, again in the job: the registry may have changed since the door.
        problem = modelrun_rules.first_problem(s.connection(), record.model_dump(mode="json"))
    if problem is not None:
        raise JobFailed(problem.detail)
    edges = _model_run_edges(run_id, record)
    if previous:
        edges.append((run_id, "wasDerivedFrom", previous.id))

    def write(conn: sa.Connection) -> None:
        now = utcnow()
        conn.execute(insert_ignore(_item, conn.dialect.name).values(
            id=run_id, subtype="MODEL_RUN", display_name=record.display_name, description=record.description,
            owner=owner, version=version, previous_version_id=previous.id if previous else None,
            version_reason=reason, record=record.model_dump(mode="json"), record_status="LODGED",
            record_type="COMPLETE_ITEM",
            create_workflow_id=job_id, created_at=now, updated_at=now))
        if previous:
            conn.execute(sa.update(_item).where(_item.c.id == previous.id, _item.c.next_version_id.is_(None))
                         .values(next_version_id=run_id, updated_at=now))
        _ensure_activity(conn, id=run_id, kind="ModelRun", item_id=run_id, job_id=job_id,
                         agent=record.associations.modeller_id, record=record.model_dump(mode="json"),
                         started_at=datetime.fromtimestamp(record.start_time, timezone.utc),
                         ended_at=datetime.fromtimestamp(record.end_time, timezone.utc))
        _ensure_edges(conn, edges, run_id)
    return run_id, len(dict.fromkeys(edges)), version, write


# --- reading and export -----------------------------------------------------------


def edges_of(node_ids: Iterable[str]) -> list[ProvEdge]:
    ids = list(node_ids)
    with session() as s:
        return list(s.exec(sa.select(ProvEdge).where(sa.or_(ProvEdge.subject.in_(ids),
                                                             ProvEdge.object.in_(ids)))).scalars())


def graph_around(item_id: str, depth: int = 2) -> list[ProvEdge]:
    """The edges within `depth` hops of an item (activities count as hops)."""
    seen_nodes, frontier, edges = {item_id}, {item_id}, {}
    for _ in range(depth * 2):
        if not frontier:
            break
        found = edges_of(frontier)
        nxt = set()
        for e in found:
            edges[e.id] = e
            for n in (e.subject, e.object):
                if n not in seen_nodes and not n.startswith("user/"):
                    seen_nodes.add(n)
                    nxt.add(n)
        frontier = nxt
    return sorted(edges.values(), key=lambda e: e.id)


def export_prov_json(item_id: str, depth: int = 2) -> dict[str, Any]:
    """The item's provenance as a W3C PROV-JSON document."""
    from prov.model import ProvDocument

    with session() as s:
        if s.get(Item, item_id) is None:
            raise NotFound(f"No item {item_id}.")
    edges = graph_around(item_id, depth)
    nodes = {n for e in edges for n in (e.subject, e.object)} | {item_id}
    with session() as s:
        items = {i.id: i for i in s.exec(sa.select(Item).where(Item.id.in_(nodes))).scalars()}
        acts = {a.id: a for a in s.exec(sa.select(Activity).where(Activity.id.in_(nodes))).scalars()}
    doc = ProvDocument()
    doc.add_namespace("jd", "urn:jobdeck:")
    q = lambda n: "jd:" + n  # noqa: E731
    for n in sorted(nodes):
        if n in acts:
            a = acts[n]
            doc.activity(q(n), a.started_at, a.ended_at, {"jd:kind": a.kind})
        elif n.startswith("user/") or (n in items and items[n].subtype in ("PERSON", "ORGANISATION")):
            attrs = {"jd:display_name": items[n].display_name} if n in items else {}
            doc.agent(q(n), attrs)
        elif n in items:
            i = items[n]
            doc.entity(q(n), {"jd:display_name": i.display_name, "jd:subtype": i.subtype,
                              "jd:version": i.version})
        else:
            doc.entity(q(n))
    for e in edges:
        s_, o = q(e.subject), q(e.object)
        {"wasGeneratedBy": doc.wasGeneratedBy, "used": doc.used,
         "wasAssociatedWith": doc.wasAssociatedWith, "wasAttributedTo": doc.wasAttributedTo,
         "wasDerivedFrom": doc.wasDerivedFrom}[e.relation](s_, o)
    return json.loads(doc.serialize(format="json"))
