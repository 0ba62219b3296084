"""Rows of a model-run CSV file, as both CSV formats read them (Jobdeck's template in
app.bulk, Provena's in app.provena_csv): the limits, the problem found at a line and
column, and a time cell (seconds since 1970 or ISO 8601)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone

from app.payloads import MAX_TIME

MAX_RECORDS = 10_000
MAX_CELL_CHARS = 10_000  # a cell past this is refused before anything reads it
MAX_TIME_CHARS = 64  # the longest ISO 8601 time is about 32
_SECONDS = re.compile(r"-?[0-9]+")  # ASCII digits only: str.isdigit also takes '²'
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_RANGE = "from 1970-01-01T00:00:00Z to 9999-12-31T23:59:59Z"


@dataclass(frozen=True)
class RowProblem:
    line: int  # line of the file (the header is line 1; 0 for the file as a whole)
    column: str
    message: str

    def where(self) -> str:
        if self.line <= 0:
            return ""
        return f"Line {self.line}, column {self.column}: " if self.column else f"Line {self.line}: "


def problems_summary(problems: list[RowProblem], *, capped: bool = False) -> str:
    """'1 problem in 1 row', '3 problems in 2 rows', '1 problem in the header'."""
    n = len(problems)
    rows = len({p.line for p in problems if p.line >= 2})
    what = f"{'at least ' if capped else ''}{n} problem{'s' if n != 1 else ''}"
    if rows:
        return f"{what} in {rows} row{'s' if rows != 1 else ''}"
    return f"{what} in the header" if any(p.line == 1 for p in problems) else f"{what} in the file"


def read_time(value: str) -> tuple[int, str]:
    """Seconds since 1970, or (0, why not)."""
    if not value:
        return 0, "A time is required: seconds since 1970 or an ISO 8601 time."
    if len(value) > MAX_TIME_CHARS:
        return 0, (f"{len(value)} characters is too long for a time; give seconds since 1970 or an "
                   f"ISO 8601 time.")
    if _SECONDS.fullmatch(value):
        t = int(value)  # at most 64 digits: far below int()'s limit on digits
    else:
        try:
            d = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return 0, f"{value!r} is neither seconds since 1970 nor an ISO 8601 time."
        if d.tzinfo is None:
            d = d.replace(tzinfo=timezone.utc)
        t = int((d - EPOCH).total_seconds())
    if not 0 <= t <= MAX_TIME:
        return 0, f"{value!r} is out of range: give a time {_RANGE}."
    return t, ""
