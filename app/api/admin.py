"""Admin routes (admins and services): what the admin console shows and does. Every
user's jobs with a username filter and any job with what only admins see (worker,
traceback of a crash); backends with their settings and what they can take now, changed
and woken here; workers and pools from their heartbeats; stuck jobs; every submission,
cancelled or deleted as one unit; job counts per status.

Each route calls the domain function the console page calls, so the checks and their
messages are the same (changing a backend is for admins, not services)."""

from __future__ import annotations

from typing import Callable, Optional, TypeVar

from fastapi import APIRouter, Depends, Path, Query, Response

from app import backends, configuration, job_search, launch, queries, queue_admin, queues, submissions, workers
from app.api.deps import AUTH_RESPONSES, admin_user
from app.api.jobs import Cursor, JobId, Limit, Search, Sort, _p, filters
from app.api.admin_schemas import (
    BackendIn, BackendLiveOut, BackendOut, BackendPatch, PoolOut, PurgeIn, PurgedOut, QueuePageOut, StuckJobOut,
    SubmissionCancelOut, SubmissionDeleteOut, SubmissionOut, SubmissionPageOut, WaitingJobOut, WakeOut, WorkerOut,
)
from app.api.schemas import JobAdminOut, JobAdminPageOut, JobOut, StatusCountsOut
from app.errors import NotFound, QueueUnavailable
from app.jobtypes import BACKENDS
from app.models import User

router = APIRouter(prefix="/api/admin", tags=["admin"], responses={**AUTH_RESPONSES, **_p(403)})

BackendName = Path(min_length=1, max_length=64, description="The backend's name, e.g. system")
SubmissionId = Path(min_length=1, max_length=64, description="The root job's session id (any job of the "
                                                              "submission will do) or a batch's id")
Username = Query(None, max_length=64, description="Only this user's")
REDIS_DOWN = "The queue server (Redis) does not answer, so workers and queues cannot be read; try again shortly."
_503 = {503: {"description": "The queue server (Redis) does not answer", "content": {"application/problem+json": {}}}}

T = TypeVar("T")


def _from_redis(read: Callable[[], T]) -> T:
    try:
        return read()
    except queues.REDIS_ERRORS:
        raise QueueUnavailable(REDIS_DOWN) from None


# --- jobs ------------------------------------------------------------------------------


@router.get("/jobs", response_model=JobAdminPageOut, summary="Every user's jobs, newest first",
            responses=_p(400, 422, d400="A cursor this server did not give out for this sort and search"))
def list_all_jobs(username: Optional[str] = Query(None, max_length=64, description="Only this user's jobs"),
                  cursor: Optional[str] = Cursor, limit: int = Limit, f: queries.JobFilter = Depends(filters),
                  sort: str = Sort, q: Optional[str] = Search, admin: User = Depends(admin_user)) -> JobAdminPageOut:
    page = job_search.find_jobs(viewer=admin, owner=username or None, all_users=True, filters=f, sort=sort,
                                q=q or "", cursor=cursor, limit=limit)
    return JobAdminPageOut(jobs=JobAdminOut.many(page.jobs), next_cursor=page.next_cursor,
                           search=page.kind or None, bounded=page.bounded)


@router.get("/jobs/{job_id}", response_model=JobAdminOut, summary="Any job by session id",
            responses=_p(404))
def get_any_job(job_id: str = JobId, admin: User = Depends(admin_user)) -> JobAdminOut:
    return JobAdminOut.one(launch.job_for(admin, job_id))


@router.get("/counts", response_model=StatusCountsOut, summary="Jobs per status, of every user or of one",
            responses=_p(422))
def status_counts(username: Optional[str] = Username, admin: User = Depends(admin_user)) -> StatusCountsOut:
    owner = (username or "").strip() or None
    counts = queries.status_counts(viewer=admin, owner=owner, all_users=True)
    return StatusCountsOut(username=owner, total=sum(counts.values()), counts=counts)


# --- backends ------------------------------------------------------------------------


def _backends(admin: User, only: Optional[str] = None) -> list[BackendOut]:
    """Settings as they apply (a backend without a row has the defaults), with the
    configuration row's description and time, and what each can take now."""
    rows = {b.name: b for b in configuration.read_configuration(actor=admin).backends}
    configs = backends.backend_configs(refresh=True)
    try:
        live = {b.name: b for b in workers.backend_status(viewer=admin)}
    except queues.REDIS_ERRORS:
        live = None  # the settings can still be read and changed
    out = []
    for name, cfg in sorted(configs.items()):
        if only is not None and name != only:
            continue
        row, st = rows.get(name), (live or {}).get(name)
        out.append(BackendOut(
            name=name, description=row.description if row else "", configured=cfg.configured,
            built_in=name in BACKENDS,
            created_at=row.created_at if row else None, max_workers=cfg.max_workers,
            idle_timeout_s=cfg.idle_timeout_s, job_timeout_s=cfg.job_timeout_s, paused=cfg.paused,
            resume_workers=cfg.resume_workers,
            status=BackendLiveOut(workers=st.workers, busy=st.busy, idle=st.idle, queued=st.queued,
                                  queued_by_priority=st.queued_by_priority,
                                  scheduled=st.scheduled, served_by=st.served_by, can_wake=st.can_wake,
                                  unavailable=st.unavailable) if st else None))
    return out


@router.get("/backends", response_model=list[BackendOut],
            summary="Every backend: its settings, and its workers and queue now")
def list_backends(admin: User = Depends(admin_user)) -> list[BackendOut]:
    return _backends(admin)


@router.get("/backends/{name}", response_model=BackendOut,
            summary="One backend: its settings, and its workers and queue now", responses=_p(404))
def get_backend(name: str = BackendName, admin: User = Depends(admin_user)) -> BackendOut:
    found = _backends(admin, only=name.strip())
    if not found:
        raise NotFound(f"No backend {name!r}; backends: {', '.join(sorted(backends.backend_configs()))}.")
    return found[0]


@router.post("/backends", status_code=201, response_model=BackendOut,
             summary="Create a backend (admins); pools serve it within seconds",
             responses=_p(409, 422, d403="Not allowed for this caller (services may not create backends)",
                          d409="A backend of that name exists"))
def create_backend(body: BackendIn, response: Response, admin: User = Depends(admin_user)) -> BackendOut:
    done = backends.create_backend(actor=admin, **body.model_dump())
    response.headers["Location"] = f"/api/admin/backends/{done.name}"
    return _backends(admin, only=done.name)[0]


@router.delete("/backends/{name}", status_code=204, response_class=Response,
               summary="Delete a backend an admin created; refused while a task runs on it or a job waits on it",
               responses=_p(404, 409, d403="Not allowed for this caller (services may not delete backends)",
                            d409="A task runs on it, a job waits on it, or it is built in"))
def delete_backend(name: str = BackendName, admin: User = Depends(admin_user)) -> Response:
    backends.delete_backend(actor=admin, name=name)
    return Response(status_code=204)


@router.patch("/backends/{name}", response_model=BackendOut,
              summary="Change a backend's settings (admins); pools apply them within seconds",
              responses=_p(404, 422, d403="Not allowed for this caller (services may not change backends)"))
def update_backend(patch: BackendPatch, name: str = BackendName,
                   admin: User = Depends(admin_user)) -> BackendOut:
    backends.update_backend(actor=admin, name=name, **patch.model_dump())
    return _backends(admin, only=name.strip())[0]


@router.post("/backends/{name}/wake", response_model=WakeOut,
             summary="Start a worker of a backend ahead of work (lodges its WAKE_UP job unless one is "
                     "awake or waking)",
             responses=_p(404, 422, d422="The backend has no wake-up job"))
def wake_backend(name: str = BackendName, admin: User = Depends(admin_user)) -> WakeOut:
    if name not in backends.backend_configs():
        raise NotFound(f"No backend {name!r}; backends: {', '.join(sorted(backends.backend_configs()))}.")
    done = workers.wake_backend(actor=admin, backend=name)
    return WakeOut(backend=done.backend, message=done.message, job=JobOut.one(done.job) if done.job else None)


@router.post("/backends/{name}/pause", response_model=BackendOut,
             summary="Pause a backend (admins): 0 max workers, the maximum remembered for the resume",
             responses=_p(404, d403="Not allowed for this caller (services may not pause backends)"))
def pause_backend(name: str = BackendName, admin: User = Depends(admin_user)) -> BackendOut:
    backends.pause_backend(actor=admin, name=name)
    return _backends(admin, only=name.strip())[0]


@router.post("/backends/{name}/resume", response_model=BackendOut,
             summary="Resume a paused backend (admins): the max workers it had before its pause",
             responses=_p(404, d403="Not allowed for this caller (services may not resume backends)"))
def resume_backend(name: str = BackendName, admin: User = Depends(admin_user)) -> BackendOut:
    backends.resume_backend(actor=admin, name=name)
    return _backends(admin, only=name.strip())[0]


@router.get("/backends/{name}/queue", response_model=QueuePageOut,
            summary="The jobs waiting in a backend's queues in the order its workers take them (high, normal, "
                    "low), a page at a time", responses={**_p(404, 422), **_503})
def read_queue(name: str = BackendName, offset: int = Query(0, ge=0, le=10**9, description="Position to start "
                                                           "from (0: the head)"),
               limit: int = Query(50, ge=1, le=queue_admin.MAX_PAGE),
               admin: User = Depends(admin_user)) -> QueuePageOut:
    page = _from_redis(lambda: queue_admin.read_queue(viewer=admin, backend=name, offset=offset, limit=limit))
    return QueuePageOut(backend=page.backend.name, paused=page.backend.paused, max_workers=page.backend.max_workers,
                        depth=page.depth, total=page.total, offset=page.offset, next_offset=page.next_offset,
                        jobs=[WaitingJobOut.of(w) for w in page.jobs])


@router.post("/backends/{name}/queue/purge", response_model=PurgedOut,
             summary="Purge a backend's queue (admins): every waiting job (or one priority's, or the jobs "
                     "named) ends CANCELLED", responses={**_p(404, 422, d403="Not allowed for this caller "
                                                                    "(services may not purge)"), **_503})
def purge_queue(body: Optional[PurgeIn] = None, name: str = BackendName,
                admin: User = Depends(admin_user)) -> PurgedOut:
    body = body or PurgeIn()
    done = _from_redis(lambda: queue_admin.purge_queue(actor=admin, backend=name, priority=body.priority,
                                                       job_ids=body.job_ids))
    return PurgedOut(backend=done.backend, purged=len(done.cancelled), job_ids=done.cancelled[:200],
                     taken=done.taken, remaining=done.remaining)


# --- workers, pools, stuck jobs --------------------------------------------------------


@router.get("/workers", response_model=list[WorkerOut],
            summary="Every worker seen in the last hour, busy first", responses={**_p(422), **_503})
def list_workers(backend: Optional[str] = Query(None, max_length=64, description="Only this backend's"),
                 include_gone: bool = Query(True, description="Also stopped, dead and lost workers"),
                 admin: User = Depends(admin_user)) -> list[WorkerOut]:
    found = _from_redis(lambda: workers.list_workers(backend=backend or None, include_gone=include_gone,
                                                     viewer=admin))
    return [WorkerOut.of(w) for w in found]


@router.get("/pools", response_model=list[PoolOut], summary="The worker pools that reported lately",
            responses=_503)
def list_pools(admin: User = Depends(admin_user)) -> list[PoolOut]:
    return [PoolOut(pool_id=p.pool_id, host=p.host, pid=p.pid, backends=p.backends, last_heartbeat=p.last_heartbeat)
            for p in _from_redis(lambda: workers.list_pools(viewer=admin))]


@router.get("/stuck-jobs", response_model=list[StuckJobOut],
            summary="Jobs waiting past JOBDECK_STUCK_AFTER_S on a backend no worker can serve, oldest first",
            responses=_p(422))
def stuck_jobs(limit: int = Query(100, ge=1, le=queries.MAX_LIMIT),
               admin: User = Depends(admin_user)) -> list[StuckJobOut]:
    return [StuckJobOut(job=JobAdminOut.one(s.job), reason=s.reason, waiting_s=s.waiting_s)
            for s in workers.stuck_jobs(limit=limit, viewer=admin)]


# --- submissions -------------------------------------------------------------------------


@router.get("/submissions", response_model=SubmissionPageOut,
            summary="Every submission (root jobs and batches lodged directly), newest first", responses=_p(422))
def list_submissions(username: Optional[str] = Username, cursor: Optional[str] = Cursor, limit: int = Limit,
                     admin: User = Depends(admin_user)) -> SubmissionPageOut:
    page = submissions.list_submissions(viewer=admin, owner=username, cursor=cursor, limit=limit)
    return SubmissionPageOut(submissions=[SubmissionOut.of(s) for s in page.submissions],
                             next_cursor=page.next_cursor)


@router.post("/submissions/{submission_id}/cancel", response_model=SubmissionCancelOut,
             summary="Cancel every live job of a submission; running ones are halted by their workers",
             responses=_p(404))
def cancel_submission(submission_id: str = SubmissionId, admin: User = Depends(admin_user)) -> SubmissionCancelOut:
    done = submissions.cancel_submission(actor=admin, submission_id=submission_id)
    sub = done.submission
    key = sub.root_job_id or (sub.batch_ids[0] if sub.batch_ids else submission_id)
    now = submissions.submission_summaries(viewer=admin, ids=[key]).get(key)
    return SubmissionCancelOut(cancelled=done.cancelled, halting=done.halting,
                               submission=SubmissionOut.of(now) if now else None)


@router.delete("/submissions/{submission_id}", response_model=SubmissionDeleteOut,
               summary="Delete a submission: its live jobs are cancelled first, then its jobs, their "
                       "history and files, and its batches removed (items and provenance stay)",
               responses=_p(404))
def delete_submission(submission_id: str = SubmissionId, admin: User = Depends(admin_user)) -> SubmissionDeleteOut:
    gone = submissions.delete_submission(actor=admin, submission_id=submission_id)
    return SubmissionDeleteOut(root_job_id=gone.root_job_id, jobs_deleted=gone.jobs_deleted,
                               batches_deleted=gone.batches_deleted, files_deleted=gone.files_deleted,
                               cancelled=gone.cancelled)
