"""`POST /api/jobs/bulk`: cancel, retry or delete many jobs at once (app.bulk_actions):
up to 1000 ids at once, every job matching a filter through a bulk job, or a batch or
pipeline run as one unit."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response

from app import bulk_actions
from app.api.deps import AUTH_RESPONSES, current_user
from app.api.jobs import _p
from app.api.schemas import BulkIn, BulkOut, BulkSummaryOut, JobOut
from app.models import User

router = APIRouter(prefix="/api", responses=AUTH_RESPONSES)


def _summary(s: bulk_actions.Summary) -> BulkSummaryOut:
    return BulkSummaryOut(**s.result(), outcomes=s.outcomes)


@router.post("/jobs/bulk", response_model=BulkOut, tags=["jobs"],
             summary="Cancel, retry or delete many jobs: ids at once, a filter as a bulk job, a submission",
             responses={202: {"model": BulkOut, "description": "Filter: the bulk job is lodged (Location: the job)"},
                        **_p(403, 404, 413, 422, d403="Delete is for admins; another user's jobs are for admins",
                             d404="No such batch, workflow or submission of yours",
                             d422="Unknown action, filter key or status; too many ids; not one form")})
def bulk(body: BulkIn, response: Response, user: User = Depends(current_user)) -> BulkOut:
    if body.ids is not None:
        if body.dry_run:
            ids = bulk_actions.check_ids(body.ids)
            return BulkOut(action=body.action, form="ids", dry_run=True, count=len(ids), count_exact=True)
        done = bulk_actions.act_on_ids(actor=user, action=body.action, job_ids=body.ids)
        return BulkOut(action=body.action, form="ids", summary=_summary(done))
    if body.submission is not None:
        if body.dry_run:
            n = bulk_actions.count_submission(actor=user, action=body.action, submission_id=body.submission)
            return BulkOut(action=body.action, form="submission", dry_run=True, count=n, count_exact=True)
        done = bulk_actions.act_on_submission(actor=user, action=body.action, submission_id=body.submission)
        return BulkOut(action=body.action, form="submission", summary=_summary(done))
    raw = body.filter.model_dump(exclude_none=True)
    if body.dry_run:
        found = bulk_actions.count_matching(actor=user, action=body.action, filters=raw)
    else:
        found = bulk_actions.lodge_bulk(actor=user, action=body.action, filters=raw)
    out = BulkOut(action=body.action, form="filter", dry_run=body.dry_run, count=found.count.n,
                  count_exact=found.count.exact, filter=found.filter.describe())
    if found.job is not None:
        out.job_id, out.job = found.job.id, JobOut.one(found.job)
        response.status_code = 202
        response.headers["Location"] = f"/api/jobs/{found.job.id}"
    return out
