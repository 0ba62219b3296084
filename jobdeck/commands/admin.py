"""Admin: workers, and pausing, resuming and waking a backend (the backends themselves:
jobdeck.commands.backends); the whole configuration exported and imported as one YAML
document (`jobdeck config ...`)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional
from urllib.parse import quote

import typer
from rich.markup import escape

from jobdeck import config
from jobdeck.base import Failed, client, run
from jobdeck.client import Client
from jobdeck.render import Column, out, print_json, print_table, short_time, table

app = typer.Typer()
config_app = typer.Typer(help="The whole configuration (backends, tasks, pipelines) as one YAML document (admins).",
                         no_args_is_help=True)
YAML = "application/yaml"


@app.command()
def workers(backend: Optional[str] = typer.Option(None, help="Only this backend's"),
            live: bool = typer.Option(False, "--live", help="Only live workers (not stopped, dead or lost)"),
            wide: bool = typer.Option(False, "--wide", help="Every column in full"),
            as_json: bool = typer.Option(False, "--json", help="Print them as JSON")):
    """Every worker seen in the last hour, busy first (admins)."""
    def body():
        with client() as c:
            found = c.get("/api/admin/workers", params={**({"backend": backend} if backend else {}),
                                                        "include_gone": str(not live).lower()})
        if as_json:
            print_json(found)
            return
        if not found:
            out.print("No workers were seen in the last hour.")
            return
        cols = [Column("worker", lambda w: w["name"], keep=True), Column("state", lambda w: w["state"], keep=True),
                Column("backend", lambda w: w["backend"]), Column("host", lambda w: w["host"], most=20),
                Column("done", lambda w: str(w["jobs_done"])), Column("failed", lambda w: str(w["jobs_failed"])),
                Column("beat (UTC)", lambda w: short_time(w.get("last_heartbeat"))),
                Column("job", lambda w: w.get("current_job_id") or "", flex=True)]
        print_table(table(found, cols, wide=wide), wide=wide)
    run(body)


def _backend(c: Client, name: str) -> dict:
    found = c.get("/api/admin/backends")
    for b in found:
        if b["name"] == name:
            return b
    raise Failed(f"No backend {name!r}; backends: {', '.join(b['name'] for b in found)}.")


@app.command()
def pause(backend: str = typer.Argument(..., help="The backend's name (`jobdeck backends` lists them)")):
    """Pause a backend (0 workers): jobs wait, running ones finish (admins)."""
    def body():
        with client() as c:
            before = _backend(c, backend)
            if before["max_workers"] == 0:
                out.print(f"Backend {escape(backend)} is paused already.")
                return
            c.patch(f"/api/admin/backends/{quote(backend, safe='')}", json={"max_workers": 0})
        # Kept so that `resume` gives the backend back what it had.
        paused = dict(config.load().get("paused") or {})
        paused[f"{c.server} {backend}"] = before["max_workers"]
        config.update(paused=paused)
        out.print(f"Paused backend {escape(backend)} (it had {before['max_workers']} max workers); "
                  f"`jobdeck resume {escape(backend)}` gives them back.")
    run(body)


@app.command()
def resume(backend: str = typer.Argument(..., help="The backend's name"),
           max_workers: Optional[int] = typer.Option(None, "--max-workers", min=1, max=100,
                                                     help="Workers to allow (default: what it had when paused here)")):
    """Resume a paused backend (admins)."""
    def body():
        with client() as c:
            before = _backend(c, backend)
            kept = (config.load().get("paused") or {}).get(f"{c.server} {backend}")
            n = max_workers or kept
            if not n:
                if before["max_workers"] > 0:
                    out.print(f"Backend {escape(backend)} is not paused ({before['max_workers']} max workers).")
                    return
                raise Failed(f"Backend {backend} was not paused from here: say how many workers it may have "
                             f"with --max-workers N.")
            c.patch(f"/api/admin/backends/{quote(backend, safe='')}", json={"max_workers": n})
        paused = dict(config.load().get("paused") or {})
        paused.pop(f"{c.server} {backend}", None)
        config.update(paused=paused)
        out.print(f"Resumed backend {escape(backend)} with {n} max workers.")
    run(body)


@app.command()
def wake(backend: str = typer.Argument(..., help="The backend's name"),
         as_json: bool = typer.Option(False, "--json", help="Print the outcome as JSON")):
    """Start a worker of a backend ahead of work (admins)."""
    def body():
        with client() as c:
            got = c.post(f"/api/admin/backends/{quote(backend, safe='')}/wake")
        print_json(got) if as_json else out.print(escape(got["message"]))
    run(body)


# --- the configuration as YAML --------------------------------------------------------------


@config_app.command("export")
def config_export(output: Optional[Path] = typer.Option(None, "--output", "-o", dir_okay=False,
                                                        help="Write it to this file (default: standard output)")):
    """The configuration as one YAML document: the same configuration is always the same bytes."""
    def body():
        with client() as c:
            data = c.request("GET", "/api/admin/config", headers={"Accept": YAML}).content
        if output is None:
            sys.stdout.buffer.write(data)
            sys.stdout.flush()
            return
        try:
            output.write_bytes(data)
        except OSError as exc:
            raise Failed(f"Cannot write {output}: {exc.strerror or exc}.") from None
        out.print(f"Wrote the configuration to {escape(str(output))} ({len(data)} bytes).")
    run(body)


@config_app.command("import")
def config_import(file: str = typer.Argument(..., help="The YAML document (- for standard input)"),
                  dry_run: bool = typer.Option(False, "--dry-run", help="Check it and say what would change; "
                                                                        "write nothing"),
                  as_json: bool = typer.Option(False, "--json", help="Print the answer as JSON")):
    """Import a configuration document: checked whole, then written all at once (admins).
    Backends (not built-in ones), tasks and pipelines it leaves out of a section it has
    are removed."""
    def body():
        try:
            data = sys.stdin.buffer.read() if file == "-" else Path(file).read_bytes()
        except OSError as exc:
            raise Failed(f"Cannot read {file}: {exc.strerror or exc}.") from None
        with client() as c:
            got = c.json(c.request("PUT", "/api/admin/config", params={"dry_run": str(dry_run).lower()},
                                   content=data, headers={"Content-Type": YAML}))
        if as_json:
            print_json(got)
            return
        out.print(("Dry run, nothing written: " if not got["applied"] else "Imported: ") + escape(got["summary"]) + ".")
        if got["changes"]:
            cols = [Column("action", lambda ch: ch["action"], keep=True), Column("kind", lambda ch: ch["kind"]),
                    Column("name", lambda ch: ch["name"], keep=True),
                    Column("fields", lambda ch: ", ".join(ch["fields"]), flex=True)]
            print_table(table(got["changes"], cols))
    run(body)
