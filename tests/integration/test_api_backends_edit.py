"""Backends created, changed and deleted by admins through the API: each bad value a 4xx
naming its field with nothing written; a name in use or built in refused; a backend a
task runs on, or with a job waiting on its queues, never deleted (the refusal names the
tasks); pools see a new backend; services and users may not."""

from __future__ import annotations

import pytest

from app import backends


def problem_of(r, status):
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    return r.json()


def _names(api) -> list[str]:
    return [b["name"] for b in api.get("/api/admin/backends", headers=api.as_("root")).json()]


@pytest.mark.parametrize("body, field", [
    ({"name": "GPU box"}, "name"),
    ({"name": "a/b"}, "name"),
    ({"name": ""}, "name"),
    ({"name": "gpu", "max_workers": 101}, "max_workers"),
    ({"name": "gpu", "max_workers": -1}, "max_workers"),
    ({"name": "gpu", "idle_timeout_s": 0}, "idle_timeout_s"),
    ({"name": "gpu", "job_timeout_s": 86_401}, "job_timeout_s"),
    ({"name": "gpu", "description": "x" * 501}, "description"),
    ({"name": "gpu", "description": "bell\x07"}, "description"),
    ({"name": "gpu", "max_workers": "2"}, "max_workers"),
    ({"name": "gpu", "queue": "x"}, "queue"),
])
def test_a_bad_backend_is_refused_naming_the_field_and_nothing_written(api, body, field):
    before = _names(api)
    got = problem_of(api.post("/api/admin/backends", json=body, headers=api.as_("root")), 422)
    assert got["field"].removeprefix("body.") == field, got
    assert _names(api) == before


def test_admins_create_change_and_delete_a_backend(api):
    root = api.as_("root")
    r = api.post("/api/admin/backends", headers=root,
                 json={"name": "gpu", "description": "The GPU hosts", "max_workers": 3, "idle_timeout_s": 30})
    assert r.status_code == 201, r.text
    assert r.headers["location"] == "/api/admin/backends/gpu"
    got = r.json()
    assert (got["name"], got["description"], got["max_workers"], got["idle_timeout_s"], got["job_timeout_s"],
            got["configured"]) == ("gpu", "The GPU hosts", 3, 30, None, True)
    assert "gpu" in backends.served()  # every pool serves it from its next look
    one = api.get("/api/admin/backends/gpu", headers=root)
    assert one.status_code == 200 and one.json() == {**got, "status": one.json()["status"]}, one.text
    assert (got["built_in"], api.get("/api/admin/backends/system", headers=root).json()["built_in"]) == (False, True)
    assert problem_of(api.get("/api/admin/backends/nope", headers=root), 404)["detail"].startswith("No backend 'nope'")
    assert problem_of(api.post("/api/admin/backends", json={"name": "gpu"}, headers=root), 409)["field"] == "name"
    assert problem_of(api.post("/api/admin/backends", json={"name": "pipeline"}, headers=root), 409)

    r = api.patch("/api/admin/backends/gpu", headers=root, json={"description": "Two GPU hosts", "max_workers": 2})
    assert r.status_code == 200 and (r.json()["description"], r.json()["max_workers"]) == ("Two GPU hosts", 2)

    # A task runs on it: not deleted, the refusal names the task.
    task = api.post("/api/tasks", headers=root, json={"name": "on the gpu", "command": "true", "backend": "gpu"})
    assert task.status_code == 201, task.text
    refused = problem_of(api.delete("/api/admin/backends/gpu", headers=root), 409)
    assert "runs task on the gpu" in refused["detail"] and "gpu" in _names(api)
    moved = api.put(f"/api/tasks/{task.json()['id']}", headers=root,
                    json={"name": "on the gpu", "command": "true", "backend": "pipeline"})
    assert moved.status_code == 200, moved.text
    assert api.delete("/api/admin/backends/gpu", headers=root).status_code == 204
    assert "gpu" not in _names(api) and "gpu" not in backends.served()
    assert problem_of(api.delete("/api/admin/backends/gpu", headers=root), 404)
    built_in = problem_of(api.delete("/api/admin/backends/pipeline", headers=root), 409)
    assert "built in" in built_in["detail"]


def test_a_backend_with_a_job_waiting_is_not_deleted(api):
    root = api.as_("root")
    assert api.post("/api/admin/backends", headers=root, json={"name": "slow", "max_workers": 0}).status_code == 201
    task = api.post("/api/tasks", headers=root, json={"name": "slow step", "command": "true", "backend": "slow"}).json()
    p = api.post("/api/pipelines", headers=root, json={"name": "Slow", "steps": [{"order": 1, "task": "slow step"}]})
    assert p.status_code == 201, p.text
    run = api.post(f"/api/pipelines/{p.json()['id']}/runs", headers=api.as_("alice"),
                   files={"file": ("a.txt", b"a\n", "text/plain")})
    assert run.status_code == 201, run.text
    api.put(f"/api/tasks/{task['id']}", headers=root, json={"name": "slow step", "command": "true"})
    refused = problem_of(api.delete("/api/admin/backends/slow", headers=root), 409)
    assert "has 1 job waiting or running" in refused["detail"]
    assert "slow" in _names(api)


def test_only_admins_create_or_delete_backends(service_api):
    for who in ("alice", "svc"):
        problem_of(service_api.post("/api/admin/backends", json={"name": "mine"}, headers=service_api.as_(who)), 403)
        problem_of(service_api.delete("/api/admin/backends/pipeline", headers=service_api.as_(who)), 403)
    assert "mine" not in backends.backend_configs(refresh=True)
