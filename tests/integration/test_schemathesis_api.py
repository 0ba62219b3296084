"""Property-based fuzzing of the whole OpenAPI document (/api/openapi.json) with
schemathesis, against build_api() served by uvicorn: no answer may be a 5xx, and every
answer must match the document (status codes, media types, bodies).

It runs as an admin and, with fewer examples, as a user who is no admin. A bounded
number of examples per operation keeps this to about a minute and a half on 2 cores.
In CI (CI=true) the examples are derandomized, so a run there is reproducible; a local
run explores new ones each time.
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance, response_schema_conformance, status_code_conformance,
)

from tests.integration.api_live import LiveServer

EXAMPLES = 12


@pytest.fixture(scope="module")
def fuzz_env(tmp_path_factory, redis_server):
    from app import auth, queues, registry
    from app.db import dispose_engines, get_engine
    from app.models import TABLES
    from app.settings import reload_settings

    if redis_server.proc is None or redis_server.proc.poll() is not None:
        redis_server.start()
    d = tmp_path_factory.mktemp("fuzz")
    mp = pytest.MonkeyPatch()
    mp.setenv("JOBDECK_DATA_DIR", str(d / "data"))
    mp.setenv("JOBDECK_DATABASE_URL", f"sqlite:///{d / 'data' / 'jobdeck.db'}")
    mp.setenv("JOBDECK_REDIS_URL", redis_server.url)
    mp.setenv("JOBDECK_API_RATE_LIMIT", "0")
    dispose_engines()
    queues.reset_connections()
    reload_settings()
    TABLES.create_all(get_engine())
    queues.redis_conn().flushdb()
    root = auth.create_user(username="root", password="root-password", role="admin")
    registry.create_item(actor=root, subtype="DATASET", display_name="rain")
    auth.create_user(username="alice", password="alice-password")
    tokens = {"admin": auth.create_token(owner="root")[0], "user": auth.create_token(owner="alice")[0]}
    server = LiveServer().start()
    try:
        yield server, tokens
    finally:
        server.stop()
        queues.redis_conn().flushdb()
        dispose_engines()
        queues.reset_connections()
        mp.undo()
        reload_settings()


def _document() -> dict:
    from app.api import build_api

    return build_api().openapi()  # the very document the server serves at /api/openapi.json


schema = schemathesis.openapi.from_dict(_document())


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck),
          derandomize=bool(os.environ.get("CI")))
def test_api_fuzz(case, fuzz_env):
    _call(case, fuzz_env, "admin")


@schema.parametrize()
@settings(max_examples=EXAMPLES // 2, deadline=None, suppress_health_check=list(HealthCheck),
          derandomize=bool(os.environ.get("CI")))
def test_api_fuzz_as_a_user(case, fuzz_env):
    """The same document as a user who is no admin: refusals (403, 404) must be well
    formed too, never a 5xx."""
    _call(case, fuzz_env, "user")


def _call(case, fuzz_env, role: str) -> None:
    server, tokens = fuzz_env
    case.call_and_validate(base_url=server.url, headers={"Authorization": f"Bearer {tokens[role]}"},
                           checks=[not_a_server_error, status_code_conformance, content_type_conformance,
                                   response_schema_conformance])
