"""Jobdeck seen through Provena's wire format, so Provena's published client
(`provenaclient`) works against Jobdeck unchanged.

Provena's enums are closed: a status or type outside them makes its client reject the
whole answer. So Jobdeck-only job types never appear here, and CRASHED and CANCELLED are
shown as FAILED with an `info` that says which and why. An unknown or foreign session id
is a 400, because Provena's await helper takes 400 to mean "not there yet" and gives up
on anything else. Pagination keys are opaque dicts wrapping Jobdeck's keyset cursor.

No web framework here: the router in app/api/provena.py only parses and answers.
"""

from __future__ import annotations

from typing import Any, Optional

from sqlmodel import select

from app import item_kinds, launch, modelrun_rules, queries, registry
from app.db import session
from app.errors import InvalidInput, JobdeckError, NotFound, PermissionDenied
from app.jobtypes import SPECS
from app.payloads import ITEM_SUBTYPES
from app.lifecycle import JobStatus
from app.models import Item, Job, ProvEdge, User
from app.shapes import RECORD, check_json

# --- what Provena knows -----------------------------------------------------------

PROVENA_KINDS: tuple[tuple[str, str], ...] = tuple(sorted(k for k, s in SPECS.items() if s.provena))
# Jobdeck's kinds that Provena names otherwise: its EMAIL / SEND_EMAIL is Jobdeck's mail job.
PROVENA_NAMES: dict[tuple[str, str], tuple[str, str]] = {("NOTIFY", "SEND_EMAIL"): ("EMAIL", "SEND_EMAIL")}
JOBDECK_NAMES = {v: k for k, v in PROVENA_NAMES.items()}
PROVENA_STATUSES = ("PENDING", "DEQUEUED", "IN_PROGRESS", "SUCCEEDED", "FAILED")

# Provena's registry routes are /registry/<category>/<subtype>/<action>.
REGISTRY_ROUTES: dict[tuple[str, str], str] = {
    ("entity", "model"): "MODEL",
    ("entity", "dataset"): "DATASET",
    ("entity", "dataset_template"): "DATASET_TEMPLATE",
    ("entity", "model_run_workflow"): "MODEL_RUN_WORKFLOW_TEMPLATE",
    ("agent", "person"): "PERSON",
    ("agent", "organisation"): "ORGANISATION",
    ("activity", "study"): "STUDY",
}
CATEGORY_OF = {subtype: category.upper() for (category, _), subtype in REGISTRY_ROUTES.items()}
CATEGORY_OF["MODEL_RUN"] = "ACTIVITY"
assert set(REGISTRY_ROUTES.values()) <= set(ITEM_SUBTYPES)


class UnknownSession(JobdeckError):
    """A session id (job id) that does not exist, is not the caller's, or is of a type
    Provena's API does not show. A 400, as Provena's client expects for "not there"."""

    status_code = 400


class BadRequest(JobdeckError):
    """A request Provena's API would refuse with a 400: an unknown batch or item, a
    pagination key this server did not give out."""

    status_code = 400


# --- one job as Provena's JobStatusTable -------------------------------------------


def status_and_info(job: Job) -> tuple[str, Optional[str]]:
    """Provena's status and info for a job: CRASHED and CANCELLED become FAILED, with
    an info that names Jobdeck's status and the reason."""
    status = JobStatus(job.status)
    if status is JobStatus.CRASHED:
        return "FAILED", f"CRASHED: {job.info or job.last_message or 'the job stopped unexpectedly.'}"
    if status is JobStatus.CANCELLED:
        return "FAILED", f"CANCELLED: {job.last_message or 'the job was stopped.'}"
    return status.value, job.info


def _model_run_record_info(job: Job, prov_json: Optional[str]) -> Optional[dict[str, Any]]:
    """Provena's ProvenanceRecordInfo for a model run job: what Provena's scripts read
    as result['record']['id']."""
    rid = (job.result or {}).get("record_id")
    record = (job.payload or {}).get("record")
    if not rid or record is None:
        return None
    return {"id": rid, "prov_json": prov_json or "{}", "record": record}


def provena_result(job: Job, prov_json: Optional[str] = None) -> Optional[dict[str, Any]]:
    """Jobdeck's result, plus the keys Provena's result models use for the same values,
    so scripts written against Provena find them. A SUCCEEDED job always has one."""
    if job.status != JobStatus.SUCCEEDED.value:
        return job.result
    result = dict(job.result or {})
    sub = job.job_subtype
    if sub == "REGISTER_CREATE_ACTIVITY" and "activity_id" in result:
        result.setdefault("creation_activity_id", result["activity_id"])
    elif sub == "REGISTER_VERSION_ACTIVITY" and "activity_id" in result:
        result.setdefault("version_activity_id", result["activity_id"])
    elif sub in ("MODEL_RUN_PROV_LODGE", "MODEL_RUN_UPDATE"):
        info = _model_run_record_info(job, prov_json)
        if info is not None:
            result.setdefault("record", info)
    return result


def job_status_table(job: Job, prov_json: Optional[str] = None) -> dict[str, Any]:
    status, info = status_and_info(job)
    return {
        "session_id": job.id,
        "created_timestamp": int(job.created_at.timestamp()),
        "username": job.owner,
        "batch_id": job.batch_id,
        "payload": job.payload or {},
        "job_type": PROVENA_NAMES.get((job.job_type, job.job_subtype), (job.job_type,))[0],
        "job_sub_type": job.job_subtype,
        "gsi_status": "ok",
        "status": status,
        "info": info,
        "result": provena_result(job, prov_json),
    }


def _prov_json_by_record(record_ids: list[str]) -> dict[str, str]:
    """The PROV-JSON of each model run record, from its lodged edges (one query)."""
    if not record_ids:
        return {}
    from prov.model import ProvDocument

    with session() as s:
        edges = list(s.exec(select(ProvEdge).where(ProvEdge.record_id.in_(record_ids))
                            .order_by(ProvEdge.id)))
    by_record: dict[str, list[ProvEdge]] = {}
    for e in edges:
        by_record.setdefault(e.record_id, []).append(e)
    out = {}
    for rid, es in by_record.items():
        doc = ProvDocument()
        doc.add_namespace("jd", "urn:jobdeck:")
        q = lambda n: "jd:" + n  # noqa: E731
        doc.activity(q(rid))
        for e in es:
            s_, o = q(e.subject), q(e.object)
            if e.relation == "used":
                doc.used(s_, o)
            elif e.relation == "wasGeneratedBy":
                doc.wasGeneratedBy(s_, o)
            elif e.relation == "wasAssociatedWith":
                doc.wasAssociatedWith(s_, o)
            elif e.relation == "wasAttributedTo":
                doc.wasAttributedTo(s_, o)
            elif e.relation == "wasDerivedFrom":
                doc.wasDerivedFrom(s_, o)
        out[rid] = doc.serialize(format="json")
    return out


def job_status_tables(jobs: list[Job]) -> list[dict[str, Any]]:
    record_ids = [(j.result or {}).get("record_id") for j in jobs
                  if j.status == JobStatus.SUCCEEDED.value
                  and j.job_subtype in ("MODEL_RUN_PROV_LODGE", "MODEL_RUN_UPDATE")]
    prov = _prov_json_by_record([r for r in record_ids if r])
    return [job_status_table(j, prov.get((j.result or {}).get("record_id"))) for j in jobs]


def _is_provena(job: Job) -> bool:
    return (job.job_type, job.job_subtype) in PROVENA_KINDS


def fetch_job(*, actor: User, session_id: str, any_owner: bool = False) -> dict[str, Any]:
    """One job as Provena's JobStatusTable. The user route shows the caller's own jobs
    only (as Provena's does); the admin route, anyone's."""
    with session() as s:
        job = s.get(Job, session_id)
    if (job is None or not _is_provena(job)
            or not (job.owner == actor.username or (any_owner and actor.may_launch_any))):
        raise UnknownSession(f"No job with session id {session_id!r} is visible to {actor.username} "
                             f"through the Provena job API.", session_id=session_id)
    return job_status_tables([job])[0]


# --- lists -------------------------------------------------------------------------


def _cursor_from(pagination_key: Optional[dict[str, Any]]) -> Optional[str]:
    if pagination_key is None:
        return None
    cursor = pagination_key.get("cursor") if isinstance(pagination_key, dict) else None
    if not isinstance(cursor, str) or not cursor:
        raise BadRequest("The pagination_key is not one this server gave out: send back the "
                         "pagination_key of the previous answer unchanged.", field="pagination_key")
    return cursor


def _answer(page: queries.JobPage) -> dict[str, Any]:
    return {"jobs": job_status_tables(page.jobs),
            "pagination_key": {"cursor": page.next_cursor} if page.next_cursor else None}


def _paged(fn, **kw) -> dict[str, Any]:
    try:
        return _answer(fn(**kw))
    except InvalidInput as exc:
        if exc.field == "cursor":
            raise BadRequest("The pagination_key is not one this server gave out.",
                             field="pagination_key") from None
        raise


def list_jobs(*, actor: User, limit: int = 10, pagination_key: Optional[dict[str, Any]] = None,
              username_filter: Optional[str] = None, all_users: bool = False) -> dict[str, Any]:
    """The caller's jobs newest first (user route), or everyone's / one user's (admin)."""
    if all_users and not actor.may_launch_any:
        raise PermissionDenied("Listing every user's jobs is for admins and services.")
    flt = queries.JobFilter(kinds=PROVENA_KINDS)
    if all_users:
        return _paged(queries.list_jobs, viewer=actor, owner=username_filter or None, all_users=True,
                      filters=flt, cursor=_cursor_from(pagination_key), limit=limit)
    flt.owner = actor.username  # admins calling the user route see their own jobs, as in Provena
    return _paged(queries.list_jobs, viewer=actor, filters=flt, cursor=_cursor_from(pagination_key),
                  limit=limit)


def list_batch(*, actor: User, batch_id: str, limit: int = 10, pagination_key: Optional[dict[str, Any]] = None,
               username_filter: Optional[str] = None, any_owner: bool = False) -> dict[str, Any]:
    """The jobs of one batch, newest first: the caller's (user route), or anyone's,
    optionally one user's (admin route)."""
    owner = (username_filter or None) if any_owner and actor.may_launch_any else actor.username
    try:
        batch = queries.get_batch(viewer=actor, batch_id=batch_id)
    except NotFound:
        batch = None
    if batch is None or (not any_owner and batch.owner != actor.username):
        raise BadRequest(f"No batch {batch_id!r} is visible to {actor.username}.", field="batch_id")
    flt = queries.JobFilter(kinds=PROVENA_KINDS, owner=owner)
    return _paged(queries.batch_jobs, viewer=actor, batch_id=batch_id, filters=flt,
                  cursor=_cursor_from(pagination_key), limit=limit)


# --- launching -----------------------------------------------------------------------


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


# Provena's own payloads for the subtypes Jobdeck shares, turned into Jobdeck's. Each is
# used only when the payload carries the Provena field named first.
_FROM_PROVENA = {
    "MODEL_RUN_PROV_LODGE": ("user_info", lambda p: _drop_none(
        {"record": p.get("record"), "revalidate": p.get("revalidate")})),
    "MODEL_RUN_BATCH_SUBMIT": ("user_info", lambda p: {"records": p.get("records")}),
    "MODEL_RUN_UPDATE": ("model_run_record_id", lambda p: {
        "model_run_id": p.get("model_run_record_id"), "reason": p.get("reason"),
        "record": p.get("updated_record")}),
    "REGISTER_CREATE_ACTIVITY": ("created_item_id", lambda p: {"item_id": p.get("created_item_id")}),
    "SEND_EMAIL": ("email_to", lambda p: _drop_none({"to": p.get("email_to"), "subject": p.get("subject"),
                                                     "body": p.get("body")})),
    "REGISTER_VERSION_ACTIVITY": ("from_version_id", lambda p: {
        "from_item_id": p.get("from_version_id"), "to_item_id": p.get("to_version_id"),
        "reason": p.get("reason"), "version": p.get("version_number")}),
    "LODGE_CREATE_ACTIVITY": ("creation_activity_id", lambda p: {
        "item_id": p.get("created_item_id"), "activity_id": p.get("creation_activity_id")}),
    "LODGE_VERSION_ACTIVITY": ("version_activity_id", lambda p: {
        "from_item_id": p.get("from_version_id"), "to_item_id": p.get("to_version_id"),
        "activity_id": p.get("version_activity_id")}),
    "PROV_LODGE_WAKE_UP": ("reason", lambda p: {}),
    "REGISTRY_WAKE_UP": ("reason", lambda p: {}),
}


def jobdeck_payload(job_subtype: str, payload: dict[str, Any]) -> dict[str, Any]:
    """Accept Jobdeck's payload as it is, or Provena's payload for the same subtype
    (its encrypted user_info and linked ids are not needed: Jobdeck knows the owner)."""
    marker, convert = _FROM_PROVENA.get(job_subtype, (None, None))
    if marker and isinstance(payload, dict) and marker in payload:
        return convert(payload)
    return payload


def _check_kind(job_type: str, job_subtype: str) -> None:
    if (job_type, job_subtype) not in PROVENA_KINDS:
        known = ", ".join(f"{t}/{s}" for t, s in (PROVENA_NAMES.get(k, k) for k in PROVENA_KINDS))
        raise BadRequest(f"Jobdeck does not run {job_type}/{job_subtype} jobs through the Provena "
                         f"job API; it runs {known}.", field="job_sub_type")


def admin_launch(*, actor: User, job_type: str, job_subtype: str, payload: dict[str, Any],
                 username: Optional[str] = None, request_batch_id: bool = False,
                 add_to_batch: Optional[str] = None) -> dict[str, Any]:
    """Provena's admin launch: one job for `username` (default the caller), in a new
    batch (`request_batch_id`) or an existing one (`add_to_batch`)."""
    job_type, job_subtype = JOBDECK_NAMES.get((job_type, job_subtype), (job_type, job_subtype))
    _check_kind(job_type, job_subtype)
    if request_batch_id and add_to_batch:
        raise BadRequest("Ask for a new batch or name an existing one, not both.", field="add_to_batch")
    payload = jobdeck_payload(job_subtype, payload)
    if username and username != actor.username:
        from app.auth import find_user
        if find_user(username) is None:
            raise BadRequest(f"No user {username!r}.", field="username")
    if request_batch_id:
        # One transaction for the batch and its job: a failed launch leaves no empty batch.
        batch = launch.launch_batch(actor=actor, job_type=job_type, job_subtype=job_subtype,
                                    payloads=[payload], owner=username, label="Launched through the Provena API")
        with session() as s:
            job_id = s.exec(select(Job.id).where(Job.batch_id == batch.id)).first()
        return {"session_id": job_id, "batch_id": batch.id}
    try:
        job = launch.launch_job(actor=actor, job_type=job_type, job_subtype=job_subtype, payload=payload,
                                owner=username, batch_id=add_to_batch)
    except NotFound as exc:
        raise BadRequest(exc.message, field="add_to_batch") from None
    return {"session_id": job.id, "batch_id": job.batch_id}


def lodge(*, actor: User, job_subtype: str, payload: dict[str, Any]) -> str:
    """Lodge one of the PROV_LODGE jobs a user may start (model run register, batch,
    update); returns its session id. Register and update check the record against the
    registry first, as Provena does (a 400 with its words); a batch's records are
    checked by their own jobs."""
    if job_subtype in ("MODEL_RUN_PROV_LODGE", "MODEL_RUN_UPDATE"):
        with session() as s:
            modelrun_rules.refuse_as_provena(s.connection(), payload["record"])
    return launch.launch_job(actor=actor, job_type="PROV_LODGE", job_subtype=job_subtype, payload=payload).id


# --- registry --------------------------------------------------------------------------


def _subtype_for(category: str, subtype: str) -> str:
    try:
        return REGISTRY_ROUTES[(category, subtype)]
    except KeyError:
        raise NotFound(f"No registry route for {category}/{subtype}.") from None


def provena_item(item: Item) -> dict[str, Any]:
    """An item in Provena's registry shape: its domain info (kept as the item's
    record) with the record info Provena adds around it."""
    domain = item_kinds.domain_info(item.subtype, item.record or {}, item.description or "")
    domain["display_name"] = item.display_name
    created = int(item.created_at.timestamp())
    return {
        **domain,
        "id": item.id,
        "owner_username": item.owner,
        "created_timestamp": created,
        "updated_timestamp": int(item.updated_at.timestamp()),
        "item_category": CATEGORY_OF.get(item.subtype, "ENTITY"),
        "item_subtype": item.subtype,
        "record_type": item.record_type,
        "workflow_links": {"create_activity_workflow_id": item.create_workflow_id,
                           "version_activity_workflow_id": item.version_workflow_id},
        "versioning_info": {"previous_version": item.previous_version_id, "version": item.version,
                            "reason": item.version_reason, "next_version": item.next_version_id},
        "history": [{"id": 0, "timestamp": created,
                     "reason": item.version_reason or "Initial record creation",
                     "username": item.owner, "item": domain}],
    }


def create_item(*, actor: User, category: str, subtype: str, domain_info: dict[str, Any]) -> dict[str, Any]:
    """Provena's registry create: the domain info becomes the item's record, and the
    create workflow is lodged; its first job's id is the session id to poll."""
    item_subtype = _subtype_for(category, subtype)
    check_json(domain_info, "body", RECORD)  # the body is the domain info; it becomes the record
    display_name = domain_info.get("display_name") if isinstance(domain_info, dict) else None
    if not isinstance(display_name, str) or not display_name.strip():
        raise InvalidInput("display_name is required: a non-empty string.", field="display_name")
    description = domain_info.get("description")
    record = {k: v for k, v in domain_info.items() if k != "display_name"}
    item, job = registry.create_item(actor=actor, subtype=item_subtype, display_name=display_name,
                                     description=description if isinstance(description, str) else "",
                                     record=record)
    return {"status": {"success": True,
                       "details": f"Created {item_subtype.lower()} {item.id}; its create workflow is "
                                  f"job {job.id}."},
            "created_item": provena_item(item),
            "register_create_activity_session_id": job.id}


def version_item(*, actor: User, category: str, subtype: str, item_id: str, reason: str) -> dict[str, Any]:
    """Provena's registry version: a new version of the item and its version workflow."""
    item_subtype = _subtype_for(category, subtype)
    try:
        old = registry.get_item(item_id)
    except NotFound:
        raise BadRequest(f"No item {item_id!r} in the registry.", field="id") from None
    if old.subtype != item_subtype:
        raise BadRequest(f"Item {item_id} is a {old.subtype}, not a {item_subtype}; use its own "
                         f"registry route.", field="id")
    new, job = registry.version_item(actor=actor, item_id=item_id, reason=reason)
    return {"new_version_id": new.id, "version_job_session_id": job.id}
