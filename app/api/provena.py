"""Provena's job, provenance and registry routes, so Provena's published client works
against Jobdeck unchanged: point each of its endpoint overrides at `<server>/api/provena`.

Thin: parsing and answering only; the mapping lives in app/provena_compat.py.
"""

from __future__ import annotations

from typing import Any, Literal, Optional

from fastapi import APIRouter, Body, Depends, File, Query, UploadFile
from fastapi.responses import Response as RawResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from app import provena_compat as compat, provena_csv, provena_registry as reads
from app.api.deps import admin_user, current_user
from app.payloads import ModelRunRecord
from app.models import User
from app.shapes import FreeJSON, Line, Text

PREFIX = "/api/provena"
router = APIRouter(prefix=PREFIX, tags=["provena"])

PaginationKey = dict[str, Any]
JobTypeName = Literal["PROV_LODGE", "REGISTRY", "EMAIL"]
JobSubTypeName = Literal[
    "PROV_LODGE_WAKE_UP", "MODEL_RUN_PROV_LODGE", "MODEL_RUN_LODGE_ONLY", "MODEL_RUN_BATCH_SUBMIT",
    "LODGE_CREATE_ACTIVITY", "LODGE_VERSION_ACTIVITY", "MODEL_RUN_UPDATE", "MODEL_RUN_UPDATE_LODGE_ONLY",
    "REGISTRY_WAKE_UP", "REGISTER_CREATE_ACTIVITY", "REGISTER_VERSION_ACTIVITY", "EMAIL_WAKE_UP",
    "SEND_EMAIL"]


# --- wire models (Provena's names; an answer outside its enums fails here, not in a client) ---


class JobStatusTable(BaseModel):
    session_id: str
    created_timestamp: int
    username: str
    batch_id: Optional[str] = None
    payload: dict[str, Any]
    job_type: JobTypeName
    job_sub_type: JobSubTypeName
    gsi_status: str = "ok"
    status: Literal["PENDING", "DEQUEUED", "IN_PROGRESS", "SUCCEEDED", "FAILED"]
    info: Optional[str] = None
    result: Optional[dict[str, Any]] = None


class JobAnswer(BaseModel):
    job: JobStatusTable


class JobsAnswer(BaseModel):
    jobs: list[JobStatusTable]
    pagination_key: Optional[PaginationKey] = None


class ListJobsRequest(BaseModel):
    pagination_key: Optional[FreeJSON] = None
    limit: int = Field(default=10, ge=1, le=500)


class ListByBatchRequest(ListJobsRequest):
    batch_id: Line = Field(min_length=1, max_length=64)


class AdminListJobsRequest(ListJobsRequest):
    username_filter: Optional[Line] = Field(default=None, max_length=64)


class AdminListByBatchRequest(ListByBatchRequest):
    username_filter: Optional[Line] = Field(default=None, max_length=64)


class AdminLaunchJobRequest(BaseModel):
    username: Optional[Line] = Field(default=None, max_length=64)
    request_batch_id: bool = False
    add_to_batch: Optional[Line] = Field(default=None, max_length=64)
    job_type: Line = Field(max_length=32)
    job_sub_type: Line = Field(max_length=64)
    job_payload: FreeJSON


class AdminLaunchJobResponse(BaseModel):
    session_id: str
    batch_id: Optional[str] = None


class Status(BaseModel):
    success: bool
    details: str


class SessionAnswer(BaseModel):
    status: Status
    session_id: str


class RegisterBatchRequest(BaseModel):
    records: list[ModelRunRecord] = Field(min_length=1, max_length=10_000)


class UpdateModelRunRequest(BaseModel):
    model_run_id: Line = Field(min_length=1, max_length=64)
    reason: Text = Field(min_length=1, max_length=2_000)
    record: ModelRunRecord


class UpdateModelRunAnswer(BaseModel):
    session_id: str


class VersionRequest(BaseModel):
    id: Line = Field(min_length=1, max_length=64)
    reason: Text = Field(min_length=1, max_length=2_000)


class VersionAnswer(BaseModel):
    new_version_id: str
    version_job_session_id: str


class CreateAnswer(BaseModel):
    status: Status
    created_item: Optional[dict[str, Any]] = None
    register_create_activity_session_id: Optional[str] = None


# Shown in the OpenAPI document of each admin route (a user's token gets this).
_ADMIN = {403: {"description": "For admins and services only", "content": {"application/problem+json": {}}}}


# --- health -----------------------------------------------------------------------


@router.get("/")
def health() -> dict:
    """The health check of each of Provena's APIs (they share this base here)."""
    return {"message": "Jobdeck answers Provena's job, provenance and registry routes."}


# --- Job API: user ------------------------------------------------------------------


@router.get("/jobs/user/fetch", response_model=JobAnswer)
def user_fetch(session_id: str = Query(min_length=1, max_length=64), user: User = Depends(current_user)):
    return {"job": compat.fetch_job(actor=user, session_id=session_id)}


@router.post("/jobs/user/list", response_model=JobsAnswer)
def user_list(req: ListJobsRequest, user: User = Depends(current_user)):
    return compat.list_jobs(actor=user, limit=req.limit, pagination_key=req.pagination_key)


@router.post("/jobs/user/list_batch", response_model=JobsAnswer)
def user_list_batch(req: ListByBatchRequest, user: User = Depends(current_user)):
    return compat.list_batch(actor=user, batch_id=req.batch_id, limit=req.limit,
                             pagination_key=req.pagination_key)


# --- Job API: admin -----------------------------------------------------------------


@router.post("/jobs/admin/launch", response_model=AdminLaunchJobResponse, responses=_ADMIN)
def admin_launch(req: AdminLaunchJobRequest, admin: User = Depends(admin_user)):
    return compat.admin_launch(actor=admin, job_type=req.job_type, job_subtype=req.job_sub_type,
                               payload=req.job_payload, username=req.username,
                               request_batch_id=req.request_batch_id, add_to_batch=req.add_to_batch)


@router.get("/jobs/admin/fetch", response_model=JobAnswer, responses=_ADMIN)
def admin_fetch(session_id: str = Query(min_length=1, max_length=64), admin: User = Depends(admin_user)):
    return {"job": compat.fetch_job(actor=admin, session_id=session_id, any_owner=True)}


@router.post("/jobs/admin/list", response_model=JobsAnswer, responses=_ADMIN)
def admin_list(req: AdminListJobsRequest, admin: User = Depends(admin_user)):
    return compat.list_jobs(actor=admin, limit=req.limit, pagination_key=req.pagination_key,
                            username_filter=req.username_filter, all_users=True)


@router.post("/jobs/admin/list_batch", response_model=JobsAnswer, responses=_ADMIN)
def admin_list_batch(req: AdminListByBatchRequest, admin: User = Depends(admin_user)):
    return compat.list_batch(actor=admin, batch_id=req.batch_id, limit=req.limit,
                             pagination_key=req.pagination_key, username_filter=req.username_filter,
                             any_owner=True)


# --- Prov API -----------------------------------------------------------------------


@router.post("/model_run/register", response_model=SessionAnswer)
def register_model_run(record: ModelRunRecord, user: User = Depends(current_user)):
    sid = compat.lodge(actor=user, job_subtype="MODEL_RUN_PROV_LODGE",
                       payload={"record": record.model_dump(mode="json")})
    return {"status": {"success": True, "details": f"Model run registration lodged as job {sid}."},
            "session_id": sid}


@router.post("/model_run/register_batch", response_model=SessionAnswer)
def register_model_run_batch(req: RegisterBatchRequest, user: User = Depends(current_user)):
    sid = compat.lodge(actor=user, job_subtype="MODEL_RUN_BATCH_SUBMIT",
                       payload={"records": [r.model_dump(mode="json") for r in req.records]})
    return {"status": {"success": True,
                       "details": f"Batch of {len(req.records)} model runs lodged as job {sid}; its "
                                  f"result names the batch."},
            "session_id": sid}


@router.post("/model_run/update", response_model=UpdateModelRunAnswer)
def update_model_run(req: UpdateModelRunRequest, user: User = Depends(current_user)):
    sid = compat.lodge(actor=user, job_subtype="MODEL_RUN_UPDATE",
                       payload={"model_run_id": req.model_run_id, "reason": req.reason,
                                "record": req.record.model_dump(mode="json")})
    return {"session_id": sid}


# --- Registry API ---------------------------------------------------------------------


def _registry_routes(category: str, subtype: str) -> None:
    base = f"/registry/{category}/{subtype}"

    def create(domain_info: dict[str, Any] = Body(...), user: User = Depends(current_user)):
        return compat.create_item(actor=user, category=category, subtype=subtype, domain_info=domain_info)

    def version(req: VersionRequest, user: User = Depends(current_user)):
        return compat.version_item(actor=user, category=category, subtype=subtype, item_id=req.id,
                                   reason=req.reason)

    router.add_api_route(base + "/create", create, methods=["POST"], response_model=CreateAnswer,
                         name=f"create_{subtype}", summary=f"Create a {subtype.replace('_', ' ')}")
    router.add_api_route(base + "/version", version, methods=["POST"], response_model=VersionAnswer,
                         name=f"version_{subtype}", summary=f"Version a {subtype.replace('_', ' ')}")


for _category, _subtype in compat.REGISTRY_ROUTES:
    _registry_routes(_category, _subtype)


# --- Registry API: reads ----------------------------------------------------------------


class StatusAnswer(BaseModel):
    model_config = ConfigDict(extra="allow")
    status: Status


class SubtypeFilter(BaseModel):
    model_config = ConfigDict(extra="ignore")  # Provena's other filters do not apply to one kind
    record_type: Literal["COMPLETE_ONLY", "SEED_ONLY", "ALL"] = "COMPLETE_ONLY"


class SortBy(BaseModel):
    sort_type: Optional[Line] = Field(default=None, max_length=64)
    ascending: bool = False
    begins_with: Optional[Line] = Field(default=None, max_length=256)


class RegistryListRequest(BaseModel):
    filter_by: Optional[SubtypeFilter] = None
    sort_by: Optional[SortBy] = None
    pagination_key: Optional[FreeJSON] = None
    page_size: int = Field(default=20, ge=1, le=500)


ItemIdQuery = Query(min_length=1, max_length=64)


def _read_routes(category: str, subtype: str, item_subtype: str) -> None:
    base = f"/registry/{category}/{subtype}"

    def fetch(id: Line = ItemIdQuery, seed_allowed: Optional[bool] = None, user: User = Depends(current_user)):
        return reads.fetch(actor=user, subtype=item_subtype, item_id=id, seed_allowed=bool(seed_allowed))

    def list_items(req: RegistryListRequest, user: User = Depends(current_user)):
        return reads.list_items(actor=user, subtype=item_subtype,
                                record_type=(req.filter_by or SubtypeFilter()).record_type,
                                page_size=req.page_size, pagination_key=req.pagination_key,
                                sort_by=req.sort_by.model_dump() if req.sort_by else None)

    router.add_api_route(base + "/fetch", fetch, methods=["GET"], response_model=StatusAnswer,
                         name=f"fetch_{subtype}", summary=f"Fetch a {subtype.replace('_', ' ')}")
    router.add_api_route(base + "/list", list_items, methods=["POST"], response_model=StatusAnswer,
                         name=f"list_{subtype}", summary=f"List {subtype.replace('_', ' ')} items, newest first")


for (_category, _subtype), _item_subtype in reads.READ_ROUTES.items():
    _read_routes(_category, _subtype, _item_subtype)


@router.get("/registry/general/fetch", response_model=StatusAnswer)
def general_fetch(id: Line = ItemIdQuery, user: User = Depends(current_user)):
    return reads.general_fetch(actor=user, item_id=id)


# --- Prov API: CSV of model runs ----------------------------------------------------------

MAX_CSV_BYTES = 5 * 1024 * 1024


def _template_csv(workflow_template_id: str) -> str:
    from app.db import session

    with session() as s:
        return provena_csv.template_csv(s.connection(), workflow_template_id)


@router.get("/bulk/generate_template/csv", response_class=RawResponse,
            responses={200: {"content": {"text/csv": {}}, "description": "The header row of the template"}})
def generate_template_csv(workflow_template_id: Line = Query(min_length=1, max_length=64),
                          user: User = Depends(current_user)):
    text = _template_csv(workflow_template_id)
    return RawResponse(text, media_type="text/csv", headers={
        "Content-Disposition": f'attachment; filename="model_runs_{workflow_template_id}.csv"'})


@router.post("/bulk/convert_model_runs/csv", response_model=StatusAnswer)
async def convert_model_runs_csv(csv_file: UploadFile = File(...), user: User = Depends(current_user)):
    from app.errors import InvalidInput, PayloadTooLarge

    data = await csv_file.read(MAX_CSV_BYTES + 1)
    if len(data) > MAX_CSV_BYTES:
        raise PayloadTooLarge(f"The CSV file is larger than {MAX_CSV_BYTES // (1024 * 1024)} MB; split it.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput("The CSV file is not UTF-8 text.", field="csv_file") from None
    return await run_in_threadpool(provena_csv.convert, text)
