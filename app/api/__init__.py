"""The REST API (FastAPI), mounted by the Reflex app; every route lives under /api."""

from fastapi import FastAPI

from app.api import provena
from app.api.deps import install_error_handlers


def build_api() -> FastAPI:
    api = FastAPI(title="Jobdeck API", version="1.0", docs_url=None, redoc_url=None,
                  openapi_url="/api/openapi.json")
    install_error_handlers(api)

    @api.get("/api/health", tags=["system"])
    def health() -> dict:
        return {"status": "ok"}

    api.include_router(provena.router)
    return api
