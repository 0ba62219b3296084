"""A list page's filters in its address: what each page's query string may hold, read
back with what of it was no filter's value (left out, and said), and written with only
the filters set. The jobs panel, the batch view, the items page and the admin
submissions page each describe theirs as a tuple of `Param`s; a change of filter goes
to the address (a history entry of its own, so back returns to the filters before) and
the page's load reads its list from there, so a bookmark or a link sent to a colleague
shows the same view."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Collection, Mapping, Optional
from urllib.parse import urlencode

from app.shapes import text_problem

MAX_TEXT = 200  # characters of a search or a username in an address


@dataclass(frozen=True)
class Param:
    """One filter of an address. `key` is its name in the query string and in the values
    read; `kind` is text, choice (one of `choices`, else `default`), flag (1 or nothing;
    the default is False) or date (YYYY-MM-DD); `what` names it in a problem, `hint` follows a refused choice."""

    key: str
    kind: str = "text"
    default: Any = ""
    choices: Optional[Collection[str]] = None
    what: str = ""
    hint: str = ""

    def read(self, raw: Any, problems: list[str]) -> Any:
        value = str(raw or "").strip()
        if self.kind == "flag":
            if value and value not in ("1", "true"):
                problems.append(f"{value[:40]!r} is not 1 for {self.what}")
            return value in ("1", "true")
        if not value:
            return self.default
        if self.kind == "text":
            if len(value) > MAX_TEXT or text_problem(value):
                problems.append(f"the {self.what} is no text a search can take")
                return self.default
            return value
        if self.kind == "date":
            try:
                if len(value) != 10:
                    raise ValueError
                return date.fromisoformat(value).isoformat()
            except ValueError:
                problems.append(f"{value[:40]!r} is no date (a day as 2026-12-02) for {self.what}")
                return self.default
        if value != self.default and value not in (self.choices or ()):
            problems.append(f"{value[:40]!r} is no {self.what}{self.hint}")
            return self.default
        return value

    def written(self, value: Any) -> str:
        if self.kind == "flag":
            return "1" if value else ""
        value = str(value or "").strip()
        return "" if value == self.default else value


def parse(spec: tuple[Param, ...], params: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The filters an address names, and what of it was no filter's value."""
    problems: list[str] = []
    return {p.key: p.read(params.get(p.key), problems) for p in spec}, problems


def form(route: str, spec: tuple[Param, ...], values: Mapping[str, Any]) -> str:
    """The address of `route` showing these filters (only those set, in the spec's order)."""
    query = urlencode([(p.key, v) for p in spec if (v := p.written(values.get(p.key, p.default)))])
    return route + (f"?{query}" if query else "")


def shown(spec: tuple[Param, ...], params: Mapping[str, Any]) -> dict[str, Any]:
    """The filters of the address shown now, as `parse` reads them (problems aside)."""
    return parse(spec, params)[0]


def moved(route: str, spec: tuple[Param, ...], params: Mapping[str, Any],
          wanted: Mapping[str, Any]) -> Optional[str]:
    """Where a change of filters goes: the address of `wanted`, or None when the address
    shown (`params`) names those filters already (the page reads its list again)."""
    if shown(spec, params) == {p.key: wanted.get(p.key, p.default) for p in spec}:
        return None
    return form(route, spec, wanted)


def said(problems: list[str]) -> str:
    return "; ".join(problems)
