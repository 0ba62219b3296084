"""Periodic jobs (admins): `jobdeck schedules list|show|add|pause|resume|delete`, over
/api/admin/schedules. A job type's schedule is sent as JSON; a pipeline run's as a
multipart form with its input file, as the API takes them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape

from jobdeck.base import Usage, client, read_file, run
from jobdeck.render import Column, out, print_json, print_table, short_time, table

app = typer.Typer(help="Periodic jobs: a job type or a pipeline run on a cron schedule (admins).",
                  no_args_is_help=True)
ROOT = "/api/admin/schedules"
AS_JSON = typer.Option(False, "--json", help="Print the answer as JSON")
ID = typer.Argument(..., min=1, help="The schedule's id (`jobdeck schedules list` shows them)")


def _what(s: dict) -> str:
    return f"pipeline {s['pipeline']}" if s.get("pipeline") else f"{s['job_type']}/{s['job_subtype']}"


def _state(s: dict) -> str:
    return "paused" if s["paused"] else "active"


def _line(s: dict) -> str:
    nxt = "none while paused" if s["paused"] else (short_time(s.get("next_at")) or "never") + " UTC"
    return (f"Schedule [bold]{s['id']}[/] {escape(repr(s['name']))}: {escape(_what(s))} at "
            f"{escape(s['cron'])} ({escape(s['timezone'])}), {_state(s)}; next {escape(nxt)}")


@app.command("list")
def list_(wide: bool = typer.Option(False, "--wide", help="Every column in full"), as_json: bool = AS_JSON):
    """Every schedule, by name, with its next and last firing."""
    def body():
        with client() as c:
            found = c.get(ROOT)
        if as_json:
            print_json(found)
            return
        if not found:
            out.print("No schedules. `jobdeck schedules add --help` says how to make one.")
            return
        cols = [Column("id", lambda s: str(s["id"]), keep=True), Column("name", lambda s: s["name"], keep=True, most=24),
                Column("state", _state, keep=True), Column("cron", lambda s: s["cron"], most=16),
                Column("next (UTC)", lambda s: "" if s["paused"] else short_time(s.get("next_at"))),
                Column("last (UTC)", lambda s: short_time(s.get("last_due_at"))),
                Column("missed", lambda s: str(s["missed"])), Column("what", _what, flex=True)]
        print_table(table(found, cols, wide=wide), wide=wide)
    run(body)


@app.command()
def show(schedule_id: int = ID, as_json: bool = AS_JSON):
    """One schedule: its settings, next runs and latest firings."""
    def body():
        with client() as c:
            s = c.get(f"{ROOT}/{schedule_id}")
        if as_json:
            print_json(s)
            return
        out.print(_line(s))
        out.print(f"Owner {escape(s['owner'])}, made by {escape(s['created_by'])}; "
                  f"{s['missed']} firings missed in downtimes.")
        if s.get("next_runs"):
            out.print("Next runs (UTC): " + ", ".join(escape(short_time(t)) for t in s["next_runs"]))
        firings = s.get("firings") or []
        if not firings:
            out.print("No firings yet.")
            return
        cols = [Column("due (UTC)", lambda f: short_time(f["due_at"]), keep=True),
                Column("outcome", lambda f: f["outcome"], keep=True), Column("job", lambda f: f.get("job_id") or ""),
                Column("note", lambda f: f.get("note") or "", flex=True)]
        print_table(table(firings, cols))
    run(body)


def _pairs(values: list[str], what: str) -> dict[str, str]:
    got = {}
    for v in values:
        key, eq, value = v.partition("=")
        if not eq or not key:
            raise Usage(f"{what} {v!r} is not NAME=VALUE.")
        got[key] = value
    return got


@app.command()
def add(name: str = typer.Argument(..., help="The schedule's name (unique)"),
        cron: str = typer.Option(..., "--cron", help="5 fields (minute hour day month weekday), or 6 with seconds "
                                                      "last, e.g. '0 3 * * 1-5'"),
        job: Optional[str] = typer.Option(None, "--job", help="The job type to lodge, as TYPE/SUBTYPE"),
        payload: str = typer.Option("{}", "--payload", help="The job's payload as JSON (with --job)"),
        pipeline: Optional[str] = typer.Option(None, "--pipeline", help="The pipeline to run (name or id)"),
        file: Optional[Path] = typer.Option(None, "--file", dir_okay=False,
                                            help="The input file each run reads (with --pipeline)"),
        param: list[str] = typer.Option([], "--param", help="A run's parameter NAME=VALUE (with --pipeline; "
                                                            "again for more)"),
        timezone: str = typer.Option("UTC", "--timezone", help="The time zone the cron expression is read in"),
        owner: Optional[str] = typer.Option(None, "--owner", help="Whose jobs it lodges (default: you)"),
        as_json: bool = AS_JSON):
    """Schedule a job type (--job TYPE/SUBTYPE) or a pipeline run on a file (--pipeline, --file)."""
    def body():
        if (job is None) == (pipeline is None):
            raise Usage("Say what it runs: --job TYPE/SUBTYPE, or --pipeline NAME with --file.")
        with client() as c:
            if job is not None:
                job_type, slash, subtype = job.partition("/")
                if not slash or not job_type or not subtype:
                    raise Usage(f"--job {job!r} is not TYPE/SUBTYPE (e.g. SYSTEM/NOOP).")
                if file is not None or param:
                    raise Usage("--file and --param go with --pipeline; a job type takes --payload.")
                try:
                    data = json.loads(payload)
                except ValueError as e:
                    raise Usage(f"--payload is not JSON: {e}.") from None
                sent = {"name": name, "job_type": job_type, "job_subtype": subtype, "payload": data,
                        "cron": cron, "timezone": timezone, **({"owner": owner} if owner else {})}
                got = c.post(ROOT, json=sent)
            else:
                if file is None:
                    raise Usage("A pipeline run's schedule needs its input: --file PATH.")
                content = read_file(str(file), "input file")
                form = {"name": name, "pipeline": pipeline, "cron": cron, "timezone": timezone,
                        "parameters": json.dumps(_pairs(param, "--param")), **({"owner": owner} if owner else {})}
                got = c.post(ROOT, data=form, files={"file": (file.name, content, "application/octet-stream")})
        print_json(got) if as_json else out.print("Made s" + _line(got)[1:] + ".")
    run(body)


def _set(schedule_id: int, what: str, as_json: bool) -> None:
    def body():
        with client() as c:
            got = c.post(f"{ROOT}/{schedule_id}/{what}")
        print_json(got) if as_json else out.print(_line(got) + ".")
    run(body)


@app.command()
def pause(schedule_id: int = ID, as_json: bool = AS_JSON):
    """Pause a schedule: no firing until it is resumed."""
    _set(schedule_id, "pause", as_json)


@app.command()
def resume(schedule_id: int = ID, as_json: bool = AS_JSON):
    """Resume a schedule: it fires next at its first time after now."""
    _set(schedule_id, "resume", as_json)


@app.command()
def delete(schedule_id: int = ID, as_json: bool = AS_JSON):
    """Remove a schedule (the jobs it lodged stay)."""
    def body():
        with client() as c:
            c.delete(f"{ROOT}/{schedule_id}")
        print_json({"deleted": schedule_id}) if as_json else out.print(f"Deleted schedule {schedule_id}.")
    run(body)
