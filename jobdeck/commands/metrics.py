"""`jobdeck metrics [--all] [--window hour|day] [--json]`: your jobs' metrics as the
console's /profile/metrics page shows them (`GET /api/metrics/me`), or for admins
everyone's (`GET /api/admin/metrics`, the admin metrics page's series): jobs finished
per final status over the last hour and day, run time p50/p95 per job type and failures
by type. The server sums its kept per-minute aggregates; this only lays them out in
short tables that fit 80 columns."""

from __future__ import annotations

from typing import Optional

import typer
from rich.markup import escape

from jobdeck.base import client, run
from jobdeck.render import FINAL, Column, out, print_json, print_table, short_time, table

app = typer.Typer()
MINE, EVERYONE = "/api/metrics/me", "/api/admin/metrics"
WINDOWS = ("hour", "day")
BARS = " ▁▂▃▄▅▆▇█"
DAY_GROUP = 3  # the day's 144 ten-minute steps drawn 3 to a character: 48 wide, fits 80 with its label


def seconds(s: Optional[float]) -> str:
    """A run time short enough for a narrow column: `0.12 s`, `4.5 s`, `12 s`, `3m 05s`."""
    if s is None:
        return "-"
    if s < 1:
        return f"{s:.2f} s"
    if s < 10:
        return f"{s:.1f} s"
    if s < 60:
        return f"{s:.0f} s"
    if s < 3600:
        return f"{int(s // 60)}m {int(s % 60):02d}s"
    return f"{int(s // 3600)}h {int(s % 3600 // 60):02d}m"


def spark(values: list[int]) -> str:
    """Values as bars of one character each, scaled to the largest (an empty step a blank)."""
    top = max(values, default=0)
    if not top:
        return "(none finished)"
    return "".join(BARS[0] if v == 0 else BARS[max(1, round(v / top * (len(BARS) - 1)))] for v in values)


def _steps(series: list[dict], group: int) -> list[int]:
    totals = [sum(int(step.get(s, 0)) for s in FINAL) for step in series]
    return [sum(totals[i:i + group]) for i in range(0, len(totals), group)]


def _totals(series: list[dict]) -> dict[str, int]:
    return {s: sum(int(step.get(s, 0)) for step in series) for s in FINAL}


def show(m: dict, *, everyone: bool, window: Optional[str]) -> None:
    whose = "every user's jobs" if everyone else f"your jobs ({escape(m['owner'])})"
    out.print(f"Metrics of {whose} at {short_time(str(m['at']))} UTC")
    # The admin answer has no day totals of its own: its day series summed gives them.
    day = m.get("finished_last_day") or _totals(m["last_day"])
    rows = [("last hour", m["finished_last_hour"], m["last_hour"], 1),
            ("last day", day, m["last_day"], DAY_GROUP)]
    rows = [r for r in rows if window is None or r[0] == f"last {window}"]
    cols = [Column("finished", lambda r: r["name"], keep=True),
            *(Column(s, lambda r, s=s: str(r["counts"].get(s, 0)), keep=True) for s in FINAL)]
    out.print()
    print_table(table([{"name": n, "counts": c} for n, c, _, _ in rows], cols))
    if window:  # one window asked for: its steps drawn, so a burst or a quiet spell shows
        _, _, series, group = rows[0]
        step = "minute" if group == 1 else f"{10 * group} minutes"
        out.print(f"per {step}: {spark(_steps(series, group))}")
    out.print()
    if m["run_times"]:
        print_table(table(m["run_times"], [
            Column("run time (last day)", lambda r: r["job_type"], flex=True),
            Column("ran", lambda r: str(r["ran"]), keep=True),
            Column("mean", lambda r: seconds(r.get("mean_s")), keep=True),
            Column("p50", lambda r: seconds(r.get("p50_s")), keep=True),
            Column("p95", lambda r: seconds(r.get("p95_s")), keep=True)]))
    else:
        out.print("No job ran to its end in the last day.")
    out.print()
    if m["failures"]:
        # The admin series split failures by subtype as well: shown as TYPE/SUBTYPE.
        name = (lambda f: f"{f['job_type']}/{f['job_subtype']}") if everyone else (lambda f: f["job_type"])
        print_table(table(m["failures"], [
            Column("failures (last day)", name, flex=True),
            Column("FAILED", lambda f: str(f["FAILED"]), keep=True),
            Column("CRASHED", lambda f: str(f["CRASHED"]), keep=True)]))
    else:
        out.print("No failures in the last day.")


@app.command()
def metrics(everyone: bool = typer.Option(False, "--all", help="Every user's jobs (admins): the admin metrics "
                                                               "page's series"),
            window: Optional[str] = typer.Option(None, "--window", help="Only the last hour or day's counts, "
                                                                        "with its steps drawn: hour or day",
                                                 case_sensitive=False, show_choices=True),
            as_json: bool = typer.Option(False, "--json", help="Print the server's answer as JSON")):
    """Your jobs finished per status (last hour and day), run times and failures per type."""
    if window is not None and window.lower() not in WINDOWS:
        raise typer.BadParameter(f"{window!r} is not one of hour, day.", param_hint="'--window'")

    def body():
        with client() as c:
            m = c.get(EVERYONE if everyone else MINE)
        if as_json:
            print_json(m)
            return
        show(m, everyone=everyone, window=window.lower() if window else None)
    run(body)
