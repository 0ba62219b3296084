"""Property-based tests of the REST API's input boundaries (hypothesis): payloads,
item records, model-run records, cursors, search strings, upload names and pipeline
parameters, each drawn from hostile as well as ordinary values. For every request:
never a 5xx; a refusal (4xx) leaves every table as it was; whatever a 2xx stored reads
back, alone and in the lists that hold it.

Example counts are modest (the whole module runs in about a minute on 2 cores); in CI
(CI=true) the examples are derandomized, so a run there is reproducible.
"""

from __future__ import annotations

import base64
import json
import math
import os
from datetime import datetime, timedelta, timezone
from urllib.parse import quote, unquote

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings, strategies as st
from tests.conftest import module_jobdeck

EXAMPLES = 30
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, derandomize=bool(os.environ.get("CI")),
                    suppress_health_check=list(HealthCheck))

# Text of every kind, control characters and lone surrogates included (the latter are
# sent as JSON escapes: no client can encode them as UTF-8).
ANY_TEXT = st.text(st.characters(codec=None), max_size=40)
SENDABLE_TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
JSON_SCALARS = (st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
                | st.floats(allow_nan=True, allow_infinity=True) | ANY_TEXT)
JSON_VALUES = st.recursive(JSON_SCALARS, lambda kids: st.lists(kids, max_size=4)
                           | st.dictionaries(ANY_TEXT, kids, max_size=4), max_leaves=30)


def deep(value, depth: int):
    for _ in range(depth):
        value = {"a": value}
    return value


# Mostly ordinary records, some nested past the limit, some with hostile leaves.
RECORDS = st.one_of(st.dictionaries(ANY_TEXT, JSON_VALUES, max_size=5),
                    st.builds(deep, st.dictionaries(ANY_TEXT, JSON_VALUES, max_size=2),
                              st.integers(min_value=20, max_value=400)))


@pytest.fixture(scope="module")
def env(tmp_path_factory, redis_server):
    from app import auth, registry
    from app.api import build_api

    with module_jobdeck(tmp_path_factory, redis_server, "props"):
        auth.create_user(username="root", password="root-password", role="admin")
        alice = auth.create_user(username="alice", password="alice-password")
        from app.demo import model_run_world

        made = model_run_world(alice)
        for name in ("rain 100%", "a_b", "axb", "back\\slash"):
            registry.create_item(actor=alice, subtype="DATASET", display_name=name)
        tokens = {"root": auth.create_token(owner="root")[0], "alice": auth.create_token(owner="alice")[0]}
        with TestClient(build_api(), raise_server_exceptions=False) as client:
            client.as_ = lambda name: {"Authorization": f"Bearer {tokens[name]}"}
            client.items = made
            yield client


# The audit log records refusals too, by design (who was refused what): not a write of
# the refused request's own.
AUDIT_TABLES = {"auditentry", "audithead"}


def rows() -> dict[str, int]:
    from app.db import get_engine
    from app.models import TABLES

    with get_engine().connect() as conn:
        return {t.name: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
                for t in TABLES.sorted_tables if t.name not in AUDIT_TABLES}


def post_json(api, path: str, body, who: str):
    """POST `body` as JSON text the way a hostile client can: NaN, Infinity and lone
    surrogates (as \\ud800 escapes) included."""
    return api.post(path, content=json.dumps(body, allow_nan=True).encode(),
                    headers={**api.as_(who), "content-type": "application/json"})


def checked(r, before: dict[str, int]):
    assert r.status_code < 500, r.text
    if r.status_code >= 400:
        assert r.headers["content-type"].startswith("application/problem+json"), r.text
        assert r.json().get("detail"), r.text
        assert rows() == before, f"a refused request ({r.status_code}) wrote: {r.text}"
    return r


def same_json(a, b) -> bool:
    """Equal as JSON reads them back (a float that is a whole number may come back as
    either; 0.0 and -0.0 are one)."""
    if isinstance(a, float) or isinstance(b, float):
        return isinstance(a, (int, float)) and isinstance(b, (int, float)) and math.isclose(a, b, abs_tol=0)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_json(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_json(x, y) for x, y in zip(a, b))
    return a == b


@SETTINGS
@given(record=RECORDS, name=ANY_TEXT, description=ANY_TEXT, subtype=st.sampled_from(["DATASET", "MODEL", "NOPE"]))
def test_items_any_record_and_names(env, record, name, description, subtype):
    before = rows()
    r = checked(post_json(env, "/api/items", {"subtype": subtype, "display_name": name, "description": description,
                                              "record": record}, "alice"), before)
    if r.status_code == 201:
        item = r.json()["item"]
        got = env.get(f"/api/items/{item['id']}", headers=env.as_("alice"))
        assert got.status_code == 200 and same_json(got.json()["record"], record)
        assert got.json()["display_name"] == name
        for params in ({"limit": 5}, {"subtype": subtype, "limit": 5}, {"q": item["id"]}):
            page = env.get("/api/items", params=params, headers=env.as_("alice"))
            assert page.status_code == 200, page.text
        assert env.get("/api/items", params={"q": item["id"]}, headers=env.as_("alice")).json()["items"][0]["id"] \
            == item["id"]


@SETTINGS
@given(payload=st.one_of(st.dictionaries(ANY_TEXT, JSON_VALUES, max_size=4),
                         st.fixed_dictionaries({"sleep_s": JSON_SCALARS, "outcome": JSON_SCALARS}),
                         st.builds(deep, st.just({}), st.integers(min_value=30, max_value=300))),
       job_type=st.sampled_from(["SYSTEM", "REGISTRY", "PROV_LODGE", "NOPE"]) | SENDABLE_TEXT,
       job_subtype=st.sampled_from(["NOOP", "FLAKY", "REGISTER_CREATE_ACTIVITY", "MODEL_RUN_PROV_LODGE"]) | ANY_TEXT,
       batch=st.booleans())
def test_job_payloads(env, payload, job_type, job_subtype, batch):
    before = rows()
    if batch:
        r = checked(post_json(env, "/api/batches", {"job_type": job_type, "job_subtype": job_subtype,
                                                    "payloads": [payload]}, "root"), before)
        if r.status_code == 201:
            got = env.get(f"/api/batches/{r.json()['id']}/jobs", headers=env.as_("root"))
            assert got.status_code == 200 and len(got.json()["jobs"]) == 1
    else:
        r = checked(post_json(env, "/api/jobs", {"job_type": job_type, "job_subtype": job_subtype,
                                                 "payload": payload}, "root"), before)
        if r.status_code == 201:
            got = env.get(f"/api/jobs/{r.json()['id']}", headers=env.as_("root"))
            assert got.status_code == 200 and got.json()["payload"] == r.json()["payload"]
    assert env.get("/api/jobs", params={"limit": 3}, headers=env.as_("root")).status_code == 200


@SETTINGS
@given(display_name=ANY_TEXT, description=ANY_TEXT, annotations=st.none() | st.dictionaries(ANY_TEXT, ANY_TEXT, max_size=3),
       start=st.integers(min_value=-5, max_value=2**64), span=st.integers(min_value=-5, max_value=10**6),
       version=st.none() | ANY_TEXT)
def test_model_run_records(env, display_name, description, annotations, start, span, version):
    it = env.items
    record = {"workflow_template_id": it["wf"].id, "display_name": display_name, "description": description,
              "associations": {"modeller_id": it["person"].id}, "start_time": start, "end_time": start + span,
              "inputs": [{"dataset_template_id": it["template"].id, "dataset_id": it["rain"].id}],
              "annotations": annotations, "model_version": version}
    before = rows()
    r = checked(post_json(env, "/api/model-runs", record, "alice"), before)
    if r.status_code == 201:
        got = env.get(f"/api/jobs/{r.json()['id']}", headers=env.as_("alice")).json()
        assert got["payload"]["record"]["display_name"] == display_name
        assert got["payload"]["record"]["annotations"] == annotations


def _cursor_text(ts: datetime, id_: str) -> str:
    return base64.urlsafe_b64encode(f"{ts.isoformat()}|{id_}".encode("utf-8", "surrogatepass")).decode()


OFFSETS = st.none() | st.integers(min_value=-23 * 60, max_value=23 * 60).map(
    lambda m: timezone(timedelta(minutes=m)))
CURSORS = st.one_of(
    SENDABLE_TEXT,
    st.builds(_cursor_text, st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59),
                                         timezones=OFFSETS), ANY_TEXT),
    st.binary(max_size=60).map(lambda b: base64.urlsafe_b64encode(b).decode()),
)


@SETTINGS
@given(cursor=CURSORS, where=st.sampled_from([("/api/jobs", "alice"), ("/api/items", "alice"),
                                              ("/api/batches", "alice"), ("/api/admin/submissions", "root"),
                                              ("/api/admin/jobs", "root"), ("provena", "alice")]))
def test_cursors(env, cursor, where):
    path, who = where
    if path == "provena":
        r = post_json(env, "/api/provena/jobs/user/list", {"pagination_key": {"cursor": cursor}}, who)
        assert r.status_code in (200, 400, 422), r.text
        if r.status_code == 400:
            assert r.json()["field"] == "pagination_key"
        return
    r = env.get(path, params={"cursor": cursor}, headers=env.as_(who))
    assert r.status_code in (200, 400, 422), r.text
    if r.status_code == 400:
        assert r.json()["field"] == "cursor"


def _found_by(q: str, name: str) -> bool:
    """What the items search promises (app.item_search): the start of the name for a
    search ending in * (folded by the database: ASCII letters on SQLite, the locale's on
    PostgreSQL), else every word somewhere in the name, any case."""
    if q.endswith("*") and q.rstrip("*").strip():
        start = q.rstrip("*").strip()
        ascii_lower = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
        return any(f(name).startswith(f(start)) for f in (lambda t: t.translate(ascii_lower), str.lower))
    return all(w in name.casefold() for w in q.casefold().split())


@SETTINGS
@given(q=ANY_TEXT | st.sampled_from(["%", "_", "\\", "%_%", "100%", "a_b", "%00", "\x00"]))
def test_search_strings(env, q):
    # Sent percent-encoded as a client would (a lone surrogate as its raw bytes).
    quoted = quote(q.encode("utf-8", "surrogatepass"), safe="")
    r = env.get(f"/api/items?q={quoted}", headers=env.as_("alice"))
    assert r.status_code in (200, 422), r.text
    if r.status_code == 200:
        text = unquote(quoted).strip()  # as the server reads it
        for item in r.json()["items"]:
            assert _found_by(text, item["display_name"]) or item["id"] == text, (text, item)
    else:
        assert r.json()["field"] in ("q", "query.q"), r.text


@pytest.fixture(scope="module")
def pipeline(env):
    from tests.integration.test_api_pipelines import TASKS

    for t in TASKS:
        assert env.post("/api/tasks", json=t, headers=env.as_("root")).status_code == 201
    # Fair use off: every example's run stays live (no worker runs), and a 429 after the
    # hard limit would hide what the examples past it send.
    r = env.post("/api/pipelines", json={"name": "Words", "steps": [{"order": 1, "task": "word frequencies"}],
                                         "queue_hog_size": 0, "queue_hard_limit": 0},
                 headers=env.as_("root"))
    assert r.status_code == 201, r.text
    return r.json()


@SETTINGS
@given(name=SENDABLE_TEXT, parameters=st.one_of(
    st.dictionaries(ANY_TEXT, JSON_VALUES, max_size=3).map(lambda d: json.dumps(d, allow_nan=True)),
    st.fixed_dictionaries({"top": JSON_VALUES}).map(lambda d: json.dumps(d, allow_nan=True)),
    SENDABLE_TEXT))
def test_upload_names_and_pipeline_parameters(env, pipeline, name, parameters):
    before = rows()
    try:
        files = {"file": (name, b"to be or not to be\n", "text/plain")}
        r = env.post(f"/api/pipelines/{pipeline['id']}/runs", headers=env.as_("alice"), files=files,
                     data={"parameters": parameters})
    except UnicodeEncodeError:
        return  # a name the client itself cannot send
    checked(r, before)
    if r.status_code == 201:
        got = env.get(f"/api/jobs/{r.json()['session_id']}", headers=env.as_("alice"))
        assert got.status_code == 200 and got.json()["payload"]["upload"]["name"]
