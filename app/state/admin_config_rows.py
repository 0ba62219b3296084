"""The configuration page's form rows (a task's parameter, a pipeline's step, a lane of
the preview) and how a form's text becomes what app.pipelines.config takes: nothing is
checked here, the domain checks it and names the field."""

from __future__ import annotations

import dataclasses

from app import parameters as rules

PARAM_TYPES = list(rules.TYPES)


@dataclasses.dataclass
class ParamRow:
    name: str = ""
    flag: str = ""
    default: str = ""
    required: bool = False
    type: str = "text"
    choices: str = ""  # "a, b, c" (type choice)
    minimum: str = ""
    maximum: str = ""
    bool_valued: bool = False
    error: str = ""  # a refusal naming this row
    error_field: str = ""


@dataclasses.dataclass
class StepRow:
    order: str = "1"
    task: str = ""
    error: str = ""
    error_field: str = ""


@dataclasses.dataclass
class EnvRow:
    name: str = ""
    value: str = ""
    error: str = ""
    error_field: str = ""


@dataclasses.dataclass
class LiveRunRow:
    id: str = ""
    name: str = ""
    href: str = ""


@dataclasses.dataclass
class LaneRow:
    order: str = ""
    tasks: list[str] = dataclasses.field(default_factory=list)
    words: str = ""  # "runs a and b side by side, after order 1"


# Fields shown in the task's form: a refusal naming another one is shown above the form.
TASK_FIELDS = {"name", "description", "backend", "kind", "command", "handler", "input_glob", "output_glob",
               "ok_exit_codes", "timeout_s", "retries", "software_version", "environment"}
PIPELINE_FIELDS = {"name", "description", "steps", "queue_hog_size", "queue_hard_limit", "validators"}


def form_number(text: str):
    """A form's number as the domain takes it: "" is None, a whole number an int, else the text
    (the domain refuses it, naming the field)."""
    text = (text or "").strip()
    if text == "":
        return None
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text


def bound_text(x) -> str:
    return "" if x is None else (f"{int(x)}" if float(x).is_integer() else f"{x:g}")


def param_row(p) -> ParamRow:
    return ParamRow(name=p.name, flag=p.flag, default=p.default, required=p.required, type=p.type,
                    choices=", ".join(p.choices), minimum=bound_text(p.minimum), maximum=bound_text(p.maximum),
                    bool_valued=p.bool_valued)


def param_value(r: ParamRow) -> dict:
    out = {"name": r.name, "flag": r.flag, "default": r.default, "required": r.required, "type": r.type,
           "bool_valued": r.bool_valued}
    if r.choices.strip():
        out["choices"] = [c.strip() for c in r.choices.split(",")]
    if r.minimum.strip():
        out["minimum"] = form_number(r.minimum)
    if r.maximum.strip():
        out["maximum"] = form_number(r.maximum)
    return out


def copy_name(name: str, taken: set[str]) -> str:
    out, n = f"Copy of {name}", 2
    while out in taken:
        out, n = f"Copy of {name} ({n})", n + 1
    return out


def place_refusal(rows: list, exc, prefix: str, fields) -> tuple[list, str]:
    """A domain refusal placed where it belongs: on the row it names (`<prefix>.N.…`,
    the rows' earlier refusals cleared), or on a field of the form; returns the rows
    and the field shown ("" when the refusal names neither: it shows above the form)."""
    field = getattr(exc, "field", None) or ""
    rows = [dataclasses.replace(r, error="", error_field="") for r in rows]
    if field.startswith(prefix + "."):
        part = field.split(".")
        if len(part) > 1 and part[1].isdigit() and int(part[1]) < len(rows):
            rows[int(part[1])].error, rows[int(part[1])].error_field = exc.message, field
            return rows, field
        return rows, ""
    return rows, field if field in fields else ""


def _order_of(row: StepRow) -> int | None:
    text = row.order.strip()
    return int(text) if text.isdigit() else None


def moved_steps(rows: list[StepRow], source: int, target: int) -> list[StepRow]:
    """The steps after one was dragged onto another's row, numbered again.

    The rows are taken in run order first (by number, stable; a number that is no whole
    number last), then the step dragged takes the place of the one it was dropped on
    (before it when moved up, after it when moved down). Steps that ran side by side
    still do; the step moved runs alone at its new place, unless it lands between two
    steps that run side by side: then it joins them. The orders are then 1, 2, 3, … in
    that sequence, so what the list shows is how the run goes (equal numbers side by
    side). Out-of-range indexes, or a step dropped on itself, change nothing."""
    n = len(rows)
    if not (0 <= source < n and 0 <= target < n) or source == target:
        return rows
    # By index throughout: two rows may be equal, and a state's rows are proxies.
    orders = [_order_of(r) for r in rows]
    ranked = sorted(range(n), key=lambda k: (orders[k] is None, orders[k] or 0))  # stable
    up = ranked.index(source) > ranked.index(target)
    rest = [k for k in ranked if k != source]
    at = rest.index(target) + (0 if up else 1)
    before, after = (rest[at - 1] if at > 0 else None), (rest[at] if at < len(rest) else None)
    joins = (before is not None and after is not None and orders[before] is not None
             and orders[before] == orders[after])
    out, number, lane = [], 0, None
    for k in [*rest[:at], source, *rest[at:]]:
        if k == source:
            key = ("lane", orders[before]) if joins else ("alone", k)
        else:
            key = ("lane", orders[k]) if orders[k] is not None else ("alone", k)
        if key != lane:
            number, lane = number + 1, key
        out.append(dataclasses.replace(rows[k], order=str(number), error="", error_field=""))
    return out


def env_rows(environment: dict) -> list[EnvRow]:
    return [EnvRow(name=k, value=v) for k, v in sorted((environment or {}).items())]


def env_value(rows: list[EnvRow]) -> tuple[dict, list[EnvRow]]:
    """The rows as the mapping the domain checks; a row without a name or named twice is
    refused on its row here (a mapping cannot say so). Rows left empty are dropped."""
    out: dict = {}
    rows = [dataclasses.replace(r, error="", error_field="") for r in rows]
    for i, r in enumerate(rows):
        name = r.name.strip()
        if not name and not r.value:
            continue
        if not name:
            r.error, r.error_field = "A variable needs a name, e.g. LC_ALL.", f"environment.{i}.name"
        elif name in out:
            r.error, r.error_field = f"{name} is set twice.", f"environment.{i}.name"
        out[name] = r.value
    return out, rows


def place_env_refusal(rows: list[EnvRow], exc) -> tuple[list[EnvRow], bool]:
    """A refusal naming one variable (environment.NAME) on that variable's row; True
    when it was placed there."""
    field = getattr(exc, "field", None) or ""
    rows = [dataclasses.replace(r, error="", error_field="") for r in rows]
    if field.startswith("environment."):
        name = field.split(".", 1)[1]
        for r in rows:
            if r.name.strip() == name:
                r.error, r.error_field = exc.message, field
                return rows, True
    return rows, False


def live_runs_text(total: int, cap: int, shown: int, what: str) -> tuple[str, str]:
    """What a form says of the runs under way that use what it edits ("2 runs under way
    use it."), and of those it does not list ("and 5 more")."""
    if total == 0:
        return "No run under way uses it.", ""
    n = f"More than {cap}" if total > cap else str(total)
    head = f"{n} run{'s' if total != 1 else ''} under way use{'s' if total == 1 else ''} {what}."
    rest = min(total, cap) - shown
    return head, ("" if rest <= 0 else f"and {rest}{'+' if total > cap else ''} more")


def live_rows(*, task_id: int = 0, pipeline_id: int = 0) -> tuple[list[LiveRunRow], str, str]:
    """The runs under way that use a task or a pipeline edited, as its form lists them:
    the newest few (links to their pages), what is said of them, and of the rest. A new
    one (no id) has none, and says nothing."""
    from app import routes, runs

    if not (task_id or pipeline_id):
        return [], "", ""
    found, n = runs.live_run_list(task_id=task_id or None, pipeline_id=pipeline_id or None)
    head, more = live_runs_text(n, runs.LIVE_COUNT_CAP, len(found), "it")
    return [LiveRunRow(id=r.id, name=r.name, href=routes.job(r.id)) for r in found], head, more
