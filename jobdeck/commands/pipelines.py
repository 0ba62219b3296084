"""Pipelines: list them, run one on a file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape

from jobdeck.base import Failed, client, read_file, run
from jobdeck.client import Client
from jobdeck.commands.jobs import TIMEOUT_HELP, parse_sets
from jobdeck.render import Column, job_line, out, print_json, print_table, table
from jobdeck.watching import watch_run

app = typer.Typer()


def _params(p: dict) -> str:
    return ", ".join(f"{r['name']}{'*' if r.get('required') else ''}" + (f"={r['default']}" if r.get("default") else "")
                     for r in p.get("parameters") or []) or "-"


@app.command()
def pipelines(as_json: bool = typer.Option(False, "--json", help="Print them as JSON")):
    """The pipelines you may run: steps and parameters (* required, =default)."""
    def body():
        with client() as c:
            found = c.get("/api/pipelines")
        if as_json:
            print_json(found)
            return
        if not found:
            out.print("No pipelines are configured.")
            return
        cols = [Column("id", lambda p: str(p["id"]), keep=True), Column("name", lambda p: p["name"], keep=True),
                Column("steps", lambda p: str(len(p["steps"]))), Column("parameters", _params, most=40),
                Column("description", lambda p: p.get("description") or "", flex=True)]
        print_table(table(found, cols))
    run(body)


def _pipeline(c: Client, which: str) -> dict:
    found = c.get("/api/pipelines")
    for p in found:
        if str(p["id"]) == which or p["name"] == which:
            return p
    low = [p for p in found if p["name"].lower() == which.lower()]
    if len(low) == 1:
        return low[0]
    names = ", ".join(f"{p['id']} {p['name']!r}" for p in found) or "none"
    raise Failed(f"No pipeline {which!r}; pipelines: {names}.")


@app.command("run")
def run_(
    pipeline: str = typer.Argument(..., help="The pipeline's id or name (`jobdeck pipelines` lists them)"),
    file: str = typer.Argument(..., help="The file its first steps read"),
    sets: list[str] = typer.Option([], "--set", "-s", help="A parameter of the run: name=value"),
    watch_: bool = typer.Option(False, "--watch", "-w", help="Then watch the run until every step has ended"),
    timeout: Optional[float] = typer.Option(None, min=0.1, help=TIMEOUT_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the run as JSON"),
):
    """Run a pipeline on a file."""
    def body():
        data = read_file(file, "file")
        values = {k: v if isinstance(v, str) else json.dumps(v) for k, v in parse_sets(sets).items()}
        with client() as c:
            p = _pipeline(c, pipeline)
            got = c.post(f"/api/pipelines/{p['id']}/runs", files={"file": (Path(file).name, data)},
                         data={"parameters": json.dumps(values)})
            if as_json:
                print_json(got)
            else:
                out.print(f"Running {escape(p['name'])!r} on {escape(Path(file).name)}: {job_line(got['job'])}")
            if watch_:
                return watch_run(c, got["session_id"], timeout=timeout)
    run(body)
