"""The REST API (FastAPI), mounted by the Reflex app under /api."""

from fastapi import FastAPI


def build_api() -> FastAPI:
    api = FastAPI(title="Jobdeck API", version="1.0", docs_url=None, redoc_url=None)

    @api.get("/api/health", tags=["system"])
    def health() -> dict:
        return {"status": "ok"}

    return api
