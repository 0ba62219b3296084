"""The `jobdeck` command as a new user meets it: each defect found by trying it (fitting
the terminal, one-line refusals also into a pipe, checks before lodging, the token a
logout revokes, unknown owners, wrong passwords, console addresses, watching) and the
commands added (types, logs, files, pipelines, batch actions, admin, time filters,
completion, profiles). Through the installed entry point (a subprocess), against a
real server on a real port, real RQ workers; under a pseudo-terminal where the width
matters."""

from __future__ import annotations

import fcntl
import http.server
import json
import os
import pty
import re
import signal
import struct
import subprocess
import termios
import threading

import pytest

from tests.conftest import free_port, run_workers
from tests.integration.api_live import LiveServer
from tests.integration.test_cli import JOBDECK, Running, cli, live  # noqa: F401 (fixtures)
from tests.pools import wait_for

ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07|\x1b[()][0-9A-Za-z]")


def _env(cli, **more) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOBDECK_") and k != "COLUMNS"}
    env.update(JOBDECK_CONFIG=str(cli.config), HOME=str(cli.config.parent.parent), PYTHONUNBUFFERED="1")
    env.update(more)
    return env


def plain(cli, *args, input=None, timeout=60, **env):
    """`jobdeck ARGS` with stdout and stderr pipes and no COLUMNS: not a terminal."""
    r = subprocess.run([str(JOBDECK), *args], input=input, capture_output=True, text=True, env=_env(cli, **env),
                       timeout=timeout)
    assert "Traceback" not in r.stderr, r.stderr
    return r


def in_pty(cli, args, cols: int, *, during=None, timeout=60, signal_after=None):
    """`jobdeck ARGS` on a pseudo-terminal `cols` wide: (exit status, screen lines without
    escape codes, raw text)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, cols, 0, 0))
    proc = subprocess.Popen([str(JOBDECK), *args], stdin=slave, stdout=slave, stderr=slave, close_fds=True,
                            env=_env(cli, COLUMNS=str(cols), LINES="40", TERM="xterm-256color"))
    os.close(slave)
    chunks: list[bytes] = []

    def read():
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        if during:
            during(lambda: b"".join(chunks).decode(errors="replace"))
        if signal_after:
            wait_for(lambda: signal_after in ANSI.sub("", b"".join(chunks).decode(errors="replace")), timeout=30)
            proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
        reader.join(5)
        os.close(master)
    raw = b"".join(chunks).decode(errors="replace")
    assert "Traceback" not in raw, raw
    lines = [ln for ln in re.split(r"\r\n|\n|\r", ANSI.sub("", raw))]
    return code, lines, raw


def _fits(lines: list[str], cols: int) -> None:
    too_long = [ln for ln in lines if len(ln) > cols]
    assert not too_long, f"wider than {cols}: {too_long}"


def _lodge(users, owner="alice", n=1, **payload):
    from app import launch

    return [launch.launch_job(actor=users["root"], job_type="SYSTEM", job_subtype="NOOP", payload=payload,
                              owner=owner) for _ in range(n)]


# --- 1. list fits the terminal; --wide; --json ------------------------------------------------


@pytest.mark.parametrize("cols", [80, 120])
def test_list_fits_the_terminal_and_never_shortens_the_id_or_status(cli, users, cols):
    jobs = _lodge(users, n=3)
    from app import launch

    launch.launch_batch(actor=users["root"], job_type="SYSTEM", job_subtype="NOOP", payloads=[{}, {}],
                        label="nightly rainfall runs", owner="bob")
    cli.login("root")
    code, lines, _ = in_pty(cli, ["list", "--all"], cols)
    assert code == 0
    _fits(lines, cols)
    header = next(ln for ln in lines if ln.startswith("session id"))
    assert "status" in header
    for j in jobs:
        row = next(ln for ln in lines if ln.startswith(j.id))  # the whole id
        assert "PENDING" in row
    if cols >= 120:
        for col in ("type/subtype", "created (UTC)", "try", "owner", "name", "last message"):
            assert col in header, header
        assert any("nightly rainf" in ln for ln in lines)
        assert any("SYSTEM/NOOP" in ln and "alice" in ln for ln in lines)
    else:
        assert "SYSTEM/NOOP" in "\n".join(lines)

    code, lines, _ = in_pty(cli, ["list", "--all", "--wide"], cols)
    header = next(ln for ln in lines if ln.startswith("session id"))
    assert code == 0 and all(c in header for c in ("owner", "created (UTC)", "name", "last message"))

    listed = json.loads(plain(cli, "list", "--all", "--json").stdout)
    assert {j.id for j in jobs} <= {j["id"] for j in listed["jobs"]}


def test_list_into_a_pipe_keeps_every_column_whole(cli, users):
    (job,) = _lodge(users)
    cli.login("root")
    r = plain(cli, "list", "--all")
    assert r.returncode == 0
    row = next(ln for ln in r.stdout.splitlines() if ln.startswith(job.id))
    assert "SYSTEM/NOOP" in row and "alice" in row and "Lodged" in row and "…" not in row


# --- 2, 3. register-runs: the console's check at the door, --dry-run, its own export ---------------


def _csv_rows(world, n, *, extra_cols=""):
    return [f"{extra_cols}run {i},rainfall run {i},{world['wf'].id},{world['person'].id},1700000000,1700000600,"
            f"{world['template'].id}:{world['rain'].id},{world['template'].id}:{world['flow'].id}" for i in range(n)]


HEADER = "display_name,description,workflow_template_id,modeller_id,start_time,end_time,inputs,outputs"


def test_register_runs_lists_every_bad_row_and_lodges_nothing(cli, world, tmp_path):
    from app import queries

    cli.login("alice")
    rows = _csv_rows(world, 6)
    rows[1] = rows[1].replace(world["person"].id, "no-such-person")
    rows[2] = rows[2].replace(world["wf"].id, world["person"].id)  # an item of the wrong kind
    rows[3] = rows[3].replace("1700000000", "not-a-time")
    rows[4] = rows[4].replace(world["rain"].id, "no-such-dataset")
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + "\n" + "\n".join(rows) + "\n")
    for args in (["register-runs", str(bad)], ["register-runs", str(bad), "--dry-run"]):
        r = plain(cli, *args)
        assert r.returncode == 1, r.stdout
        for line in (3, 4, 5, 6):
            assert f"Line {line}" in r.stderr, r.stderr
        assert "nothing was lodged" in r.stderr
    assert queries.list_batches(viewer=_user("alice"))[0] == []

    good = tmp_path / "good.csv"
    good.write_text(HEADER + "\n" + "\n".join(_csv_rows(world, 2)) + "\n")
    r = plain(cli, "register-runs", str(good), "--dry-run")
    assert r.returncode == 0 and "2 model run(s), no problems" in r.stdout
    assert queries.list_batches(viewer=_user("alice"))[0] == []


def _user(name):
    from app import auth

    return auth.get_user(name)


def test_register_runs_takes_back_the_consoles_payload_export(cli, world, tmp_path):
    cli.login("alice")
    export = tmp_path / "export.csv"
    export.write_text("session_id,status,info,model_run_id," + HEADER + "\n"
                      + "\n".join(_csv_rows(world, 2, extra_cols="abc,FAILED,it failed,,")) + "\n")
    r = plain(cli, "register-runs", str(export), "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["total"] == 2


# --- 4. one-line refusals, also into a pipe ------------------------------------------------------


def test_refusals_are_one_line_without_a_traceback_also_into_a_pipe(cli, world, tmp_path):
    cli.login("alice")
    cases = [
        (["export-prov", world["rain"].id, "-o", "/no/such/dir/p.json"], "Cannot write the PROV-JSON"),
        (["submit", "SYSTEM", "NOOP", "-f", str(tmp_path / "missing.json")], "Cannot read the payload file"),
        (["submit", "SYSTEM", "NOOP", "-f", str(tmp_path)], "is a directory"),
        (["register-runs", str(tmp_path / "none.csv")], "Cannot read the CSV file"),
        (["status", "x" * 60], "Not found"),
        (["list", "--status", "nope"], "--status takes one of PENDING"),
        (["list", "--limit", "0"], "Usage error"),
    ]
    for args, text in cases:
        r = plain(cli, *args)
        assert r.returncode in (1, 2), (args, r.returncode)
        assert text in r.stderr, (args, r.stderr)
        assert len(r.stderr.strip().splitlines()) == 1, (args, r.stderr)  # not wrapped at 80 columns


# --- 5. logout revokes also a token given by hand ------------------------------------------------


def test_logout_revokes_a_token_given_by_hand_unless_kept(cli, users):
    from app import auth
    from app.errors import AuthenticationFailed

    for keep in (False, True):
        plain_token, _ = auth.create_token(owner="bob", name="from the profile page")
        plain(cli, "login", "--server", cli.server, "--token", plain_token)
        r = plain(cli, "logout", *(["--keep-token"] if keep else []))
        assert r.returncode == 0 and not cli.config.exists()
        if keep:
            assert "still works elsewhere" in r.stdout
            assert auth.user_for_token(plain_token).username == "bob"
        else:
            assert "the token was revoked" in r.stdout
            with pytest.raises(AuthenticationFailed):
                auth.user_for_token(plain_token)


def test_api_revokes_the_token_of_the_request(api, users):
    from app import auth

    plain_token, _ = auth.create_token(owner="alice")
    headers = {"Authorization": f"Bearer {plain_token}"}
    assert api.delete("/api/tokens/current", headers=headers).status_code == 204
    assert api.get("/api/me", headers=headers).status_code == 401
    assert api.delete("/api/tokens/current", headers=headers).status_code == 401


# --- 6. an unknown owner is refused -------------------------------------------------------------


def test_an_unknown_owner_is_refused_by_the_cli_and_the_api(cli, api, users):
    from app import queries

    cli.login("root")
    r = plain(cli, "submit", "SYSTEM", "NOOP", "--owner", "nobody")
    assert r.returncode == 1 and "No user 'nobody'" in r.stderr and "422" in r.stderr
    tok = api.tokens["root"] if hasattr(api, "tokens") else None
    headers = {"Authorization": f"Bearer {tok}"} if tok else api.as_("root")
    got = api.post("/api/jobs", headers=headers, json={"job_type": "SYSTEM", "job_subtype": "NOOP",
                                                       "payload": {}, "owner": "nobody"})
    assert got.status_code == 422 and "nobody" in got.json()["detail"] and got.json()["field"] == "owner"
    assert queries.list_jobs(viewer=users["root"], all_users=True).jobs == []


# --- 7. wrong passwords ------------------------------------------------------------------------


def test_wrong_passwords_are_said_plainly_and_not_sent_again(cli, users, monkeypatch):
    from app.settings import reload_settings

    monkeypatch.setenv("JOBDECK_PASSWORD_TRIES", "2")
    reload_settings()
    seen = []
    for _ in range(4):
        r = plain(cli, "login", "--server", cli.server, "-u", "alice", "--password-stdin", input="wrong\n")
        assert r.returncode == 1 and len(r.stderr.strip().splitlines()) == 1, r.stderr
        assert "Sign in again" not in r.stderr and "waiting" not in r.stderr.lower()
        seen.append(r.stderr)
    assert "Wrong username or password" in seen[0]
    assert "Too many wrong passwords for alice" in seen[-1] and "Nothing was sent again" in seen[-1]


# --- 8. console addresses, no scheme, not a Jobdeck server -------------------------------------------


def test_login_finds_the_api_from_any_console_address(cli, users):
    host_port = cli.server.removeprefix("http://")
    for given in (host_port, f"{cli.server}/jobs", f"{cli.server}/jobs/some-id?tab=files", f"{cli.server}/api/docs"):
        r = plain(cli, "login", "--server", given, "-u", "alice", "--password-stdin", input="alice-password\n")
        assert r.returncode == 0, (given, r.stderr)
        assert json.loads(cli.config.read_text())["profiles"]["default"]["server"] == cli.server


def test_a_server_that_is_not_jobdeck_is_named_so(cli, tmp_path):
    (tmp_path / "index.html").write_text("<html><body>hello</body></html>")
    handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(*a, directory=str(tmp_path), **k)  # noqa: E731
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}/"
        r = plain(cli, "login", "--server", url, "-u", "alice", "--password-stdin", input="x\n")
        assert r.returncode == 1 and "is not a Jobdeck server" in r.stderr and "<html" not in r.stderr
        r = plain(cli, "list", JOBDECK_SERVER=url, JOBDECK_TOKEN="jdk_x")
        assert r.returncode == 1 and "not a Jobdeck" in r.stderr and len(r.stderr.strip().splitlines()) == 1
        r = plain(cli, "login", "--server", "ftp://example.org", "-u", "a", "--password-stdin", input="x\n")
        assert r.returncode == 1 and "not an http:// or https:// address" in r.stderr
    finally:
        httpd.shutdown()


# --- 9. watching: unreachable, unknown, revoked, Ctrl-C, --timeout -----------------------------------


def test_watch_refusals_come_before_any_bar(cli, users):
    from app import auth

    tok, _ = auth.create_token(owner="alice")
    closed = f"http://127.0.0.1:{free_port()}"
    r = plain(cli, "watch", "some-job", JOBDECK_SERVER=closed, JOBDECK_TOKEN=tok)
    assert r.returncode == 1 and "Cannot reach the Jobdeck server" in r.stderr
    assert "reconnecting" not in r.stderr + r.stdout and "broke off" not in r.stderr
    r = plain(cli, "watch", "nope", JOBDECK_SERVER=cli.server, JOBDECK_TOKEN=tok)
    assert r.returncode == 1 and "Not found" in r.stderr and r.stdout == ""
    r = plain(cli, "watch", "nope", "--batch", JOBDECK_SERVER=cli.server, JOBDECK_TOKEN=tok)
    assert r.returncode == 1 and "404" in r.stderr and r.stdout == ""


def test_a_token_revoked_during_watch_stops_it(cli, users, monkeypatch):
    from app import auth
    from app.api import stream

    monkeypatch.setattr(stream, "KEEPALIVE_S", 0.3)
    (job,) = _lodge(users)
    tok, row = auth.create_token(owner="alice")
    proc = Running(subprocess.Popen([str(JOBDECK), "watch", job.id], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    text=True, env=_env(cli, JOBDECK_SERVER=cli.server, JOBDECK_TOKEN=tok)))
    proc.wait_for("PENDING (attempt 1)")
    auth.revoke_token(owner="alice", token_id=row.id)
    code, _, err = proc.finish(timeout=30)
    assert code == 1 and "revoked" in err


@pytest.mark.parametrize("cols", [80, 120])
def test_watch_under_a_terminal_fits_shows_progress_and_ends(cli, users, cols):
    cli.login("root")
    job = json.loads(plain(cli, "submit", "SYSTEM", "NOOP", "--set", "sleep_s=1.2", "--json").stdout)

    def work(screen):
        wait_for(lambda: "PENDING (attempt 1)" in ANSI.sub("", screen()), timeout=30)
        run_workers()

    code, lines, raw = in_pty(cli, ["watch", job["id"]], cols, during=work)
    assert code == 0, raw
    _fits(lines, cols)
    text = "\n".join(lines)
    assert "IN_PROGRESS" in text and f"Job {job['id']} ended SUCCEEDED" in text
    # The handler's own progress moves the bar while it runs, not only the stages (10% when started).
    shown = {int(p) for p in re.findall(r"IN_PROGRESS\b.*?(\d+)%", text)}
    assert any(10 < p < 100 for p in shown), text


def test_ctrl_c_and_timeout_stop_the_watch_not_the_job(cli, users):
    from app import launch

    (job,) = _lodge(users, owner="root")
    cli.login("root")
    r = plain(cli, "watch", job.id, "--timeout", "1")
    assert r.returncode == 124 and "still PENDING after 1 s; it keeps running" in r.stdout
    code, lines, raw = in_pty(cli, ["watch", job.id], 100, signal_after="PENDING (attempt 1)")
    assert code == 130 and f"job {job.id} keeps running" in "\n".join(lines), raw
    assert launch.get_job(job.id).status == "PENDING"


# --- 10. a crash's traceback for admins ---------------------------------------------------------


def test_an_admin_sees_a_crashed_jobs_traceback_its_owner_does_not(cli, users):
    (job,) = _lodge(users, outcome="crash")
    run_workers()
    cli.login("root")
    r = plain(cli, "status", job.id)
    assert r.returncode == 0 and "CRASHED" in r.stdout and "traceback" in r.stdout
    assert "RuntimeError: asked to crash" in r.stdout
    assert json.loads(plain(cli, "status", job.id, "--json").stdout)["error_detail"]
    cli.login("alice")
    r = plain(cli, "status", job.id)
    assert r.returncode == 0 and "CRASHED" in r.stdout and "asked to crash" not in r.stdout
    assert "traceback" not in r.stdout and "Traceback" not in r.stdout


# --- 11. --status in any case, help that says what to give ----------------------------------------


def test_status_filter_in_any_case_and_the_help_lists_values(cli, users):
    jobs = _lodge(users, owner="root", n=2)
    from app import launch

    launch.cancel_job(actor=users["root"], job_id=jobs[0].id)
    cli.login("root")
    for given in ("cancelled", "Cancelled", "CANCELLED"):
        got = json.loads(plain(cli, "list", "--status", given, "--json").stdout)
        assert [j["id"] for j in got["jobs"]] == [jobs[0].id]
    helptext = plain(cli, "list", "--help").stdout
    assert "IN_PROGRESS" in helptext and "CANCELLED" in helptext and "jobdeck types" in helptext


# --- 12. real progress from handlers ------------------------------------------------------------


def test_batch_submit_reports_its_progress_to_the_watch(cli, world, tmp_path):
    from app import bulk

    csv_text = HEADER + "\n" + "\n".join(_csv_rows(world, 20)) + "\n"
    payload = tmp_path / "payload.json"
    payload.write_text(json.dumps({"records": bulk.parse_model_runs_csv(csv_text), "label": "twenty"}))
    cli.login("alice")
    run = cli.start("submit", "PROV_LODGE", "MODEL_RUN_BATCH_SUBMIT", "-f", str(payload), "--watch")
    run.wait_for("Lodged")
    run_workers()
    code, out, _ = run.finish()
    assert code == 0, out
    assert "10 of 20 model runs prepared" in out and "Lodging 20 model run registrations" in out
    job_id = re.search(r"Job (\S+) ended SUCCEEDED", out).group(1)
    history = json.loads(plain(cli, "logs", job_id, "--json").stdout.splitlines()[-1])
    assert history["status"] == "SUCCEEDED"
    texts = [json.loads(ln)["text"] for ln in plain(cli, "logs", job_id, "--json").stdout.splitlines()]
    assert "0 of 20 model runs prepared" in texts and "Lodging 20 model run registrations in batch" in " ".join(texts)


# --- added: types, logs --follow, files, download, pipelines, run --------------------------------------


def test_types_lists_job_types_and_their_payload_fields(cli, users):
    cli.login("alice")
    r = plain(cli, "types")
    row = next(ln for ln in r.stdout.splitlines() if ln.startswith("SYSTEM/NOOP"))
    assert "sleep_s" in row
    assert any(t["job_subtype"] == "MODEL_RUN_PROV_LODGE" for t in json.loads(plain(cli, "types", "--json").stdout))


def test_logs_follow_prints_the_history_as_it_grows(cli, users):
    (job,) = _lodge(users, owner="alice")
    cli.login("alice")
    proc = Running(subprocess.Popen([str(JOBDECK), "logs", job.id, "--follow"], stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True, env=_env(cli)))
    proc.wait_for("PENDING")
    run_workers()
    code, out, _ = proc.finish()
    assert code == 0 and out.index("PENDING") < out.index("IN_PROGRESS") < out.index("SUCCEEDED")


def _demo_pipeline(users):
    from app import pipelines
    from app.demo import DEMO_PIPELINES, DEMO_TASKS

    for t in DEMO_TASKS:
        pipelines.create_task(actor=users["root"], **t)
    for name, description, steps in DEMO_PIPELINES:
        pipelines.create_pipeline(actor=users["root"], name=name, description=description, steps=steps)


def test_pipelines_run_with_parameters_watch_then_files_and_download(cli, users, tmp_path):
    import hashlib

    _demo_pipeline(users)
    cli.login("alice")
    r = plain(cli, "pipelines")
    assert "Text summary" in r.stdout and "top=20" in r.stdout
    poem = tmp_path / "poem.txt"
    poem.write_text("the cat sat\non the mat\nthe end\n")
    r = plain(cli, "run", "text summary", str(poem), "--set", "top=oops")
    assert r.returncode == 1 and "top" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = plain(cli, "run", "no such pipeline", str(poem))
    assert r.returncode == 1 and "No pipeline 'no such pipeline'; pipelines: " in r.stderr

    run = cli.start("run", "Text summary", str(poem), "--set", "top=2", "--watch")
    run.wait_for("Running 'Text summary'")
    run_workers()
    code, out, _ = run.finish(timeout=60)
    assert code == 0 and "ended SUCCEEDED" in out, out
    root = re.search(r"Run (\S+) ended SUCCEEDED", out).group(1)

    from app import pipelines

    steps = pipelines.run_steps(root)
    sorter = next(s for s in steps if s.payload.get("task") == "sort lines" or "sort" in (s.subject or ""))
    listed = plain(cli, "files", sorter.id)
    assert "sorted.txt" in listed.stdout
    target = tmp_path / "got.txt"
    r = plain(cli, "download", sorter.id, "sorted.txt", "-o", str(target))
    assert r.returncode == 0 and "SHA-256 checked" in r.stderr
    assert target.read_bytes() == b"on the mat\nthe cat sat\nthe end\n"
    meta = json.loads(plain(cli, "files", sorter.id, "--json").stdout)[0]
    assert meta["sha256"] == hashlib.sha256(target.read_bytes()).hexdigest()
    r = plain(cli, "download", sorter.id, "nope.txt")
    assert r.returncode == 1 and "404" in r.stderr
    # The steps reported their progress through the job context.
    texts = [json.loads(ln)["text"] for ln in plain(cli, "logs", sorter.id, "--json").stdout.splitlines()]
    assert "Running task 'sort lines'" in texts and any(t.startswith("Task 'sort lines' exited 0") for t in texts)


# --- added: batch actions ----------------------------------------------------------------------


def test_cancel_and_retry_a_batch(cli, users):
    from app import launch

    live_batch = launch.launch_batch(actor=users["root"], job_type="SYSTEM", job_subtype="NOOP",
                                     payloads=[{}, {}, {}], label="three", owner="alice")
    cli.login("alice")
    r = plain(cli, "cancel", "--batch", live_batch.id)
    assert r.returncode == 0 and f"Cancelled 3 job(s) of batch {live_batch.id}." in r.stdout
    assert {j["status"] for j in json.loads(plain(cli, "list", "--batch", live_batch.id, "--json").stdout)["jobs"]} \
        == {"CANCELLED"}
    assert "Cancelled 0 job(s)" in plain(cli, "cancel", "--batch", live_batch.id).stdout

    failing = launch.launch_batch(actor=users["root"], job_type="SYSTEM", job_subtype="NOOP",
                                  payloads=[{"outcome": "fail"}, {"outcome": "fail"}, {}], label="two fail",
                                  owner="alice")
    run_workers()
    r = plain(cli, "retry", "--failed", "--batch", failing.id)
    assert r.returncode == 0 and f"Retrying 2 failed job(s) of batch {failing.id}." in r.stdout
    jobs = json.loads(plain(cli, "list", "--batch", failing.id, "--json").stdout)["jobs"]
    assert sorted((j["status"], j["attempt"]) for j in jobs) == [("PENDING", 2), ("PENDING", 2), ("SUCCEEDED", 1)]
    r = plain(cli, "retry", failing.id, "--batch")
    assert r.returncode == 2 and "--batch and --failed" in r.stderr
    r = plain(cli, "cancel", "--batch", "no-such-batch")
    assert r.returncode == 1 and "404" in r.stderr


# --- added: admin --------------------------------------------------------------------------


def test_workers_backends_pause_resume_wake(cli, users):
    cli.login("alice")
    r = plain(cli, "workers")
    assert r.returncode == 1 and "admins" in r.stderr
    cli.login("root")
    _lodge(users, owner="root")
    run_workers()
    r = plain(cli, "workers")
    assert r.returncode == 0 and "stopped" in r.stdout, r.stdout
    assert json.loads(plain(cli, "workers", "--json").stdout)[0]["jobs_done"] >= 1

    before = {b["name"]: b for b in json.loads(plain(cli, "backends", "--json").stdout)}
    assert "system" in before and "system" in plain(cli, "backends").stdout
    r = plain(cli, "pause", "system")
    assert r.returncode == 0 and "Paused backend system" in r.stdout
    assert "(paused)" in plain(cli, "backends").stdout
    r = plain(cli, "resume", "system")
    assert r.returncode == 0 and f"with {before['system']['max_workers']} max workers" in r.stdout
    after = {b["name"]: b for b in json.loads(plain(cli, "backends", "--json").stdout)}
    assert after["system"]["max_workers"] == before["system"]["max_workers"]
    r = plain(cli, "resume", "system")
    assert r.returncode == 0 and "is not paused" in r.stdout
    r = plain(cli, "pause", "nope")
    assert r.returncode == 1 and "No backend 'nope'; backends: " in r.stderr
    r = plain(cli, "wake", "system")
    assert r.returncode == 0 and r.stdout.strip()


# --- added: --since/--until and the name column ----------------------------------------------------


def test_since_until_and_the_name_column(cli, users):
    from app import launch

    (job,) = _lodge(users, owner="alice")
    batch = launch.launch_batch(actor=users["root"], job_type="SYSTEM", job_subtype="NOOP", payloads=[{}],
                                label="a named batch", owner="alice")
    cli.login("alice")
    ids = lambda *a: {j["id"] for j in json.loads(plain(cli, "list", "--json", *a).stdout)["jobs"]}  # noqa: E731
    assert job.id in ids("--since", "1h") and job.id in ids("--since", "2000-01-01")
    assert ids("--until", "2000-01-01T00:00:00Z") == set() and ids("--since", "2999-01-01") == set()
    assert job.id in ids("--until", "2999-01-01")
    r = plain(cli, "list", "--since", "yesterday")
    assert r.returncode == 1 and "--since takes an ISO 8601 time" in r.stderr
    row = next(ln for ln in plain(cli, "list").stdout.splitlines() if "a named batch" in ln)
    assert row.split()[0] != job.id and batch.id not in row.split()[0]


# --- added: completion and profiles -------------------------------------------------------------


def test_shell_completion(cli):
    script = plain(cli, "completion", "bash").stdout
    assert "_JOBDECK_COMPLETE" in script and "complete" in script
    r = plain(cli, _JOBDECK_COMPLETE="complete_bash", COMP_WORDS="jobdeck li", COMP_CWORD="1")
    assert "list" in r.stdout
    r = plain(cli, "completion", "tcsh")
    assert r.returncode == 1 and "shells: bash, zsh, fish" in r.stderr


def test_named_profiles_for_several_servers(cli, users):
    other = LiveServer().start()
    try:
        for prof, server, name in (("work", cli.server, "alice"), ("lab", other.url, "bob")):
            r = plain(cli, "--profile", prof, "login", "--server", server, "-u", name, "--password-stdin",
                      input=f"{name}-password\n")
            assert r.returncode == 0 and f"profile '{prof}'" in r.stdout, r.stderr
        listed = plain(cli, "profiles").stdout
        assert "* work" in listed and "lab" in listed and other.url in listed
        assert "alice (user" in plain(cli, "token").stdout  # the first one kept is in use
        assert "bob (user" in plain(cli, "--profile", "lab", "token").stdout
        assert "bob (user" in plain(cli, "token", JOBDECK_PROFILE="lab").stdout
        plain(cli, "profiles", "use", "lab")
        assert "bob (user" in plain(cli, "token").stdout
        r = plain(cli, "profiles", "use", "nope")
        assert r.returncode == 1 and "No profile 'nope'" in r.stderr
        assert "Signed out" in plain(cli, "logout").stdout
        assert "alice (user" in plain(cli, "token").stdout  # back to the one left
    finally:
        other.stop()
