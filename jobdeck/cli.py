"""`jobdeck`: lodge, watch and manage Jobdeck jobs from a terminal or a script.

Exit status: 0 when it worked (for watch: the job, or every job of the batch,
SUCCEEDED), 1 when the server refused or a job ended otherwise, 2 for a usage error.
"""

from __future__ import annotations

import json
import socket
import sys
import time
from pathlib import Path
from typing import Any, Iterator, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from jobdeck import config
from jobdeck.client import ApiError, Client, Event, Unreachable

app = typer.Typer(help=__doc__, no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
out = Console()
err = Console(stderr=True)

FINAL = ("SUCCEEDED", "FAILED", "CRASHED", "CANCELLED")
STEP = {"PENDING": 0, "DEQUEUED": 1, "IN_PROGRESS": 2}
COLOURS = {"PENDING": "grey62", "DEQUEUED": "cyan", "IN_PROGRESS": "blue", "SUCCEEDED": "green",
           "FAILED": "red", "CRASHED": "magenta", "CANCELLED": "yellow"}


class Failed(Exception):
    """A message for the person, then exit status 1."""


def _status(s: str) -> str:
    return f"[{COLOURS.get(s, 'white')}]{s}[/]"


def _client(*, need_token: bool = True) -> Client:
    cfg = config.load()
    server = cfg.get("server") or config.DEFAULT_SERVER
    token = cfg.get("token")
    if need_token and not token:
        raise Failed(f"Not signed in: run `jobdeck login --server {server}` first "
                     f"(or set JOBDECK_TOKEN to a token from your profile page).")
    return Client(server, token)


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str))


def _run(fn):
    """Run a command body: problems become one readable line, never a traceback."""
    try:
        return fn()
    except ApiError as e:
        hint = ""
        if e.status == 401:
            hint = " Sign in again with `jobdeck login`."
        elif e.status == 429:
            hint = f" (retry after {e.body.get('retry_after', '?')} s)"
        err.print(f"[bold red]{e.title}[/] ({e.status}): {e.detail}{hint}", highlight=False)
        for extra in (e.body.get("errors") or [])[1:6]:
            err.print(f"  {extra.get('field')}: {extra.get('message')}", highlight=False)
        raise typer.Exit(1)
    except (Unreachable, Failed) as e:
        err.print(f"[bold red]Error:[/] {e}", highlight=False)
        raise typer.Exit(1)
    except KeyboardInterrupt:
        err.print("Interrupted.")
        raise typer.Exit(130)


# --- signing in ----------------------------------------------------------------------------


@app.command()
def login(
    server: Optional[str] = typer.Option(None, help="Address of the Jobdeck server, e.g. http://localhost:3000"),
    username: Optional[str] = typer.Option(None, "--username", "-u", help="Your username (asked if not given)"),
    password_stdin: bool = typer.Option(False, help="Read the password from standard input (for scripts)"),
    token: Optional[str] = typer.Option(None, help="Use this API token (from your profile page) instead of a password"),
    name: Optional[str] = typer.Option(None, help="Name of the new token (default: 'jobdeck CLI on HOST')"),
):
    """Sign in and keep an API token in the config file (JOBDECK_CONFIG)."""
    def body():
        cfg = config.load()
        srv = (server or cfg.get("server") or config.DEFAULT_SERVER).rstrip("/")
        token_id = None
        if token:
            tok = token.strip()
        else:
            user = username or typer.prompt("Username")
            if password_stdin:
                pw = sys.stdin.readline().rstrip("\n")
            else:
                pw = typer.prompt("Password", hide_input=True)
            with Client(srv) as c:
                got = c.post("/api/tokens", json={"username": user, "password": pw,
                                                  "name": name or f"jobdeck CLI on {socket.gethostname()}"[:128]})
            tok, token_id = got["token"], got["id"]
        with Client(srv, tok) as c:
            me = c.get("/api/me")
        path = config.save({"server": srv, "token": tok, "token_id": token_id, "username": me["username"]})
        out.print(f"Signed in to {srv} as [bold]{me['username']}[/] ({me['role']}). "
                  f"Token kept in {path}; revoke it with `jobdeck logout` or on your profile page.",
                  highlight=False)
    _run(body)


@app.command()
def logout():
    """Revoke the token this client made at login, and forget it."""
    def body():
        cfg = config.load()
        if cfg.get("token") and cfg.get("token_id"):
            with _client() as c:
                try:
                    c.delete(f"/api/tokens/{cfg['token_id']}")
                except ApiError as e:
                    if e.status not in (401, 404):
                        raise
        out.print("Signed out." if config.forget() else "Not signed in.")
    _run(body)


@app.command()
def token(show: bool = typer.Option(False, "--show", help="Print the token itself (for curl or scripts)")):
    """Who the kept token signs in as; with --show, the token itself."""
    def body():
        cfg = config.load()
        if show:
            if not cfg.get("token"):
                raise Failed("No token kept: run `jobdeck login` first.")
            print(cfg["token"])
            return
        with _client() as c:
            me = c.get("/api/me")
        out.print(f"Server {c.server}\nUser   {me['username']} ({me['role']}, {me['display_name']})\n"
                  f"Config {config.path()}", highlight=False)
    _run(body)


# --- jobs --------------------------------------------------------------------------------


def _parse_value(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _payload(payload: Optional[str], payload_file: Optional[Path], sets: list[str]) -> dict:
    data: dict[str, Any] = {}
    if payload_file is not None:
        text = sys.stdin.read() if str(payload_file) == "-" else payload_file.read_text()
        try:
            data = json.loads(text)
        except ValueError as e:
            raise Failed(f"The payload file is not valid JSON: {e}.")
    if payload:
        try:
            data.update(json.loads(payload))
        except (ValueError, TypeError) as e:
            raise Failed(f"The payload is not a JSON object: {e}.")
    for s in sets:
        key, sep, value = s.partition("=")
        if not sep or not key:
            raise Failed(f"--set takes key=value, not {s!r}.")
        data[key] = _parse_value(value)
    if not isinstance(data, dict):
        raise Failed("The payload must be a JSON object.")
    return data


def _job_line(j: dict) -> str:
    extra = f" in batch {j['batch_id']}" if j.get("batch_id") else ""
    return (f"Job [bold]{j['id']}[/] {j['job_type']}/{j['job_subtype']} {_status(j['status'])} "
            f"(attempt {j['attempt']}){extra}")


@app.command()
def submit(
    job_type: str = typer.Argument(..., help="e.g. PROV_LODGE"),
    job_subtype: str = typer.Argument(..., help="e.g. MODEL_RUN_PROV_LODGE"),
    payload: Optional[str] = typer.Argument(None, help="The payload as a JSON object"),
    payload_file: Optional[Path] = typer.Option(None, "--payload-file", "-f", help="Read the payload from a JSON file ('-': stdin)"),
    sets: list[str] = typer.Option([], "--set", "-s", help="key=value added to the payload (value read as JSON when it is)"),
    batch: Optional[str] = typer.Option(None, help="Add the job to this batch of yours"),
    key: Optional[str] = typer.Option(None, "--idempotency-key", "-k", help="A repeat with the same key returns the same job"),
    owner: Optional[str] = typer.Option(None, help="Lodge for another user (admins and services)"),
    watch_: bool = typer.Option(False, "--watch", "-w", help="Then watch it until it ends"),
    as_json: bool = typer.Option(False, "--json", help="Print the job as JSON"),
):
    """Lodge a job."""
    def body():
        data = _payload(payload, payload_file, sets)
        headers = {"Idempotency-Key": key} if key else {}
        with _client() as c:
            r = c.request("POST", "/api/jobs", headers=headers,
                          json={"job_type": job_type, "job_subtype": job_subtype, "payload": data,
                                "batch_id": batch, "owner": owner})
            job = r.json()
            if as_json:
                _print_json(job)
            else:
                again = " (the same job as before: the idempotency key was used already)" if r.status_code == 200 else ""
                out.print(f"Lodged: {_job_line(job)}{again}", highlight=False)
            if watch_:
                return _watch_job(c, job["id"])
    code = _run(body)
    raise typer.Exit(code or 0)


@app.command()
def status(
    job_id: str = typer.Argument(..., help="The job's session id"),
    messages: bool = typer.Option(False, "--messages", "-m", help="Show its message history too"),
    as_json: bool = typer.Option(False, "--json", help="Print the job as JSON"),
):
    """Show one job."""
    def body():
        with _client() as c:
            job = c.get(f"/api/jobs/{job_id}")
            msgs = c.get(f"/api/jobs/{job_id}/messages") if messages else None
        if as_json:
            _print_json({**job, "messages": msgs} if msgs is not None else job)
            return
        out.print(_job_line(job), highlight=False)
        rows = [("owner", job["owner"]), ("created", job["created_at"]), ("started", job.get("started_at")),
                ("finished", job.get("finished_at")), ("last message", job.get("last_message")),
                ("info", job.get("info")), ("progress", job.get("progress")),
                ("result", json.dumps(job["result"]) if job.get("result") else None),
                ("workflow", job.get("workflow_id")), ("item", job.get("entity_id"))]
        for k, v in rows:
            if v not in (None, ""):
                out.print(f"  {k:<13}{v}", highlight=False)
        for m in msgs or []:
            out.print(f"  {m['at'][:19]}  {_status(m['status'] or '')}  {m['text']}", highlight=False)
    _run(body)


@app.command("list")
def list_(
    status_: Optional[str] = typer.Option(None, "--status", help="Only jobs in this status"),
    job_type: Optional[str] = typer.Option(None, "--type"),
    job_subtype: Optional[str] = typer.Option(None, "--subtype"),
    batch: Optional[str] = typer.Option(None, help="The jobs of this batch, with its counts"),
    all_users: bool = typer.Option(False, "--all", help="Every user's jobs (admins)"),
    user: Optional[str] = typer.Option(None, "--user", help="This user's jobs (admins)"),
    limit: int = typer.Option(25, min=1, max=500),
    cursor: Optional[str] = typer.Option(None, help="Continue from a previous page"),
    as_json: bool = typer.Option(False, "--json", help="Print the page as JSON"),
):
    """List jobs, newest first (yours; a batch's; or, for admins, everyone's)."""
    def body():
        params = {k: v for k, v in {"status": status_, "job_type": job_type, "job_subtype": job_subtype,
                                    "limit": limit, "cursor": cursor}.items() if v is not None}
        with _client() as c:
            head = None
            if batch:
                head = c.get(f"/api/batches/{batch}")
                page = c.get(f"/api/batches/{batch}/jobs", params=params)
            elif all_users or user:
                page = c.get("/api/admin/jobs", params={**params, **({"username": user} if user else {})})
            else:
                page = c.get("/api/jobs", params=params)
        if as_json:
            _print_json({**page, **({"batch": head} if head else {})})
            return
        if head:
            out.print(_batch_line(head), highlight=False)
        # The id and status never shrink (the id is what the other commands take); the
        # rest gives way on a narrow terminal.
        t = Table(box=None, pad_edge=False)
        t.add_column("session id", no_wrap=True, min_width=36)
        t.add_column("status", no_wrap=True, min_width=11)
        t.add_column("type/subtype", no_wrap=True, overflow="ellipsis", ratio=2)
        t.add_column("try", no_wrap=True)
        t.add_column("owner", no_wrap=True, overflow="ellipsis")
        t.add_column("created (UTC)", no_wrap=True, overflow="ellipsis")
        t.add_column("last message", no_wrap=True, overflow="ellipsis", ratio=3)
        for j in page["jobs"]:
            t.add_row(j["id"], _status(j["status"]), f"{j['job_type']}/{j['job_subtype']}", str(j["attempt"]),
                      j["owner"], j["created_at"][5:16].replace("T", " "), j.get("last_message") or "")
        out.print(t)
        if not page["jobs"]:
            out.print("No jobs.")
        if page.get("next_cursor"):
            out.print(f"More: --cursor {page['next_cursor']}", highlight=False, soft_wrap=True)
    _run(body)


@app.command()
def cancel(job_id: str = typer.Argument(..., help="The job's session id")):
    """Cancel a job that has not ended."""
    def body():
        with _client() as c:
            job = c.post(f"/api/jobs/{job_id}/cancel")
        out.print(f"Cancelled: {_job_line(job)}", highlight=False)
    _run(body)


@app.command()
def retry(job_id: str = typer.Argument(..., help="The job's session id"),
          watch_: bool = typer.Option(False, "--watch", "-w", help="Then watch the new attempt")):
    """Retry a FAILED, CRASHED or CANCELLED job (a new attempt, history kept)."""
    def body():
        with _client() as c:
            job = c.post(f"/api/jobs/{job_id}/retry")
            out.print(f"Retrying: {_job_line(job)}", highlight=False)
            if watch_:
                return _watch_job(c, job_id)
    raise typer.Exit(_run(body) or 0)


# --- watching ------------------------------------------------------------------------------


def _batch_line(b: dict) -> str:
    counts = ", ".join(f"{_status(k)} {v}" for k, v in b["counts"].items() if v)
    return f"Batch [bold]{b['id']}[/] {b['label']!r}: {b['total']} jobs ({counts or 'none'})"


def _progress() -> Progress:
    return Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=out, transient=False)


RECONNECTS = 5


def _events(c: Client, path: str, say) -> Iterator[Event]:
    """A stream's events up to `end`, connecting again (RECONNECTS times in a row at
    most) when it breaks off, e.g. while the server restarts: the server then sends a
    fresh snapshot, so nothing is missed."""
    failures = 0
    while True:
        try:
            for ev in c.events(path):
                failures = 0
                yield ev
                if ev.event == "end":
                    return
            why = "the server closed the stream"
        except Unreachable as e:
            why = str(e)
        failures += 1
        if failures > RECONNECTS:
            raise Failed(f"The event stream broke off {RECONNECTS} times in a row ({why}); watch again later.")
        wait = min(8.0, 0.5 * 2 ** (failures - 1))
        say(f"[yellow]Stream interrupted[/] ({why}); reconnecting in {wait:.1f} s.")
        time.sleep(wait)


def _watch_job(c: Client, job_id: str) -> int:
    final = None
    with _progress() as bar:
        task = bar.add_task(job_id[:8], total=3)
        for ev in _events(c, f"/api/jobs/{job_id}/events", lambda m: bar.console.print(m, highlight=False)):
            d = ev.data
            if ev.event == "snapshot":
                bar.console.print(_job_line(d), highlight=False)
                st = d["status"]
            elif ev.event == "transition":
                st = d["status"]
                bar.console.print(f"{d['at'][11:19]}  {_status(st)}  {d['message']}", highlight=False)
            elif ev.event == "progress":
                if d.get("message"):
                    bar.console.print(f"          {d['message']}", highlight=False)
                frac = d.get("progress") or 0
                bar.update(task, completed=2 + min(0.99, frac))
                continue
            elif ev.event == "end":
                final = d["status"]
                break
            else:
                continue
            bar.update(task, completed=3 if st in FINAL else STEP.get(st, 0),
                       description=f"{job_id[:8]} {_status(st)}")
    if final is None:
        raise Failed("The event stream ended before the job did; watch again.")
    out.print(f"Job {job_id} ended {_status(final)}.", highlight=False)
    return 0 if final == "SUCCEEDED" else 1


def _watch_batch(c: Client, batch_id: str) -> int:
    counts: dict[str, int] = {}
    ended = False
    with _progress() as bar:
        task = None
        for ev in _events(c, f"/api/batches/{batch_id}/events", lambda m: bar.console.print(m, highlight=False)):
            d = ev.data
            if ev.event in ("snapshot", "batch"):
                counts = d["counts"]
                finished = sum(counts.get(s, 0) for s in FINAL)
                desc = "batch " + " ".join(f"{_status(k)} {v}" for k, v in counts.items() if v)
                if task is None:
                    bar.console.print(_batch_line(d), highlight=False)
                    task = bar.add_task(desc, total=d["total"] or 1)
                bar.update(task, total=d["total"] or 1, completed=finished if d["total"] else 1, description=desc)
            elif ev.event == "transition" and d["status"] in ("FAILED", "CRASHED"):
                bar.console.print(f"{d['at'][11:19]}  job {d['job_id']} {_status(d['status'])}  {d['message']}",
                                  highlight=False)
            elif ev.event == "end":
                counts, ended = d["counts"], True
                break
    if not ended:
        raise Failed("The event stream ended before the batch did; watch again.")
    bad = sum(counts.get(s, 0) for s in ("FAILED", "CRASHED", "CANCELLED"))
    good = counts.get("SUCCEEDED", 0)
    out.print(f"Batch {batch_id} ended: {good} succeeded, {bad} did not.", highlight=False)
    return 0 if bad == 0 else 1


@app.command()
def watch(
    ident: str = typer.Argument(..., metavar="ID", help="A job's session id (or a batch id with --batch)"),
    batch: bool = typer.Option(False, "--batch", "-b", help="ID is a batch: watch all its jobs"),
):
    """Follow a job (or a batch) live until it ends; exit 0 only if it succeeded."""
    def body():
        with _client() as c:
            return _watch_batch(c, ident) if batch else _watch_job(c, ident)
    raise typer.Exit(_run(body) or 0)


# --- registry --------------------------------------------------------------------------------


@app.command("register-runs")
def register_runs(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True, metavar="FILE.csv",
                                help="One model run per row (columns: see the README)"),
    label: str = typer.Option("", help="Label of the batch"),
    watch_: bool = typer.Option(False, "--watch", "-w", help="Then watch the batch until every run is lodged"),
    as_json: bool = typer.Option(False, "--json", help="Print the batch as JSON"),
):
    """Register the model runs of a CSV file as one batch."""
    def body():
        data = file.read_bytes()
        with _client() as c:
            batch = c.post("/api/model-runs/bulk", content=data, params={"label": label or file.name},
                           headers={"Content-Type": "text/csv"})
            if as_json:
                _print_json(batch)
            else:
                out.print(f"Lodged: {_batch_line(batch)}", highlight=False)
            if watch_:
                return _watch_batch(c, batch["id"])
    raise typer.Exit(_run(body) or 0)


@app.command("export-prov")
def export_prov(
    item: str = typer.Argument(..., help="The item's id"),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write to this file (default: standard output)"),
    depth: int = typer.Option(2, min=1, max=5, help="Hops around the item"),
):
    """Export an item's provenance as W3C PROV-JSON."""
    def body():
        with _client() as c:
            doc = c.get(f"/api/items/{item}/prov", params={"depth": depth})
        text = json.dumps(doc, indent=2)
        if output:
            output.write_text(text + "\n")
            err.print(f"Wrote {output} ({len(text)} bytes).", highlight=False)
        else:
            print(text)
    _run(body)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
