"""The pipeline routes: a user lists pipelines and runs one on a multipart upload (run
by real RQ workers), downloads a kept file; admins configure tasks and pipelines, with
problem details naming the field; the upload limit answers 413; who may do what."""

from __future__ import annotations

import hashlib
import json


from tests.conftest import run_workers

TEXT = b"to be or not to be\nthat is the question\n"


def problem_of(r, status):
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    return r.json()


TASKS = [
    {"name": "line count", "command": "wc -l {input}"},
    {"name": "sort lines", "command": "sort {input} -o {output_dir}/sorted.txt", "output_glob": "sorted.txt"},
    {"name": "word frequencies", "kind": "handler", "handler": "app.pipelines.word_frequencies",
     "output_glob": "*.csv", "parameters": [{"name": "top", "default": "20", "type": "integer", "minimum": 1,
                                             "maximum": 100000}]},
]
STEPS = [{"order": 1, "task": "line count"}, {"order": 1, "task": "sort lines"},
         {"order": 2, "task": "word frequencies"}]


def _configure(api) -> dict:
    for t in TASKS:
        r = api.post("/api/tasks", json=t, headers=api.as_("root"))
        assert r.status_code == 201, r.text
        assert r.headers["location"] == f"/api/tasks/{r.json()['id']}"
    r = api.post("/api/pipelines", json={"name": "Text summary", "steps": STEPS}, headers=api.as_("root"))
    assert r.status_code == 201, r.text
    return r.json()


def test_a_user_runs_a_pipeline_on_an_upload_and_downloads_its_output(api):
    p = _configure(api)
    listed = api.get("/api/pipelines", headers=api.as_("alice")).json()
    assert [(x["name"], [s["task"] for s in x["steps"]]) for x in listed] == [
        ("Text summary", ["line count", "sort lines", "word frequencies"])]
    assert listed[0]["parameters"] == [{"name": "top", "default": "20", "required": False,
                                        "tasks": ["word frequencies"], "type": "integer", "choices": [],
                                        "minimum": 1, "maximum": 100000, "rule": "a whole number from 1 to 100000"}]

    r = api.post(f"/api/pipelines/{p['id']}/runs", headers=api.as_("alice"),
                 files={"file": ("hamlet.txt", TEXT, "text/plain")}, data={"parameters": json.dumps({"top": "2"})})
    assert r.status_code == 201, r.text
    run = r.json()
    assert r.headers["location"] == f"/api/jobs/{run['session_id']}"
    assert run["job"]["job_type"] == "PIPELINE" and len(run["steps"]) == 2
    run_workers()
    jobs = api.get("/api/jobs", headers=api.as_("alice")).json()["jobs"]
    assert sorted((j["payload"]["task"], j["status"]) for j in jobs) == [
        ("line count", "SUCCEEDED"), ("sort lines", "SUCCEEDED"), ("word frequencies", "SUCCEEDED")]
    words = next(j for j in jobs if j["payload"]["task"] == "word frequencies")
    assert words["workflow_id"] == run["session_id"]
    (f,) = api.get(f"/api/jobs/{words['id']}/files", headers=api.as_("alice")).json()
    got = api.get(f"/api/jobs/{words['id']}/files/{f['name']}", headers=api.as_("alice"))
    assert got.status_code == 200 and got.text.splitlines() == ["word,count", "be,2", "to,2"]
    assert got.headers["x-content-sha256"] == f["sha256"] == hashlib.sha256(got.content).hexdigest()
    assert api.get(f"/api/jobs/{words['id']}/files/{f['name']}", headers=api.as_("bob")).status_code == 404


def test_run_refusals_are_problem_details(api, monkeypatch):
    from app.settings import reload_settings

    p = _configure(api)
    url = f"/api/pipelines/{p['id']}/runs"
    body = problem_of(api.post(url, headers=api.as_("alice"), files={"file": ("a.txt", b"a", "text/plain")},
                               data={"parameters": '{"lines": 3}'}), 400)
    assert body["field"] == "parameters.lines" and "takes no parameter 'lines'" in body["detail"]
    body = problem_of(api.post(url, headers=api.as_("alice"), files={"file": ("a.txt", b"a", "text/plain")},
                               data={"parameters": "[1"}), 422)
    assert body["field"] == "parameters"
    assert problem_of(api.post("/api/pipelines/999/runs", headers=api.as_("alice"),
                               files={"file": ("a.txt", b"a", "text/plain")}), 404)
    monkeypatch.setenv("JOBDECK_MAX_UPLOAD_BYTES", "10")
    reload_settings()
    body = problem_of(api.post(url, headers=api.as_("alice"), files={"file": ("a.txt", b"x" * 11, "text/plain")}),
                      413)
    assert body["field"] == "file" and "JOBDECK_MAX_UPLOAD_BYTES" in body["detail"]
    assert api.get("/api/jobs", headers=api.as_("alice")).json()["jobs"] == []


def test_admins_configure_tasks_and_pipelines(api):
    root = api.as_("root")
    assert problem_of(api.post("/api/tasks", json=TASKS[0], headers=api.as_("alice")), 403)
    assert problem_of(api.get("/api/tasks", headers=api.as_("alice")), 403)
    bad = problem_of(api.post("/api/tasks", json={"name": "bad", "command": "wc -l {file}"}, headers=root), 422)
    assert bad["field"] == "command" and "{file}" in bad["detail"]
    bad = problem_of(api.post("/api/tasks", json={"name": "bad", "kind": "handler", "handler": "os.system"},
                              headers=root), 422)
    assert bad["field"] == "handler"
    p = _configure(api)
    assert problem_of(api.post("/api/tasks", json=TASKS[0], headers=root), 409)["field"] == "name"
    tasks = {t["name"]: t for t in api.get("/api/tasks", headers=root).json()}
    assert tasks["word frequencies"]["parameters"] == [{"name": "top", "flag": "", "default": "20",
                                                        "required": False, "type": "integer", "choices": [],
                                                        "minimum": 1, "maximum": 100000, "bool_valued": False}]
    changed = api.put(f"/api/tasks/{tasks['line count']['id']}", headers=root,
                      json={**TASKS[0], "command": "grep -c {pattern} {input}", "ok_exit_codes": "0,1",
                            "parameters": [{"name": "pattern", "required": True}]})
    assert changed.status_code == 200 and changed.json()["ok_exit_codes"] == "0,1"
    got = api.get(f"/api/pipelines/{p['id']}", headers=api.as_("alice")).json()
    assert [(r["name"], r["required"]) for r in got["parameters"]] == [("pattern", True), ("top", False)]
    missing = problem_of(api.post(f"/api/pipelines/{p['id']}/runs", headers=api.as_("alice"),
                                  files={"file": ("a.txt", b"a", "text/plain")}), 400)
    assert missing["field"] == "parameters.pattern" and "it must be text" in missing["detail"]
    in_use = problem_of(api.delete(f"/api/tasks/{tasks['line count']['id']}", headers=root), 409)
    assert "is a step of Text summary" in in_use["detail"]
    r = api.put(f"/api/pipelines/{p['id']}", headers=root,
                json={"name": "Sorted", "steps": [{"order": 1, "task": tasks["sort lines"]["id"]}]})
    assert r.status_code == 200 and [s["task"] for s in r.json()["steps"]] == ["sort lines"]
    assert api.delete(f"/api/tasks/{tasks['line count']['id']}", headers=root).status_code == 204
    assert api.delete(f"/api/pipelines/{p['id']}", headers=root).status_code == 204
    assert problem_of(api.delete(f"/api/pipelines/{p['id']}", headers=root), 404)
    assert api.get("/api/pipelines", headers=api.as_("alice")).json() == []


def test_who_may_do_what(api):
    from app import auth

    auth.create_user(username="svc", password="svc-password", role="service")
    svc = {"Authorization": f"Bearer {auth.create_token(owner='svc')[0]}"}
    p = _configure(api)
    n = iter(range(1000))

    def task() -> int:
        r = api.post("/api/tasks", json={"name": f"spare {next(n)}", "command": "true"}, headers=api.as_("root"))
        return r.json()["id"]

    def pipeline() -> int:
        r = api.post("/api/pipelines", json={"name": f"spare {next(n)}", "steps": [{"order": 1, "task": task()}]},
                     headers=api.as_("root"))
        return r.json()["id"]

    upload = {"files": {"file": ("a.txt", b"a\n", "text/plain")}}
    cases = [  # method, url, kwargs, expected for anon, alice, bob, root, svc
        ("GET", lambda: "/api/pipelines", {}, (401, 200, 200, 200, 200)),
        ("GET", lambda: f"/api/pipelines/{p['id']}", {}, (401, 200, 200, 200, 200)),
        ("POST", lambda: f"/api/pipelines/{p['id']}/runs", upload, (401, 201, 201, 201, 201)),
        ("GET", lambda: "/api/tasks", {}, (401, 403, 403, 200, 200)),
        ("GET", lambda: f"/api/tasks/{task()}", {}, (401, 403, 403, 200, 200)),
        ("POST", lambda: "/api/tasks", {"json": {"name": "x", "command": "true"}}, (401, 403, 403, 201, 403)),
        ("PUT", lambda: f"/api/tasks/{task()}", {"json": {"name": "y", "command": "true"}}, (401, 403, 403, 200, 403)),
        ("DELETE", lambda: f"/api/tasks/{task()}", {}, (401, 403, 403, 204, 403)),
        ("POST", lambda: "/api/pipelines", {"json": {"name": "z", "steps": [{"order": 1, "task": "line count"}]}},
         (401, 403, 403, 201, 403)),
        ("PUT", lambda: f"/api/pipelines/{pipeline()}", {"json": {"name": "w", "steps": [{"order": 1, "task": "line count"}]}},
         (401, 403, 403, 200, 403)),
        ("DELETE", lambda: f"/api/pipelines/{pipeline()}", {}, (401, 403, 403, 204, 403)),
    ]
    for method, url, kwargs, expected in cases:
        for who, want in zip(("anon", "alice", "bob", "root", "svc"), expected):
            headers = {} if who == "anon" else svc if who == "svc" else api.as_(who)
            r = api.request(method, url(), headers=headers, **kwargs)
            assert r.status_code == want, f"{method} {r.url} as {who}: {r.status_code} {r.text[:200]}"
            if want == 201 and method == "POST" and kwargs.get("json", {}).get("name") in ("x", "z"):
                api.delete(r.headers["location"], headers=api.as_("root"))  # the next role makes it again


def test_a_pipeline_is_runnable_or_public_and_a_parameter_a_switch(api):
    root = api.as_("root")
    r = api.post("/api/tasks", headers=root, json={"name": "sorter", "command": "sort {input}",
                                                   "parameters": [{"name": "reverse", "flag": "-r",
                                                                   "bool_valued": True}]})
    assert r.status_code == 201 and r.json()["parameters"][0]["bool_valued"] is True
    bad = problem_of(api.post("/api/tasks", headers=root, json={"name": "x", "command": "sort {input}",
                                                                "parameters": [{"name": "r", "bool_valued": True}]}),
                     422)
    assert bad["field"] == "parameters.0.flag"
    r = api.post("/api/pipelines", headers=root, json={"name": "S", "steps": [{"order": 1, "task": "sorter"}]})
    assert (r.json()["runnable"], r.json()["public"]) == (True, False)
    r = api.put(f"/api/pipelines/{r.json()['id']}", headers=root,
                json={"name": "S", "steps": [{"order": 1, "task": "sorter"}], "runnable": False, "public": True})
    assert r.status_code == 200 and (r.json()["runnable"], r.json()["public"]) == (False, True)
    assert api.get(f"/api/pipelines/{r.json()['id']}", headers=api.as_("alice")).json()["public"] is True
    run = api.post(f"/api/pipelines/{r.json()['id']}/runs", headers=api.as_("alice"),
                   files={"file": ("a.txt", b"a", "text/plain")})
    assert "currently disabled" in problem_of(run, 403)["detail"]


def test_a_task_a_run_under_way_keeps_may_be_removed_but_not_one_an_old_run_needs(api):
    """A run keeps its version of its tasks: the task may go under it (no pipeline naming
    it), and the run still runs it. A run lodged before runs kept them reads the task as
    configured: the task stays until it ends, the refusal naming it."""
    from tests.integration.test_run_versions import _without_versions

    root, alice = api.as_("root"), api.as_("alice")
    p = _configure(api)
    tasks = {t["name"]: t["id"] for t in api.get("/api/tasks", headers=root).json()}
    words = f"/api/tasks/{tasks['word frequencies']}"

    def run() -> str:
        r = api.post(f"/api/pipelines/{p['id']}/runs", headers=alice, files={"file": ("a.txt", TEXT, "text/plain")})
        assert r.status_code == 201, r.text
        return r.json()["session_id"]

    def steps_of(run_id: str) -> list[tuple[str, str]]:
        jobs = api.get("/api/jobs", headers=alice).json()["jobs"]
        return sorted((j["payload"]["task"], j["status"]) for j in jobs if j["workflow_id"] == run_id)

    kept, old = run(), run()
    _without_versions(old)
    # still a step of the pipeline: refused whatever the runs keep
    assert "is a step of Text summary" in problem_of(api.delete(words, headers=root), 409)["detail"]
    r = api.put(f"/api/pipelines/{p['id']}", headers=root, json={"name": "Text summary", "steps": STEPS[:2]})
    assert r.status_code == 200, r.text
    # the old run's second order reads the task row: refused, naming that run (not the one that keeps it)
    body = problem_of(api.delete(words, headers=root), 409)
    assert f"still needed by run {old}, lodged before runs kept" in body["detail"] and kept not in body["detail"]
    assert body["run_id"] == old
    assert api.get(words, headers=root).status_code == 200

    # The old run cancelled, the one that keeps its version is all that uses the task: it goes.
    assert api.post(f"/api/admin/submissions/{old}/cancel", headers=root).status_code == 200
    assert api.delete(words, headers=root).status_code == 204
    assert problem_of(api.get(words, headers=root), 404)
    run_workers()  # the run's second order runs the task it kept
    assert steps_of(kept) == [("line count", "SUCCEEDED"), ("sort lines", "SUCCEEDED"),
                              ("word frequencies", "SUCCEEDED")]
