"""`jobdeck metrics` through the installed entry point (a subprocess) against a real
server on a real port, after jobs run by real RQ workers: a user's own summary (the
/profile/metrics series from `GET /api/metrics/me`), `--window` with its steps drawn,
`--json` the server's answer, every line within 80 columns on a pseudo-terminal, and
`--all` everyone's for admins (`GET /api/admin/metrics`), refused for a user."""

from __future__ import annotations

import json

import httpx

from tests.conftest import run_workers
from tests.integration.api_live import token_for
from tests.integration.test_cli import cli, live  # noqa: F401 (fixtures)
from tests.integration.test_cli_more import in_pty


def test_metrics_through_the_command(cli, live, users):
    from app import launch

    # alice's own: two ran (one SUCCEEDED, one FAILED); root's own: one SUCCEEDED.
    for payload, owner in (({}, "alice"), ({"outcome": "fail"}, "alice"), ({}, "root")):
        launch.launch_job(actor=users["root"], job_type="SYSTEM", job_subtype="NOOP", payload=payload, owner=owner)
    run_workers()

    cli.login("alice")
    lines = cli("metrics", check=0).stdout.splitlines()
    assert lines[0].startswith("Metrics of your jobs (alice) at ") and lines[0].endswith(" UTC"), lines
    assert lines[2].split() == ["finished", "SUCCEEDED", "FAILED", "CRASHED", "CANCELLED"], lines
    assert lines[3].split() == ["last", "hour", "1", "1", "0", "0"], lines
    assert lines[4].split() == ["last", "day", "1", "1", "0", "0"], lines
    runs = lines.index(next(ln for ln in lines if ln.startswith("run time (last day)")))
    assert lines[runs].split()[-4:] == ["ran", "mean", "p50", "p95"]
    assert lines[runs + 1].split()[:2] == ["SYSTEM", "2"], lines
    fails = lines.index(next(ln for ln in lines if ln.startswith("failures (last day)")))
    assert lines[fails + 1].split() == ["SYSTEM", "1", "0"], lines

    hour = cli("metrics", "--window", "hour", check=0).stdout.splitlines()
    assert [ln.split()[:2] for ln in hour[3:4]] == [["last", "hour"]] and not any(ln.startswith("last day") for ln in hour)
    assert hour[4].startswith("per minute: ") and len(hour[4]) == len("per minute: ") + 60, hour
    day = cli("metrics", "--window", "DAY", check=0).stdout.splitlines()
    assert day[3].split()[:2] == ["last", "day"] and day[4].startswith("per 30 minutes: "), day
    assert "'week' is not one of hour, day" in cli("metrics", "--window", "week", check=2).stderr

    raw = json.loads(cli("metrics", "--json", check=0).stdout)
    api = httpx.get(f"{live.url}/api/metrics/me", headers={"Authorization": f"Bearer {token_for('alice')}"}).json()
    assert raw["owner"] == "alice" and raw["finished_last_day"] == api["finished_last_day"]
    assert raw["failures"] == [{"job_type": "SYSTEM", "FAILED": 1, "CRASHED": 0}]

    code, screen, _ = in_pty(cli, ["metrics", "--window", "hour"], 80)
    assert code == 0 and screen[0].startswith("Metrics of your jobs (alice)"), screen
    assert all(len(ln) <= 80 for ln in screen), screen

    r = cli("metrics", "--all", check=1)
    assert r.stderr.startswith("Forbidden (403)") and len(r.stderr.strip().splitlines()) == 1, r.stderr

    # An admin: their own by default, everyone's with --all (failures by type and subtype).
    cli.login("root")
    assert cli("metrics", check=0).stdout.splitlines()[3].split() == ["last", "hour", "1", "0", "0", "0"]
    every = cli("metrics", "--all", check=0).stdout.splitlines()
    assert every[0].startswith("Metrics of every user's jobs at "), every
    assert every[3].split() == ["last", "hour", "2", "1", "0", "0"], every
    assert every[4].split() == ["last", "day", "2", "1", "0", "0"], every  # summed from the day's series
    assert any(ln.split() == ["SYSTEM/NOOP", "1", "0"] for ln in every), every
    code, screen, _ = in_pty(cli, ["metrics", "--all"], 80)
    assert code == 0 and all(len(ln) <= 80 for ln in screen), screen
    assert "queue_depth" in json.loads(cli("metrics", "--all", "--json", check=0).stdout)
