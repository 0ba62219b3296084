"""How the command shows things: one console for results (standard output) and one for
messages (standard error), statuses in colour, one-line job and batch summaries, and
tables that fit the terminal (the id and status never shrink; the message gives way
first). Nothing here wraps a line: a message is one line also when the output is a
file or a pipe, where there is no width to fit."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from typing import Any, Callable, Optional, Sequence

from rich.console import Console
from rich.markup import escape
from rich.table import Table

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

FINAL = ("SUCCEEDED", "FAILED", "CRASHED", "CANCELLED")
STATUSES = ("PENDING", "DEQUEUED", "IN_PROGRESS", "SUCCEEDED", "FAILED", "CRASHED", "CANCELLED")
COLOURS = {"PENDING": "grey62", "DEQUEUED": "cyan", "IN_PROGRESS": "blue", "SUCCEEDED": "green",
           "FAILED": "red", "CRASHED": "magenta", "CANCELLED": "yellow"}


def status(s: str) -> str:
    return f"[{COLOURS.get(s, 'white')}]{escape(s)}[/]"


def print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str))


def job_line(j: dict) -> str:
    extra = f" in batch {escape(j['batch_id'])}" if j.get("batch_id") else ""
    return (f"Job [bold]{escape(j['id'])}[/] {escape(j['job_type'])}/{escape(j['job_subtype'])} "
            f"{status(j['status'])} (attempt {j['attempt']}){extra}")


def batch_line(b: dict) -> str:
    counts = ", ".join(f"{status(k)} {v}" for k, v in b["counts"].items() if v)
    return f"Batch [bold]{escape(b['id'])}[/] {escape(repr(b['label']))}: {b['total']} jobs ({counts or 'none'})"


def short_time(iso: Optional[str]) -> str:
    return (iso or "")[5:16].replace("T", " ")


def fits_terminal() -> Optional[int]:
    """The width to fit: the terminal's (or COLUMNS), None when writing to a file or pipe."""
    if out.is_terminal or os.environ.get("COLUMNS"):
        return out.width
    return None


@dataclass
class Column:
    header: str
    cell: Callable[[dict], str]  # plain text
    keep: bool = False  # never dropped nor shortened
    flex: bool = False  # takes what is left, shortened with an ellipsis
    most: Optional[int] = None  # at most this wide when fitting
    colour: Optional[Callable[[str], str]] = None


GAP = 2  # between columns (a cell's padding on each side)
FLEX_LEAST = 10  # a flexible column narrower than this is dropped instead


def table(rows: Sequence[dict], columns: Sequence[Column], *, wide: bool = False) -> Table:
    """A table of `rows`: with `wide`, every column whole; else the columns that fit the
    width, in the order given (kept ones always), the flexible one shortened to fit."""
    texts = [[c.cell(r) or "" for c in columns] for r in rows]
    natural = [max([len(c.header)] + [len(t[i]) for t in texts]) for i, c in enumerate(columns)]
    width = None if wide else fits_terminal()
    widths: dict[int, int] = {}
    if width is None:
        widths = dict(enumerate(natural))
    else:
        used = sum(natural[i] + GAP for i, c in enumerate(columns) if c.keep) - GAP
        widths = {i: natural[i] for i, c in enumerate(columns) if c.keep}
        flex = [i for i, c in enumerate(columns) if c.flex]
        reserve = (GAP + FLEX_LEAST) if flex else 0
        for i, c in enumerate(columns):
            if c.keep or c.flex:
                continue
            w = min(natural[i], c.most or natural[i])
            if used + GAP + w + reserve <= width:
                widths[i], used = w, used + GAP + w
        for i in flex:
            left = width - used - GAP
            if left >= FLEX_LEAST or (left > 0 and natural[i] <= left):
                widths[i] = min(natural[i], left)
                used += GAP + widths[i]
    t = Table(box=None, pad_edge=False, show_edge=False, expand=False, collapse_padding=False,
              header_style="bold")
    shown = [i for i in range(len(columns)) if i in widths]
    for i in shown:
        t.add_column(columns[i].header, no_wrap=True, overflow="ellipsis", width=widths[i],
                     min_width=widths[i], max_width=widths[i])
    for r, cells in zip(rows, texts):
        row = []
        for i in shown:
            text = cells[i]
            if len(text) > widths[i]:
                text = text[:max(0, widths[i] - 1)] + "…"
            row.append(columns[i].colour(text) if columns[i].colour else escape(text))
        t.add_row(*row)
    return t


def print_table(t: Table, *, wide: bool = False) -> None:
    width = fits_terminal()
    if width is None or wide:  # a file or a pipe (or --wide): as wide as the table is
        Console(file=sys.stdout, highlight=False, width=10_000, no_color=width is None,
                force_terminal=out.is_terminal).print(t, crop=False)
    else:
        out.print(t, crop=True)
