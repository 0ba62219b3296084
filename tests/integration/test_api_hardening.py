"""Hostile input at the REST API's edges: each gets a 4xx naming the field, writes
nothing, and anything stored reads back. Deep or oversized free-form JSON (records,
payloads, parameters), forged cursors, control characters in any text, LIKE wildcards
in a search, HEAD, and the headers every answer carries."""

from __future__ import annotations

import base64

import pytest
import sqlalchemy as sa

from tests.integration.test_api_pipelines import _configure


# The audit log records refusals too, by design (who was refused what, docs/audit.md):
# not a write of the refused request's own.
AUDIT_TABLES = {"auditentry", "audithead"}


def rows() -> dict[str, int]:
    """How many rows each table holds (a refused request changes none)."""
    from app.db import get_engine
    from app.models import TABLES

    with get_engine().connect() as conn:
        return {t.name: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
                for t in TABLES.sorted_tables if t.name not in AUDIT_TABLES}


def refused(r, status: int, field_prefix: str) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["field"].startswith(field_prefix), body
    return body


def nested(depth: int) -> dict:
    value: dict = {"leaf": 1}
    for _ in range(depth):
        value = {"a": value}
    return value


def forged(ts: str, id_: str = "x") -> str:
    return base64.urlsafe_b64encode(f"{ts}|{id_}".encode()).decode()


# --- free-form JSON: refused before anything is written; stored always reads back -----


def test_a_record_nested_300_deep_is_refused_and_nothing_is_written(api):
    h = api.as_("alice")
    before = rows()
    r = api.post("/api/items", json={"subtype": "DATASET", "display_name": "deep", "record": nested(300)},
                 headers=h)
    body = refused(r, 422, "body.record")
    assert "deeper than 32 levels" in body["detail"]
    assert rows() == before
    # Provena's registry route (the domain info becomes the record) refuses it the same way.
    r = api.post("/api/provena/registry/entity/dataset/create", headers=h,
                 json={"display_name": "deep", **nested(300)})
    refused(r, 422, "body")
    assert rows() == before
    # Every list still answers: pages, a search, the DATASET filter.
    for params in ({}, {"q": "deep"}, {"subtype": "DATASET"}):
        assert api.get("/api/items", params=params, headers=h).status_code == 200


def test_a_deep_record_stored_before_the_checks_never_breaks_a_list(api, users):
    """A database written by an older version may hold such a record: every page, search
    and filter holding it answers, and says the record cannot be shown."""
    from app import registry
    from app.db import get_engine
    from app.models import Item

    item, _ = registry.create_item(actor=users["alice"], subtype="DATASET", display_name="old deep")
    with get_engine().begin() as conn:
        conn.execute(Item.__table__.update().where(Item.__table__.c.id == item.id).values(record=nested(300)))
    h = api.as_("alice")
    for params in ({}, {"q": "old deep"}, {"subtype": "DATASET"}):
        r = api.get("/api/items", params=params, headers=h)
        assert r.status_code == 200, r.text
        (shown,) = [i for i in r.json()["items"] if i["id"] == item.id]
        assert "cannot be shown" in shown["record"]["unreadable"]
    assert api.get(f"/api/items/{item.id}", headers=h).status_code == 200


def test_the_domain_refuses_a_deep_record_too(api, users):
    from app import registry
    from app.errors import InvalidInput

    before = rows()
    with pytest.raises(InvalidInput) as err:
        registry.create_item(actor=users["alice"], subtype="DATASET", display_name="deep", record=nested(300))
    assert err.value.field.startswith("record.a")
    assert rows() == before


def test_a_record_at_the_limits_reads_back_everywhere(api):
    h = api.as_("alice")
    record = {"deep": nested(29), "text": "two\nlines", "n": 2**62, "x": -1.5, "list": list(range(100))}
    r = api.post("/api/items", json={"subtype": "DATASET", "display_name": "at the limit", "record": record},
                 headers=h)
    assert r.status_code == 201, r.text
    item_id = r.json()["item"]["id"]
    assert api.get(f"/api/items/{item_id}", headers=h).json()["record"] == record
    for params in ({}, {"q": "limit"}, {"subtype": "DATASET"}):
        page = api.get("/api/items", params=params, headers=h)
        assert page.status_code == 200 and page.json()["items"][0]["record"] == record


@pytest.mark.parametrize("record, field", [
    ({"a": float("nan")}, "body.record"),
    ({"a": "nul \x00 inside"}, "body.record"),
    ({"k\x00": 1}, "body.record"),
    ({"a": "x" * 300_000}, "body.record"),
])
def test_records_that_no_database_stores_alike_are_refused(api, record, field):
    before = rows()
    import json as _json

    r = api.post("/api/items", content=_json.dumps({"subtype": "DATASET", "display_name": "x", "record": record}),
                 headers={**api.as_("alice"), "content-type": "application/json"})
    refused(r, 422, field)
    assert rows() == before


def test_job_payloads_and_batches_are_shape_checked_before_anything_is_written(api):
    h = api.as_("root")
    before = rows()
    refused(api.post("/api/jobs", json={"job_type": "SYSTEM", "job_subtype": "NOOP", "payload": nested(300)},
                     headers=h), 422, "body.payload")
    refused(api.post("/api/batches", headers=h, json={"job_type": "SYSTEM", "job_subtype": "NOOP",
                                                      "payloads": [{}, nested(300)]}), 422, "body.payloads.1")
    refused(api.post("/api/provena/jobs/admin/launch", headers=h, json={
        "job_type": "PROV_LODGE", "job_sub_type": "PROV_LODGE_WAKE_UP", "job_payload": nested(300)}),
        422, "body.job_payload")
    # The CSV/JSON bulk route reads its own body: nesting past what the reader takes is a 400.
    deep = "[" * 100_000 + "]" * 100_000
    refused(api.post("/api/model-runs/bulk", content=deep, headers={**h, "content-type": "application/json"}),
            400, "body")
    assert rows() == before


def test_model_run_records_refuse_control_characters(api, world):
    from tests.conftest import model_run_record

    h = api.as_("alice")
    before = rows()
    refused(api.post("/api/model-runs", json=model_run_record(world, display_name="run\x00"), headers=h),
            422, "body.display_name")
    refused(api.post("/api/model-runs", json=model_run_record(world, annotations={"k": "v\x00"}), headers=h),
            422, "body")
    assert rows() == before


def test_pipeline_parameters_are_shape_checked(api):
    p = _configure(api)
    before = rows()
    for parameters, field in (('{"top": {"a": {"b": 1}}}', "parameters.top.a"),
                              ('{"top": "1\\u0000"}', "parameters.top"),
                              ("[" * 5_000 + "]" * 5_000, "parameters")):
        r = api.post(f"/api/pipelines/{p['id']}/runs", headers=api.as_("alice"),
                     files={"file": ("words.txt", b"a b\n", "text/plain")}, data={"parameters": parameters})
        refused(r, 422, field)
    assert rows() == before


# --- cursors ------------------------------------------------------------------------------


FORGED = [forged("2024-01-01T00:00:00"),  # no timezone
          forged("9999-12-31T23:00:00-05:00"),  # past year 9999 once in UTC
          forged("0001-01-01T00:00:00+05:00"),  # before year 1 once in UTC
          forged("2024-01-01T00:00:00+00:00", "x\x00"),
          forged("2024-01-01T00:00:00+00:00", ""),
          "not base64 at all!", "bm8gYmFyIGhlcmU="]


@pytest.mark.parametrize("cursor", FORGED)
def test_a_forged_cursor_is_a_400_naming_it_on_every_list(api, cursor):
    for path, who in (("/api/jobs", "alice"), ("/api/batches", "alice"), ("/api/items", "alice"),
                      ("/api/admin/submissions", "root"), ("/api/admin/jobs", "root")):
        refused(api.get(path, params={"cursor": cursor}, headers=api.as_(who)), 400, "cursor")
    r = api.post("/api/provena/jobs/user/list", json={"pagination_key": {"cursor": cursor}},
                 headers=api.as_("alice"))
    refused(r, 400, "pagination_key")


def test_an_aware_cursor_in_another_timezone_pages_as_utc(api):
    from app import paging

    at, id_ = paging.decode_cursor(forged("2024-01-01T05:00:00+05:00", "abc"))
    assert at.isoformat() == "2024-01-01T00:00:00+00:00" and id_ == "abc"
    assert api.get("/api/jobs", params={"cursor": forged("2024-01-01T05:00:00+05:00")},
                   headers=api.as_("alice")).status_code == 200


# --- text: control characters, LIKE wildcards ---------------------------------------------


def test_nul_and_control_characters_are_refused_naming_the_field(api):
    h, root = api.as_("alice"), api.as_("root")
    before = rows()
    refused(api.post("/api/items", json={"subtype": "DATASET", "display_name": "a\x00b"}, headers=h),
            422, "body.display_name")
    refused(api.post("/api/items", json={"subtype": "DATASET", "display_name": "a\x1bb"}, headers=h),
            422, "body.display_name")
    refused(api.post("/api/items", json={"subtype": "DATASET", "display_name": "ok", "description": "a\x00"},
                     headers=h), 422, "body.description")
    refused(api.post("/api/batches", headers=root, json={"job_type": "SYSTEM", "job_subtype": "NOOP",
                                                         "payloads": [{}], "label": "l\x00"}), 422, "body.label")
    refused(api.post("/api/tokens", json={"username": "alice\x00", "password": "alice-password"}), 422,
            "body.username")
    refused(api.post("/api/tasks", json={"name": "t\x00", "command": "true"}, headers=root), 422, "body.name")
    refused(api.get("/api/items", params={"q": "a\x00"}, headers=h), 422, "q")
    refused(api.get("/api/admin/jobs", params={"username": "al\x00ice"}, headers=root), 422, "username")
    refused(api.get("/api/jobs/abc%00def", headers=h), 422, "path")
    assert rows() == before
    # Multi-line text keeps its line ends.
    ok = api.post("/api/items", json={"subtype": "DATASET", "display_name": "ok",
                                      "description": "line 1\nline 2\ttab"}, headers=h)
    assert ok.status_code == 201 and ok.json()["item"]["description"] == "line 1\nline 2\ttab"


def test_percent_and_underscore_in_a_search_are_themselves(api):
    h = api.as_("alice")
    for name in ("rain 100%", "rain 1000", "a_b", "axb"):
        assert api.post("/api/items", json={"subtype": "DATASET", "display_name": name}, headers=h).status_code == 201

    def found(q):
        return sorted(i["display_name"] for i in api.get("/api/items", params={"q": q}, headers=h).json()["items"])

    assert found("%") == ["rain 100%"]
    assert found("0%") == ["rain 100%"]
    assert found("_") == ["a_b"]
    assert found("a_b") == ["a_b"]
    assert found("\\") == []
    assert found("RAIN") == ["rain 100%", "rain 1000"]


# --- HEAD, headers ----------------------------------------------------------------------------


def test_head_answers_like_get_without_a_body(api):
    r = api.head("/api/health")
    assert r.status_code == 200 and r.content == b""
    assert r.headers["content-type"] == "application/json"
    assert api.head("/api/jobs").status_code == 401
    r = api.head("/api/no-such-route")
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json")


def test_every_answer_carries_the_security_headers_and_no_cors_grant(api):
    for r in (api.get("/api/health"), api.get("/api/jobs"), api.get("/api/docs"),
              api.get("/api/health", headers={"Origin": "https://evil.example"})):
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["content-security-policy"] == "frame-ancestors 'none'"
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "same-origin"
        assert "access-control-allow-origin" not in r.headers
        assert "access-control-allow-credentials" not in r.headers
