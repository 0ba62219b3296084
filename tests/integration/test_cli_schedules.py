"""`jobdeck schedules list|show|add|pause|resume|delete` through the installed entry point
(a subprocess) against a real server on a real port: a job type's schedule and a
pipeline run's (its file sent as multipart), tables that fit 80 columns, --json for
scripts, refusals in one line, and a user refused (admins only)."""

from __future__ import annotations

import json

from tests.integration.test_audit import _log
from tests.integration.test_cli import cli, live  # noqa: F401 (fixtures)
from tests.integration.test_cli_config import _configure
from tests.integration.test_cli_more import in_pty


def test_schedules_through_the_command(cli, live, tmp_path):
    _configure(live)
    cli.login("root")
    assert "No schedules" in cli("schedules", "list", check=0).stdout

    r = cli("schedules", "add", "nightly noop", "--job", "SYSTEM/NOOP", "--payload", '{"sleep_s": 0}',
            "--cron", "0 3 * * 1-5", "--timezone", "Australia/Sydney", check=0)
    assert r.stdout.startswith("Made schedule 1 'nightly noop': SYSTEM/NOOP at 0 3 * * 1-5 (Australia/Sydney), "
                               "active; next "), r.stdout
    data = tmp_path / "in.txt"
    data.write_text("a\nb\n", encoding="utf-8")
    r = cli("schedules", "add", "hourly count", "--pipeline", "Count", "--file", str(data), "--cron", "0 * * * *",
            "--json", check=0)
    made = json.loads(r.stdout)
    assert (made["pipeline"], made["payload"]["file"]["name"], made["paused"]) == ("Count", "in.txt", False)

    listed = cli("schedules", "list", check=0).stdout
    lines = listed.splitlines()
    assert lines[0].split()[:4] == ["id", "name", "state", "cron"]
    assert [ln.split()[0] for ln in lines[1:]] == [str(made["id"]), "1"]  # by name
    code, screen, _ = in_pty(cli, ["schedules", "list"], 80)
    assert code == 0 and screen[0].split()[:3] == ["id", "name", "state"], screen
    assert all(len(ln) <= 80 for ln in screen) and any("nightly noop" in ln for ln in screen), screen
    as_json = json.loads(cli("schedules", "list", "--json", check=0).stdout)
    assert [s["name"] for s in as_json] == ["hourly count", "nightly noop"]

    r = cli("schedules", "pause", "1", check=0)
    assert "'nightly noop'" in r.stdout and "paused; next none while paused" in r.stdout
    assert json.loads(cli("schedules", "show", "1", "--json", check=0).stdout)["paused"] is True
    shown = cli("schedules", "show", "1", check=0).stdout
    assert "paused" in shown and "Owner root, made by root" in shown and "No firings yet." in shown
    assert "active" in cli("schedules", "resume", "1", check=0).stdout
    assert "Next runs (UTC): " in cli("schedules", "show", "1", check=0).stdout

    assert cli("schedules", "delete", str(made["id"]), check=0).stdout.strip() == f"Deleted schedule {made['id']}."
    assert [s["id"] for s in json.loads(cli("schedules", "list", "--json", check=0).stdout)] == [1]

    # Refusals: one line each, exit 1 (the server's) or 2 (a usage error).
    r = cli("schedules", "show", "99", check=1)
    assert r.stderr.startswith("Not found (404)") and len(r.stderr.strip().splitlines()) == 1
    r = cli("schedules", "add", "nightly noop", "--job", "SYSTEM/NOOP", "--cron", "* * * * *", check=1)
    assert r.stderr.startswith("Conflict (409)"), r.stderr
    r = cli("schedules", "add", "never", "--job", "SYSTEM/NOOP", "--cron", "0 0 30 2 *", check=1)
    assert r.stderr.startswith("Invalid input (422)"), r.stderr
    assert "TYPE/SUBTYPE" in cli("schedules", "add", "x", "--job", "NOOP", "--cron", "* * * * *", check=2).stderr
    assert "--job" in cli("schedules", "add", "x", "--cron", "* * * * *", check=2).stderr
    assert "--file" in cli("schedules", "add", "x", "--pipeline", "Count", "--cron", "* * * * *", check=2).stderr

    # Each change is in the audit log, the refusals too; a user's attempt refused before the domain.
    made_entries = [(e.target, e.outcome, e.via) for e in _log(action="schedule.create")]
    assert made_entries == [("never", "refused", "api"), ("nightly noop", "refused", "api"),
                            ("hourly count", "ok", "api"), ("nightly noop", "ok", "api")], made_entries
    assert [e.outcome for e in _log(action="schedule.delete")] == ["ok"]

    cli.login("alice")
    r = cli("schedules", "list", check=1)
    assert r.stderr.startswith("Forbidden (403)"), r.stderr
    r = cli("schedules", "pause", "1", check=1)
    assert r.stderr.startswith("Forbidden (403)"), r.stderr
    e = _log(action="request", actor="alice")
    assert [(x.target, x.outcome) for x in e] == [("POST /api/admin/schedules/1/pause", "refused")]
