"""REST routes of pipeline runs as units: a pipeline's past runs (newest first, keyset
paged), a run's output files (a list, or all of them as one streamed zip) and "run
again". The console's pages call the same domain functions (app.runs, app.runfiles,
app.compare), so the checks are the same: someone else's run answers 404.

The zip also answers without a token for a run of a public pipeline (reached by its
id, as its anonymous submitter was told it) and for a console ticket (`?ticket=`: the
run card's Download all, whose link cannot carry the page's sign-in).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Optional, Union
from urllib.parse import quote

from fastapi import APIRouter, Depends, Path, Query, Response
from fastapi.responses import StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from app import compare, pipelines, runfiles, runs
from app.api.deps import AUTH_RESPONSES, _bearer, current_user
from app.api.jobs import Cursor, Limit, _p
from app.api.schemas import JobOut
from app.errors import AuthenticationFailed
from app.models import User

router = APIRouter(prefix="/api", tags=["pipelines"], responses=AUTH_RESPONSES)

RunId = Path(min_length=1, max_length=64, description="The run's id: its root job's session id")
PipelineRef = Path(min_length=1, max_length=64, description="The pipeline's name or id")


class PastRunOut(BaseModel):
    session_id: str = Field(description="The run's root job (its submission)")
    name: str = Field(description='"<pipeline> on <upload>"')
    owner: str
    status: str = Field(description="Of the run as a whole: the worst outcome once every step is final")
    steps: int
    finished: int
    failed: int
    created_at: datetime
    finished_at: Optional[datetime] = None
    page: str = Field(description="The run's page in the console")

    @classmethod
    def of(cls, r: runs.PastRun) -> "PastRunOut":
        st = r.state
        return cls(session_id=r.id, name=r.name, owner=r.owner, status=st.status if st else "PENDING",
                   steps=st.steps if st else 0, finished=st.finished if st else 0, failed=st.failed if st else 0,
                   created_at=r.created_at, finished_at=st.finished_at if st else None, page=f"/jobs/{r.id}")


class PastRunPageOut(BaseModel):
    pipeline: str
    runs: list[PastRunOut]
    next_cursor: Optional[str] = Field(description="Send it back as `cursor` for the next page; null at the end")


class RunFileOut(BaseModel):
    name: str
    step: str = Field(description="The step's job id")
    task: str
    order: int
    size: int
    sha256: str
    member: str = Field(description="Its name inside the run's zip")
    download: str


class RunFilesOut(BaseModel):
    session_id: str
    name: str
    total_size: int
    files: list[RunFileOut]
    zip: str = Field(description="Path of the route that sends every file as one zip")


def _ref(pipeline: str) -> Union[int, str]:
    """An id when it reads as one an integer column holds, else a name."""
    if re.fullmatch(r"[0-9]{1,10}", pipeline) and int(pipeline) <= 2**31 - 1:
        return int(pipeline)
    return pipeline


@router.get("/pipelines/{pipeline}/runs", response_model=PastRunPageOut,
            summary="A pipeline's past runs: yours (admins: everyone's), newest first", responses=_p(404, 422))
def past_runs(pipeline: str = PipelineRef, cursor: Optional[str] = Cursor, limit: int = Limit,
              user: User = Depends(current_user)) -> PastRunPageOut:
    info = pipelines.get_pipeline(actor=user, pipeline=_ref(pipeline))
    found, nxt = runs.past_runs(actor=user, pipeline_id=info.id, cursor=cursor, limit=limit)
    return PastRunPageOut(pipeline=info.name, runs=[PastRunOut.of(r) for r in found], next_cursor=nxt)


def _caller(creds: Optional[HTTPAuthorizationCredentials], ticket: Optional[str], root_id: str) -> Optional[User]:
    """The token's user, else the ticket's, else None (a run of a public pipeline only)."""
    if creds is not None:
        return current_user(creds)
    if ticket:
        user = runfiles.user_for_ticket(ticket, root_id)
        if user is None:
            raise AuthenticationFailed("This download link has expired or is not valid: download again from "
                                       "the run's page.")
        return user
    return None


@router.get("/pipelines/runs/{root_id}/files", response_model=RunFilesOut,
            summary="Every file every step of a run kept", responses=_p(404))
def run_files(root_id: str = RunId, creds: Optional[HTTPAuthorizationCredentials] = Depends(_bearer)) -> RunFilesOut:
    root, found = runfiles.run_files(actor=_caller(creds, None, root_id), root_id=root_id)
    return RunFilesOut(
        session_id=root.id, name=runs.run_name(root.payload), total_size=sum(f.size for f in found),
        zip=f"/api/pipelines/runs/{root.id}/files.zip",
        files=[RunFileOut(name=f.name, step=f.job_id, task=f.task, order=f.order, size=f.size, sha256=f.sha256,
                          member=f.member, download=f"/api/jobs/{f.job_id}/files/{quote(f.name, safe='')}")
               for f in found])


@router.get("/pipelines/runs/{root_id}/files.zip", summary="Every file of a run as one zip (streamed)",
            response_class=StreamingResponse,
            responses={200: {"description": "A zip: a folder per step (`<order>-<task>`), its files inside",
                             "content": {"application/zip": {}}},
                       **_p(404, 413, d413="The files hold more than JOBDECK_MAX_ZIP_BYTES: download them one by "
                                           "one")})
def run_zip(root_id: str = RunId, ticket: Optional[str] = Query(None, max_length=300,
                                                                   description="A console download link's ticket"),
            creds: Optional[HTTPAuthorizationCredentials] = Depends(_bearer)) -> StreamingResponse:
    root, found = runfiles.run_files(actor=_caller(creds, ticket, root_id), root_id=root_id)
    runfiles.check_size(found)
    name = runfiles.zip_name(root)
    return StreamingResponse(runfiles.zip_stream(root.id, found), media_type="application/zip",
                             headers={"Content-Disposition": f'attachment; filename="{name}"',
                                      "Cache-Control": "no-store"})


@router.post("/pipelines/runs/{root_id}/run-again", status_code=201, response_model=JobOut,
             summary="A new run on the same upload with the same parameters (yours)",
             responses=_p(404, 409, 429, d409="The run's upload is no longer stored, or changed"))
async def run_again(response: Response, root_id: str = RunId,
                    user: User = Depends(current_user)) -> JobOut:
    job = await run_in_threadpool(lambda: compare.run_again(actor=user, job_id=root_id))
    response.headers["Location"] = f"/api/jobs/{job.id}"
    return JobOut.one(job)
