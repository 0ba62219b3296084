"""Watching, and the registry: model runs from a CSV file, an item's provenance."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional
from urllib.parse import quote

import typer
from rich.markup import escape

from jobdeck.base import client, read_file, run, write_file
from jobdeck.commands.jobs import TIMEOUT_HELP
from jobdeck.render import batch_line, err, out, print_json
from jobdeck.watching import watch_batch, watch_job

app = typer.Typer()


@app.command()
def watch(
    ident: str = typer.Argument(..., metavar="ID", help="A job's session id (or a batch id with --batch)"),
    batch: bool = typer.Option(False, "--batch", "-b", help="ID is a batch: watch all its jobs"),
    timeout: Optional[float] = typer.Option(None, min=0.1, help=TIMEOUT_HELP),
):
    """Follow a job (or a batch) live until it ends; exit 0 only if it succeeded.
    Ctrl-C or --timeout stop watching, not the job."""
    def body():
        with client() as c:
            return (watch_batch if batch else watch_job)(c, ident, timeout=timeout)
    run(body)


@app.command("register-runs")
def register_runs(
    file: str = typer.Argument(..., metavar="FILE.csv", help="One model run per row (columns: see the README; "
                                                            "the console's \"Payloads as CSV\" export too)"),
    label: str = typer.Option("", help="Label of the batch"),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only check the file (every row, every item it "
                                                          "names); lodge nothing"),
    watch_: bool = typer.Option(False, "--watch", "-w", help="Then watch the batch until every run is lodged"),
    timeout: Optional[float] = typer.Option(None, min=0.1, help=TIMEOUT_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the batch as JSON"),
):
    """Register the model runs of a CSV file as one batch. The file is checked whole
    first, as the console checks it: any problem (each listed with its line) lodges
    nothing and exits 1."""
    def body():
        data = read_file(file, "CSV file")
        with client() as c:
            params = {"label": label or Path(file).name, **({"dry_run": "true"} if dry_run else {})}
            got = c.post("/api/model-runs/bulk", content=data, params=params,
                         headers={"Content-Type": "text/csv"})
            if dry_run:
                print_json(got) if as_json else out.print(f"{escape(file)}: {got['rows']} model run(s), no problems "
                                                          f"found; nothing was lodged (--dry-run).")
                return
            if as_json:
                print_json(got)
            else:
                out.print(f"Lodged: {batch_line(got)}")
            if watch_:
                return watch_batch(c, got["id"], timeout=timeout)
    run(body)


@app.command("export-prov")
def export_prov(
    item: str = typer.Argument(..., help="The item's id"),
    output: Optional[str] = typer.Option(None, "--output", "-o", help="Write to this file (default: standard output)"),
    depth: int = typer.Option(2, min=1, max=5, help="Hops around the item"),
):
    """Export an item's provenance as W3C PROV-JSON."""
    def body():
        with client() as c:
            doc = c.get(f"/api/items/{quote(item, safe='')}/prov", params={"depth": depth})
        text = json.dumps(doc, indent=2)
        if output:
            write_file(output, (text + "\n").encode(), "PROV-JSON")
            err.print(f"Wrote {escape(output)} ({len(text)} bytes).")
        else:
            print(text)
    run(body)

