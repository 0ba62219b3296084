"""Backends (admins): `jobdeck backends [list]|show|create|edit|delete`, over
/api/admin/backends. `jobdeck backends` alone lists them, as it did before it had
subcommands. Pausing, resuming and waking one are `jobdeck pause|resume|wake`
(jobdeck.commands.admin). Every rule (names, ranges, what may be deleted) is the
server's: a refusal is its problem detail in one line."""

from __future__ import annotations

from typing import Optional
from urllib.parse import quote

import typer
from rich.markup import escape

from jobdeck.base import Usage, client, run
from jobdeck.render import Column, out, print_json, print_table, short_time, table

app = typer.Typer(help="Backends: the queues tasks and job types run on, their workers and limits (admins). "
                       "Alone: the list.", invoke_without_command=True)
ROOT = "/api/admin/backends"
AS_JSON = typer.Option(False, "--json", help="Print the answer as JSON")
NAME = typer.Argument(..., help="The backend's name (`jobdeck backends` lists them)")
# The settings create and edit take, as the API names them (None: not sent).
MAX_WORKERS = typer.Option(None, "--max-workers", help="Most workers at once (0-100; 0 pauses it)")
IDLE_TIMEOUT = typer.Option(None, "--idle-timeout", help="Seconds an idle worker waits before it stops (1-86400)")
TIME_LIMIT = typer.Option(None, "--time-limit", help="Seconds each of its jobs may run (0-86400; 0: each job's "
                                                     "own limit)")
DESCRIPTION = typer.Option(None, "--description", help="What it is for (at most 500 characters; '' clears it)")


def _path(name: str) -> str:
    return f"{ROOT}/{quote(name, safe='')}"


def _now(b: dict) -> str:
    st = b.get("status")
    if st is None:
        return "queue server away"
    text = f"{st['workers']} workers ({st['busy']} busy), {st['queued']} queued"
    return text + (f"; {st['unavailable']}" if st.get("unavailable") else "")


def _settings(b: dict) -> str:
    if b["paused"]:
        again = f"; a resume gives {b['resume_workers']}" if b.get("resume_workers") else ""
        workers = f"paused (0 max workers{again})"
    else:
        workers = f"{b['max_workers']} max workers"
    limit = f"job time limit {b['job_timeout_s']} s" if b.get("job_timeout_s") else "each job's own time limit"
    return f"{workers}, {b['idle_timeout_s']} s idle timeout, {limit}"


def _list(wide: bool, as_json: bool) -> None:
    def body():
        with client() as c:
            found = c.get(ROOT)
        if as_json:
            print_json(found)
            return
        cols = [Column("backend", lambda b: b["name"], keep=True),
                Column("max workers", lambda b: str(b["max_workers"]) + (" (paused)" if b["max_workers"] == 0 else ""),
                       keep=True),
                Column("idle timeout", lambda b: f"{b['idle_timeout_s']} s"),
                Column("job limit", lambda b: f"{b['job_timeout_s']} s" if b.get("job_timeout_s") else "per type"),
                Column("now", _now, flex=True), Column("description", lambda b: b["description"], flex=True)]
        print_table(table(found, cols, wide=wide), wide=wide)
    run(body)


@app.callback()
def _alone(ctx: typer.Context, wide: bool = typer.Option(False, "--wide", help="Every column in full"),
           as_json: bool = AS_JSON):
    if ctx.invoked_subcommand is None:
        _list(wide, as_json)


@app.command("list")
def list_(wide: bool = typer.Option(False, "--wide", help="Every column in full"), as_json: bool = AS_JSON):
    """Every backend: its settings, workers and queue now."""
    _list(wide, as_json)


@app.command()
def show(name: str = NAME, as_json: bool = AS_JSON):
    """One backend: its settings, description, workers and queue now."""
    def body():
        with client() as c:
            b = c.get(_path(name))
        if as_json:
            print_json(b)
            return
        kind = "built in: job types run on it" if b["built_in"] else "made by an admin"
        made = f", {short_time(b['created_at'])} UTC" if b.get("created_at") and not b["built_in"] else ""
        out.print(f"Backend [bold]{escape(b['name'])}[/] ({kind}{escape(made)})"
                  + (f": {escape(b['description'])}" if b["description"] else ""))
        out.print(f"Settings: {escape(_settings(b))}.")
        st = b.get("status")
        if st is None:
            out.print("Now: the queue server does not answer, so its workers and queue cannot be read.")
            return
        waiting = ", ".join(f"{k} {v}" for k, v in (st.get("queued_by_priority") or {}).items())
        served = ", ".join(st.get("served_by") or []) or "no pool"
        out.print(f"Now: {st['workers']} workers ({st['busy']} busy), {st['queued']} queued"
                  + (f" ({escape(waiting)})" if waiting else "")
                  + f", {st['scheduled']} retries waiting; served by {escape(served)}.")
        if st.get("unavailable"):
            out.print(escape(st["unavailable"]))
    run(body)


def _given(max_workers: Optional[int], idle_timeout: Optional[int], time_limit: Optional[int],
           description: Optional[str]) -> dict:
    sent = {"max_workers": max_workers, "idle_timeout_s": idle_timeout, "job_timeout_s": time_limit,
            "description": description}
    return {k: v for k, v in sent.items() if v is not None}


@app.command()
def create(name: str = typer.Argument(..., help="Lower-case letters, digits, - and _ (it names its queues)"),
           max_workers: Optional[int] = MAX_WORKERS, idle_timeout: Optional[int] = IDLE_TIMEOUT,
           time_limit: Optional[int] = TIME_LIMIT, description: Optional[str] = DESCRIPTION,
           as_json: bool = AS_JSON):
    """Create a backend; a setting left out takes its default (every pool serves it within seconds)."""
    def body():
        with client() as c:
            got = c.post(ROOT, json={"name": name, **_given(max_workers, idle_timeout, time_limit, description)})
        print_json(got) if as_json else out.print(f"Created backend {escape(got['name'])}: "
                                                  f"{escape(_settings(got))}.")
    run(body)


@app.command()
def edit(name: str = NAME, max_workers: Optional[int] = MAX_WORKERS, idle_timeout: Optional[int] = IDLE_TIMEOUT,
         time_limit: Optional[int] = TIME_LIMIT, description: Optional[str] = DESCRIPTION,
         as_json: bool = AS_JSON):
    """Change a backend's settings or description; what is left out keeps its value."""
    def body():
        sent = _given(max_workers, idle_timeout, time_limit, description)
        if not sent:
            raise Usage("Say what to change: --max-workers, --idle-timeout, --time-limit or --description.")
        with client() as c:
            got = c.patch(_path(name), json=sent)
        print_json(got) if as_json else out.print(f"Changed backend {escape(got['name'])}: "
                                                  f"{escape(_settings(got))}.")
    run(body)


@app.command()
def delete(name: str = NAME, as_json: bool = AS_JSON):
    """Delete a backend an admin made (refused while a task runs on it or a job waits on it)."""
    def body():
        with client() as c:
            c.delete(_path(name))
        print_json({"deleted": name}) if as_json else out.print(f"Deleted backend {escape(name)}.")
    run(body)
