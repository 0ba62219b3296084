"""Provena's registry reads over Jobdeck's items: fetch one item of a kind (seeds only
when asked for), list a kind by record type, and fetch any item untyped.

Provena answers a fetch that finds nothing usable (no such id, a seed, another kind)
with 200 and `status.success: false` saying why; its client raises on that with the
reason. Lists are keyset-paged newest first by `(created_at, id)` over the index
`(subtype, record_type, created_at, id)`; the pagination key is an opaque dict wrapping
the cursor, and seeds go in `seed_items`, never in `items`.
"""

from __future__ import annotations

from typing import Any, Optional

from sqlmodel import select

from app import item_kinds, provena_compat as compat
from app.db import session
from app.errors import InvalidCursor
from app.modelrun_rules import Found, unavailable
from app.models import Item, User
from app.paging import MAX_LIMIT, newest_first

# Provena's registry routes for reads: the kinds it creates, and its model runs.
READ_ROUTES: dict[tuple[str, str], str] = {**compat.REGISTRY_ROUTES, ("activity", "model_run"): "MODEL_RUN"}
RECORD_FILTERS = ("COMPLETE_ONLY", "SEED_ONLY", "ALL")


def _status(success: bool, details: str) -> dict[str, Any]:
    return {"success": success, "details": details}


def _record_info(item: Item) -> dict[str, Any]:
    return {"id": item.id, "owner_username": item.owner, "created_timestamp": int(item.created_at.timestamp()),
            "updated_timestamp": int(item.updated_at.timestamp()),
            "item_category": compat.CATEGORY_OF.get(item.subtype, "ENTITY"), "item_subtype": item.subtype,
            "record_type": item.record_type}


def _prov_of(items: list[Item]) -> dict[str, str]:
    return compat._prov_json_by_record([i.id for i in items if i.subtype == "MODEL_RUN"])


def registry_item(item: Item, prov: Optional[dict[str, str]] = None) -> dict[str, Any]:
    """An item as Provena's registry holds it: a seed has its record info only; a
    complete item adds its kind's fields, its history and versioning."""
    if item.record_type == item_kinds.SEED:
        return _record_info(item)
    shaped = compat.provena_item(item)
    if item.subtype == "MODEL_RUN":
        prov_json = (prov if prov is not None else _prov_of([item])).get(item.id) or "{}"
        domain = {"display_name": item.display_name, "record_status": item.record_status,
                  "record": item.record or {}, "prov_serialisation": prov_json}
        shaped = {**{k: v for k, v in shaped.items() if k not in (item.record or {})}, **domain}
        shaped["history"][0]["item"] = domain
    return shaped


def _roles(actor: User, item: Item) -> list[str]:
    if item.owner == actor.username or actor.is_admin:
        return ["metadata-read", "metadata-write", "admin"]
    return ["metadata-read"]


def _found(item: Optional[Item]) -> Optional[Found]:
    return None if item is None else Found(item.id, item.subtype, item.record or {}, item.record_type)


def fetch(*, actor: User, subtype: str, item_id: str, seed_allowed: bool = False) -> dict[str, Any]:
    with session() as s:
        item = s.get(Item, item_id)
    why = unavailable(item_id, _found(item), subtype, seed_allowed=seed_allowed)
    if why:
        return {"status": _status(False, why), "item": None, "roles": None, "locked": None, "item_is_seed": None}
    seed = item.record_type == item_kinds.SEED
    return {"status": _status(True, f"Fetched {subtype.lower()} {item_id}."), "item": registry_item(item),
            "roles": _roles(actor, item), "locked": False, "item_is_seed": seed}


def general_fetch(*, actor: User, item_id: str) -> dict[str, Any]:
    with session() as s:
        item = s.get(Item, item_id)
    if item is None:
        return {"status": _status(False, unavailable(item_id, None, "")), "item": None}
    return {"status": _status(True, f"Fetched {item.subtype.lower()} {item_id}."), "item": registry_item(item)}


def _cursor(pagination_key: Optional[dict[str, Any]]) -> Optional[str]:
    if pagination_key is None:
        return None
    cursor = pagination_key.get("cursor") if isinstance(pagination_key, dict) else None
    if not isinstance(cursor, str) or not cursor or len(cursor) > 512:
        raise compat.BadRequest("The pagination_key is not one this server gave out: send back the "
                                "pagination_key of the previous answer unchanged.", field="pagination_key")
    return cursor


def _check_sort(sort_by: Optional[dict[str, Any]]) -> None:
    """Newest first is the one order a list keeps an index for."""
    if not sort_by:
        return
    kind, ascending = sort_by.get("sort_type"), sort_by.get("ascending", False)
    if kind not in (None, "CREATED_TIME") or ascending or sort_by.get("begins_with"):
        raise compat.BadRequest("Jobdeck lists registry items newest first only: leave sort_by out, or ask "
                                "for sort_type CREATED_TIME with ascending false.", field="sort_by")


def list_items(*, actor: User, subtype: str, record_type: str = "COMPLETE_ONLY", page_size: int = 20,
               pagination_key: Optional[dict[str, Any]] = None,
               sort_by: Optional[dict[str, Any]] = None) -> dict[str, Any]:
    if record_type not in RECORD_FILTERS:
        raise compat.BadRequest(f"record_type must be one of {', '.join(RECORD_FILTERS)}.", field="record_type")
    _check_sort(sort_by)
    page_size = max(1, min(page_size, MAX_LIMIT))
    stmt = select(Item).where(Item.subtype == subtype)
    if record_type != "ALL":
        stmt = stmt.where(Item.record_type == (item_kinds.COMPLETE if record_type == "COMPLETE_ONLY"
                                               else item_kinds.SEED))
    try:
        rows, nxt = newest_first(stmt, Item, cursor=_cursor(pagination_key), limit=page_size)
    except InvalidCursor:
        raise compat.BadRequest("The pagination_key is not one this server gave out: send back the "
                                "pagination_key of the previous answer unchanged.", field="pagination_key") from None
    prov = _prov_of(rows)
    complete = [registry_item(i, prov) for i in rows if i.record_type != item_kinds.SEED]
    seeds = [registry_item(i) for i in rows if i.record_type == item_kinds.SEED]
    return {"status": _status(True, f"Listed {len(rows)} {subtype.lower()} items."),
            "items": complete, "seed_items": seeds, "unparsable_items": [],
            "total_item_count": len(rows), "complete_item_count": len(complete), "seed_item_count": len(seeds),
            "unparsable_item_count": 0, "not_authorised_count": 0,
            "pagination_key": {"cursor": nxt} if nxt else None}


def newest_items(subtype: str, *, limit: int = 200) -> list[Item]:
    """The newest complete items of a kind (the console's choices)."""
    with session() as s:
        return list(s.exec(select(Item).where(Item.subtype == subtype, Item.record_type == item_kinds.COMPLETE,
                                              Item.next_version_id.is_(None))
                           .order_by(Item.created_at.desc(), Item.id.desc()).limit(limit)))

