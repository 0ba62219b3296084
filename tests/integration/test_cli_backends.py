"""`jobdeck backends list|show|create|edit|delete` through the installed entry point (a
subprocess) against a real server on a real port: `backends` alone still lists them, a
table that fits 80 columns, --json for scripts, the server's refusals (a name taken or
not a queue's name, a setting out of range, a backend a task runs on or built in) as
its problem detail in one line with exit 1, a usage error exit 2, each change audited,
and a user refused (admins only)."""

from __future__ import annotations

import json

import httpx

from app import backends
from tests.integration.api_live import token_for
from tests.integration.test_audit import _log
from tests.integration.test_cli import cli, live  # noqa: F401 (fixtures)
from tests.integration.test_cli_more import in_pty


def _one_line(r, starts: str) -> None:
    assert r.stderr.startswith(starts), r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_backends_through_the_command(cli, live):
    cli.login("root")
    alone = cli("backends", check=0).stdout
    assert alone.splitlines()[0].split()[:3] == ["backend", "max", "workers"] and "system" in alone
    assert cli("backends", "list", check=0).stdout == alone

    r = cli("backends", "create", "gpu", "--max-workers", "3", "--idle-timeout", "30", "--time-limit", "60",
            "--description", "The GPU hosts", check=0)
    assert r.stdout.strip() == "Created backend gpu: 3 max workers, 30 s idle timeout, job time limit 60 s.", r.stdout
    r = cli("backends", "create", "spare", "--json", check=0)
    made = json.loads(r.stdout)
    assert (made["name"], made["max_workers"], made["idle_timeout_s"], made["job_timeout_s"], made["built_in"]) == (
        "spare", backends.default_config("spare").max_workers, 120, None, False)
    assert "gpu" in backends.served()  # pools serve it from their next look

    shown = cli("backends", "show", "gpu", check=0).stdout.splitlines()
    assert shown[0].startswith("Backend gpu (made by an admin, ") and shown[0].endswith(" UTC): The GPU hosts")
    assert shown[1] == "Settings: 3 max workers, 30 s idle timeout, job time limit 60 s."
    assert shown[2] == ("Now: 0 workers (0 busy), 0 queued (high 0, normal 0, low 0), 0 retries waiting; served by "
                        "no pool."), shown
    assert shown[3].startswith("No worker pool serves backend 'gpu'"), shown  # why no worker takes its jobs
    assert "(built in: job types run on it)" in cli("backends", "show", "system", check=0).stdout
    assert json.loads(cli("backends", "show", "gpu", "--json", check=0).stdout)["description"] == "The GPU hosts"

    listed = json.loads(cli("backends", "list", "--json", check=0).stdout)
    assert {"gpu", "spare", "system"} <= {b["name"] for b in listed}
    code, screen, _ = in_pty(cli, ["backends", "list"], 80)
    assert code == 0 and screen[0].split()[:3] == ["backend", "max", "workers"], screen
    assert all(len(ln) <= 80 for ln in screen) and any(ln.startswith("gpu ") for ln in screen), screen
    wide = cli("backends", "list", "--wide", check=0).stdout
    assert "The GPU hosts" in wide

    r = cli("backends", "edit", "gpu", "--max-workers", "0", check=0)
    assert r.stdout.strip() == ("Changed backend gpu: paused (0 max workers; a resume gives 3), 30 s idle timeout, "
                                "job time limit 60 s."), r.stdout
    r = cli("backends", "edit", "gpu", "--description", "", "--time-limit", "0", check=0)
    assert r.stdout.strip().endswith("each job's own time limit."), r.stdout
    assert cli("backends", "show", "gpu", check=0).stdout.splitlines()[0].endswith(" UTC)")  # no description

    # Refusals: the server's problem detail in one line, exit 1; a usage error exit 2.
    _one_line(cli("backends", "create", "gpu", check=1), "Conflict (409): A backend named 'gpu' exists already.")
    _one_line(cli("backends", "create", "GPU box", check=1), "Invalid input (422): A backend's name is")
    _one_line(cli("backends", "create", "big", "--max-workers", "101", check=1),
              "Invalid input (422): Max workers must be between 0 and 100")
    _one_line(cli("backends", "edit", "nope", "--max-workers", "1", check=1), "Not found (404): No backend 'nope'")
    _one_line(cli("backends", "show", "nope", check=1), "Not found (404): No backend 'nope'")
    assert "Say what to change" in cli("backends", "edit", "gpu", check=2).stderr
    assert "--max-workers" in cli("backends", "create", "x", "--max-workers", "many", check=2).stderr

    # A task runs on gpu: not deleted, the refusal names it; a built-in backend never is.
    r = httpx.post(f"{live.url}/api/tasks", json={"name": "gpu count", "command": "wc -c {input}", "backend": "gpu"},
                   headers={"Authorization": f"Bearer {token_for('root')}"})
    assert r.status_code == 201, r.text
    _one_line(cli("backends", "delete", "gpu", check=1),
              "Conflict (409): Backend 'gpu' runs task gpu count; move it to another backend first.")
    _one_line(cli("backends", "delete", "system", check=1), "Conflict (409): Backend 'system' is built in")
    assert cli("backends", "delete", "spare", check=0).stdout.strip() == "Deleted backend spare."
    assert "spare" not in {b["name"] for b in json.loads(cli("backends", "--json", check=0).stdout)}

    assert [(e.target, e.outcome) for e in _log(action="backend.create")] == [
        ("big", "refused"), ("GPU box", "refused"), ("gpu", "refused"), ("spare", "ok"), ("gpu", "ok")]
    assert [(e.target, e.outcome) for e in _log(action="backend.delete")] == [
        ("spare", "ok"), ("system", "refused"), ("gpu", "refused")]

    cli.login("alice")
    _one_line(cli("backends", "list", check=1), "Forbidden (403)")
    _one_line(cli("backends", "create", "mine", check=1), "Forbidden (403)")
    assert "mine" not in backends.backend_configs(refresh=True)
