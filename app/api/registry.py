"""Registry routes: create and version items, register model runs (one, or in bulk
from JSON or CSV), and an item's provenance as PROV-JSON. Each lodges the same
workflow the console lodges; the answer carries the session id to watch."""

from __future__ import annotations

import json
from typing import Any, Optional

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from app import bulk, gcpause, launch, modelrun_rules, provenance, registry
from app.api.deps import AUTH_RESPONSES, current_user
from app.api.jobs import IdemKey, _p
from app.api.schemas import (
    BatchOut, ItemCreateIn, ItemLodged, ItemOut, ItemPageOut, ItemVersionIn, JobOut, ModelRunsIn,
)
from app.db import utcnow
from app.errors import InvalidInput, JobdeckError, UnsupportedMediaType
from app.payloads import ModelRunRecord, invalid_input
from app.models import Batch, User

router = APIRouter(prefix="/api", tags=["registry"], responses=AUTH_RESPONSES)

ItemId = Path(min_length=1, max_length=64)


@router.post("/items", status_code=201, response_model=ItemLodged, summary="Register a new item",
             responses=_p(422))
def create_item(body: ItemCreateIn, response: Response, user: User = Depends(current_user)) -> ItemLodged:
    item, job = registry.create_item(actor=user, subtype=body.subtype, display_name=body.display_name,
                                     description=body.description, record=body.record)
    response.headers["Location"] = f"/api/items/{item.id}"
    return ItemLodged(item=ItemOut.of(item), session_id=job.id, job=JobOut.one(job))


@router.get("/items", response_model=ItemPageOut, summary="Registry items, newest first", responses=_p(400, 422))
def list_items(subtype: Optional[str] = Query(None, max_length=64), owner: Optional[str] = Query(None, max_length=64),
               q: Optional[str] = Query(None, max_length=256,
                                       description="Words of the name (looked for among 2,000 items a page), the "
                                                   "start of a name ending in * (`soil*`), or an id"),
               cursor: Optional[str] = Query(None, max_length=512), limit: int = Query(50, ge=1, le=500),
               user: User = Depends(current_user)) -> ItemPageOut:
    page = registry.list_items(subtype=subtype, owner=owner, query=q, cursor=cursor, limit=limit)
    return ItemPageOut(items=[ItemOut.of(i) for i in page.items], next_cursor=page.next_cursor, search=page.kind,
                       bounded=page.bounded)


@router.get("/items/{item_id}", response_model=ItemOut, summary="Fetch an item", responses=_p(404))
def get_item(item_id: str = ItemId, user: User = Depends(current_user)) -> ItemOut:
    return ItemOut.of(registry.get_item(item_id))


@router.post("/items/{item_id}/versions", status_code=201, response_model=ItemLodged,
             summary="Make a new version of an item (a reason is required)",
             responses=_p(403, 404, 409, 422, d409="The item has a newer version already"))
def version_item(body: ItemVersionIn, response: Response, item_id: str = ItemId,
                 user: User = Depends(current_user)) -> ItemLodged:
    item, job = registry.version_item(actor=user, item_id=item_id, reason=body.reason)
    response.headers["Location"] = f"/api/items/{item.id}"
    return ItemLodged(item=ItemOut.of(item), session_id=job.id, job=JobOut.one(job))


@router.get("/items/{item_id}/prov", summary="An item's provenance as W3C PROV-JSON",
            responses={200: {"description": "A PROV-JSON document",
                             "content": {"application/json": {"schema": {"type": "object"}}}},
                       **_p(404)})
def item_prov(item_id: str = ItemId, depth: int = Query(2, ge=1, le=5, description="Hops around the item"),
              user: User = Depends(current_user)) -> dict[str, Any]:
    return provenance.export_prov_json(item_id, depth=depth)


@router.post("/model-runs", status_code=201, response_model=JobOut,
             summary="Register a model run (lodges a MODEL_RUN_PROV_LODGE job)",
             responses={200: {"model": JobOut, "description": "A repeat of an Idempotency-Key"},
                        **_p(409, 422)})
def register_model_run(record: ModelRunRecord, response: Response, user: User = Depends(current_user),
                       idempotency_key: Optional[str] = IdemKey) -> JobOut:
    before = utcnow()
    modelrun_rules.refuse_all_now([record.model_dump(mode="json")])
    job = launch.launch_job(actor=user, job_type="PROV_LODGE", job_subtype="MODEL_RUN_PROV_LODGE",
                            payload={"record": record.model_dump(mode="json")}, idempotency_key=idempotency_key)
    if job.created_at < before:
        response.status_code = 200
    response.headers["Location"] = f"/api/jobs/{job.id}"
    return JobOut.one(job)


def _schema_of(model) -> dict:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    schema.pop("$defs", None)  # the record models are in the document's components already
    return schema


_BULK_BODY = {
    "required": True,
    "content": {
        "application/json": {"schema": _schema_of(ModelRunsIn)},
        "text/csv": {"schema": {"type": "string", "description": bulk.__doc__.split("CSV columns")[1]
                                if bulk.__doc__ else ""}},
    },
}


@router.post("/model-runs/bulk", status_code=201, response_model=BatchOut,
             summary="Register many model runs as one batch, from JSON records or a CSV file",
             openapi_extra={"requestBody": _BULK_BODY},
             responses=_p(400, 413, 415, 422))
async def register_model_runs(request: Request, response: Response,
                              label: str = Query("", max_length=256, description="Label of the batch (CSV)"),
                              content_type: str = Header("application/json", include_in_schema=False),
                              dry_run: bool = Query(False, description="Only check (CSV): answer 200 with the "
                                                                        "number of rows, lodge nothing"),
                              user: User = Depends(current_user)) -> BatchOut:
    raw = await request.body()
    kind = content_type.split(";")[0].strip().lower()
    if kind not in ("text/csv", "application/json", ""):
        raise UnsupportedMediaType(f"Send the model runs as application/json or text/csv, not {kind!r}.")
    # 10,000 records live as a body, as checked models and as rows until the batch is
    # lodged: full collections meanwhile would walk them all again and again.
    with gcpause.paused():
        got = await _lodge_runs(raw, kind, label=label, dry_run=dry_run, user=user)
    if dry_run and isinstance(got, int):
        return JSONResponse({"rows": got, "lodged": False})
    response.headers["Location"] = f"/api/batches/{got.id}"
    return BatchOut.of(got)


async def _lodge_runs(raw: bytes, kind: str, *, label: str, dry_run: bool, user: User) -> Batch | int:
    """The batch lodged, or for a CSV dry run the number of rows checked. A function of its
    own so that what it read is gone when the collector resumes: the collection that
    follows would otherwise walk 10,000 live records once more (0.07 s)."""
    if kind == "text/csv":
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise InvalidInput("The CSV file is not UTF-8 text.", field="body") from None
        records = await run_in_threadpool(bulk.checked_model_runs_csv, text)
        if dry_run:
            return len(records)
    else:
        try:
            data = json.loads(raw or b"null")
        except ValueError as exc:
            raise JobdeckError(f"The request body is not valid JSON: {exc}.", field="body") from None  # a 400
        except RecursionError:
            raise JobdeckError("The request body is nested too deeply to read.", field="body") from None
        try:
            body = ModelRunsIn.model_validate(data)
        except ValidationError as exc:
            raise invalid_input(exc, prefix="body", what="request") from None
        label = body.label or label
        await run_in_threadpool(modelrun_rules.refuse_all_now, [r.model_dump(mode="json") for r in body.records],
                                prefix="records.")
        records = body.records  # as checked: lodged without a second walk
    return await run_in_threadpool(lambda: bulk.register_model_runs(actor=user, records=records, label=label))
