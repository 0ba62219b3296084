"""The parameters of tasks and of pipeline runs, and the rules their values follow.

A task declares each parameter with a rule: a type (text, integer, number, choice,
boolean), the allowed values of a choice, a range for numbers, whether it is required,
and a default. The declaration is checked when an admin configures the task (its
default must follow its own rule). A run's values are checked against the rule of
every task of the pipeline that takes them when the run is lodged, so a value some
later step would refuse is refused before any step does its work, naming the parameter
and the rule (ParameterRefused, a 400 in the REST API).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Optional

from app.shapes import text_problem
from app.errors import InvalidInput, ParameterRefused

TYPES = ("text", "integer", "number", "choice", "boolean")
MAX_CHOICES = 50
MAX_VALUE_CHARS = 1000
TRUE, FALSE = ("true", "yes", "1", "on"), ("false", "no", "0", "off")

_PARAM_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_FLAG_RE = re.compile(r"^--?[A-Za-z0-9][A-Za-z0-9_.-]*=?$")
_INTEGER = re.compile(r"^\+?\d{1,18}$")
_NUMBER = re.compile(r"^\+?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


@dataclass
class ParameterInfo:
    """A parameter as a task declares it."""

    name: str
    flag: str = ""
    default: str = ""
    required: bool = False
    type: str = "text"
    choices: list[str] = field(default_factory=list)
    minimum: Optional[float] = None
    maximum: Optional[float] = None
    bool_valued: bool = False  # a switch: its flag alone, left out when the value is false

    @property
    def rule(self) -> str:
        return describe(self)


@dataclass
class RunParameter:
    """A parameter a run of a pipeline takes: declared by one or more of its tasks. Its
    type, choices and range are those of the first task that declares it; a value must
    follow the rule of every task that takes it (`rule` says all of them)."""

    name: str
    default: str
    required: bool
    tasks: list[str]
    type: str = "text"
    choices: list[str] = field(default_factory=list)
    minimum: Optional[float] = None
    maximum: Optional[float] = None
    rule: str = "text"


def _num(x: Optional[float]) -> str:
    return "" if x is None else (f"{int(x)}" if float(x).is_integer() else f"{x:g}")


def describe(p: ParameterInfo) -> str:
    """The rule in words, e.g. "a whole number from 1 to 100000", "one of: fast, slow"."""
    if p.type == "choice":
        return "one of: " + ", ".join(p.choices)
    if p.type == "boolean":
        return "true or false"
    if p.type in ("integer", "number"):
        what = "a whole number" if p.type == "integer" else "a number"
        lo, hi = _num(p.minimum), _num(p.maximum)
        if lo and hi:
            return f"{what} from {lo} to {hi}"
        if lo:
            return f"{what} of at least {lo}"
        if hi:
            return f"{what} of at most {hi}"
        return what
    return "text"


def _value_text(value: Any) -> Optional[str]:
    """A given value as text (None when it is neither text, a number nor true/false)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    return None


def _plain(value: str, name: str, f: str, err=ParameterRefused) -> str:
    if len(value) > MAX_VALUE_CHARS or text_problem(value):
        raise err(f"Parameter {name} must be one line of at most {MAX_VALUE_CHARS} characters.", field=f)
    # A value starting with "-" would read as an option of the program.
    if value.startswith("-"):
        raise err(f"Parameter {name} must not start with '-'.", field=f)
    return value


def check_value(p: ParameterInfo, value: str, *, task: str = "", f: str = "", err=ParameterRefused) -> str:
    """The value as the step gets it when it follows the parameter's rule; `err` (naming
    the parameter and the rule) otherwise. An empty value is not checked here."""
    f = f or f"parameters.{p.name}"
    value = _plain(value, p.name, f, err)
    if value == "":
        return value
    ok, out = True, value
    if p.type == "integer":
        ok = bool(_INTEGER.match(value))
        out = str(int(value)) if ok else value
    elif p.type == "number":
        ok = bool(_NUMBER.match(value)) and math.isfinite(float(value))
    elif p.type == "choice":
        ok = value in p.choices
    elif p.type == "boolean":
        low = value.lower()
        ok = low in TRUE + FALSE
        out = ("true" if low in TRUE else "false") if ok else value
    if ok and p.type in ("integer", "number"):
        n = float(value)
        ok = (p.minimum is None or n >= p.minimum) and (p.maximum is None or n <= p.maximum)
    if not ok:
        by = f" (task {task})" if task else ""
        raise err(f"Parameter {p.name} must be {describe(p)}{by}; {value!r} is not.", field=f)
    return out


# --- what an admin declares -------------------------------------------------------------


def _bound(raw: Any, what: str, name: str, f: str) -> Optional[float]:
    if raw is None or raw == "":
        return None
    if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
        raise InvalidInput(f"The {what} of parameter {name} must be a number.", field=f)
    try:
        n = float(raw)
    except ValueError:
        raise InvalidInput(f"The {what} of parameter {name} must be a number, not {raw!r}.", field=f) from None
    if not math.isfinite(n):
        raise InvalidInput(f"The {what} of parameter {name} must be a finite number.", field=f)
    if n < 0:
        raise InvalidInput(f"The {what} of parameter {name} must be 0 or more: a value starting with '-' "
                           f"would read as an option of the program.", field=f)
    return n


def declare(p: Any, i: int, *, reserved: Iterable[str] = ()) -> ParameterInfo:
    """One parameter of a task as an admin declares it ({"name", "flag", "default",
    "required", "type", "choices", "minimum", "maximum"}); InvalidInput names the field."""
    at = f"parameters.{i}"
    if isinstance(p, ParameterInfo):
        p = vars(p)
    if not isinstance(p, dict):
        raise InvalidInput(f"Parameter {i} must be an object with a name.", field=at)
    name = str(p.get("name") or "").strip()
    if not _PARAM_RE.match(name):
        raise InvalidInput(f"Parameter name {name!r} must be a letter or _ then letters, digits or _ "
                           f"(at most 64).", field=f"{at}.name")
    if name in set(reserved):
        raise InvalidInput(f"Parameter name {name!r} is a placeholder of its own; choose another name.",
                           field=f"{at}.name")
    flag = str(p.get("flag") or "").strip()
    if flag and not _FLAG_RE.match(flag):
        raise InvalidInput(f"Flag {flag!r} of parameter {name} must look like -n, --lines or --lines=.",
                           field=f"{at}.flag")
    default = p.get("default")
    default = "" if default is None else str(default)
    if len(default) > MAX_VALUE_CHARS:
        raise InvalidInput(f"{at}.default is longer than {MAX_VALUE_CHARS} characters.", field=f"{at}.default")
    required = p.get("required", False)
    if not isinstance(required, bool):
        raise InvalidInput(f"required of parameter {name} must be true or false.", field=f"{at}.required")
    kind = str(p.get("type") or "text").strip()
    if kind not in TYPES:
        raise InvalidInput(f"The type of parameter {name} must be one of {', '.join(TYPES)}, not {kind!r}.",
                           field=f"{at}.type")
    choices = p.get("choices") or []
    if not isinstance(choices, list) or not all(isinstance(c, str) for c in choices):
        raise InvalidInput(f"The choices of parameter {name} must be a list of texts.", field=f"{at}.choices")
    choices = [c.strip() for c in choices]
    if kind == "choice":
        if not choices or len(choices) > MAX_CHOICES:
            raise InvalidInput(f"Parameter {name} is a choice: give 1 to {MAX_CHOICES} allowed values.",
                               field=f"{at}.choices")
        for c in choices:
            if c == "" or len(c) > 100:
                raise InvalidInput(f"Each allowed value of parameter {name} is 1-100 characters.",
                                   field=f"{at}.choices")
            _plain(c, name, f"{at}.choices", InvalidInput)
        if len(set(choices)) != len(choices):
            raise InvalidInput(f"Parameter {name} lists an allowed value twice.", field=f"{at}.choices")
    elif choices:
        raise InvalidInput(f"Only a parameter of type choice has allowed values; {name} is {kind}.",
                           field=f"{at}.choices")
    lo = _bound(p.get("minimum"), "minimum", name, f"{at}.minimum")
    hi = _bound(p.get("maximum"), "maximum", name, f"{at}.maximum")
    if (lo is not None or hi is not None) and kind not in ("integer", "number"):
        raise InvalidInput(f"Only a parameter of type integer or number has a minimum or maximum; {name} is "
                           f"{kind}.", field=f"{at}.minimum" if lo is not None else f"{at}.maximum")
    if lo is not None and hi is not None and lo > hi:
        raise InvalidInput(f"The minimum of parameter {name} is above its maximum.", field=f"{at}.minimum")
    bool_valued = p.get("bool_valued", False)
    if not isinstance(bool_valued, bool):
        raise InvalidInput(f"bool_valued of parameter {name} must be true or false.", field=f"{at}.bool_valued")
    if bool_valued and not flag:
        raise InvalidInput(f"Parameter {name} is a switch (bool_valued): give it the flag it passes.",
                           field=f"{at}.flag")
    out = ParameterInfo(name, flag, default, required, kind, choices if kind == "choice" else [], lo, hi,
                        bool_valued)
    if default.strip():
        out.default = check_value(out, default.strip(), f=f"{at}.default", err=InvalidInput)
    return out


# --- what a run takes ---------------------------------------------------------------------


def merge(tasks: Iterable[tuple[str, list[ParameterInfo]]]) -> list[RunParameter]:
    """The parameters a run takes, from its tasks in step order ((task name, its
    parameters)), by name."""
    out: dict[str, RunParameter] = {}
    rules: dict[str, list[str]] = {}
    for task, params in tasks:
        for prm in params:
            have = out.get(prm.name)
            if have is None:
                out[prm.name] = RunParameter(prm.name, prm.default, prm.required and not prm.default, [task],
                                             prm.type, list(prm.choices), prm.minimum, prm.maximum)
                rules[prm.name] = [describe(prm)]
            elif task not in have.tasks:
                have.tasks.append(task)
                have.required = have.required or (prm.required and not prm.default)
                if describe(prm) not in rules[prm.name]:
                    rules[prm.name].append(describe(prm))
    for name, r in out.items():
        r.rule = " and ".join(rules[name])
    return sorted(out.values(), key=lambda r: r.name)


def check_run(pipeline: str, tasks: Iterable[tuple[str, list[ParameterInfo]]], given: Any) -> dict[str, str]:
    """A run's parameters checked against every task that takes them: the values the
    steps get (blank ones left out, so a step's default applies). ParameterRefused names
    the first parameter that breaks a rule, or is unknown, or is required and missing."""
    if given is None:
        given = {}
    if not isinstance(given, dict):
        raise ParameterRefused("parameters must be an object of name: value.", field="parameters")
    tasks = list(tasks)
    takers: dict[str, list[tuple[str, ParameterInfo]]] = {}
    for task, params in tasks:
        for prm in params:
            takers.setdefault(prm.name, []).append((task, prm))
    out: dict[str, str] = {}
    for name, raw in given.items():
        f = f"parameters.{name}"
        if name not in takers:
            known = ", ".join(sorted(takers)) or "none"
            raise ParameterRefused(f"Pipeline {pipeline} takes no parameter {name!r}; its parameters: {known}.",
                                   field=f)
        value = _value_text(raw)
        if value is None:
            raise ParameterRefused(f"Parameter {name} must be text or a number.", field=f)
        for task, prm in takers[name]:
            value = check_value(prm, value, task=task, f=f)
        if value:
            out[name] = value
    for r in merge(tasks):
        if r.required and r.name not in out:
            raise ParameterRefused(f"Parameter {r.name} is required (by {', '.join(r.tasks)}); it must be {r.rule}.",
                                   field=f"parameters.{r.name}")
    return out
