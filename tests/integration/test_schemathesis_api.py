"""Property-based fuzzing of the whole OpenAPI document (/api/openapi.json) with
schemathesis, against build_api() served by uvicorn: no answer may be a 5xx, and every
answer must match the document (status codes, media types, bodies).

It runs as an admin and, with fewer examples, as a user who is no admin; then the
stateful phase for each: sequences of calls chained by the links schemathesis infers
from the document (an id a POST or a list answered is fed to the routes that take it),
so routes are reached with real ids, not only 404s. Event streams (which stay open
until a job is final, and no worker runs here) are left out of the sequences. A bounded
number of examples keeps this to a few minutes on 2 cores. In CI (CI=true) the examples
are derandomized, so a run there is reproducible; a local run explores new ones each
time. Each test prints the cases it ran and the 5xx it saw (pytest -s shows them).
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
from tests.conftest import module_jobdeck

EXAMPLES = 12
STATEFUL = {"admin": 12, "user": 6}  # scenarios, each up to STEPS calls
STEPS = 8
SEEN: dict[str, dict[str, int]] = {}


@pytest.fixture(scope="module")
def fuzz_env(tmp_path_factory, redis_server):
    from app import auth, registry

    with module_jobdeck(tmp_path_factory, redis_server, "fuzz"):
        root = auth.create_user(username="root", password="root-password", role="admin")
        registry.create_item(actor=root, subtype="DATASET", display_name="rain")
        auth.create_user(username="alice", password="alice-password")
        tokens = {"admin": auth.create_token(owner="root")[0], "user": auth.create_token(owner="alice")[0]}
        server = LiveServer().start()
        try:
            yield server, tokens
        finally:
            server.stop()


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


CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def _count(phase: str, status: int) -> None:
    seen = SEEN.setdefault(phase, {"cases": 0, "5xx": 0})
    seen["cases"] += 1
    seen["5xx"] += status >= 500


@pytest.fixture(scope="module", autouse=True)
def _report():
    yield
    for phase, seen in sorted(SEEN.items()):
        print(f"\nschemathesis {phase}: {seen['cases']} cases, {seen['5xx']} answers 5xx")


def _call(case, fuzz_env, role: str) -> None:
    server, tokens = fuzz_env
    response = case.call(base_url=server.url, headers={"Authorization": f"Bearer {tokens[role]}"})
    _count(f"stateless as {role}", response.status_code)
    case.validate_response(response, checks=CHECKS)


def _workflow(fuzz_env, role: str):
    server, tokens = fuzz_env
    machine = schema.exclude(path_regex=r"/events$").as_state_machine()

    class Workflow(machine):
        def get_call_kwargs(self, case):
            return {"base_url": server.url, "headers": {"Authorization": f"Bearer {tokens[role]}"}}

        def after_call(self, response, case):
            _count(f"stateful as {role}", response.status_code)

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            case.validate_response(response, checks=CHECKS)

    return Workflow


@pytest.mark.parametrize("role", ["admin", "user"])
def test_api_stateful(fuzz_env, role):
    """Sequences of calls chained by the document's links, as an admin and as a user:
    no 5xx, every answer as documented, also on ids that exist."""
    _workflow(fuzz_env, role).run(settings=settings(
        max_examples=STATEFUL[role], stateful_step_count=STEPS, deadline=None,
        suppress_health_check=list(HealthCheck), derandomize=bool(os.environ.get("CI"))))
    assert SEEN[f"stateful as {role}"]["cases"] > 0
