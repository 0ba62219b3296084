"""The configuration as one YAML document over real HTTP (uvicorn on a real port): export,
a round trip export → import → export byte for byte, a dry run that writes nothing, an
import that creates, changes and removes (audited, in one transaction), every refusal a
4xx naming the path of the bad value with nothing written, hostile documents (huge,
deep, aliases, tags, duplicate keys), removals a run under way forbids, a run that keeps
the steps it started with, and who may do what."""

from __future__ import annotations

import json

import httpx
import pytest
import yaml

from tests.conftest import run_workers
from tests.integration.api_live import LiveServer, token_for

TASKS = [
    {"name": "line count", "command": "wc -l {input}"},
    {"name": "sort lines", "command": "sort {input} -o {output_dir}/sorted.txt", "output_glob": "sorted.txt",
     "description": "Sorts the lines.\nKeeps sorted.txt.", "retries": 1, "software_version": "sort (GNU coreutils) 9.1",
     "environment": {"LC_ALL": "C", "SORT_NOTE": "1.5", "EMPTY": ""}},
    {"name": "word frequencies", "kind": "handler", "handler": "app.pipelines.word_frequencies",
     "output_glob": "*.csv", "parameters": [{"name": "top", "default": "20", "type": "integer", "minimum": 1,
                                             "maximum": 100000}]},
]
STEPS = [{"order": 1, "task": "line count"}, {"order": 1, "task": "sort lines"},
         {"order": 2, "task": "word frequencies"}]
YAML = {"Content-Type": "application/yaml"}


@pytest.fixture
def live(jobdeck, users):
    from app import auth

    auth.create_user(username="svc", password="svc-password", role="service")
    server = LiveServer().start()
    tokens = {name: token_for(name) for name in ("root", "alice", "svc")}
    with httpx.Client(base_url=server.url, timeout=30) as client:
        client.as_ = lambda name: {"Authorization": f"Bearer {tokens[name]}"}
        yield client
    server.stop()


def _configure(api) -> dict:
    for t in TASKS:
        r = api.post("/api/tasks", json=t, headers=api.as_("root"))
        assert r.status_code == 201, r.text
    r = api.post("/api/pipelines", json={"name": "Text summary", "steps": STEPS, "validators": ["none"],
                                         "queue_hard_limit": 5}, headers=api.as_("root"))
    assert r.status_code == 201, r.text
    return r.json()


def export(api) -> str:
    r = api.get("/api/admin/config", headers=api.as_("root"))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/yaml")
    return r.text


def put(api, text, *, dry_run=False, who="root", headers=YAML):
    return api.put("/api/admin/config", params={"dry_run": "true"} if dry_run else None,
                   content=text.encode() if isinstance(text, str) else text, headers={**headers, **api.as_(who)})


def problem_of(r, status, field=None):
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["status"] == status and body["detail"]
    if field is not None:
        assert body.get("field") == field, body
    return body


def audit(api, action="config.import") -> list[dict]:
    r = api.get("/api/admin/audit", params={"action": action}, headers=api.as_("root"))
    assert r.status_code == 200, r.text
    return r.json()["entries"]


def test_export_is_the_whole_configuration_in_canonical_form(live):
    _configure(live)
    text = export(live)
    assert text.startswith("# Jobdeck configuration")
    doc = yaml.safe_load(text)
    assert list(doc) == ["version", "backends", "tasks", "pipelines"] and doc["version"] == 1
    assert {"pipeline", "prov", "registry", "system"} <= {b["name"] for b in doc["backends"]}
    system = next(b for b in doc["backends"] if b["name"] == "system")
    assert system == {"name": "system", "max_workers": 2, "idle_timeout_s": 120, "job_timeout_s": 0}
    assert [t["name"] for t in doc["tasks"]] == ["line count", "sort lines", "word frequencies"]
    # Defaults are left out; a bound reads as written; several lines stay several lines.
    assert doc["tasks"][0] == {"name": "line count", "backend": "pipeline", "kind": "command",
                               "command": "wc -l {input}"}
    assert doc["tasks"][2]["parameters"] == [{"name": "top", "default": "20", "type": "integer", "minimum": 1,
                                              "maximum": 100000}]
    assert "description: |-\n    Sorts the lines.\n    Keeps sorted.txt.\n" in text
    # A task's retries, version and variables (by name) follow its time limit; text that reads as a number stays text.
    sort = doc["tasks"][1]
    assert list(sort)[-3:] == ["retries", "software_version", "environment"]
    assert (sort["retries"], sort["software_version"]) == (1, "sort (GNU coreutils) 9.1")
    assert sort["environment"] == {"EMPTY": "", "LC_ALL": "C", "SORT_NOTE": "1.5"}
    assert "    SORT_NOTE: '1.5'\n" in text
    assert doc["pipelines"] == [{"name": "Text summary", "steps": STEPS, "queue_hard_limit": 5,
                                 "validators": ["none"]}]
    # Services read it too; the same configuration gives the same bytes.
    r = live.get("/api/admin/config", headers=live.as_("svc"))
    assert r.status_code == 200 and r.text == text == export(live)


def test_a_round_trip_is_byte_identical_and_an_emptied_configuration_comes_back(live):
    _configure(live)
    first = export(live)
    r = put(live, first)
    assert r.status_code == 200, r.text
    assert r.json()["summary"] == f"0 created, 0 changed, 0 removed, {r.json()['unchanged']} unchanged"
    assert export(live) == first

    # Remove every task and pipeline, then import the first export into the empty configuration.
    r = put(live, "tasks: []\npipelines: []\n")
    assert r.status_code == 200, r.text
    assert (r.json()["removed"], r.json()["created"]) == (4, 0)
    assert live.get("/api/tasks", headers=live.as_("root")).json() == []
    r = put(live, first)
    assert r.status_code == 200, r.text
    assert (r.json()["created"], r.json()["changed"], r.json()["removed"]) == (4, 0, 0)
    assert export(live) == first


def test_a_dry_run_says_what_would_change_and_writes_nothing(live):
    _configure(live)
    before = export(live)
    doc = yaml.safe_load(before)
    doc["tasks"][0]["command"] = "wc -w {input}"
    doc["tasks"].append({"name": "upper", "backend": "pipeline", "kind": "command", "command": "tr a-z A-Z"})
    doc["pipelines"] = []
    system = next(b for b in doc["backends"] if b["name"] == "system")
    system["max_workers"] = 4
    r = put(live, yaml.safe_dump(doc), dry_run=True)
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["applied"] is False and got["summary"].startswith("1 to create, 2 to change, 1 to remove")
    assert {(c["kind"], c["name"], c["action"], tuple(c["fields"])) for c in got["changes"]} == {
        ("task", "upper", "create", ()), ("task", "line count", "change", ("command",)),
        ("backend", "system", "change", ("max_workers",)), ("pipeline", "Text summary", "remove", ())}
    assert export(live) == before
    assert audit(live) == []  # a dry run changes nothing, so it is not an action of the log


def test_an_import_creates_changes_and_removes_in_place(live):
    p = _configure(live)
    tasks = {t["name"]: t["id"] for t in live.get("/api/tasks", headers=live.as_("root")).json()}
    doc = yaml.safe_load(export(live))
    doc["tasks"] = [t for t in doc["tasks"] if t["name"] != "sort lines"]
    doc["tasks"][0]["timeout_s"] = 30
    doc["tasks"].append({"name": "upper", "backend": "pipeline", "kind": "command", "command": "tr a-z A-Z",
                         "parameters": [{"name": "mode", "flag": "--mode", "type": "choice",
                                         "choices": ["fast", "slow"]}]})
    doc["pipelines"][0]["steps"] = [{"order": 2, "task": "word frequencies"}, {"order": 1, "task": "upper"},
                                    {"order": 1, "task": "line count"}]
    doc["pipelines"].append({"name": "Shout", "steps": [{"order": 1, "task": "upper"}], "public": True})
    del doc["backends"]  # left out: the backends stay as they are
    r = put(live, yaml.safe_dump(doc, sort_keys=False))
    assert r.status_code == 200, r.text
    assert r.json()["summary"] == "2 created, 2 changed, 1 removed, 5 unchanged"  # 4 backends left out

    now = {t["name"]: t for t in live.get("/api/tasks", headers=live.as_("root")).json()}
    assert set(now) == {"line count", "upper", "word frequencies"}
    assert now["line count"]["id"] == tasks["line count"] and now["line count"]["timeout_s"] == 30
    assert now["upper"]["parameters"][0]["choices"] == ["fast", "slow"]
    pipes = {x["name"]: x for x in live.get("/api/pipelines", headers=live.as_("root")).json()}
    assert pipes["Text summary"]["id"] == p["id"]
    assert [(s["order"], s["task"]) for s in pipes["Text summary"]["steps"]] == [
        (1, "upper"), (1, "line count"), (2, "word frequencies")]
    assert pipes["Shout"]["public"] is True
    # The export reads back what was imported, and importing it again changes nothing.
    again = export(live)
    assert put(live, again).json()["summary"].startswith("0 created, 0 changed, 0 removed")
    assert export(live) == again
    entry = audit(live)[-1]  # newest first: the first import
    assert entry["outcome"] == "ok" and entry["actor"] == "root" and entry["via"] == "api"
    assert entry["target"] == "configuration: 2 created, 2 changed, 1 removed, 5 unchanged"


def _bad(doc: dict, path: str, value) -> dict:
    """doc with the value at path ("tasks", 2, "parameters", 0, "flag") replaced."""
    doc = json.loads(json.dumps(doc))
    at = doc
    for p in path[:-1]:
        at = at[p]
    at[path[-1]] = value
    return doc


REFUSALS = [
    # (where, the value put there, the status, the field named)
    (("tasks", 2, "parameters", 0, "flag"), "lines", 422, "tasks[2].parameters[0].flag"),
    (("tasks", 2, "parameters", 0, "type"), "colour", 422, "tasks[2].parameters[0].type"),
    (("tasks", 2, "parameters", 0, "minimum"), "one", 422, "tasks[2].parameters[0].minimum"),
    (("tasks", 2, "parameters", 0, "default"), "0", 422, "tasks[2].parameters[0].default"),
    (("tasks", 0, "command"), "wc -l {nothing}", 422, "tasks[0].command"),
    (("tasks", 0, "timeout_s"), "ten", 422, "tasks[0].timeout_s"),
    (("tasks", 0, "timeout_s"), 10 ** 9, 422, "tasks[0].timeout_s"),
    (("tasks", 0, "name"), ["a", "list"], 422, "tasks[0].name"),
    (("tasks", 0, "comand"), "wc -l {input}", 422, "tasks[0].comand"),  # an unknown key
    (("tasks", 0, "backend"), "gpu", 422, "tasks[0].backend"),  # a backend referenced but missing
    (("tasks", 1, "name"), "line count", 422, "tasks[1].name"),  # named twice
    (("tasks", 2, "handler"), "os.system", 422, "tasks[2].handler"),
    (("pipelines", 0, "steps", 1, "task"), "no such task", 422, "pipelines[0].steps[1].task"),
    (("pipelines", 0, "steps", 0, "order"), 0, 422, "pipelines[0].steps[0].order"),
    (("pipelines", 0, "steps"), [], 422, "pipelines[0].steps"),
    (("pipelines", 0, "validators"), ["nope"], 422, "pipelines[0].validators[0]"),
    (("pipelines", 0, "runnable"), "yes please", 422, "pipelines[0].runnable"),
    (("pipelines", 0, "queue_hard_limit"), -1, 422, "pipelines[0].queue_hard_limit"),
    (("backends", 0, "max_workers"), 1000, 422, "backends[0].max_workers"),
    (("backends", 0, "name"), "No Where", 422, "backends[0].name"),  # a new backend's name names its queues
    (("backends", 1, "name"), "a/b", 422, "backends[1].name"),
    (("backends", 1, "max_workers"), -1, 422, "backends[1].max_workers"),
    (("backends", 2, "idle_timeout_s"), "soon", 422, "backends[2].idle_timeout_s"),
    (("backends", 2, "job_timeout_s"), 86_401, 422, "backends[2].job_timeout_s"),
    (("backends", 3, "description"), "x" * 501, 422, "backends[3].description"),
    (("backends", 3, "description"), "bell\x07", 422, "backends[3].description"),
    (("backends", 3, "description"), ["a", "list"], 422, "backends[3].description"),
    (("backends", 3, "queue"), "x", 422, "backends[3].queue"),  # an unknown key
    (("backends", 3, "name"), "pipeline", 422, "backends[3].name"),  # named twice
    (("version",), 2, 422, "version"),
    (("tasks",), {"line count": {}}, 422, "tasks"),
    (("tasks", 1, "environment", "LC_ALL"), "x" * 4001, 422, "tasks[1].environment.LC_ALL"),
    (("tasks", 1, "environment", "LC_ALL"), ["C"], 422, "tasks[1].environment.LC_ALL"),
    (("tasks", 1, "environment"), {"1X": "a"}, 422, "tasks[1].environment"),
    (("tasks", 1, "environment"), ["LC_ALL=C"], 422, "tasks[1].environment"),
    (("tasks", 1, "environment"), {"HOME": "/"}, 422, "tasks[1].environment.HOME"),
    (("tasks", 1, "retries"), -1, 422, "tasks[1].retries"),
    (("tasks", 1, "retries"), "two", 422, "tasks[1].retries"),
    (("tasks", 1, "software_version"), ["9.1"], 422, "tasks[1].software_version"),
]


def test_a_bad_value_is_refused_naming_its_path_and_nothing_is_written(live):
    _configure(live)
    before = export(live)
    doc = yaml.safe_load(before)
    for path, value, status, field in REFUSALS:
        bad = _bad(doc, path, value)
        if isinstance(bad["tasks"], list):  # something to create besides: nothing is, either
            bad["tasks"].append({"name": "new task", "backend": "pipeline", "kind": "command",
                                 "command": "true"})
        for dry_run in (True, False):
            body = problem_of(put(live, yaml.safe_dump(bad, sort_keys=False), dry_run=dry_run), status, field)
            assert body["detail"].startswith(field), body
    assert export(live) == before
    entries = audit(live)
    assert len(entries) == len(REFUSALS) and {e["outcome"] for e in entries} == {"refused"}


def test_hostile_documents_are_refused_with_4xx(live):
    _configure(live)
    before = export(live)
    laughs = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8))
    cases = [
        ("tasks: []\n" + "# padding\n" * 300_000, {}, 413, "document"),
        ("tasks:\n" + "".join(" " * (2 * i) + "- \n" for i in range(40)), {}, 400, None),
        ("tasks: " + "[" * 5000 + "]" * 5000, {}, 400, None),
        (laughs, {}, 400, "a"),
        ("tasks:\n- &t {name: x, command: 'true'}\n- *t\n", {}, 400, "tasks[0]"),
        ("tasks: !!python/object/apply:os.system ['true']\n", {}, 400, "tasks"),
        ("tasks:\n- name: x\n  name: y\n", {}, 400, "tasks[0].name"),
        ("tasks: []\n---\npipelines: []\n", {}, 400, "document"),
        ("tasks: [\n", {}, 400, "document"),
        ("{<<: {tasks: []}}\n", {}, 400, "document"),
        ("tasks: [{name: x, command: 'true', timeout_s: " + "9" * 6000 + "}]\n", {}, 400, "document"),
        (b"tasks: [\xff]\n", {}, 400, "document"),
        ("", {}, 422, "document"),
        ("- just\n- a list\n", {}, 422, None),
        ("hello: world\n", {}, 422, "hello"),
        ("version: 1\n", {}, 422, "document"),
        ("tasks: []\n", {"Content-Type": "application/xml"}, 415, None),
        ("tasks: [{name: x, command: 'true', description: 2024-01-01}]\n", {}, 422, "tasks[0].description"),
    ]
    for text, headers, status, field in cases:
        problem_of(put(live, text, headers=headers or YAML), status, field)
    big = "tasks:\n" + "".join(f"- {{name: t{i}, command: 'true'}}\n" for i in range(1001))
    problem_of(put(live, big), 422, "tasks")
    assert export(live) == before
    # A document written as JSON is YAML too.
    doc = yaml.safe_load(before)
    r = put(live, json.dumps(doc), headers={"Content-Type": "application/json"})
    assert r.status_code == 200 and r.json()["changed"] == 0


def _lodge_run(live, pipeline_id: int) -> str:
    r = live.post(f"/api/pipelines/{pipeline_id}/runs", headers=live.as_("alice"),
                  files={"file": ("a.txt", b"b\na\n", "text/plain")})
    assert r.status_code == 201, r.text
    return r.json()["session_id"]


def test_a_removal_a_run_under_way_uses_is_refused_and_a_run_keeps_its_steps(live):
    from tests.integration.test_run_versions import _without_versions

    p = _configure(live)
    run = _lodge_run(live, p["id"])
    before = export(live)
    doc = yaml.safe_load(before)

    gone = dict(doc, pipelines=[])
    body = problem_of(put(live, yaml.safe_dump(gone), dry_run=True), 409, "pipelines")
    assert "'Text summary' would be removed, but runs under way use it" in body["detail"] and run in body["detail"]
    problem_of(put(live, yaml.safe_dump(gone)), 409, "pipelines")

    # A task a run lodged before runs kept their tasks still needs (a step not yet
    # started reads it as configured): refused, naming that run, not the one that keeps it.
    old = _lodge_run(live, p["id"])
    _without_versions(old)
    dropped = yaml.safe_dump(dict(doc, tasks=[t for t in doc["tasks"] if t["name"] != "word frequencies"],
                                  pipelines=[dict(doc["pipelines"][0], steps=STEPS[:2])]))
    body = problem_of(put(live, dropped, dry_run=True), 409, "tasks")
    assert f"task 'word frequencies' would be removed, but it is still needed by run {old}" in body["detail"]
    assert run not in body["detail"] and body["run_id"] == old
    problem_of(put(live, dropped), 409, "tasks")
    assert export(live) == before

    # With the old run cancelled, the run under way keeps its version of the task: the
    # task goes and the pipeline changes under it, and the run still runs its three steps.
    assert live.post(f"/api/admin/submissions/{old}/cancel", headers=live.as_("root")).status_code == 200
    r = put(live, dropped)
    assert r.status_code == 200 and (r.json()["removed"], r.json()["changed"]) == (1, 1), r.text
    run_workers()
    jobs = live.get("/api/jobs", headers=live.as_("alice")).json()["jobs"]
    assert sorted((j["payload"]["task"], j["status"]) for j in jobs if j["workflow_id"] == run) == [
        ("line count", "SUCCEEDED"), ("sort lines", "SUCCEEDED"), ("word frequencies", "SUCCEEDED")]
    # Once it has ended, the pipeline and the tasks it no longer names may go.
    r = put(live, yaml.safe_dump(dict(doc, tasks=doc["tasks"][:1], pipelines=[])))
    assert r.status_code == 200 and r.json()["removed"] == 2


def test_only_admins_import_and_only_admins_and_services_export(live):
    _configure(live)
    text = export(live)
    problem_of(live.get("/api/admin/config", headers=live.as_("alice")), 403)
    problem_of(put(live, text, who="alice"), 403)
    problem_of(put(live, text, who="alice", dry_run=True), 403)
    problem_of(put(live, text, who="svc"), 403)
    problem_of(live.get("/api/admin/config"), 401)
    assert export(live) == text


def test_a_section_left_out_changes_nothing_and_is_not_broken_by_one_given(live):
    _configure(live)
    before = export(live)
    # Tasks alone: the pipelines stay, so none of their tasks may go.
    body = problem_of(put(live, "tasks: []\n"), 422, "tasks")
    assert "task 'line count' is left out" in body["detail"] and "'Text summary'" in body["detail"]
    # Pipelines alone name the tasks configured now.
    body = problem_of(put(live, yaml.safe_dump({"pipelines": [{"name": "Only", "steps": [
        {"order": 1, "task": "upper"}]}]})), 422, "pipelines[0].steps[0].task")
    assert "the tasks configured now" in body["detail"]
    assert export(live) == before
    r = put(live, yaml.safe_dump({"pipelines": [{"name": "Only", "steps": [{"order": 1, "task": "line count"}]}]}))
    assert r.status_code == 200, r.text
    assert {(c["name"], c["action"]) for c in r.json()["changes"]} == {("Only", "create"), ("Text summary", "remove")}
    after = yaml.safe_load(export(live))
    assert after["tasks"] == yaml.safe_load(before)["tasks"] and after["backends"] == yaml.safe_load(before)["backends"]
    # A backend's setting left out keeps its value; backends left out stay as they are.
    r = put(live, "backends:\n- name: system\n  max_workers: 3\n")
    assert r.status_code == 200 and r.json()["summary"].startswith("0 created, 1 changed, 0 removed")
    listed = {b["name"]: b for b in live.get("/api/admin/backends", headers=live.as_("root")).json()}
    assert (listed["system"]["max_workers"], listed["system"]["idle_timeout_s"]) == (3, 120)
    assert listed["registry"]["configured"] is False
