"""CSV cells as Jobdeck writes and reads them back: a cell a spreadsheet would run as a
formula (it starts with `=`, `+`, `-`, `@`, a tab or a carriage return) gets a leading
single quote (OWASP's rule against CSV injection), so a file an admin opens from
someone else's batch cannot run anything. `restore` undoes it exactly, so a written file
uploaded again reads back to the values it was written from.

Every CSV file the project writes goes through `writer`.
"""

from __future__ import annotations

import csv
from typing import Any, Iterable

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def _needs_quote(cell: str) -> bool:
    # Leading quotes are looked past: a value that starts with a quote and then a trigger
    # gets one more quote, so that `restore` can tell it from a quote it added itself.
    return cell.lstrip("'").startswith(TRIGGERS)


def neutralise(cell: Any) -> Any:
    """The cell as it is safe to write; anything but text (numbers) as it is."""
    if isinstance(cell, str) and _needs_quote(cell):
        return "'" + cell
    return cell


def restore(cell: str) -> str:
    """The value `neutralise` was given, from the cell it wrote."""
    if cell.startswith("'") and _needs_quote(cell[1:]):
        return cell[1:]
    return cell


class _Writer:
    def __init__(self, f: Any, **kwargs: Any):
        self._w = csv.writer(f, **kwargs)

    def writerow(self, row: Iterable[Any]) -> Any:
        return self._w.writerow([neutralise(c) for c in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def writer(f: Any, **kwargs: Any) -> _Writer:
    """A csv.writer whose every text cell is neutralised."""
    return _Writer(f, **kwargs)
