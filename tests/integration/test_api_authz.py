"""The authorization matrix of the REST API: every route × anonymous, the owner of
what it touches, another user, an admin and a service, with the status each must get.

One database and one set of users for the module; each case builds fresh objects
(owned by alice) through the domain, so cases do not depend on each other.
"""

from __future__ import annotations

import hashlib

import pytest
from fastapi.testclient import TestClient
from tests.conftest import module_jobdeck

ROLES = ("anon", "owner", "other", "admin", "service")
USERS = {"owner": ("alice", "user"), "other": ("bob", "user"), "admin": ("root", "admin"),
         "service": ("svc", "service")}

# A complete model run record, naming the items of the module's world (made in `env`):
# the registry's rules are checked before anything is lodged.
RECORD: dict = {}


@pytest.fixture(scope="module")
def env(tmp_path_factory, redis_server):
    from app import auth
    from app.api import build_api

    with module_jobdeck(tmp_path_factory, redis_server, "authz"):
        users, headers = {}, {"anon": {}}
        for role, (name, kind) in USERS.items():
            users[role] = auth.create_user(username=name, password=f"{name}-password", role=kind)
            headers[role] = {"Authorization": f"Bearer {auth.create_token(owner=name)[0]}"}
        from app.demo import model_run_world
        from tests.conftest import model_run_record, run_workers

        world = model_run_world(users["owner"])
        run_workers()
        RECORD.clear()
        RECORD.update(model_run_record(world))
        with TestClient(build_api(), raise_server_exceptions=False) as client:
            yield client, users, headers


# --- what the cases act on, made fresh for each (all alice's) ---------------------------------


class Make:
    def __init__(self, users):
        self.alice = users["owner"]

    def csv(self) -> str:
        """CSV of one row naming the world's items (the API checks them before lodging)."""
        import csv
        import io

        from app import bulk

        row = bulk.record_row(RECORD)
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=list(row))
        w.writeheader()
        w.writerow(row)
        return buf.getvalue()

    def job(self) -> str:
        from app import launch

        return launch.launch_job(actor=self.alice, job_type="PROV_LODGE", job_subtype="MODEL_RUN_PROV_LODGE",
                                 payload={"record": RECORD}).id

    def cancelled_job(self) -> str:
        from app import launch

        jid = self.job()
        launch.cancel_job(actor=self.alice, job_id=jid)
        return jid

    def job_with_file(self) -> str:
        from app.db import session
        from app.models import JobFile
        from app.settings import get_settings

        jid = self.job()
        path = get_settings().files_dir / jid / "out.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("rain 12 mm\n")
        with session(write=True) as s:
            s.add(JobFile(job_id=jid, name="out.txt", size=11, sha256=hashlib.sha256(b"rain 12 mm\n").hexdigest(),
                          stored_path=str(path)))
        return jid

    def batch(self) -> str:
        from app import launch

        return launch.launch_batch(actor=self.alice, job_type="PROV_LODGE", job_subtype="MODEL_RUN_PROV_LODGE",
                                   payloads=[{"record": RECORD}] * 2).id

    def finished_batch(self) -> str:
        from app import launch, queries

        bid = self.batch()
        for j in queries.batch_jobs(viewer=self.alice, batch_id=bid).jobs:
            launch.cancel_job(actor=self.alice, job_id=j.id)
        return bid

    def item(self) -> str:
        from app import registry

        return registry.create_item(actor=self.alice, subtype="DATASET", display_name="rain")[0].id

    def user(self) -> str:
        """A user of the case's own, to disable or enable."""
        import secrets

        from app import auth

        return auth.create_user(username=f"u-{secrets.token_hex(4)}", password="long-password").username

    def token_id(self) -> int:
        from app import auth

        return auth.create_token(owner="alice", name="spare")[1].id



# (name, method, url builder, request kwargs builder, expected code per role)
CASES = [
    ("health", "GET", lambda m: "/api/health", None, (200, 200, 200, 200, 200)),
    ("me", "GET", lambda m: "/api/me", None, (401, 200, 200, 200, 200)),
    ("job types", "GET", lambda m: "/api/job-types", None, (401, 200, 200, 200, 200)),
    ("lodge a user job type", "POST", lambda m: "/api/jobs",
     lambda m: {"json": {"job_type": "PROV_LODGE", "job_subtype": "MODEL_RUN_PROV_LODGE",
                         "payload": {"record": RECORD}}}, (401, 201, 201, 201, 201)),
    ("lodge an admin job type", "POST", lambda m: "/api/jobs",
     lambda m: {"json": {"job_type": "SYSTEM", "job_subtype": "NOOP", "payload": {}}}, (401, 403, 403, 201, 201)),
    ("lodge into alice's batch", "POST", lambda m: "/api/jobs",
     lambda m: {"json": {"job_type": "PROV_LODGE", "job_subtype": "MODEL_RUN_PROV_LODGE",
                         "payload": {"record": RECORD}, "batch_id": m.batch()}}, (401, 201, 404, 404, 404)),
    ("lodge for another user", "POST", lambda m: "/api/jobs",
     lambda m: {"json": {"job_type": "SYSTEM", "job_subtype": "NOOP", "payload": {}, "owner": "bob"}},
     (401, 403, 403, 201, 201)),
    ("list own jobs", "GET", lambda m: "/api/jobs", None, (401, 200, 200, 200, 200)),
    ("fetch a job", "GET", lambda m: f"/api/jobs/{m.job()}", None, (401, 200, 404, 200, 200)),
    ("cancel a job", "POST", lambda m: f"/api/jobs/{m.job()}/cancel", None, (401, 200, 404, 200, 200)),
    ("retry a job", "POST", lambda m: f"/api/jobs/{m.cancelled_job()}/retry", None, (401, 200, 404, 200, 200)),
    ("a job's messages", "GET", lambda m: f"/api/jobs/{m.job()}/messages", None, (401, 200, 404, 200, 200)),
    ("a job's files", "GET", lambda m: f"/api/jobs/{m.job_with_file()}/files", None, (401, 200, 404, 200, 200)),
    ("download a file", "GET", lambda m: f"/api/jobs/{m.job_with_file()}/files/out.txt", None,
     (401, 200, 404, 200, 200)),
    ("a job's event stream", "GET", lambda m: f"/api/jobs/{m.cancelled_job()}/events", None,
     (401, 200, 404, 200, 200)),
    ("lodge a batch", "POST", lambda m: "/api/batches",
     lambda m: {"json": {"job_type": "PROV_LODGE", "job_subtype": "MODEL_RUN_PROV_LODGE",
                         "payloads": [{"record": RECORD}]}}, (401, 201, 201, 201, 201)),
    ("lodge an admin batch", "POST", lambda m: "/api/batches",
     lambda m: {"json": {"job_type": "SYSTEM", "job_subtype": "NOOP", "payloads": [{}]}},
     (401, 403, 403, 201, 201)),
    ("list own batches", "GET", lambda m: "/api/batches", None, (401, 200, 200, 200, 200)),
    ("a batch and its counts", "GET", lambda m: f"/api/batches/{m.batch()}", None, (401, 200, 404, 200, 200)),
    ("a batch's jobs", "GET", lambda m: f"/api/batches/{m.batch()}/jobs", None, (401, 200, 404, 200, 200)),
    ("a batch's event stream", "GET", lambda m: f"/api/batches/{m.finished_batch()}/events", None,
     (401, 200, 404, 200, 200)),
    ("create an item", "POST", lambda m: "/api/items",
     lambda m: {"json": {"subtype": "DATASET", "display_name": "flow"}}, (401, 201, 201, 201, 201)),
    ("list items", "GET", lambda m: "/api/items?subtype=DATASET", None, (401, 200, 200, 200, 200)),
    ("fetch an item", "GET", lambda m: f"/api/items/{m.item()}", None, (401, 200, 200, 200, 200)),
    ("version an item", "POST", lambda m: f"/api/items/{m.item()}/versions",
     lambda m: {"json": {"reason": "fixed units"}}, (401, 201, 403, 201, 403)),
    ("an item's PROV-JSON", "GET", lambda m: f"/api/items/{m.item()}/prov", None, (401, 200, 200, 200, 200)),
    ("register a model run", "POST", lambda m: "/api/model-runs", lambda m: {"json": RECORD},
     (401, 201, 201, 201, 201)),
    ("register model runs (JSON)", "POST", lambda m: "/api/model-runs/bulk",
     lambda m: {"json": {"records": [RECORD, RECORD]}}, (401, 201, 201, 201, 201)),
    ("register model runs (CSV)", "POST", lambda m: "/api/model-runs/bulk",
     lambda m: {"content": m.csv(), "headers": {"Content-Type": "text/csv"}}, (401, 201, 201, 201, 201)),
    ("admin: list all jobs", "GET", lambda m: "/api/admin/jobs?username=alice", None, (401, 403, 403, 200, 200)),
    ("admin: fetch any job", "GET", lambda m: f"/api/admin/jobs/{m.job()}", None, (401, 403, 403, 200, 200)),
    ("admin: job counts", "GET", lambda m: "/api/admin/counts?username=alice", None, (401, 403, 403, 200, 200)),
    ("admin: backends", "GET", lambda m: "/api/admin/backends", None, (401, 403, 403, 200, 200)),
    ("admin: change a backend", "PATCH", lambda m: "/api/admin/backends/system",
     lambda m: {"json": {"max_workers": 2}}, (401, 403, 403, 200, 403)),
    ("admin: wake a backend", "POST", lambda m: "/api/admin/backends/system/wake", None, (401, 403, 403, 200, 200)),
    ("admin: workers", "GET", lambda m: "/api/admin/workers", None, (401, 403, 403, 200, 200)),
    ("admin: pools", "GET", lambda m: "/api/admin/pools", None, (401, 403, 403, 200, 200)),
    ("admin: stuck jobs", "GET", lambda m: "/api/admin/stuck-jobs", None, (401, 403, 403, 200, 200)),
    ("admin: submissions", "GET", lambda m: "/api/admin/submissions?username=alice", None,
     (401, 403, 403, 200, 200)),
    ("admin: cancel a submission", "POST", lambda m: f"/api/admin/submissions/{m.job()}/cancel", None,
     (401, 403, 403, 200, 200)),
    ("admin: delete a submission", "DELETE", lambda m: f"/api/admin/submissions/{m.batch()}", None,
     (401, 403, 403, 200, 200)),
    ("admin: export the configuration", "GET", lambda m: "/api/admin/config", None, (401, 403, 403, 200, 200)),
    ("admin: check a configuration", "PUT", lambda m: "/api/admin/config?dry_run=true",
     lambda m: {"content": "tasks: []\n", "headers": {"Content-Type": "application/yaml"}},
     (401, 403, 403, 200, 403)),
    ("admin: import a configuration", "PUT", lambda m: "/api/admin/config",
     lambda m: {"content": "backends: []\n", "headers": {"Content-Type": "application/yaml"}},
     (401, 403, 403, 200, 403)),
    ("admin: users", "GET", lambda m: "/api/admin/users", None, (401, 403, 403, 200, 403)),
    ("admin: one user", "GET", lambda m: "/api/admin/users/bob", None, (401, 403, 403, 200, 403)),
    ("admin: end a user's sign-ins", "POST", lambda m: f"/api/admin/users/{m.user()}/end-sign-ins", None,
     (401, 403, 403, 200, 403)),
    ("admin: disable a user", "POST", lambda m: f"/api/admin/users/{m.user()}/disable", None,
     (401, 403, 403, 200, 403)),
    ("admin: enable a user", "POST", lambda m: f"/api/admin/users/{m.user()}/enable", None,
     (401, 403, 403, 200, 403)),
    ("list own tokens", "GET", lambda m: "/api/tokens", None, (401, 200, 200, 200, 200)),
    ("revoke a token", "DELETE", lambda m: f"/api/tokens/{m.token_id()}", None, (401, 204, 404, 404, 404)),
]


P = "/api/provena"
# Provena's routes keep the rules of Provena's client: an unknown or foreign session id or
# batch is a 400 (the client's own rule), admin routes need the admin or service role, and
# a user's routes show the caller's own jobs only, an admin's included.
PROVENA_CASES = [
    ("provena: health", "GET", lambda m: f"{P}/", None, (200, 200, 200, 200, 200)),
    ("provena: fetch a job", "GET", lambda m: f"{P}/jobs/user/fetch?session_id={m.job()}", None,
     (401, 200, 400, 400, 400)),
    ("provena: list own jobs", "POST", lambda m: f"{P}/jobs/user/list", lambda m: {"json": {}},
     (401, 200, 200, 200, 200)),
    ("provena: list a batch", "POST", lambda m: f"{P}/jobs/user/list_batch",
     lambda m: {"json": {"batch_id": m.batch()}}, (401, 200, 400, 400, 400)),
    ("provena: admin launch", "POST", lambda m: f"{P}/jobs/admin/launch",
     lambda m: {"json": {"username": "alice", "job_type": "REGISTRY", "job_sub_type": "REGISTRY_WAKE_UP",
                         "job_payload": {}}}, (401, 403, 403, 200, 200)),
    ("provena: admin fetch", "GET", lambda m: f"{P}/jobs/admin/fetch?session_id={m.job()}", None,
     (401, 403, 403, 200, 200)),
    ("provena: admin list", "POST", lambda m: f"{P}/jobs/admin/list", lambda m: {"json": {"username_filter": "alice"}},
     (401, 403, 403, 200, 200)),
    ("provena: admin list a batch", "POST", lambda m: f"{P}/jobs/admin/list_batch",
     lambda m: {"json": {"batch_id": m.batch()}}, (401, 403, 403, 200, 200)),
    ("provena: register a model run", "POST", lambda m: f"{P}/model_run/register", lambda m: {"json": RECORD},
     (401, 200, 200, 200, 200)),
    ("provena: register a batch", "POST", lambda m: f"{P}/model_run/register_batch",
     lambda m: {"json": {"records": [RECORD, RECORD]}}, (401, 200, 200, 200, 200)),
    ("provena: update a model run", "POST", lambda m: f"{P}/model_run/update",
     lambda m: {"json": {"model_run_id": "run-1", "reason": "fix", "record": RECORD}}, (401, 200, 200, 200, 200)),
    ("provena: create an item", "POST", lambda m: f"{P}/registry/agent/person/create",
     lambda m: {"json": {"display_name": "Ada", "email": "ada@example.org", "first_name": "Ada",
                         "last_name": "Lovelace"}}, (401, 200, 200, 200, 200)),
    ("provena: version an item", "POST", lambda m: f"{P}/registry/entity/dataset/version",
     lambda m: {"json": {"id": m.item(), "reason": "fixed units"}}, (401, 200, 403, 200, 403)),
]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name,method,url,kwargs,expected", PROVENA_CASES, ids=[c[0] for c in PROVENA_CASES])
def test_provena_authorization_matrix(env, role, name, method, url, kwargs, expected):
    r, want = _as(env, role, name, method, url, kwargs, expected)
    if want >= 400:
        assert r.json()["detail"]  # what Provena's client reads and reports


def _as(env, role, name, method, url, kwargs, expected):
    """Make a case's request as `role`; check its status; return the answer and it."""
    client, users, headers = env
    make = Make(users)
    kw = kwargs(make) if kwargs else {}
    kw["headers"] = {**kw.get("headers", {}), **headers[role]}
    r = client.request(method, url(make), **kw)
    want = expected[ROLES.index(role)]
    assert r.status_code == want, f"{name} as {role}: {r.status_code} {r.text[:300]}"
    return r, want


def test_a_token_is_had_for_a_username_and_password_only(env):
    client, users, headers = env
    ok = client.post("/api/tokens", json={"username": "alice", "password": "alice-password", "name": "script"})
    assert ok.status_code == 201 and ok.json()["token"].startswith("jdk_")
    for body in ({"username": "alice", "password": "bob-password"}, {"username": "nobody", "password": "x" * 9}):
        r = client.post("/api/tokens", json=body)
        assert r.status_code == 401 and r.headers["content-type"].startswith("application/problem+json")
    assert client.post("/api/tokens", json={"username": "alice"}).status_code == 422
    from app.db import session
    from app.models import ApiToken
    from sqlmodel import select

    with session() as s:  # kept as a hash only
        stored = [t.token_hash for t in s.exec(select(ApiToken))]
    assert ok.json()["token"] not in stored and hashlib.sha256(ok.json()["token"].encode()).hexdigest() in stored


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name,method,url,kwargs,expected", CASES, ids=[c[0] for c in CASES])
def test_authorization_matrix(env, role, name, method, url, kwargs, expected):
    r, want = _as(env, role, name, method, url, kwargs, expected)
    if want >= 400:
        assert r.headers["content-type"].startswith("application/problem+json")
        body = r.json()
        assert body["status"] == want and body["title"] and body["detail"]
    if want == 401:
        assert r.headers["www-authenticate"] == "Bearer"


def test_what_a_role_sees_is_its_own(env):
    """Lists hold only the caller's jobs; the admin route holds everyone's, filtered by user."""
    client, users, headers = env
    make = Make(users)
    alices = make.job()
    bobs = client.post("/api/jobs", headers=headers["other"],
                       json={"job_type": "PROV_LODGE", "job_subtype": "MODEL_RUN_PROV_LODGE",
                             "payload": {"record": RECORD}}).json()["id"]

    def ids(role, url):
        return {j["id"] for j in client.get(url, headers=headers[role], params={"limit": 500}).json()["jobs"]}

    assert alices in ids("owner", "/api/jobs") and bobs not in ids("owner", "/api/jobs")
    assert bobs in ids("other", "/api/jobs") and alices not in ids("other", "/api/jobs")
    assert alices not in ids("admin", "/api/jobs")  # the admin's own list is the admin's own
    only_bob = client.get("/api/admin/jobs", headers=headers["admin"], params={"username": "bob", "limit": 500}).json()
    assert bobs in {j["id"] for j in only_bob["jobs"]} and {j["owner"] for j in only_bob["jobs"]} == {"bob"}
    # A 404 for another's job says no more than for a job that does not exist.
    theirs = client.get(f"/api/jobs/{alices}", headers=headers["other"]).json()
    nobody = client.get("/api/jobs/00000000-0000-0000-0000-000000000000", headers=headers["other"]).json()
    assert theirs["title"] == nobody["title"] and theirs.keys() == nobody.keys()


def test_a_revoked_or_unknown_token_is_refused(env):
    from app import auth

    client, users, headers = env
    plain, tok = auth.create_token(owner="alice", name="short-lived")
    assert client.get("/api/me", headers={"Authorization": f"Bearer {plain}"}).json()["username"] == "alice"
    assert client.delete(f"/api/tokens/{tok.id}", headers=headers["owner"]).status_code == 204
    r = client.get("/api/me", headers={"Authorization": f"Bearer {plain}"})
    assert r.status_code == 401 and "revoked" in r.json()["detail"]
    r = client.get("/api/me", headers={"Authorization": "Bearer jdk_not-a-real-token"})
    assert r.status_code == 401
    r = client.get("/api/me", headers={"Authorization": "Basic YWxpY2U6eA=="})
    assert r.status_code == 401 and "Bearer" in r.json()["detail"]
