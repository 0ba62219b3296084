"""The REST API (FastAPI), mounted by the Reflex app; every route lives under /api.

Its OpenAPI document is /api/openapi.json and its docs page /api/docs (assets served
by the app). Errors are problem details (RFC 9457); bodies are limited in size and
each API token in request rate (see app/settings.py); paths and queries hold no control
characters; HEAD answers as GET without the body; every answer carries the security
headers of app/web_security.py.
"""

import re
from functools import lru_cache

from fastapi import FastAPI, Request
from fastapi.openapi.utils import get_openapi

from app.api import (aa, admin, audit, bulk, config, docs, jobs, lineage, metrics, pipelines, provena, records,
                     registry, schedules, stream, tokens, users)
from app.api.deps import TITLES, install_error_handlers, problem
from app.api.schemas import Problem
from app.api.auditctx import AuditContext
from app.api.guards import HeadAsGet, UrlText
from app.api.limits import BodySizeLimit
from app.web_security import SecurityHeaders

DESCRIPTION = """Everything the Jobdeck console can do, with the same permissions.

Send a personal API token (from your profile page, or `POST /api/tokens`) as
`Authorization: Bearer jdk_…`. A job's id is its **session id**: fetch, watch
(`/events`, Server-Sent Events), cancel and retry it by that id. A job of another user
answers 404. Errors are `application/problem+json` with a `title` and a `detail`.
"""


def build_api() -> FastAPI:
    api = FastAPI(title="Jobdeck API", version="1.0", description=DESCRIPTION, docs_url=None,
                  redoc_url=None, openapi_url="/api/openapi.json")
    install_error_handlers(api)
    api.add_middleware(BodySizeLimit)
    api.add_middleware(BodySizeLimit, prefix=aa.ROOT)
    api.add_middleware(UrlText)
    api.add_middleware(HeadAsGet)
    api.add_middleware(AuditContext)
    api.add_middleware(SecurityHeaders)  # also when the API runs without the console (uvicorn)
    api.openapi = lambda: _document(api)

    @api.get("/api/health", tags=["system"], summary="Liveness (no token needed)")
    def health() -> dict:
        return {"status": "ok"}

    for router in (bulk.router, jobs.router, stream.router, registry.router, admin.router, config.router,
                   audit.router, users.router, schedules.router, tokens.router, docs.router, metrics.router):
        api.include_router(router)
    api.include_router(provena.router)
    api.include_router(lineage.router)
    api.include_router(lineage.provena_router)
    api.include_router(pipelines.router)
    api.include_router(records.router)
    api.include_router(aa.router)  # Analytics Automated's routes, under their own root

    # Last: an unknown /api path answers problem details (not the console's page), and a
    # known path with the wrong method 405 (this route would otherwise hide Starlette's).
    @api.api_route("/api/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
                   include_in_schema=False)
    def unknown(rest: str, request: Request):
        allowed = _methods_of(api, request.url.path)
        if allowed:
            return problem(405, f"{request.method} is not allowed here; use {', '.join(allowed)}.",
                           headers={"Allow": ", ".join(allowed)})
        return problem(404, f"No API route {request.url.path}.")

    return api


@lru_cache(maxsize=8)
def _path_patterns(api: FastAPI) -> tuple[tuple[re.Pattern, tuple[str, ...]], ...]:
    out = []
    for template, ops in api.openapi()["paths"].items():
        parts = re.split(r"(\{[^}]+\})", template)
        regex = "".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts)
        out.append((re.compile(regex), tuple(sorted(m.upper() for m in ops))))
    return tuple(out)


def _methods_of(api: FastAPI, path: str) -> list[str]:
    return sorted({m for pattern, methods in _path_patterns(api) if pattern.fullmatch(path) for m in methods})


def _document(api: FastAPI) -> dict:
    """The OpenAPI document, saying what every route really answers: every error is
    problem details; routes with a token may answer 401 and 429, routes with a body 413,
    and any route 400 (a request the domain refuses) or 503 (the database is away)."""
    if api.openapi_schema:
        return api.openapi_schema
    doc = get_openapi(title=api.title, version=api.version, description=api.description, routes=api.routes)
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    schemas["Problem"] = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    problem_content = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for path, ops in doc.get("paths", {}).items():
        for op in ops.values():
            answers = op.setdefault("responses", {})
            extra = [400, 422, 503]
            if op.get("security"):
                extra += [401, 429]
            if op.get("requestBody"):
                extra += [413]
            for code in extra:
                answers.setdefault(str(code), {"description": TITLES[code]})
            for code, answer in answers.items():
                if code[0] in "45":
                    answer["content"] = problem_content
    api.openapi_schema = doc
    return doc
