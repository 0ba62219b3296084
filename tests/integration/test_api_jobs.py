"""The REST API's behaviour beyond who may do what: idempotent lodging, paging, errors as
problem details with the right status, size and rate limits, files, and the registry
routes run end to end by real RQ workers."""

from __future__ import annotations

import hashlib
import os


from tests.conftest import model_run_record, run_workers

NOOP = {"job_type": "SYSTEM", "job_subtype": "NOOP", "payload": {"sleep_s": 0}}


def problem_of(r, status):
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["status"] == status and body["title"] and body["detail"]
    return body


# --- lodging ------------------------------------------------------------------------------


def test_idempotency_key_returns_the_same_job(api):
    h = {**api.as_("root"), "Idempotency-Key": "nightly-2026-11-22"}
    first = api.post("/api/jobs", json=NOOP, headers=h)
    again = api.post("/api/jobs", json=NOOP, headers=h)
    assert first.status_code == 201 and again.status_code == 200
    assert first.json()["id"] == again.json()["id"]
    assert first.headers["location"] == f"/api/jobs/{first.json()['id']}"
    # Same key, different request: refused, naming the job the key belongs to.
    other = api.post("/api/jobs", json={**NOOP, "payload": {"sleep_s": 1}}, headers=h)
    assert problem_of(other, 409)["session_id"] == first.json()["id"]
    # Keys are per owner: another caller's same key lodges its own job.
    mine = api.post("/api/jobs", headers={**api.as_("alice"), "Idempotency-Key": "nightly-2026-11-22"},
                    json={"job_type": "PROV_LODGE", "job_subtype": "MODEL_RUN_PROV_LODGE",
                          "payload": {"record": {"workflow_template_id": "w", "display_name": "d",
                                                 "description": "d", "associations": {"modeller_id": "p"},
                                                 "start_time": 1, "end_time": 2}}})
    assert mine.status_code == 201 and mine.json()["id"] != first.json()["id"]
    listed = api.get("/api/jobs", headers=api.as_("root")).json()["jobs"]
    assert [j["id"] for j in listed] == [first.json()["id"]]


def test_idempotent_model_run_registration(api, world):
    h = {**api.as_("alice"), "Idempotency-Key": "run-1"}
    rec = model_run_record(world)
    a = api.post("/api/model-runs", json=rec, headers=h)
    b = api.post("/api/model-runs", json=rec, headers=h)
    assert (a.status_code, b.status_code) == (201, 200) and a.json()["id"] == b.json()["id"]


def test_lodge_and_fetch_and_cancel_and_retry(api):
    h = api.as_("root")
    job = api.post("/api/jobs", json={**NOOP, "payload": {"outcome": "fail"}}, headers=h).json()
    assert job["status"] == "PENDING" and job["final"] is False and job["attempt"] == 1
    run_workers()
    got = api.get(f"/api/jobs/{job['id']}", headers=h).json()
    assert got["status"] == "FAILED" and got["final"] and got["info"] == "Asked to fail (diagnostic job)."
    problem_of(api.post(f"/api/jobs/{job['id']}/cancel", headers=h), 409)
    retried = api.post(f"/api/jobs/{job['id']}/retry", headers=h).json()
    assert retried["status"] == "PENDING" and retried["attempt"] == 2
    problem_of(api.post(f"/api/jobs/{job['id']}/retry", headers=h), 409)
    cancelled = api.post(f"/api/jobs/{job['id']}/cancel", headers=h).json()
    assert cancelled["status"] == "CANCELLED"
    msgs = api.get(f"/api/jobs/{job['id']}/messages", headers=h).json()
    statuses = [m["status"] for m in msgs]
    assert statuses[0] == "PENDING" and statuses[-1] == "CANCELLED" and "FAILED" in statuses
    assert [m["id"] for m in msgs] == sorted(m["id"] for m in msgs)
    later = api.get(f"/api/jobs/{job['id']}/messages", params={"after": msgs[-2]["id"]}, headers=h).json()
    assert later == msgs[-1:]


def test_each_attempt_is_timed_from_its_own_lodging_and_a_job_says_who_lodged_it(api):
    from datetime import datetime, timedelta

    import sqlalchemy as sa

    from app import launch
    from app.db import utcnow, write_conn
    from app.models import Job
    from app.state.views import attempt_times, duration

    h = api.as_("root")
    job = api.post("/api/jobs", json={**NOOP, "owner": "alice", "payload": {"outcome": "fail"}}, headers=h).json()
    assert (job["owner"], job["lodged_by"]) == ("alice", "root") and job["lodged_at"] == job["created_at"]
    mine = api.post("/api/jobs", json=NOOP, headers=h).json()
    assert mine["lodged_by"] == "root"
    run_workers()
    long_ago = utcnow() - timedelta(days=10)  # attempt 1 was lodged ten days ago
    with write_conn() as conn:
        conn.execute(sa.update(Job.__table__).where(Job.__table__.c.id == job["id"])
                     .values(created_at=long_ago, lodged_at=long_ago))
    retried = api.post(f"/api/jobs/{job['id']}/retry", headers=h).json()
    assert datetime.fromisoformat(retried["lodged_at"]) - datetime.fromisoformat(retried["created_at"]) \
        > timedelta(days=9)
    run_workers()
    again = launch.get_job(job["id"])
    assert again.attempt == 2 and again.dequeued_at and again.finished_at
    times = {t[0]: t[3] for t in attempt_times(again)}
    assert times["Dequeued"] == f"waited {duration(again.lodged_at, again.dequeued_at)}"
    assert times["Dequeued"] != f"waited {duration(again.created_at, again.dequeued_at)}"
    assert times["Finished"].endswith(f"{duration(again.lodged_at, again.finished_at)} in all")
    assert "Attempt 2 lodged" in times


def test_paging_by_cursor_and_filters(api):
    h = api.as_("root")
    r = api.post("/api/batches", json={"job_type": "SYSTEM", "job_subtype": "NOOP", "label": "seven",
                                       "payloads": [{}] * 7}, headers=h)
    assert r.status_code == 201
    batch = r.json()
    assert batch["total"] == 7 and batch["counts"]["PENDING"] == 7 and not batch["done"]
    seen, cursor = [], None
    while True:
        page = api.get("/api/jobs", params={"limit": 3, **({"cursor": cursor} if cursor else {})}, headers=h).json()
        seen += [j["id"] for j in page["jobs"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == 7 == len(set(seen))
    in_batch = api.get(f"/api/batches/{batch['id']}/jobs", params={"limit": 500}, headers=h).json()["jobs"]
    assert sorted(j["id"] for j in in_batch) == sorted(seen)
    assert api.get("/api/jobs", params={"status": "SUCCEEDED"}, headers=h).json()["jobs"] == []
    run_workers()
    assert len(api.get("/api/jobs", params={"status": "SUCCEEDED", "job_type": "SYSTEM"},
                       headers=h).json()["jobs"]) == 7
    done = api.get(f"/api/batches/{batch['id']}", headers=h).json()
    assert done["done"] and done["counts"]["SUCCEEDED"] == 7
    assert api.get("/api/batches", headers=h).json()["batches"][0]["id"] == batch["id"]


# --- errors -----------------------------------------------------------------------------


def test_invalid_input_is_422_naming_the_field(api):
    h = api.as_("root")
    body = problem_of(api.post("/api/jobs", json={**NOOP, "payload": {"sleep_s": -1}}, headers=h), 422)
    assert body["field"] == "payload.sleep_s"
    body = problem_of(api.post("/api/jobs", json={"job_subtype": "NOOP"}, headers=h), 422)
    assert body["field"] == "body.job_type"
    body = problem_of(api.post("/api/jobs", json={**NOOP, "job_subtype": "NOPE"}, headers=h), 422)
    assert body["field"] == "job_subtype" and "NOOP" in body["detail"]
    body = problem_of(api.get("/api/jobs", params={"limit": 501}, headers=h), 422)
    assert body["field"] == "query.limit"
    body = problem_of(api.get("/api/jobs", params={"status": "DONE"}, headers=h), 422)
    assert body["field"] == "query.status"
    body = problem_of(api.get("/api/jobs", params={"cursor": "not-ours"}, headers=h), 400)
    assert body["field"] == "cursor"
    body = problem_of(api.post("/api/jobs", json=NOOP, headers={**h, "Idempotency-Key": "k" * 129}), 422)
    assert "Idempotency-Key" in body["field"]
    body = problem_of(api.post("/api/batches", headers=h, json={"job_type": "SYSTEM", "job_subtype": "NOOP",
                                                                "payloads": [{}, {"sleep_s": "x"}]}), 422)
    assert body["field"] == "payloads.1.payload.sleep_s"


def test_malformed_json_is_400_and_unknown_routes_404_and_wrong_methods_405(api):
    h = {**api.as_("root"), "Content-Type": "application/json"}
    problem_of(api.post("/api/jobs", content=b"{not json", headers=h), 400)
    problem_of(api.get("/api/nothing-here", headers=h), 404)
    r = api.delete("/api/jobs", headers=h)
    problem_of(r, 405)
    assert set(r.headers["allow"].split(", ")) == {"GET", "POST"}


def test_request_size_limit_is_413(api, monkeypatch):
    from app.settings import reload_settings

    monkeypatch.setenv("JOBDECK_API_MAX_BODY_BYTES", "2000")
    reload_settings()
    h = api.as_("root")
    big = {**NOOP, "payload": {"sleep_s": 0, "pad": "x" * 3000}}
    body = problem_of(api.post("/api/jobs", json=big, headers=h), 413)
    assert "2000 bytes" in body["detail"]

    def chunks():  # no Content-Length: the limit counts what streams in
        for _ in range(5):
            yield b"x" * 1000

    problem_of(api.post("/api/jobs", content=chunks(), headers={**h, "Content-Type": "application/json"}), 413)
    assert api.post("/api/jobs", json=NOOP, headers=h).status_code == 201  # under the limit


def test_rate_limit_per_token_is_429_with_retry_after(api, monkeypatch):
    from app import auth
    from app.settings import reload_settings

    monkeypatch.setenv("JOBDECK_API_RATE_LIMIT", "3")
    reload_settings()
    h = api.as_("alice")
    assert [api.get("/api/me", headers=h).status_code for _ in range(3)] == [200, 200, 200]
    r = api.get("/api/me", headers=h)
    body = problem_of(r, 429)
    assert 1 <= int(r.headers["retry-after"]) <= 60 and body["retry_after"] == int(r.headers["retry-after"])
    # The limit is per token: a second token of the same user has its own count.
    other = auth.create_token(owner="alice")[0]
    assert api.get("/api/me", headers={"Authorization": f"Bearer {other}"}).status_code == 200


def test_token_route_checks_the_password_and_limits_guessing(api, monkeypatch):
    from app.settings import reload_settings

    monkeypatch.setenv("JOBDECK_PASSWORD_TRIES", "3")  # each check costs a password hash: keep it short
    reload_settings()
    r = api.post("/api/tokens", json={"username": "alice", "password": "alice-password", "name": "laptop"})
    assert r.status_code == 201
    new = r.json()
    assert new["token"].startswith("jdk_") and new["username"] == "alice" and new["name"] == "laptop"
    assert api.get("/api/me", headers={"Authorization": f"Bearer {new['token']}"}).json()["username"] == "alice"
    listed = api.get("/api/tokens", headers=api.as_("alice")).json()
    assert "laptop" in [t["name"] for t in listed] and all("token" not in t for t in listed)
    laptop = next(t for t in listed if t["name"] == "laptop")
    assert laptop["last_used_at"] is not None  # used once above, by /api/me
    problem_of(api.post("/api/tokens", json={"username": "alice", "password": "wrong"}), 401)
    codes = [api.post("/api/tokens", json={"username": "bob", "password": f"guess{i}"}).status_code
             for i in range(5)]
    assert codes == [401, 401, 401, 429, 429]
    r = api.post("/api/tokens", json={"username": "bob", "password": "bob-password"})
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1  # even the right one, until the window ends


def test_database_unavailable_is_503(api, monkeypatch, tmp_path):
    from app.db import dispose_engines
    from app.settings import reload_settings

    h = api.as_("root")
    (tmp_path / "not-a-db").mkdir()
    monkeypatch.setenv("JOBDECK_DATABASE_URL", f"sqlite:///{tmp_path / 'not-a-db'}")
    dispose_engines()
    reload_settings()
    r = api.get("/api/me", headers=h)
    problem_of(r, 503)
    assert r.headers["retry-after"]


# --- files ------------------------------------------------------------------------------


def _file_row(job_id: str, name: str, stored_path: str, content: bytes = b"") -> None:
    from app.db import session
    from app.models import JobFile

    with session(write=True) as s:
        s.add(JobFile(job_id=job_id, name=name, size=len(content), sha256=hashlib.sha256(content).hexdigest(),
                      stored_path=stored_path))


def test_files_download_and_never_from_outside_the_data_dir(api, jobdeck, tmp_path):
    h = api.as_("root")
    job = api.post("/api/jobs", json=NOOP, headers=h).json()["id"]
    inside = jobdeck.files_dir / job / "flow.csv"
    inside.parent.mkdir(parents=True)
    inside.write_bytes(b"gauge,flow\n1,2.5\n")
    _file_row(job, "flow.csv", str(inside), inside.read_bytes())
    _file_row(job, "relative.txt", f"{job}/relative.txt", b"rel")
    (jobdeck.files_dir / job / "relative.txt").write_bytes(b"rel")
    secret = tmp_path / "secret.txt"
    secret.write_text("not yours")
    _file_row(job, "escape.txt", str(secret))
    _file_row(job, "dotdot.txt", f"{job}/../../../secret.txt")
    os.symlink(secret, jobdeck.files_dir / job / "link.txt")
    _file_row(job, "link.txt", str(jobdeck.files_dir / job / "link.txt"))
    _file_row(job, "gone.txt", str(jobdeck.files_dir / job / "gone.txt"))

    listed = api.get(f"/api/jobs/{job}/files", headers=h).json()
    assert {f["name"] for f in listed} >= {"flow.csv", "escape.txt"}
    r = api.get(f"/api/jobs/{job}/files/flow.csv", headers=h)
    assert r.status_code == 200 and r.content == b"gauge,flow\n1,2.5\n"
    assert r.headers["x-content-sha256"] == hashlib.sha256(r.content).hexdigest()
    assert "flow.csv" in r.headers["content-disposition"]
    assert api.get(f"/api/jobs/{job}/files/relative.txt", headers=h).content == b"rel"
    for name in ("escape.txt", "dotdot.txt", "link.txt", "gone.txt", "nothing.txt"):
        body = problem_of(api.get(f"/api/jobs/{job}/files/{name}", headers=h), 404)
        assert "not yours" not in body["detail"]


# --- registry -----------------------------------------------------------------------------


def test_items_versions_and_provenance_end_to_end(api):
    h = api.as_("alice")
    r = api.post("/api/items", json={"subtype": "DATASET", "display_name": "Daily rainfall",
                                     "record": {"units": "mm"}}, headers=h)
    assert r.status_code == 201
    made = r.json()
    item = made["item"]
    assert made["session_id"] == made["job"]["id"] and item["record_status"] == "INCOMPLETE"
    run_workers()
    assert api.get(f"/api/items/{item['id']}", headers=h).json()["record_status"] == "LODGED"
    found = api.get("/api/items", params={"q": "rainfall", "subtype": "DATASET"}, headers=h).json()["items"]
    assert [i["id"] for i in found] == [item["id"]]
    v = api.post(f"/api/items/{item['id']}/versions", json={"reason": "fixed the units"}, headers=h).json()
    assert v["item"]["version"] == 2 and v["item"]["previous_version_id"] == item["id"]
    problem_of(api.post(f"/api/items/{item['id']}/versions", json={"reason": "again"}, headers=h), 409)
    problem_of(api.post(f"/api/items/{item['id']}/versions", json={"reason": ""}, headers=h), 422)
    run_workers()
    prov = api.get(f"/api/items/{v['item']['id']}/prov", headers=h).json()
    entity = f"jd:{v['item']['id']}"
    assert entity in prov["entity"] and f"jd:{item['id']}" in prov["entity"]
    assert prov["activity"] and any(d["prov:generatedEntity"] == entity for d in prov["wasDerivedFrom"].values())
    problem_of(api.get("/api/items/nope/prov", headers=h), 404)
    problem_of(api.post("/api/items", json={"subtype": "PLANET", "display_name": "x"}, headers=h), 422)


CSV_HEADER = "display_name,description,workflow_template_id,modeller_id,requesting_organisation_id," \
             "start_time,end_time,inputs,outputs,annotations\n"


def _csv_rows(world, n: int) -> str:
    rows = [f"run {i},run number {i},{world['wf'].id},{world['person'].id},{world['org'].id},"
            f"2026-01-0{i + 1}T00:00:00Z,2026-01-0{i + 1}T06:00:00Z,"
            f"{world['template'].id}:{world['rain'].id},{world['template'].id}:{world['flow'].id},"
            f"scenario=wet;grid=5km\n" for i in range(n)]
    return CSV_HEADER + "".join(rows)


def test_bulk_registration_from_csv_and_json(api, world):
    h = api.as_("alice")
    r = api.post("/api/model-runs/bulk", content=_csv_rows(world, 3), params={"label": "wet season"},
                 headers={**h, "Content-Type": "text/csv"})
    assert r.status_code == 201, r.text
    batch = r.json()
    assert batch["total"] == 3 and batch["label"] == "wet season"
    r = api.post("/api/model-runs/bulk", json={"records": [model_run_record(world)] * 2}, headers=h)
    assert r.status_code == 201 and r.json()["total"] == 2
    run_workers()
    done = api.get(f"/api/batches/{batch['id']}", headers=h).json()
    assert done["done"] and done["counts"]["SUCCEEDED"] == 3
    jobs = api.get(f"/api/batches/{batch['id']}/jobs", headers=h).json()["jobs"]
    run = api.get(f"/api/items/{jobs[0]['result']['record_id']}", headers=h).json()
    assert run["subtype"] == "MODEL_RUN" and run["record"]["annotations"] == {"scenario": "wet", "grid": "5km"}



def test_a_csv_dry_run_answers_its_rows_and_lodges_nothing(api, world):
    h = {**api.as_("alice"), "Content-Type": "text/csv"}
    r = api.post("/api/model-runs/bulk", content=_csv_rows(world, 3), params={"dry_run": "true"}, headers=h)
    assert (r.status_code, r.json()) == (200, {"rows": 3, "lodged": False})
    assert "Location" not in r.headers
    assert api.get("/api/batches", headers=api.as_("alice")).json()["batches"] == []

BAD_CSV = [
    (CSV_HEADER.replace("modeller_id,", ""), "modeller_id", "lacks the column"),
    ("display_name,colour\nx,red\n", "colour", "Unknown CSV column"),
    (CSV_HEADER + "a,b,w,p,,100,50,,,\n", "end_time", "Line 2, column end_time: start_time must not be after"),
    (CSV_HEADER + "a,b,w,p,,yesterday,50,,,\n", "start_time", "Line 2, column start_time"),
    (CSV_HEADER + "a,,w,p,,1,2,,,\n", "description", "Line 2, column description"),
    (CSV_HEADER + "a,b,w,p,,1,2,tpl-only,,\n", "inputs", "TEMPLATE_ID:DATASET_ID"),
    (CSV_HEADER, "file", "no model runs"),
    # what int() cannot read (more than 4300 digits), and times no date can name
    (CSV_HEADER + f"a,b,w,p,,{'9' * 5000},1,,,\n", "start_time", "Line 2, column start_time: 5000 characters"),
    (CSV_HEADER + "a,b,w,p,,1,99999999999999,,,\n", "end_time", "Line 2, column end_time: '99999999999999' is out"),
    (CSV_HEADER + "a,b,w,p,,²,2,,,\n", "start_time", "Line 2, column start_time: '²' is neither"),
    (CSV_HEADER + f"{'x' * 20_000},b,w,p,,1,2,,,\n", "display_name", "Line 2, column display_name: The cell"),
]


def test_bad_csv_is_refused_whole_naming_line_and_column(api):
    h = {**api.as_("alice"), "Content-Type": "text/csv"}
    for csv_text, field, words in BAD_CSV:
        body = problem_of(api.post("/api/model-runs/bulk", content=csv_text, headers=h), 422)
        assert body["field"] == field and words in body["detail"], body
    assert api.get("/api/batches", headers=api.as_("alice")).json()["batches"] == []


def test_a_bad_csv_answer_lists_every_problem_of_every_row(api):
    h = {**api.as_("alice"), "Content-Type": "text/csv"}
    text = CSV_HEADER + "a,b,w,p,,100,50,tpl-only,,\n" + "a,,w,p,,x,2,,,\n"
    body = problem_of(api.post("/api/model-runs/bulk", content=text, headers=h), 422)
    assert body["detail"].startswith("8 problems in 2 rows; nothing was lodged.")
    # each row's shape, then the registry's rules (no workflow template w, no person p)
    assert [(e["line"], e["field"]) for e in body["errors"]] == [
        (2, "inputs"), (2, "end_time"), (2, "workflow_template_id"), (2, "modeller_id"),
        (3, "start_time"), (3, "description"), (3, "workflow_template_id"), (3, "modeller_id")]
    assert "Value error" not in body["detail"]


def test_bulk_json_errors_name_the_record_and_other_formats_are_415(api, world):
    h = api.as_("alice")
    bad = model_run_record(world)
    del bad["display_name"]
    body = problem_of(api.post("/api/model-runs/bulk", json={"records": [model_run_record(world), bad]},
                               headers=h), 422)
    assert body["field"] == "body.records.1.display_name"
    problem_of(api.post("/api/model-runs/bulk", content=b"<runs/>",
                        headers={**h, "Content-Type": "application/xml"}), 415)
    problem_of(api.post("/api/model-runs/bulk", content=b"{", headers={**h, "Content-Type": "application/json"}), 400)


# --- documents ----------------------------------------------------------------------------


def test_openapi_document_and_offline_docs_assets(api):
    doc = api.get("/api/openapi.json").json()
    assert doc["info"]["title"] == "Jobdeck API"
    for path in ("/api/jobs", "/api/jobs/{job_id}/events", "/api/batches/{batch_id}/events",
                 "/api/model-runs/bulk", "/api/admin/jobs", "/api/items/{item_id}/prov"):
        assert path in doc["paths"]
    page = api.get("/api/docs")
    assert page.status_code == 200 and "/api/docs/assets/swagger-ui-bundle.js" in page.text
    assert "http://" not in page.text and "https://" not in page.text
    js = api.get("/api/docs/assets/swagger-ui-bundle.js")
    assert js.status_code == 200 and len(js.content) > 100_000
    assert api.get("/api/docs/assets/swagger-ui.css").status_code == 200
    problem_of(api.get("/api/docs/assets/index.j2"), 404)
