"""Jobs and batches: lodge, fetch by session id, list, cancel, retry, messages, files.

Every route calls the domain functions the console calls, so the permission checks
are the same; a job or batch the caller may not see answers 404.
"""

from __future__ import annotations

import mimetypes
from datetime import datetime
from typing import Optional

from fastapi import APIRouter, Depends, Header, Path, Query, Response
from fastapi.responses import FileResponse

from app import files, job_search, launch, queries
from app.api.deps import AUTH_RESPONSES, current_user
from app.api.schemas import (
    BatchLodge, BatchOut, BatchPageOut, JobFileOut, JobLodge, JobMessageOut, JobOut, JobPageOut, JobTypeOut,
    Me, Problem,
)
from app.db import utcnow
from app.jobtypes import SPECS
from app.lifecycle import JobStatus
from app.models import User

router = APIRouter(prefix="/api", responses=AUTH_RESPONSES)


def _p(*codes: int, **described: str) -> dict:
    """OpenAPI entries for the problem answers a route can give."""
    words = {400: "Bad request", 403: "Not allowed for this caller", 404: "Not found (or not yours)",
             409: "Conflicts with the current state", 413: "Body too large", 415: "Unsupported media type",
             422: "Invalid input (the detail names the field)", 429: "Too many requests"}
    return {c: {"model": Problem, "description": described.get(f"d{c}", words[c]),
                "content": {"application/problem+json": {}}} for c in codes}


JobId = Path(min_length=1, max_length=64, description="The job's session id")
BatchId = Path(min_length=1, max_length=64)
Cursor = Query(None, max_length=512, description="next_cursor of the previous page")
Limit = Query(25, ge=1, le=queries.MAX_LIMIT)
IdemKey = Header(None, alias="Idempotency-Key", min_length=1, max_length=128,
                 description="A repeat with the same key returns the job lodged the first time.")


def filters(status: Optional[JobStatus] = Query(None), job_type: Optional[str] = Query(None, max_length=32),
            job_subtype: Optional[str] = Query(None, max_length=64),
            since: Optional[datetime] = Query(None, description="Only jobs created at or after this time "
                                                                "(ISO 8601; UTC unless it says)"),
            until: Optional[datetime] = Query(None, description="Only jobs created before this time")
            ) -> queries.JobFilter:
    return queries.JobFilter(status=status.value if status else None, job_type=job_type,
                             job_subtype=job_subtype, since=since, until=until)


@router.get("/me", response_model=Me, tags=["system"], summary="Who the token belongs to")
def me(user: User = Depends(current_user)) -> Me:
    return Me(username=user.username, display_name=user.display_name, role=user.role)


@router.get("/job-types", response_model=list[JobTypeOut], tags=["jobs"],
            summary="The job types, their payload schemas, and which the caller may lodge")
def job_types(user: User = Depends(current_user)) -> list[JobTypeOut]:
    return [JobTypeOut(job_type=s.job_type, job_subtype=s.job_subtype, label=s.label, backend=s.backend,
                       you_may_launch=s.user_may_launch or user.may_launch_any,
                       payload_schema=s.payload.model_json_schema())
            for s in SPECS.values()]


# --- jobs ---------------------------------------------------------------------------


@router.post("/jobs", status_code=201, response_model=JobOut, tags=["jobs"], summary="Lodge a job",
             responses={200: {"model": JobOut, "description": "A repeat of an Idempotency-Key: the job "
                                                              "lodged the first time"},
                        **_p(403, 404, 409, 422, d404="No such batch of the owner",
                             d409="The Idempotency-Key was used for a different request")})
def lodge_job(body: JobLodge, response: Response, user: User = Depends(current_user),
              idempotency_key: Optional[str] = IdemKey) -> JobOut:
    before = utcnow()
    job = launch.launch_job(actor=user, job_type=body.job_type, job_subtype=body.job_subtype,
                            payload=body.payload, owner=body.owner, batch_id=body.batch_id,
                            idempotency_key=idempotency_key, priority=body.priority)
    if job.created_at < before:
        response.status_code = 200
    response.headers["Location"] = f"/api/jobs/{job.id}"
    return JobOut.many([job])[0]


Sort = Query("created", description="created (newest first, the default), started (newest first: only "
                                    "jobs that started) or duration (longest run first: only jobs that ran "
                                    "and ended)", max_length=16)
Search = Query(None, max_length=job_search.MAX_QUERY,
               description="A job id, a batch id, an id prefix (4 characters or more), or words of what a job "
                           "is about (a batch's label, an item's name, a pipeline's name; any case), looked for "
                           f"among the next {job_search.WINDOW} jobs of the order per page")


@router.get("/jobs", response_model=JobPageOut, tags=["jobs"], summary="List your jobs, newest first",
            responses=_p(400, 422, d400="A cursor this server did not give out for this sort and search"))
def list_jobs(cursor: Optional[str] = Cursor, limit: int = Limit, f: queries.JobFilter = Depends(filters),
              sort: str = Sort, q: Optional[str] = Search, user: User = Depends(current_user)) -> JobPageOut:
    page = job_search.find_jobs(viewer=user, filters=f, sort=sort, q=q or "", cursor=cursor, limit=limit)
    return JobPageOut(jobs=JobOut.many(page.jobs), next_cursor=page.next_cursor,
                      search=page.kind or None, bounded=page.bounded)


@router.get("/jobs/{job_id}", response_model=JobOut, tags=["jobs"], summary="Fetch a job by session id",
            responses=_p(404))
def get_job(job_id: str = JobId, user: User = Depends(current_user)) -> JobOut:
    return JobOut.one(launch.job_for(user, job_id))


@router.post("/jobs/{job_id}/cancel", response_model=JobOut, tags=["jobs"], summary="Cancel a job",
             responses=_p(404, 409, d409="The job is final already"))
def cancel_job(job_id: str = JobId, user: User = Depends(current_user)) -> JobOut:
    launch.cancel_job(actor=user, job_id=job_id)
    return JobOut.one(launch.get_job(job_id))


@router.post("/jobs/{job_id}/retry", response_model=JobOut, tags=["jobs"],
             summary="Retry a FAILED, CRASHED or CANCELLED job (a new attempt)",
             responses=_p(404, 409, d409="The job is not FAILED, CRASHED or CANCELLED"))
def retry_job(job_id: str = JobId, user: User = Depends(current_user)) -> JobOut:
    launch.retry_job(actor=user, job_id=job_id)
    return JobOut.one(launch.get_job(job_id))


@router.get("/jobs/{job_id}/messages", response_model=list[JobMessageOut], tags=["jobs"],
            summary="A job's message history, oldest first", responses=_p(404))
def job_messages(job_id: str = JobId, after: int = Query(0, ge=0, description="Only messages with a larger id"),
                 user: User = Depends(current_user)) -> list[JobMessageOut]:
    launch.job_for(user, job_id)
    return [JobMessageOut.of(m) for m in queries.job_messages(job_id) if m.id > after]


@router.get("/jobs/{job_id}/files", response_model=list[JobFileOut], tags=["jobs"],
            summary="The data files a job produced", responses=_p(404))
def job_files(job_id: str = JobId, user: User = Depends(current_user)) -> list[JobFileOut]:
    return [JobFileOut.of(f) for f in files.files_of(actor=user, job_id=job_id)]


@router.get("/jobs/{job_id}/files/{name}", tags=["jobs"], summary="Download one of a job's files",
            response_class=FileResponse,
            responses={200: {"description": "The file", "content": {"application/octet-stream": {}}},
                       **_p(404)})
def download_file(job_id: str = JobId, name: str = Path(min_length=1, max_length=256),
                  user: User = Depends(current_user)) -> FileResponse:
    jf, path = files.open_job_file(actor=user, job_id=job_id, name=name)
    media = mimetypes.guess_type(jf.name)[0] or "application/octet-stream"
    return FileResponse(path, media_type=media, filename=jf.name, headers={"X-Content-SHA256": jf.sha256})


# --- batches --------------------------------------------------------------------------


@router.post("/batches", status_code=201, response_model=BatchOut, tags=["batches"],
             summary="Lodge many jobs of one type as a batch", responses=_p(400, 403, 422, d400="The email is not an address"))
def lodge_batch(body: BatchLodge, response: Response, user: User = Depends(current_user)) -> BatchOut:
    batch = launch.launch_batch(actor=user, job_type=body.job_type, job_subtype=body.job_subtype,
                                payloads=body.payloads, label=body.label, owner=body.owner, email=body.email)
    response.headers["Location"] = f"/api/batches/{batch.id}"
    return BatchOut.of(batch)


@router.get("/batches", response_model=BatchPageOut, tags=["batches"], summary="List your batches",
            responses=_p(422))
def list_batches(cursor: Optional[str] = Cursor, limit: int = Limit,
                 user: User = Depends(current_user)) -> BatchPageOut:
    rows, nxt = queries.list_batches(viewer=user, cursor=cursor, limit=limit)
    return BatchPageOut(batches=[BatchOut.of(b) for b in rows], next_cursor=nxt)


@router.get("/batches/{batch_id}", response_model=BatchOut, tags=["batches"],
            summary="A batch and its counts per status", responses=_p(404))
def get_batch(batch_id: str = BatchId, user: User = Depends(current_user)) -> BatchOut:
    return BatchOut.of(queries.get_batch(viewer=user, batch_id=batch_id))


@router.get("/batches/{batch_id}/jobs", response_model=JobPageOut, tags=["batches"],
            summary="The jobs of a batch, newest first", responses=_p(404, 422))
def batch_jobs(batch_id: str = BatchId, cursor: Optional[str] = Cursor, limit: int = Limit,
               failures_only: bool = Query(False, description="Only FAILED and CRASHED jobs"),
               f: queries.JobFilter = Depends(filters), user: User = Depends(current_user)) -> JobPageOut:
    page = queries.batch_jobs(viewer=user, batch_id=batch_id, filters=f, failures_only=failures_only,
                              cursor=cursor, limit=limit)
    return JobPageOut(jobs=JobOut.many(page.jobs), next_cursor=page.next_cursor)
