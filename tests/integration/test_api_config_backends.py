"""Backends in the configuration document over real HTTP: an import creates a backend the
document lists (a task of the same document may run on it), changes one in place (its
description too), and removes a configured backend its section leaves out, all in one
transaction and one audit entry, each shown by the dry run; a removal that deleting the
backend would refuse (a task runs on it, a job waits on it) refuses the whole import
(409, naming the backend and why); a built-in backend left out stays; the round trip
stays byte for byte."""

from __future__ import annotations

import yaml

from app import backends
from tests.integration.test_api_config import _configure, audit, export, live, problem_of, put  # noqa: F401


def _listed(api) -> dict[str, dict]:
    r = api.get("/api/admin/backends", headers=api.as_("root"))
    assert r.status_code == 200, r.text
    return {b["name"]: b for b in r.json()}


def _tasks(api) -> dict[str, dict]:
    return {t["name"]: t for t in api.get("/api/tasks", headers=api.as_("root")).json()}


def _changes(r) -> set[tuple]:
    return {(c["kind"], c["name"], c["action"], tuple(c["fields"])) for c in r.json()["changes"]}


def test_an_import_creates_changes_and_removes_backends(live):
    _configure(live)
    before = export(live)
    doc = yaml.safe_load(before)
    built_in = [b["name"] for b in doc["backends"]]
    doc["backends"] += [{"name": "gpu", "description": "The GPU hosts", "max_workers": 3, "job_timeout_s": 60},
                        {"name": "spare"}]  # every setting left out: a new backend's defaults
    system = next(b for b in doc["backends"] if b["name"] == "system")
    system.update(description="Diagnostics and housekeeping", max_workers=4)
    doc["tasks"].append({"name": "gpu count", "backend": "gpu", "command": "wc -c {input}"})

    r = put(live, yaml.safe_dump(doc, sort_keys=False), dry_run=True)
    assert r.status_code == 200, r.text
    assert r.json()["summary"].startswith("3 to create, 1 to change, 0 to remove")
    assert _changes(r) == {("backend", "gpu", "create", ()), ("backend", "spare", "create", ()),
                           ("backend", "system", "change", ("description", "max_workers")),
                           ("task", "gpu count", "create", ())}
    assert export(live) == before and "gpu" not in _listed(live) and audit(live) == []

    r = put(live, yaml.safe_dump(doc, sort_keys=False))
    assert r.status_code == 200, r.text
    summary = r.json()["summary"]
    assert summary.startswith("3 created, 1 changed, 0 removed")
    listed = _listed(live)
    gpu, spare = listed["gpu"], listed["spare"]
    assert (gpu["description"], gpu["max_workers"], gpu["idle_timeout_s"], gpu["job_timeout_s"],
            gpu["configured"]) == ("The GPU hosts", 3, 120, 60, True)
    default = backends.default_config("spare")
    assert (spare["description"], spare["max_workers"], spare["idle_timeout_s"], spare["job_timeout_s"]) == (
        "", default.max_workers, 120, None)
    # A built-in backend's first row takes the document's description.
    assert (listed["system"]["description"], listed["system"]["max_workers"]) == ("Diagnostics and housekeeping", 4)
    assert _tasks(live)["gpu count"]["backend"] == "gpu"
    assert {"gpu", "spare"} <= set(backends.served())  # every pool serves them from its next look
    entry = audit(live)[0]
    assert (entry["outcome"], entry["target"]) == ("ok", f"configuration: {summary}")

    # The export carries the descriptions (left out where there is none) and reads back unchanged.
    again = export(live)
    exported = {b["name"]: b for b in yaml.safe_load(again)["backends"]}
    assert exported["gpu"] == {"name": "gpu", "description": "The GPU hosts", "max_workers": 3,
                               "idle_timeout_s": 120, "job_timeout_s": 60}
    assert list(exported["system"])[:2] == ["name", "description"] and "description" not in exported["spare"]
    assert put(live, again).json()["summary"].startswith("0 created, 0 changed, 0 removed")
    assert export(live) == again

    # A setting left out keeps its value; an empty description clears it.
    r = put(live, "backends:\n" + "".join(f"- name: {n}\n" for n in ("gpu", "spare"))
             + "- {name: system, description: ''}\n")
    assert r.status_code == 200, r.text
    assert _changes(r) == {("backend", "system", "change", ("description",))}
    assert (_listed(live)["gpu"]["max_workers"], _listed(live)["system"]["description"]) == (3, "")

    # Removed: gpu once its task has moved off it in the same document, and spare; the
    # built-in backends the section leaves out stay as they are.
    doc = yaml.safe_load(export(live))
    doc["backends"] = [b for b in doc["backends"] if b["name"] == "system"]
    doc["tasks"] = [dict(t, backend="pipeline") if t["name"] == "gpu count" else t for t in doc["tasks"]]
    r = put(live, yaml.safe_dump(doc, sort_keys=False), dry_run=True)
    assert r.status_code == 200, r.text
    assert _changes(r) == {("backend", "gpu", "remove", ()), ("backend", "spare", "remove", ()),
                           ("task", "gpu count", "change", ("backend",))}
    r = put(live, yaml.safe_dump(doc, sort_keys=False))
    assert r.status_code == 200, r.text
    assert r.json()["summary"].startswith("0 created, 1 changed, 2 removed")
    assert set(_listed(live)) == set(built_in) and not {"gpu", "spare"} & set(backends.served())
    assert _tasks(live)["gpu count"]["backend"] == "pipeline"
    r = put(live, "backends: []\n")
    assert r.status_code == 200 and r.json()["summary"].startswith("0 created, 0 changed, 0 removed"), r.text
    assert set(_listed(live)) == set(built_in)


def test_removing_a_backend_a_task_runs_on_refuses_the_whole_import(live):
    _configure(live)
    r = live.post("/api/admin/backends", json={"name": "gpu", "description": "The GPU hosts"},
                  headers=live.as_("root"))
    assert r.status_code == 201, r.text
    r = live.post("/api/tasks", json={"name": "gpu count", "backend": "gpu", "command": "wc -c {input}"},
                  headers=live.as_("root"))
    assert r.status_code == 201, r.text
    before = export(live)
    doc = yaml.safe_load(before)
    without = [b for b in doc["backends"] if b["name"] != "gpu"]
    doc["tasks"][0]["timeout_s"] = 30  # a change besides: not written either

    # The task stays in the document's tasks, or (no tasks section) as configured now.
    for sent in (dict(doc, backends=without), {"backends": without}):
        for dry_run in (True, False):
            body = problem_of(put(live, yaml.safe_dump(sent, sort_keys=False), dry_run=dry_run), 409, "backends")
            assert body["detail"].startswith("backends: backend 'gpu' would be removed, but it runs task gpu count; "
                                             "keep it in the document, or move the task to another backend"), body
    # A task of the document on a backend neither the document nor the server has: a value refused.
    bad = dict(doc, backends=without, tasks=[dict(t, backend="tpu") if t["name"] == "gpu count" else t
                                              for t in doc["tasks"]])
    body = problem_of(put(live, yaml.safe_dump(bad, sort_keys=False)), 422)
    assert body["field"].endswith(".backend") and "No backend 'tpu'" in body["detail"], body
    assert export(live) == before and "gpu" in _listed(live)
    # Audited as refusals: the 409 once (the same refusal again within a minute is counted, not written).
    entries = audit(live)
    assert [e["outcome"] for e in entries] == ["refused"] * 2
    assert "backend 'gpu' would be removed" in entries[1]["message"], entries


def test_removing_a_backend_with_a_job_waiting_is_refused(live):
    root = live.as_("root")
    assert live.post("/api/admin/backends", headers=root, json={"name": "slow", "max_workers": 0}).status_code == 201
    assert live.post("/api/tasks", headers=root,
                     json={"name": "slow step", "command": "true", "backend": "slow"}).status_code == 201
    p = live.post("/api/pipelines", headers=root, json={"name": "Slow", "steps": [{"order": 1, "task": "slow step"}]})
    assert p.status_code == 201, p.text
    run = live.post(f"/api/pipelines/{p.json()['id']}/runs", headers=live.as_("alice"),
                    files={"file": ("a.txt", b"a\n", "text/plain")})
    assert run.status_code == 201, run.text
    before = export(live)
    doc = yaml.safe_load(before)
    # The task moves off the paused backend in the same document; its step waits there still.
    doc["backends"] = [b for b in doc["backends"] if b["name"] != "slow"]
    doc["tasks"] = [dict(t, backend="pipeline") for t in doc["tasks"]]
    for dry_run in (True, False):
        body = problem_of(put(live, yaml.safe_dump(doc, sort_keys=False), dry_run=dry_run), 409, "backends")
        assert ("backend 'slow' would be removed, but it has 1 job waiting or running; keep it in the document "
                "until it ends, or cancel it first.") in body["detail"], body
    assert export(live) == before and _listed(live)["slow"]["max_workers"] == 0


def test_a_round_trip_with_backends_is_byte_identical_and_an_emptied_configuration_comes_back(live):
    _configure(live)
    root = live.as_("root")
    r = live.post("/api/admin/backends", headers=root, json={"name": "gpu", "description": "The GPU hosts: two",
                                                             "max_workers": 0, "idle_timeout_s": 30})
    assert r.status_code == 201, r.text
    assert live.patch("/api/admin/backends/system", headers=root,
                      json={"description": "Diagnostics: '#' and all"}).status_code == 200
    first = export(live)
    assert "description: 'Diagnostics: ''#'' and all'" in first
    r = put(live, first)
    assert r.status_code == 200 and r.json()["summary"].startswith("0 created, 0 changed, 0 removed"), r.text
    assert export(live) == first

    r = put(live, "backends: []\ntasks: []\npipelines: []\n")
    assert r.status_code == 200, r.text
    assert ("backend", "gpu", "remove", ()) in _changes(r) and "gpu" not in _listed(live)
    r = put(live, first)
    assert r.status_code == 200, r.text
    assert ("backend", "gpu", "create", ()) in _changes(r)
    assert export(live) == first
    gpu = _listed(live)["gpu"]
    assert (gpu["max_workers"], gpu["paused"], gpu["idle_timeout_s"]) == (0, True, 30)
