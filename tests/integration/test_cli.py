"""The `jobdeck` command through its real entry point (.venv/bin/jobdeck, a subprocess)
against build_api() served by uvicorn on a real port, with real RQ workers moving the
jobs it lodges and watches."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import free_port, run_workers
from tests.integration.api_live import LiveServer

JOBDECK = Path(sys.executable).parent / "jobdeck"


@pytest.fixture
def live(jobdeck):
    server = LiveServer().start()
    yield server
    server.stop()


@pytest.fixture
def cli(live, users, tmp_path):
    """Run `jobdeck ARGS...`; the config lives in the test's own directory."""
    assert JOBDECK.exists(), f"{JOBDECK} is missing: ./scripts/test installs it (pip install -e .)"
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOBDECK_")}
    env.update(JOBDECK_CONFIG=str(tmp_path / "cli" / "config.json"), HOME=str(tmp_path), COLUMNS="200",
               PYTHONUNBUFFERED="1", TERM="dumb")

    class Cli:
        server = live.url
        config = Path(env["JOBDECK_CONFIG"])

        def __call__(self, *args, input=None, timeout=60, check=None):
            r = subprocess.run([str(JOBDECK), *args], input=input, capture_output=True, text=True, env=env,
                               timeout=timeout)
            if check is not None:
                assert r.returncode == check, f"exit {r.returncode}\n{r.stdout}\n{r.stderr}"
            assert "Traceback" not in r.stderr, r.stderr
            return r

        def start(self, *args) -> "Running":
            return Running(subprocess.Popen([str(JOBDECK), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                            text=True, env=env))

        def login(self, name: str):
            self("login", "--server", self.server, "--username", name, "--password-stdin",
                 input=f"{name}-password\n", check=0)

    return Cli()


class Running:
    """A CLI process whose output is read as it comes."""

    def __init__(self, proc: subprocess.Popen):
        self.proc, self.lines = proc, []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, text: str, timeout: float = 20, count: int = 1) -> None:
        deadline = time.monotonic() + timeout
        while sum(text in line for line in self.lines) < count:
            if self.proc.poll() is not None and not self.reader.is_alive():
                raise AssertionError(f"exited {self.proc.returncode} before {text!r}: {self.lines}"
                                     f"\n{self.proc.stderr.read()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no {text!r} within {timeout} s: {self.lines}")
            time.sleep(0.02)

    def finish(self, timeout: float = 30) -> tuple[int, str, str]:
        code = self.proc.wait(timeout)
        self.reader.join(5)
        err = self.proc.stderr.read()
        assert "Traceback" not in err, err
        return code, "\n".join(self.lines), err


# --- signing in ---------------------------------------------------------------------------


def test_login_token_and_logout(cli):
    from app import auth

    r = cli("login", "--server", cli.server, "--username", "alice", "--password-stdin",
            input="alice-password\n", check=0)
    assert "Signed in" in r.stdout and "alice" in r.stdout
    assert stat.S_IMODE(cli.config.stat().st_mode) == 0o600
    kept = json.loads(cli.config.read_text())["profiles"]["default"]
    assert kept["server"] == cli.server and kept["token"].startswith("jdk_") and kept["username"] == "alice"
    assert any(t.name.startswith("jobdeck CLI on ") for t in auth.list_tokens("alice"))
    assert "alice (user" in cli("token", check=0).stdout
    assert cli("token", "--show", check=0).stdout.strip() == kept["token"]

    assert "Signed out" in cli("logout", check=0).stdout
    assert not cli.config.exists()
    assert not any(t.name.startswith("jobdeck CLI on ") for t in auth.list_tokens("alice"))  # revoked
    r = cli("status", "some-job", check=1)
    assert "Not signed in" in r.stderr


def test_login_refusals_are_one_readable_line(cli):
    r = cli("login", "--server", cli.server, "--username", "alice", "--password-stdin", input="wrong\n", check=1)
    assert "Wrong username or password" in r.stderr and not cli.config.exists()
    port = free_port()  # nothing listens there
    r = cli("login", "--server", f"http://127.0.0.1:{port}", "--username", "alice", "--password-stdin",
            input="alice-password\n", check=1)
    assert "Cannot reach the Jobdeck server" in r.stderr


def test_login_with_a_token_from_the_profile_page(cli):
    from app import auth

    plain, _ = auth.create_token(owner="bob", name="made on the profile page")
    r = cli("login", "--server", cli.server, "--token", plain, check=0)
    assert "bob" in r.stdout
    assert "bob (user" in cli("token", check=0).stdout
    auth.revoke_token(owner="bob", token_id=auth.list_tokens("bob")[0].id)
    r = cli("token", check=1)
    assert "revoked" in r.stderr and "jobdeck login" in r.stderr


# --- jobs -----------------------------------------------------------------------------------


def test_submit_with_watch_follows_the_job_to_its_end(cli):
    cli.login("root")
    run = cli.start("submit", "SYSTEM", "NOOP", "--set", "sleep_s=0.2", "--watch")
    run.wait_for("Lodged")
    # The stream's snapshot (a second "Job … PENDING (attempt 1)" line) first: a job taken
    # before the watch opened its stream shows as it is then, its earlier steps not news.
    run.wait_for("(attempt 1)", count=2)
    run_workers()
    code, out, _ = run.finish()
    assert code == 0, out
    steps = [s for s in ("PENDING", "DEQUEUED", "IN_PROGRESS", "SUCCEEDED") if s in out]
    assert steps == ["PENDING", "DEQUEUED", "IN_PROGRESS", "SUCCEEDED"]
    positions = [out.index(s) for s in ("DEQUEUED", "IN_PROGRESS", "ended SUCCEEDED")]
    assert positions == sorted(positions)


def test_idempotent_submit_and_status_list_cancel_retry(cli):
    cli.login("root")
    first = json.loads(cli("submit", "SYSTEM", "NOOP", '{"sleep_s": 0}', "-k", "nightly", "--json", check=0).stdout)
    again = cli("submit", "SYSTEM", "NOOP", '{"sleep_s": 0}', "-k", "nightly", check=0).stdout
    assert first["id"] in again and "the same job as before" in again
    r = cli("submit", "SYSTEM", "NOOP", '{"sleep_s": 5}', "-k", "nightly", check=1)
    assert "Idempotency-Key was used before" in r.stderr

    job = first["id"]
    assert "PENDING" in cli("status", job, check=0).stdout
    assert job in cli("list", check=0).stdout
    assert "CANCELLED" in cli("cancel", job, check=0).stdout
    r = cli("cancel", job, check=1)
    assert "already CANCELLED" in r.stderr
    out = cli("retry", job, check=0).stdout
    assert "PENDING" in out and "attempt 2" in out
    shown = json.loads(cli("status", job, "--messages", "--json", check=0).stdout)
    assert shown["attempt"] == 2 and [m["status"] for m in shown["messages"]][:2] == ["PENDING", "CANCELLED"]
    listed = json.loads(cli("list", "--status", "PENDING", "--json", check=0).stdout)
    assert [j["id"] for j in listed["jobs"]] == [job]
    r = cli("submit", "SYSTEM", "NOOP", "--set", "sleep_s=-3", check=1)
    assert "payload.sleep_s" in r.stderr


def test_another_users_job_is_not_found_and_admin_lists_everyone(cli, users):
    from app import launch

    mine = launch.launch_job(actor=users["root"], job_type="SYSTEM", job_subtype="NOOP", payload={}, owner="alice")
    cli.login("bob")
    r = cli("status", mine.id, check=1)
    assert "Not found" in r.stderr and "404" in r.stderr
    r = cli("list", "--all", check=1)
    assert "admins" in r.stderr
    cli.login("root")
    listed = json.loads(cli("list", "--user", "alice", "--json", check=0).stdout)
    assert [j["id"] for j in listed["jobs"]] == [mine.id]


def test_watch_of_a_failing_job_exits_1(cli):
    cli.login("root")
    job = json.loads(cli("submit", "SYSTEM", "NOOP", "--set", "outcome=fail", "--json", check=0).stdout)["id"]
    run = cli.start("watch", job)
    run.wait_for("PENDING")
    run_workers()
    code, out, _ = run.finish()
    assert code == 1 and "ended FAILED" in out and "Asked to fail" in out


def test_watch_reconnects_when_the_server_restarts(cli, live):
    cli.login("root")
    job = json.loads(cli("submit", "SYSTEM", "NOOP", "--json", check=0).stdout)["id"]
    run = cli.start("watch", job)
    run.wait_for("PENDING (attempt 1)")
    live.stop()  # the stream breaks off
    again = LiveServer(port=live.port).start()
    try:
        run.wait_for("reconnecting")
        run.wait_for("PENDING (attempt 1)", count=2)  # a fresh snapshot from the new server
        run_workers()
        code, out, _ = run.finish()
    finally:
        again.stop()
    assert code == 0 and "ended SUCCEEDED" in out, out
    assert out.index("Stream interrupted") < out.index("IN_PROGRESS")


# --- registry -----------------------------------------------------------------------------


def test_register_runs_from_csv_and_watch_the_batch(cli, world, tmp_path):
    cli.login("alice")
    csv = tmp_path / "runs.csv"
    rows = [f"run {i},rainfall run {i},{world['wf'].id},{world['person'].id},1700000000,1700000600,"
            f"{world['template'].id}:{world['rain'].id},{world['template'].id}:{world['flow'].id}"
            for i in range(4)]
    csv.write_text("display_name,description,workflow_template_id,modeller_id,start_time,end_time,inputs,outputs\n"
                   + "\n".join(rows) + "\n")
    run = cli.start("register-runs", str(csv), "--watch")
    run.wait_for("Lodged")
    run_workers()
    code, out, _ = run.finish()
    assert code == 0, out
    assert "4 jobs" in out and "4 succeeded, 0 did not" in out and "runs.csv" in out

    bad = tmp_path / "bad.csv"
    bad.write_text("display_name,description,workflow_template_id,modeller_id,start_time,end_time\n"
                   "ok,fine,w,p,1,2\nlate,wrong,w,p,not-a-time,2\n")
    r = cli("register-runs", str(bad), check=1)
    assert "Line 3, column start_time" in r.stderr


def test_export_prov_writes_prov_json(cli, world, tmp_path):
    cli.login("alice")
    out = tmp_path / "prov.json"
    cli("export-prov", world["rain"].id, "-o", str(out), check=0)
    doc = json.loads(out.read_text())
    assert f"jd:{world['rain'].id}" in doc["entity"] and doc["activity"] and doc["wasGeneratedBy"]
    printed = json.loads(cli("export-prov", world["rain"].id, "--depth", "1", check=0).stdout)
    assert printed["entity"][f"jd:{world['rain'].id}"]
    r = cli("export-prov", "no-such-item", check=1)
    assert "No item no-such-item" in r.stderr
