"""Registry items and their versions. Creating or versioning an item lodges the
workflow that records and lodges its provenance; the item moves
INCOMPLETE → COMPLETE (activity recorded) → LODGED (provenance lodged).

Each create and version is one audit entry (`item.create`, `item.version`) whose target
is the item made, written in the transaction that writes the item and its workflow's
job (the job's lodging is part of it, not an entry of its own).
"""

from __future__ import annotations

from typing import Any, Optional

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from app import audit
from app.audit import audited
from app.db import session, utcnow, write_conn
from app.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from app.paging import MAX_LIMIT, decode_cursor, encode_cursor, newest_first  # noqa: F401 (cursor helpers re-exported)
from app import item_kinds, item_search
from app.item_search import ItemPage
from app.jobtypes import spec_for
from app.payloads import ITEM_SUBTYPES, RegisterCreateActivity, RegisterVersionActivity, invalid_input
from app.launch import _insert, _row, enqueue
from app.models import Item, Job, User
from app.columns import new_id
from app.shapes import RECORD, Line, RecordJSON, Text, check_json, check_text

_item = Item.__table__

RECORD_STATUSES = ("INCOMPLETE", "COMPLETE", "LODGED")


class ItemCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subtype: Line
    display_name: Line = Field(min_length=1, max_length=256)
    description: Text = Field(default="", max_length=10_000)
    # Depth and sizes checked before anything is written: a stored record always reads back.
    record: RecordJSON = Field(default_factory=dict)


def _validate_create(data: dict[str, Any]) -> ItemCreate:
    check_json(data.get("record"), "record", RECORD)  # names the place inside the record
    try:
        spec = ItemCreate.model_validate(data)
    except ValidationError as exc:
        raise invalid_input(exc, what="item") from None
    if spec.subtype not in ITEM_SUBTYPES:
        raise InvalidInput(f"Unknown item subtype {spec.subtype!r}; known: {', '.join(ITEM_SUBTYPES)}.",
                           field="subtype")
    if spec.subtype == "MODEL_RUN":
        raise InvalidInput("Model runs are registered by their own route (POST /api/model-runs), "
                           "which checks them against their workflow template.", field="subtype")
    item_kinds.check_record(spec.subtype, spec.record)
    return spec


def _create_target(args: dict[str, Any], made: Any) -> str:
    # refused: what was asked for, as the item would have been named
    return made[0].id if made else f"{args.get('subtype')} {args.get('display_name')!r}"


@audited("item.create", target=_create_target)
def create_item(*, actor: User, subtype: str, display_name: str, description: str = "",
                record: Optional[dict[str, Any]] = None) -> tuple[Item, Job]:
    """Register a new item and lodge its create workflow (item and job commit together)."""
    data = _validate_create(dict(subtype=subtype, display_name=display_name,
                                 description=description, record=record or {}))
    item_id, job_id, now = new_id(), new_id(), utcnow()
    spec = spec_for("REGISTRY", "REGISTER_CREATE_ACTIVITY")
    audit.note(target=item_id, message=f"{data.subtype.lower()} {data.display_name!r}; workflow {job_id}")
    with write_conn() as conn:
        conn.execute(sa.insert(_item).values(
            id=item_id, subtype=data.subtype, display_name=data.display_name,
            description=data.description, owner=actor.username, version=1, record=data.record,
            record_status="INCOMPLETE",
            record_type=item_kinds.record_type(data.subtype, data.record, data.description), create_workflow_id=job_id, created_at=now, updated_at=now))
        lodged = _insert(conn, [_row(job_id=job_id, owner=actor.username, spec=spec,
                                     payload=RegisterCreateActivity(item_id=item_id),
                                     workflow_id=job_id, entity_id=item_id, now=now)],
                         text=f"Lodged by {actor.username}: create {data.subtype.lower()} {data.display_name!r}")
    enqueue(lodged)
    return get_item(item_id), _job(job_id)


@audited("item.version", target=lambda a, made: made[0].id if made else a.get("item_id"))
def version_item(*, actor: User, item_id: str, reason: str) -> tuple[Item, Job]:
    """Make a new version of an item (a reason is required) and lodge its version
    workflow. Only the newest version can be versioned, by its owner or an admin."""
    reason = check_text((reason or "").strip(), "reason", multiline=True)
    if not reason:
        raise InvalidInput("A reason for the new version is required.", field="reason")
    old = get_item(item_id)
    if old.owner != actor.username and not actor.is_admin:
        raise PermissionDenied(f"Only the owner of {old.display_name!r} or an admin can version it.")
    if old.next_version_id:
        raise Conflict(f"Item {item_id} already has a newer version ({old.next_version_id}); "
                       f"version that one instead.", next_version_id=old.next_version_id)
    new_item_id, job_id, now = new_id(), new_id(), utcnow()
    spec = spec_for("REGISTRY", "REGISTER_VERSION_ACTIVITY")
    payload = RegisterVersionActivity(from_item_id=item_id, to_item_id=new_item_id, reason=reason,
                                      version=old.version + 1)
    audit.note(target=new_item_id, message=f"version {old.version + 1} of {item_id}; workflow {job_id}")
    with write_conn() as conn:
        # Claim the old version first: two concurrent versions of one item cannot both win.
        claimed = conn.execute(sa.update(_item).where(_item.c.id == item_id, _item.c.next_version_id.is_(None))
                               .values(next_version_id=new_item_id, updated_at=now)).rowcount
        if claimed != 1:
            raise Conflict(f"Item {item_id} was versioned meanwhile; reload it.")
        conn.execute(sa.insert(_item).values(
            id=new_item_id, subtype=old.subtype, display_name=old.display_name,
            description=old.description, owner=old.owner, version=old.version + 1,
            previous_version_id=item_id, version_reason=reason, record=old.record,
            record_status="INCOMPLETE", record_type=old.record_type, create_workflow_id=old.create_workflow_id,
            version_workflow_id=job_id, created_at=now, updated_at=now))
        lodged = _insert(conn, [_row(job_id=job_id, owner=actor.username, spec=spec, payload=payload,
                                     workflow_id=job_id, entity_id=new_item_id, now=now)],
                         text=f"Lodged by {actor.username}: version {old.version + 1} of {old.display_name!r}")
    enqueue(lodged)
    return get_item(new_item_id), _job(job_id)


def _job(job_id: str) -> Job:
    with session() as s:
        return s.get(Job, job_id)


def get_item(item_id: str) -> Item:
    with session() as s:
        item = s.get(Item, item_id)
    if item is None:
        raise NotFound(f"No item {item_id}.")
    return item


def set_record_status(conn: sa.Connection, item_id: str, status: str, *, only_from: tuple[str, ...]) -> bool:
    """Move an item's record status forward; never backwards (a repeat does nothing)."""
    return conn.execute(sa.update(_item).where(_item.c.id == item_id, _item.c.record_status.in_(only_from))
                        .values(record_status=status, updated_at=utcnow())).rowcount == 1


def item_versions(item_id: str) -> list[Item]:
    """Every version of the item's lineage, oldest first."""
    item = get_item(item_id)
    chain = [item]
    with session() as s:
        cur = item
        while cur.previous_version_id:
            cur = s.get(Item, cur.previous_version_id)
            if cur is None:
                break
            chain.insert(0, cur)
        cur = item
        while cur.next_version_id:
            cur = s.get(Item, cur.next_version_id)
            if cur is None:
                break
            chain.append(cur)
    return chain


def list_items(*, subtype: Optional[str] = None, owner: Optional[str] = None, query: Optional[str] = None,
               cursor: Optional[str] = None, limit: int = 50) -> ItemPage:
    """Items newest first, paged by keyset (created_at, id); found by an id, words of the
    name (a bounded look) or the start of the name (`soil*`, the name index): app.item_search."""
    return item_search.find_items(subtype=subtype, owner=owner, query=query, cursor=cursor,
                                  limit=max(1, min(limit, MAX_LIMIT)))
