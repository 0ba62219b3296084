"""Provena's job, provenance and registry routes, so Provena's published client works
against Jobdeck unchanged: point each of its endpoint overrides at `<server>/api/provena`.

Thin: parsing and answering only; the mapping lives in app/provena_compat.py.
"""

from __future__ import annotations

from typing import Any, Literal, Optional

from fastapi import APIRouter, Body, Depends, Query
from pydantic import BaseModel, Field

from app import provena_compat as compat
from app.api.deps import admin_user, current_user
from app.jobtypes import ModelRunRecord
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
