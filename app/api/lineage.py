"""Lineage routes: an item's provenance graph walked upstream or downstream, in
Jobdeck's shape (`/api/items/{id}/lineage`) and in Provena's (`/api/provena/explore/…`,
so `provenaclient`'s `prov_api.explore_upstream` / `explore_downstream` work)."""

from __future__ import annotations

from typing import Optional

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel

from app import lineage
from app.api.deps import AUTH_RESPONSES, current_user
from app.api.jobs import _p
from app.api.provena import PREFIX as PROVENA
from app.models import User

router = APIRouter(prefix="/api", tags=["registry"], responses=AUTH_RESPONSES)
provena_router = APIRouter(prefix=PROVENA, tags=["provena"])

Depth = Query(3, description=f"Hops from the item, 1-{lineage.MAX_DEPTH}")


class LineageNodeOut(BaseModel):
    id: str
    category: str
    subtype: str
    label: str
    level: int
    item_id: Optional[str]
    more: bool


class LineageEdgeOut(BaseModel):
    source: str
    target: str
    relation: str


class LineageOut(BaseModel):
    start_id: str
    direction: str
    depth: int
    capped: bool
    note: str
    nodes: list[LineageNodeOut]
    edges: list[LineageEdgeOut]


@router.get("/items/{item_id}/lineage", response_model=LineageOut, responses=_p(400, 404),
            summary="An item's lineage: what it came from (upstream) or what came from it (downstream)")
def item_lineage(item_id: str = Path(min_length=1, max_length=128),
                       direction: str = Query(max_length=16, description="upstream or downstream"),
                       depth: int = Depth,
                       max_nodes: int = Query(lineage.MAX_NODES, description=f"At most this many nodes, "
                                                                              f"1-{lineage.MAX_NODES}"),
                       user: User = Depends(current_user)) -> LineageOut:
    found = lineage.explore(start_id=item_id, direction=direction, depth=depth, max_nodes=max_nodes)
    return LineageOut(start_id=found.start_id, direction=found.direction, depth=found.depth, capped=found.capped,
                      note=found.note, nodes=[LineageNodeOut(**vars(n)) for n in found.nodes],
                      edges=[LineageEdgeOut(**vars(e)) for e in found.edges])


def _provena_route(direction: str):
    def explore(starting_id: str = Query(min_length=1, max_length=128), depth: int = Depth,
                      user: User = Depends(current_user)) -> dict:
        return lineage.provena_answer(lineage.explore(start_id=starting_id, direction=direction,
                                                      depth=depth))

    provena_router.add_api_route(f"/explore/{direction}", explore, methods=["GET"], name=f"explore_{direction}",
                                 summary=f"Provena's {direction} lineage query", responses=_p(400, 404))


for _direction in lineage.DIRECTIONS:
    _provena_route(_direction)
