"""The shape of what callers send, checked before anything is written: free-form JSON
(job payloads, item records, model-run records, pipeline parameters) within depth and
size limits, and text without the control characters that make no sense in it.

Why at the door: a record nested deeper than the serializer goes is stored fine but can
never be read back, so every list holding it fails; PostgreSQL refuses NUL in text and
in JSON; a lone surrogate cannot be encoded as UTF-8 on the way out; NaN and Infinity
are not JSON. Each refusal names the field (and the place inside it).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Annotated, Any, Optional

from pydantic import AfterValidator, BaseModel, BeforeValidator

from app.errors import InvalidInput

# One line of text (names, ids, labels, search strings): no C0 or C1 control character,
# no DEL, no lone surrogate.
_LINE_BAD = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
# Text that may span lines (descriptions, reasons, commands): tabs and line ends are
# fine, the other control characters are not.
_TEXT_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
# A string inside free-form JSON: anything JSON can carry and every database can store
# (no NUL, no lone surrogate).
_JSON_STRING_BAD = re.compile("[\x00\ud800-\udfff]")
_SURROGATE = re.compile("[\ud800-\udfff]")

_INT_LIMIT = 2**63 - 1  # what every database and the JSON readers we answer can hold


def _describe(ch: str) -> str:
    if "\ud800" <= ch <= "\udfff":
        return "a lone surrogate"
    return "NUL" if ch == "\x00" else f"the control character U+{ord(ch):04X}"


def text_problem(value: str, *, multiline: bool = False) -> Optional[str]:
    """Why `value` is no acceptable text, or None."""
    m = (_TEXT_BAD if multiline else _LINE_BAD).search(value)
    if m is None:
        return None
    return f"must not contain {_describe(m.group())}"


def check_text(value: Any, field: str, *, multiline: bool = False) -> Any:
    """Refuse a string with control characters (a non-string passes: other checks say
    what type the field takes)."""
    if isinstance(value, str):
        problem = text_problem(value, multiline=multiline)
        if problem:
            raise InvalidInput(f"{field} {problem}.", field=field)
    return value


def _line(value: str) -> str:
    problem = text_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def _text(value: str) -> str:
    problem = text_problem(value, multiline=True)
    if problem:
        raise ValueError(problem)
    return value


# Pydantic field types for the request models.
Line = Annotated[str, AfterValidator(_line)]
Text = Annotated[str, AfterValidator(_text)]


@dataclass(frozen=True)
class JsonLimits:
    max_depth: int = 32  # objects and arrays inside one another
    max_entries: int = 10_000  # members of one object or array
    max_key_chars: int = 256
    max_string_chars: int = 100_000
    max_bytes: Optional[int] = None  # of the compact JSON text, when the value has a budget

    def describe(self) -> str:
        return (f"at most {self.max_depth} levels deep, {self.max_entries} members an object or array, "
                f"keys of at most {self.max_key_chars} characters, strings of at most "
                f"{self.max_string_chars}")


FREE_FORM = JsonLimits()
RECORD = JsonLimits(max_bytes=256_000)  # an item's record
# What any stored value must keep to be sent back as JSON at all (a record stored before
# the checks above existed may not).
READABLE = JsonLimits(max_depth=64, max_entries=10**9, max_key_chars=10**9, max_string_chars=10**9)
PARAMETERS = JsonLimits(max_depth=2, max_entries=200, max_key_chars=64, max_string_chars=1000, max_bytes=20_000)


def _at(field: str, key: Any) -> str:
    return f"{field}.{key}" if field else str(key)


def _where(parent: str, key: Any) -> str:
    return parent if key is None else _at(parent, key)


def _within(value: Any, limits: JsonLimits) -> bool:
    """True when nothing in `value` is outside the limits (its size as JSON aside): the
    walk of `json_problem` without keeping places, each leaf judged where its container
    is read rather than pushed and popped. Anything it is not sure of (a type other than
    JSON's own, a subclass) answers False, and the full walk judges it; so True means
    the full walk finds nothing. Nearly every value sent is within the limits: 10,000
    model runs are judged here in a third of the full walk's time."""
    max_depth, max_entries, max_key = limits.max_depth, limits.max_entries, limits.max_key_chars
    max_string, key_bad, surrogate = limits.max_string_chars, _LINE_BAD.search, _SURROGATE.search
    isfinite = math.isfinite
    stack: list[tuple[Any, int]] = [(value, 0)]
    pop, push = stack.pop, stack.append
    while stack:
        v, depth = pop()
        kind = type(v)
        if kind is dict or kind is list:
            if depth >= max_depth or len(v) > max_entries:
                return False
            if kind is dict:
                for k in v:
                    if type(k) is not str or len(k) > max_key or key_bad(k):
                        return False
                v = v.values()
        else:  # the top itself is a leaf
            v = (v,)
        for m in v:
            t = type(m)
            if t is str:
                if len(m) > max_string or "\x00" in m or (not m.isascii() and surrogate(m)):
                    return False
            elif t is int:
                if m > _INT_LIMIT or m < -_INT_LIMIT:
                    return False
            elif t is float:
                if not isfinite(m):
                    return False
            elif t is dict or t is list:
                push((m, depth + 1))
            elif m is not None and t is not bool:
                return False
    return True


def json_problem(value: Any, field: str, limits: JsonLimits = FREE_FORM) -> Optional[tuple[str, str]]:
    """(where, why) of the first thing in `value` outside the limits, or None. Walks
    without recursion, so a value of any depth is judged, never a RecursionError: a
    quick pass first (`_within`), and only when it doubts, the walk that names the place
    (`_first_problem`)."""
    if not _within(value, limits):  # seldom: only then is the place of a problem looked for
        found = _first_problem(value, field, limits)
        if found:
            return found
    return _size_problem(value, field, limits)


def _first_problem(value: Any, field: str, limits: JsonLimits) -> Optional[tuple[str, str]]:
    """The first problem and its place, the size aside. A member's place is spelled out
    only for containers and for what is refused: 10,000 model runs hold hundreds of
    thousands of leaves, and naming each was most of the walk."""
    max_depth, max_entries, max_key = limits.max_depth, limits.max_entries, limits.max_key_chars
    max_string, string_bad, key_bad = limits.max_string_chars, _JSON_STRING_BAD.search, _LINE_BAD.search
    # (value, its parent's place, its key or index there or None for the top, its depth)
    stack: list[tuple[Any, str, Any, int]] = [(value, field, None, 0)]
    pop, push = stack.pop, stack.append
    while stack:
        v, parent, key, depth = pop()
        if isinstance(v, str):
            if len(v) > max_string:
                return _where(parent, key), f"is longer than {max_string} characters"
            m = string_bad(v)
            if m:
                return _where(parent, key), f"must not contain {_describe(m.group())}"
        elif isinstance(v, (dict, list)):
            where = _where(parent, key)
            if depth >= max_depth:
                return where, f"is nested deeper than {max_depth} levels"
            if len(v) > max_entries:
                return where, f"has {len(v)} members; at most {max_entries}"
            if isinstance(v, dict):
                for k, item in v.items():
                    if not isinstance(k, str):
                        return where, "has a key that is not a string"
                    if len(k) > max_key:
                        return where, f"has a key longer than {max_key} characters"
                    if key_bad(k):
                        return where, f"has a key that {text_problem(k)}"
                    push((item, where, k, depth + 1))
            else:
                for i, item in enumerate(v):
                    push((item, where, i, depth + 1))
        elif v is None or isinstance(v, (bool, BaseModel)):
            pass  # a model built in code was checked when it was built
        elif isinstance(v, int):
            if abs(v) > _INT_LIMIT:
                return _where(parent, key), "is a whole number too large to store (beyond 64 bits)"
        elif isinstance(v, float):
            if not math.isfinite(v):
                return _where(parent, key), "is not a finite number (NaN and Infinity are not JSON)"
        else:
            return _where(parent, key), f"is not a JSON value ({type(v).__name__})"
    return None


def _size_problem(value: Any, field: str, limits: JsonLimits) -> Optional[tuple[str, str]]:
    if limits.max_bytes is not None:
        size = len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())
        if size > limits.max_bytes:
            return field, f"is {size} bytes as JSON; at most {limits.max_bytes}"
    return None


def check_json(value: Any, field: str, limits: JsonLimits = FREE_FORM) -> Any:
    """Refuse free-form JSON outside the limits, naming where (InvalidInput)."""
    found = json_problem(value, field, limits)
    if found:
        where, why = found
        raise InvalidInput(f"{where} {why}.", field=where)
    return value


def _json_validator(limits: JsonLimits):
    def validate(value: Any) -> Any:
        found = json_problem(value, "", limits)
        if found:
            where, why = found
            raise ValueError(f"{where + ' ' if where else ''}{why}")
        return value

    # Before pydantic's own walk: a value too deep is refused before anything recurses.
    return BeforeValidator(validate)


# Free-form JSON fields of the request models (the error's location names the field;
# the message says where inside it).
FreeJSON = Annotated[dict[str, Any], _json_validator(FREE_FORM)]
RecordJSON = Annotated[dict[str, Any], _json_validator(RECORD)]
