"""A pipeline run seen as one unit through the REST API, run by real RQ workers: every
parameter checked against its rule when the run is lodged (400, nothing lodged), the
run's overall state on the job answer of each of its steps, runs named after their
pipeline and upload, paths shown relative to the run, and what each job is about
(`subject`) in the job list."""

from __future__ import annotations

import json

import pytest

from tests.conftest import run_workers

TEXT = b"the cat sat\non the mat\nthe end\n"


def _task(api, **t) -> dict:
    r = api.post("/api/tasks", json=t, headers=api.as_("root"))
    assert r.status_code == 201, r.text
    return r.json()


def _pipeline(api, name: str, steps: list[tuple[int, str]]) -> dict:
    r = api.post("/api/pipelines", json={"name": name, "steps": [{"order": o, "task": t} for o, t in steps]},
                 headers=api.as_("root"))
    assert r.status_code == 201, r.text
    return r.json()


def _run(api, pipeline_id: int, params: dict, name: str = "notes.txt"):
    return api.post(f"/api/pipelines/{pipeline_id}/runs", headers=api.as_("alice"),
                    files={"file": (name, TEXT, "text/plain")}, data={"parameters": json.dumps(params)})


def _text_summary(api) -> dict:
    from app.demo import DEMO_PIPELINES, DEMO_TASKS

    for t in DEMO_TASKS:
        _task(api, **t)
    name, description, steps = DEMO_PIPELINES[0]
    return _pipeline(api, name, [(s["order"], s["task"]) for s in steps])


def test_every_parameter_is_checked_against_its_rule_when_the_run_is_lodged(api):
    from app import pipelines

    p = _text_summary(api)
    (top,) = p["parameters"]
    assert (top["type"], top["rule"], top["default"]) == ("integer", "a whole number from 1 to 100000", "20")
    # top is taken by the last step only: before, 0 was refused when that step ran, after
    # the first two had done their work
    for value, shown in (("0", "'0'"), ("ten", "'ten'"), ("2.5", "'2.5'"), (100001, "'100001'")):
        r = _run(api, p["id"], {"top": value})
        assert r.status_code == 400, r.text
        body = r.json()
        assert body["field"] == "parameters.top"
        assert body["detail"] == (f"Parameter top must be a whole number from 1 to 100000 (task word frequencies); "
                                  f"{shown} is not.")
    assert api.get("/api/jobs", headers=api.as_("alice")).json()["jobs"] == []  # nothing lodged
    assert not pipelines.runs_dir().exists() or not any(pipelines.runs_dir().iterdir())  # nothing stored
    assert _run(api, p["id"], {"top": " 3 "}).status_code == 201


def test_choices_ranges_and_rules_of_two_tasks_sharing_a_parameter(api):
    _task(api, name="pick", command="echo {mode} {input}",
          parameters=[{"name": "mode", "type": "choice", "choices": ["fast", "slow"], "default": "fast"}])
    _task(api, name="head", command="head -n {n} {input}",
          parameters=[{"name": "n", "type": "integer", "minimum": 1, "required": True}])
    _task(api, name="head again", command="head -c {n} {input}",
          parameters=[{"name": "n", "type": "number", "maximum": 50}])
    p = _pipeline(api, "Checked", [(1, "pick"), (2, "head"), (3, "head again")])
    assert {r["name"]: r["rule"] for r in p["parameters"]} == {
        "mode": "one of: fast, slow", "n": "a whole number of at least 1 and a number of at most 50"}
    r = _run(api, p["id"], {"mode": "quick", "n": 3})
    assert r.status_code == 400 and r.json()["field"] == "parameters.mode"
    assert "must be one of: fast, slow (task pick); 'quick' is not." in r.json()["detail"]
    r = _run(api, p["id"], {"n": 60})  # the first task takes it, the second does not
    assert r.status_code == 400 and "a number of at most 50 (task head again); '60' is not" in r.json()["detail"]
    r = _run(api, p["id"], {"mode": "slow"})
    assert r.status_code == 400 and r.json()["detail"] == (
        "Parameter n is required (by head, head again); it must be a whole number of at least 1 and a number "
        "of at most 50.")
    assert api.get("/api/jobs", headers=api.as_("alice")).json()["jobs"] == []
    assert _run(api, p["id"], {"mode": "slow", "n": 5}).status_code == 201


@pytest.mark.parametrize("param, field, words", [
    ({"name": "m", "type": "choice"}, "parameters.0.choices", "give 1 to 50 allowed values"),
    ({"name": "m", "type": "colour"}, "parameters.0.type", "must be one of text, integer"),
    ({"name": "m", "choices": ["a"]}, "parameters.0.choices", "Only a parameter of type choice"),
    ({"name": "m", "type": "integer", "minimum": 5, "maximum": 2}, "parameters.0.minimum", "above its maximum"),
    ({"name": "m", "type": "integer", "minimum": -1}, "parameters.0.minimum", "0 or more"),
    ({"name": "m", "type": "text", "maximum": 3}, "parameters.0.maximum", "Only a parameter of type integer"),
    ({"name": "m", "type": "integer", "maximum": 10, "default": "11"}, "parameters.0.default",
     "must be a whole number of at most 10; '11' is not"),
    ({"name": "m", "type": "choice", "choices": ["a", "a"]}, "parameters.0.choices", "twice"),
])
def test_a_rule_an_admin_declares_is_checked_and_named(api, param, field, words):
    r = api.post("/api/tasks", json={"name": "t", "command": "echo {m}", "parameters": [param]},
                 headers=api.as_("root"))
    assert r.status_code == 422, r.text
    assert r.json()["field"] == field and words in r.json()["detail"]
    assert api.get("/api/tasks", headers=api.as_("root")).json() == []


def test_a_run_is_named_shows_its_overall_state_and_paths_inside_it(api, users):
    from app import submissions

    _task(api, name="count", command="wc -l {input}")
    _task(api, name="sorted", command="sort {input} -o {output_dir}/sorted.txt", output_glob="sorted.txt")
    _task(api, name="broken", command="sh -c 'cat \"$0\"; exit 2' {input}")
    p = _pipeline(api, "Count then break", [(1, "count"), (1, "sorted"), (2, "broken")])
    r = _run(api, p["id"], {}, name="poem.txt")
    assert r.status_code == 201, r.text
    root = r.json()["session_id"]
    assert r.json()["job"]["run"]["name"] == "Count then break on poem.txt"
    run_workers()

    # the first step succeeded, the run did not: every step's answer says so
    me = api.as_("alice")
    first = api.get(f"/api/jobs/{root}", headers=me).json()
    assert first["status"] == "SUCCEEDED"
    assert first["run"] == {"id": root, "name": "Count then break on poem.txt", "status": "FAILED", "final": True,
                            "steps": 3, "finished": 3, "failed": 1, "summary": "3 of 3 steps finished, 1 failed"}
    listed = api.get("/api/jobs", headers=me).json()["jobs"]
    assert sorted((j["payload"]["task"], j["status"], j["run"]["status"]) for j in listed) == [
        ("broken", "FAILED", "FAILED"), ("count", "SUCCEEDED", "FAILED"), ("sorted", "SUCCEEDED", "FAILED")]
    assert {j["subject"] for j in listed} == {"Count then break on poem.txt"}
    admin = api.get(f"/api/admin/jobs/{root}", headers=api.as_("root")).json()
    assert admin["run"]["status"] == "FAILED"
    (sub,) = submissions.list_submissions(viewer=users["root"]).submissions
    assert (sub.id, sub.status, sub.title) == (root, "FAILED", "Count then break on poem.txt")

    # paths inside the run, never the server's: history, outputs and inputs
    count = next(j for j in listed if j["payload"]["task"] == "count")
    broken = next(j for j in listed if j["payload"]["task"] == "broken")
    texts = [m["text"] for m in api.get(f"/api/jobs/{count['id']}/messages", headers=me).json()]
    assert "Running: wc -l upload/poem.txt (time limit 600 s)" in texts
    assert "stdout:\n3 upload/poem.txt\n" in texts
    assert count["result"]["stdout"] == "3 upload/poem.txt\n"
    assert count["payload"]["upload"]["path"] == "upload/poem.txt"
    sort_id = next(j["id"] for j in listed if j["payload"]["task"] == "sorted")
    assert [i["path"] for i in broken["payload"]["inputs"]] == [f"{sort_id}/a1/out/sorted.txt"]
    texts = [m["text"] for m in api.get(f"/api/jobs/{broken['id']}/messages", headers=me).json()]
    assert f"Running: sh -c 'cat \"$0\"; exit 2' {sort_id}/a1/out/sorted.txt (time limit 600 s)" in texts
    everything = json.dumps([api.get(f"/api/jobs/{j['id']}/messages", headers=me).json() for j in listed] + listed)
    assert "/files/runs/" not in everything
    from app.settings import get_settings
    assert str(get_settings().data_dir) not in everything


def test_the_job_list_says_what_each_job_is_about(api, users):
    from app import launch, registry

    registry.create_item(actor=users["alice"], subtype="DATASET", display_name="Daily rainfall")
    item, _ = registry.create_item(actor=users["alice"], subtype="MODEL", display_name="Water balance")
    registry.version_item(actor=users["alice"], item_id=item.id, reason="recalibrated")
    launch.launch_batch(actor=users["root"], job_type="SYSTEM", job_subtype="NOOP", payloads=[{}, {}],
                        label="Nightly checks", owner="alice")
    run_workers()
    jobs = api.get("/api/jobs?limit=100", headers=api.as_("alice")).json()["jobs"]
    about = sorted({(j["job_subtype"], j["subject"]) for j in jobs})
    assert about == [
        ("LODGE_CREATE_ACTIVITY", "Daily rainfall"), ("LODGE_CREATE_ACTIVITY", "Water balance"),
        ("LODGE_VERSION_ACTIVITY", "Water balance (v2)"),
        ("NOOP", "Nightly checks"),
        ("REGISTER_CREATE_ACTIVITY", "Daily rainfall"), ("REGISTER_CREATE_ACTIVITY", "Water balance"),
        ("REGISTER_VERSION_ACTIVITY", "Water balance (v2)")]
    assert all(j["run"] is None for j in jobs)
