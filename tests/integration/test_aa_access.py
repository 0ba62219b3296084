"""Who may submit on Analytics Automated's routes, and what they then see: anonymous
submitters on public pipelines only (owned by the built-in anonymous user, known by
client address), token holders on any; a submission reached by its UUID alone, and
nothing else of its owner's. The job list's paging, endpoints and jobtimes shapes."""

from __future__ import annotations

import httpx
import pytest

from tests.integration.aa_live import SORTER, AAClient, configure, lodged_jobs, run_workers
from tests.integration.api_live import LiveServer, token_for


@pytest.fixture
def live(jobdeck, users):
    configured = configure(users["root"])
    server = LiveServer().start()
    server.pipelines = configured
    clients = []

    def client(token=None) -> AAClient:
        c = AAClient(server.url, token)
        clients.append(c)
        return c

    server.client = client
    try:
        yield server
    finally:
        for c in clients:
            c.close()
        server.stop()


def _root(uuid: str):
    from app.launch import get_job

    return get_job(uuid)


def test_anonymous_submitters_run_public_pipelines_only(live, users):
    anon = live.client()
    r = anon.submit("private", sort_reverse="TRUE")
    assert (r.status_code, r.json()) == (401, {"error": "private is not public: send a personal API token as "
                                                        "'Authorization: Bearer <token>'."})
    r = anon.submit("disabled", sort_reverse="TRUE")
    assert (r.status_code, r.json()) == (403, {"error": "disabled is present but currently disabled."})
    assert lodged_jobs() == 0
    r = anon.submit(**SORTER)
    assert r.status_code == 201, r.text
    sub = anon.batch(r.json()["UUID"])["submissions"][0]
    root = _root(sub["UUID"])
    assert (root.owner, root.client_addr, root.payload["email"]) == ("anonymous", "127.0.0.1", "someone@example.org")

    # The built-in owner cannot sign in, and nothing of it is listed to anyone else.
    from app import auth
    from app.errors import AuthenticationFailed, PermissionDenied

    with pytest.raises((AuthenticationFailed, PermissionDenied)):
        auth.password_sign_in("anonymous", "", address="127.0.0.9")
    alice = httpx.get(f"{live.url}/api/jobs", headers={"Authorization": f"Bearer {token_for('alice')}"}).json()
    assert alice["jobs"] == []
    assert httpx.get(f"{live.url}/api/jobs/{sub['UUID']}",
                     headers={"Authorization": f"Bearer {token_for('alice')}"}).status_code == 404


def test_a_token_runs_any_pipeline_as_its_user(live, users):
    alice = live.client(token_for("alice"))
    r = alice.submit("private", sort_reverse="TRUE")
    assert r.status_code == 201, r.text
    sub = alice.batch(r.json()["UUID"])["submissions"][0]
    root = _root(sub["UUID"])
    assert (root.owner, root.client_addr) == ("alice", None)
    mine = httpx.get(f"{live.url}/api/jobs", headers={"Authorization": f"Bearer {token_for('alice')}"}).json()
    assert [j["id"] for j in mine["jobs"]] == [sub["UUID"]]
    bad = live.client("jdk_not-a-token").submit(**SORTER)
    assert bad.status_code == 401 and "token" in bad.json()["error"]
    assert live.client().submit("disabled", sort_reverse="TRUE").status_code == 403


def test_a_submission_is_reached_by_its_uuid_and_nothing_else_of_its_owner(live, users):
    alice = live.client(token_for("alice"))
    first = alice.batch(alice.submit(**SORTER).json()["UUID"])["submissions"][0]
    second = alice.batch(alice.submit(**SORTER).json()["UUID"])["submissions"][0]
    run_workers()
    stranger = live.client()
    got = stranger.get(f"/submission/single/{first['UUID']}").json()
    assert got["state"] == 2 and got["results"]
    for x in got["results"]:
        assert stranger.get(x["data_path"]).status_code == 200
    # Another run's file names under this run's UUID, paths out of the run, forged ids: 404.
    other = second["UUID"]
    name = got["results"][0]["data_path"].split("/")[2].split("_", 1)[1]
    # A UUID one digit off the real one (never the real one, whatever its last digit).
    near = first["UUID"][:-1] + ("1" if first["UUID"].endswith("0") else "0")
    for forged in (f"{first['UUID']}_nosuch.txt", f"{first['UUID']}_..%2F..%2Fjobdeck.db",
                   f"{near}_{name}", "00000000-0000-4000-8000-000000000000_sorted.txt",
                   f"{other}_jobdeck.db"):
        r = stranger.get(f"/submissions/{forged}")
        assert (r.status_code, r.json()) == (404, {"detail": "Not found."}), forged
    # Jobdeck's own ids of other kinds are no A_A submission.
    from app import registry

    item, _ = registry.create_item(actor=users["bob"], subtype="PERSON", display_name="bob's")
    assert stranger.get(f"/submission/single/{item.create_workflow_id}").status_code == 404


def test_the_job_list_pages_by_ten(live, users):
    from app import pipelines

    for i in range(8):  # 12 in all
        pipelines.create_pipeline(actor=users["root"], name=f"extra {i}", steps=[{"order": 1, "task": "sort"}])
    c = live.client()
    page1 = c.get("/job/", params={"keep": "me"}).json()
    assert list(page1) == ["count", "next", "previous", "results"]
    assert page1["count"] == 12 and page1["previous"] is None and len(page1["results"]) == 10
    assert page1["next"] == f"{live.url}/analytics_automated/job/?keep=me&page=2"
    assert [list(x) for x in page1["results"]] == [["pk", "name"]] * 10
    assert [x["pk"] for x in page1["results"]] == sorted(x["pk"] for x in page1["results"])
    page2 = httpx.get(page1["next"]).json()
    assert page2["next"] is None and page2["previous"] == f"{live.url}/analytics_automated/job/?keep=me"
    assert [x["name"] for x in page2["results"]] == ["extra 6", "extra 7"]
    for bad in ("3", "0", "x", "-1"):
        r = c.get("/job/", params={"page": bad})
        assert (r.status_code, r.json()) == (404, {"detail": "Invalid page."}), bad


def test_endpoints_job_detail_and_jobtimes(live, users):
    c = live.client()
    ends = c.get("/endpoints/").json()
    assert list(ends) == ["jobs"]
    assert ends["jobs"][0] == ("/submission/&job=sorter&submission_name=[STRING]&email=[EMAIL_STRING]"
                               "&input_data=[FILE]&sort_reverse=[TRUE/FALSE]&split_lines=[VALUE]")
    assert len(ends["jobs"]) == 4  # runnable or not
    assert c.get("/job/broken").json() == {"name": "broken", "steps": [{"task": {"configuration": []}, "ordering": 1},
                                                                       {"task": {"configuration": []}, "ordering": 5}]}
    assert c.get("/jobtimes/").json() == {}
    c.submit(**SORTER)
    c.submit("broken", sort_reverse="TRUE")
    run_workers()
    times = c.get("/jobtimes/").json()
    assert list(times) == ["sorter"] and isinstance(times["sorter"], int) and times["sorter"] >= 0
    sorter = live.pipelines["sorter"].id
    est = httpx.get(f"{live.url}/api/pipelines/{sorter}", headers={"Authorization": f"Bearer {token_for('alice')}"})
    e = est.json()["estimate"]
    assert e["runs"] == 1 and e["p50"] == e["p95"] >= 0 and e["typical"] == times["sorter"]
    broken = httpx.get(f"{live.url}/api/pipelines/{live.pipelines['broken'].id}",
                       headers={"Authorization": f"Bearer {token_for('alice')}"}).json()["estimate"]
    assert broken == {"runs": 0, "p50": None, "p95": None, "typical": None}  # a failed run is no sample


def test_deleting_a_batch_of_runs_removes_their_files(live, users):
    from app.submissions import delete_submission
    from tests.integration.aa_live import stored_runs

    c = live.client()
    batch = c.submit("sorter,broken", **SORTER).json()["UUID"]
    run_workers()
    assert len(stored_runs()) == 2
    paths = [x["data_path"] for s in c.batch(batch)["submissions"] for x in s["results"]]
    delete_submission(actor=users["root"], submission_id=batch)
    assert stored_runs() == [] and lodged_jobs() == 0
    assert c.get(f"/submission/{batch}").status_code == 404
    assert all(c.get(p).status_code == 404 for p in paths)
