"""`jobdeck bulk cancel|retry|delete` through the installed entry point (a subprocess)
against a real server on a real port: ids at once, a filter's bulk job followed to its
summary while a real worker pool runs it, a submission, the confirmation stating the
count, --json, and refusals as one line."""

from __future__ import annotations

import json

import pytest

from app import launch
from tests.integration.test_cli import JOBDECK, Running, cli, live  # noqa: F401 (fixtures)
from tests.pools import pools, set_backend, status, wait_for  # noqa: F401


@pytest.fixture(autouse=True)
def small_chunks(jobdeck, monkeypatch):
    from app.settings import reload_settings

    monkeypatch.setenv("JOBDECK_BULK_CHUNK", "2")
    reload_settings()


def noops(users, owner: str, n: int, **payload) -> list[str]:
    return [launch.launch_job(actor=users["root"], job_type="SYSTEM", job_subtype="NOOP", payload=payload,
                              owner=owner, priority="low").id for _ in range(n)]


def test_bulk_cancel_by_ids_asks_first_and_answers_the_summary(cli, users):
    cli.login("alice")
    mine, bobs = noops(users, "alice", 2), noops(users, "bob", 1)
    r = cli("bulk", "cancel", *mine, bobs[0], input="n\n", check=130)
    assert "Cancel 3 jobs?" in r.stderr and [status(j) for j in mine] == ["PENDING", "PENDING"]
    r = cli("bulk", "cancel", *mine, bobs[0], input="y\n", check=1)  # not every id was acted on
    assert r.stdout.strip() == "2 cancelled, 1 not yours."
    assert [status(j) for j in mine] == ["CANCELLED", "CANCELLED"] and status(bobs[0]) == "PENDING"
    r = cli("bulk", "cancel", "-", "--yes", "--json", input="\n".join(mine) + "\n", check=1)
    got = json.loads(r.stdout)
    assert got["summary"]["already_final"] == 2 and got["summary"]["outcomes"] == dict.fromkeys(mine, "already_final")


def test_bulk_cancel_by_filter_states_the_count_and_follows_the_bulk_job(cli, users, pools):
    cli.login("alice")
    mine = noops(users, "alice", 6)
    bobs = noops(users, "bob", 2)
    set_backend("system", max_workers=1, idle_timeout_s=30)  # one worker: the bulk job (normal) before the rest
    r = cli("bulk", "cancel", "--status", "pending", "--type", "system", input="n\n", check=130)
    assert "Cancel 6 jobs (status PENDING, type SYSTEM, of alice)?" in r.stderr
    running = cli.start("bulk", "cancel", "--status", "pending", "--yes")
    running.wait_for("Bulk job")
    pools("--backends", "system")
    code, text, err = running.finish(timeout=60)
    assert code == 0, (text, err)
    assert "cancel 6 jobs (status PENDING, of alice)" in text
    assert "2 of 6 jobs: 2 cancelled" in text and "ended SUCCEEDED: 6 cancelled" in text
    assert [status(j) for j in mine] == ["CANCELLED"] * 6
    wait_for(lambda: all(status(j) == "SUCCEEDED" for j in bobs), message="bob's jobs ran")


def test_bulk_retry_with_json_and_nothing_to_do(cli, users, pools):
    cli.login("alice")
    failed = noops(users, "alice", 3, outcome="fail")
    set_backend("system", max_workers=1, idle_timeout_s=30)
    pools("--backends", "system")
    wait_for(lambda: all(status(j) == "FAILED" for j in failed), message="failed")
    r = cli("bulk", "retry", "--status", "failed", "--yes", "--json", check=0, timeout=90)
    got = json.loads(r.stdout)
    assert got["count"] == 3 and got["job"]["status"] == "SUCCEEDED" and got["job"]["info"] == "3 retried"
    wait_for(lambda: all(launch.get_job(j).attempt == 2 and status(j) == "FAILED" for j in failed))
    r = cli("bulk", "cancel", "--every", "--yes", check=0)
    assert "No jobs match" in r.stdout and "nothing to cancel" in r.stdout


def test_bulk_submission_and_refusals(cli, users):
    cli.login("alice")
    batch = launch.launch_batch(actor=users["root"], job_type="SYSTEM", job_subtype="NOOP", owner="alice",
                                payloads=[{}] * 3, label="three")
    r = cli("bulk", "cancel", "--submission", batch.id, "--yes", check=0)
    assert r.stdout.strip() == f"Submission {batch.id}: 3 cancelled."
    assert "Deleting jobs is for admins" in cli("bulk", "delete", "--submission", batch.id, "--yes", check=1).stderr
    assert "Name the jobs one way" in cli("bulk", "cancel", "--yes", check=2).stderr
    assert "not ids and a filter" in cli("bulk", "cancel", "x", "--status", "failed", "--yes", check=2).stderr
    assert "--status takes" in cli("bulk", "cancel", "--status", "done", "--yes", check=2).stderr
    r = cli("bulk", "cancel", "--user", "bob", "--yes", check=1)
    assert "Only admins act on other users' jobs" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = cli("bulk", "retry", "--status", "pending", "--yes", check=1)
    assert "nothing to retry" in r.stderr
