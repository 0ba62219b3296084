"""Admin routes (admins and services): every user's jobs with a username filter, and
any job with what only admins see (worker, traceback of a crash)."""

from __future__ import annotations

from typing import Optional

from fastapi import APIRouter, Depends, Query

from app import launch, queries
from app.api.deps import AUTH_RESPONSES, admin_user
from app.api.jobs import Cursor, JobId, Limit, _p, filters
from app.api.schemas import JobAdminOut, JobAdminPageOut
from app.models import User

router = APIRouter(prefix="/api/admin", tags=["admin"], responses={**AUTH_RESPONSES, **_p(403)})


@router.get("/jobs", response_model=JobAdminPageOut, summary="Every user's jobs, newest first",
            responses=_p(422))
def list_all_jobs(username: Optional[str] = Query(None, max_length=64, description="Only this user's jobs"),
                  cursor: Optional[str] = Cursor, limit: int = Limit, f: queries.JobFilter = Depends(filters),
                  admin: User = Depends(admin_user)) -> JobAdminPageOut:
    page = queries.list_jobs(viewer=admin, owner=username or None, all_users=True, filters=f,
                             cursor=cursor, limit=limit)
    return JobAdminPageOut(jobs=[JobAdminOut.of(j) for j in page.jobs], next_cursor=page.next_cursor)


@router.get("/jobs/{job_id}", response_model=JobAdminOut, summary="Any job by session id",
            responses=_p(404))
def get_any_job(job_id: str = JobId, admin: User = Depends(admin_user)) -> JobAdminOut:
    return JobAdminOut.of(launch.job_for(admin, job_id))
