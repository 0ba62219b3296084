"""Analytics Automated's REST routes under /analytics_automated (AA-COMPAT), so its web
front ends and users' scripts work unchanged: submission (POST a batch; GET a batch or
one submission), job list and detail, endpoints, jobtimes, and the files a submission
names. Answers are always JSON (with `?format=json`, a `.json` suffix or neither),
compact, keys in A_A's order. List routes take a trailing slash (without: 301),
detail routes refuse one (404).

A public pipeline takes submissions without a token (owned by the built-in anonymous
user, counted by client address); any other needs `Authorization: Bearer <token>`.
A submission and its files are read by UUID alone, as in A_A.
"""

from __future__ import annotations

import logging
import math
import re
from typing import Any, Optional

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from app import aa_compat as aa
from app import auth, estimates, pipelines, ratelimit
from app.aa_compat import AARefused
from app.api import auditctx
from app.api.deps import client_address
from app.errors import (Conflict, InputNotValid, InvalidInput, JobdeckError, ParameterRefused, PayloadTooLarge,
                        TooManyActive)
from app.models import User
from app.settings import get_settings

log = logging.getLogger(__name__)

ROOT = aa.ROOT
router = APIRouter(prefix=ROOT, include_in_schema=False)
PAGE_SIZE = 10
FOUR = ("job", "submission_name", "email", "input_data")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _json(body: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(body, status_code=status)


def _not_found(detail: str = "Not found.") -> JSONResponse:
    return _json({"detail": detail}, 404)


def _format_ok(request: Request) -> bool:
    """DRF answers 404 to a format it does not render; Jobdeck renders JSON only."""
    return request.query_params.get("format", "json") == "json"


def _slash(request: Request) -> RedirectResponse:
    url = request.url.replace(path=request.url.path + "/")
    return RedirectResponse(str(url), status_code=301)


def _caller(request: Request) -> Optional[User]:
    """The token's user, or None for a caller who sent none."""
    header = request.headers.get("authorization", "")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AARefused(401, "Send a personal API token as 'Authorization: Bearer <token>'.")
    user = auth.user_for_token(token.strip())
    ratelimit.check_token(token.strip())
    return user


# --- submission ------------------------------------------------------------------------------


def _refusal(exc: JobdeckError, job: str) -> AARefused:
    """A refusal from inside run_pipeline, in A_A's words; one the domain recorded
    stays marked so (the route records the others, once)."""
    refusal = _in_aa_words(exc, job)
    refusal.audited = getattr(exc, "audited", False)
    return refusal


def _in_aa_words(exc: JobdeckError, job: str) -> AARefused:
    if isinstance(exc, AARefused):
        return exc
    if isinstance(exc, TooManyActive):
        return AARefused(429, f"You have no authority to post jobs.Either you are not logged in you have too many, "
                              f"{exc.active}, concurrent jobs running")
    if isinstance(exc, InputNotValid):
        return AARefused(400, {"input_data": ["Input data could not be validated"]})
    if isinstance(exc, ParameterRefused):
        return aa.missing(job, exc.message.rstrip("."))
    if isinstance(exc, PayloadTooLarge) or (isinstance(exc, InvalidInput) and exc.field == "file"):
        return AARefused(400, {"input_data": [exc.message]})
    if isinstance(exc, Conflict):
        return AARefused(400, f"Job Requested: {job} appears to have no Steps")
    return AARefused(exc.status_code, exc.message)


def _submit(*, user: Optional[User], address: str, fields: dict[str, str], file_name: str,
            content: Optional[bytes]) -> dict[str, Any]:
    names = fields["job"].split(",")
    known = {p.name: p for p in pipelines.list_pipelines(actor=user)}
    if not all(n in known for n in names):
        raise AARefused(400, "Job name supplied does not exist")
    infos = [known[n] for n in names]
    for info in infos:
        if user is None and not info.public:
            raise AARefused(401, f"{info.name} is not public: send a personal API token as "
                                 f"'Authorization: Bearer <token>'.")
    extras = {k: v for k, v in fields.items() if k not in FOUR}
    params = [aa.check_job(info, extras) for info in infos]
    errors = aa.form_errors(submission_name=fields["submission_name"], email=fields["email"], upload=content)
    if errors:
        raise AARefused(400, errors)
    limit = get_settings().max_upload_bytes
    if len(content) > limit:
        raise AARefused(400, {"input_data": [f"The file is larger than {limit} bytes, the most a job takes."]})
    actor = user or aa.anonymous_user()
    batch = pipelines.RunBatch(owner=actor.username, label=fields["submission_name"].strip())
    job = infos[0].name
    try:
        for info, values in zip(infos, params):
            job = info.name
            pipelines.run_pipeline(actor=actor, pipeline=info.id, file_name=aa.upload_name(file_name),
                                   content=content, parameters=values,
                                   client_addr=None if user else address, email=fields["email"].strip(),
                                   into=batch)
    except JobdeckError as exc:
        batch.discard()
        raise _refusal(exc, job) from None
    except OSError as exc:
        batch.discard()
        log.error("A_A submission could not be stored: %s", exc)
        raise AARefused(507, f"The submission could not be stored: {exc.strerror or exc}") from None
    batch.lodge()
    log.info("A_A batch %s (%s) lodged by %s", batch.id, ",".join(names), actor.username)
    return {"UUID": batch.id, "submission_name": batch.label}


async def _post_submission(request: Request) -> JSONResponse:
    ctype = request.headers.get("content-type", "")
    if not ctype.lower().startswith("multipart/form-data"):
        return _json({"detail": f"Unsupported media type \"{ctype.split(';')[0]}\" in request."}, 415)
    try:
        form = await request.form(max_files=20, max_fields=2000)
    except Exception as exc:  # a malformed body is the caller's
        return _json({"detail": f"Multipart form parse error - {exc}"}, 400)
    fields: dict[str, str] = {}
    upload: Optional[UploadFile] = None
    for key, value in form.multi_items():
        if isinstance(value, UploadFile):
            if key == "input_data":
                upload = value
        else:
            fields[key] = value
    try:
        if not all(k in fields for k in ("submission_name", "email", "job")):
            raise AARefused(400, "Input does not contain all required fields")
        user = _caller(request)
        content = None
        if upload is not None:
            content = await upload.read(get_settings().max_upload_bytes + 1)
        answer = await run_in_threadpool(lambda: _submit(user=user, address=client_address(request), fields=fields,
                                                         file_name=upload.filename or "" if upload else "",
                                                         content=content))
    except JobdeckError as exc:
        refused = exc if isinstance(exc, AARefused) else AARefused(exc.status_code, exc.message)
        refused.audited = getattr(exc, "audited", False)
        # Answered here, past the API's error handlers: recorded as they record theirs.
        await auditctx.refused(request, refused.status_code, refused.message, refused, kinds=auditctx.AA_REFUSALS)
        return _json({"error": refused.error}, refused.status_code)
    finally:
        await form.close()
    return _json(answer, 201)


@router.post("/submission/")
async def post_submission(request: Request):
    return await _post_submission(request)


@router.post("/submission.json")
async def post_submission_json(request: Request):
    return await _post_submission(request)


@router.api_route("/submission", methods=["GET", "POST"])
def submission_no_slash(request: Request):
    return _slash(request)


def _uuid(text: str) -> Optional[str]:
    text = text[:-5] if text.endswith(".json") else text
    return text if _UUID.fullmatch(text) else None


@router.get("/submission/single/{uuid}")
def get_single(uuid: str, request: Request):
    u = _uuid(uuid)
    found = aa.single(u) if u and _format_ok(request) else None
    return _json(found) if found else _not_found()


@router.get("/submission/{uuid}")
def get_batch(uuid: str, request: Request):
    u = _uuid(uuid)
    found = aa.batch(u) if u and _format_ok(request) else None
    return _json(found) if found else _not_found()


# --- jobs -------------------------------------------------------------------------------------


def _page_url(request: Request, page: int) -> str:
    url = request.url.remove_query_params("page") if page == 1 else request.url.include_query_params(page=page)
    return str(url)


def _list_route(path: str, read) -> None:
    """A list route as A_A answers it: `path/` and `path.json` read it, `path` without
    the slash is redirected to it."""
    router.add_api_route(f"/{path}/", read, methods=["GET"], name=f"aa_{path}")
    router.add_api_route(f"/{path}.json", read, methods=["GET"], name=f"aa_{path}_json")
    router.add_api_route(f"/{path}", _slash, methods=["GET"], name=f"aa_{path}_no_slash")


def _job_list(request: Request) -> JSONResponse:
    if not _format_ok(request):
        return _not_found()
    rows = sorted(pipelines.list_pipelines(actor=None), key=lambda p: p.id)
    pages = max(1, math.ceil(len(rows) / PAGE_SIZE))
    raw = request.query_params.get("page", "1")
    page = pages if raw == "last" else (int(raw) if raw.isdigit() else 0)
    if not 1 <= page <= pages:
        return _not_found("Invalid page.")
    chunk = rows[(page - 1) * PAGE_SIZE:page * PAGE_SIZE]
    return _json({"count": len(rows), "next": _page_url(request, page + 1) if page < pages else None,
                  "previous": _page_url(request, page - 1) if page > 1 else None,
                  "results": [{"pk": p.id, "name": p.name} for p in chunk]})


_list_route("job", _job_list)


@router.get("/job/{name}")
def job_detail(name: str, request: Request):
    found = [p for p in pipelines.list_pipelines(actor=None) if p.name == name] if _format_ok(request) else []
    return _json(aa.job_detail(found[0])) if found else _not_found()


def _endpoints(request: Request) -> JSONResponse:
    if not _format_ok(request):
        return _not_found()
    rows = sorted(pipelines.list_pipelines(actor=None), key=lambda p: p.id)
    return _json({"jobs": [aa.endpoint(p) for p in rows]})


_list_route("endpoints", _endpoints)


def _jobtimes(request: Request) -> JSONResponse:
    return _json(estimates.jobtimes()) if _format_ok(request) else _not_found()


_list_route("jobtimes", _jobtimes)


# --- files ------------------------------------------------------------------------------------


@router.get("/submissions/{name}")
def submission_file(name: str) -> Response:
    found = aa.result_file(name)
    if found is None:
        return _not_found()
    path, kind = found
    return FileResponse(path, media_type=kind, filename=name, content_disposition_type="inline")


@router.api_route("/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
def unknown(rest: str):
    return _not_found()
