"""REST routes of the provenance records of jobs: a job's record, its PROV-JSON (one
job, or its whole workflow), two jobs or workflows side by side, and reproduce.

The same domain functions as the console, so the same checks: someone else's id
answers 404, exactly as an unknown one.
"""

from __future__ import annotations

from typing import Any, Literal, Optional

from fastapi import APIRouter, Depends, Path, Query, Response
from fastapi.responses import JSONResponse

from app import compare, records
from app.api.deps import AUTH_RESPONSES, current_user
from app.api.jobs import JobId, _p
from app.api.schemas import JobOut
from app.models import User

router = APIRouter(prefix="/api", responses=AUTH_RESPONSES, tags=["provenance records"])

Scope = Query(None, description="job: the two jobs alone; workflow: their whole workflows (pipeline runs), "
                                "steps paired by order, place and task. Default: workflow when one reproduces "
                                "the other as a run or both are runs' roots, else job.")


@router.get("/jobs/{job_id}/record", summary="A job's provenance record", responses=_p(404, 409))
def job_record(job_id: str = JobId, user: User = Depends(current_user)) -> dict[str, Any]:
    rec = records.record_for(user, job_id)
    out = records.as_dict(rec, records.environments([rec.environment]).get(rec.environment))
    out["reproduction"] = compare.reproduction_report(actor=user, job_id=job_id)
    return out


@router.get("/jobs/{job_id}/prov", summary="A job's provenance record (or its workflow's) as W3C PROV-JSON",
            responses={200: {"content": {"application/json": {}}}, **_p(404, 409)})
def job_prov(job_id: str = JobId, workflow: bool = Query(False, description="every job of its workflow "
                                                                            "(a whole pipeline run)"),
             download: bool = Query(False, description="as a file to save"),
             user: User = Depends(current_user)) -> JSONResponse:
    if workflow:
        wf, recs = records.workflow_records(user, job_id)
        name = f"workflow-{wf}.prov.json"
    else:
        recs = [records.record_for(user, job_id)]
        name = f"job-{job_id}.prov.json"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'} if download else None
    return JSONResponse(records.prov_json(recs), headers=headers)


@router.get("/jobs/{a}/diff/{b}", summary="Two jobs or workflows side by side", responses=_p(404, 409))
def job_diff(a: str = Path(min_length=1, max_length=64), b: str = Path(min_length=1, max_length=64),
             scope: Optional[Literal["job", "workflow"]] = Scope,
             user: User = Depends(current_user)) -> dict[str, Any]:
    return compare.diff(actor=user, a=a, b=b, scope=scope)


@router.post("/jobs/{job_id}/reproduce", status_code=201,
             summary="Lodge a new run with the same inputs and parameters (a pipeline step: its whole run)",
             responses=_p(403, 404, 409, d409="Its inputs are no longer stored"))
def reproduce(response: Response, job_id: str = JobId, user: User = Depends(current_user)) -> dict[str, Any]:
    job, link = compare.reproduce(actor=user, job_id=job_id)
    response.headers["Location"] = f"/api/jobs/{job.id}"
    return {"job": JobOut.one(job).model_dump(mode="json"), "reproduces": link.of_job_id, "scope": link.scope,
            "diff": f"/api/jobs/{job.id}/diff/{link.of_job_id}?scope={link.scope}"}


@router.get("/environments/{fingerprint}", summary="A worker environment: Python and every distribution",
            responses=_p(404))
def environment(fingerprint: str = Path(min_length=64, max_length=64, pattern="^[0-9a-f]{64}$"),
                user: User = Depends(current_user)) -> dict[str, Any]:
    env = records.environment(fingerprint)
    return {"fingerprint": env.fingerprint, "python": env.python, "implementation": env.implementation,
            "packages": [{"name": n, "version": v} for n, v in env.packages or []]}
