"""The configuration as one document: its backends, tasks and pipelines as plain data in
one canonical form, read from the tables (what an export writes) or checked from what an
admin sends (what an import writes), and the difference between the two.

The canonical form names everything by name (ids stay in the database), lists each kind
by name, a pipeline's steps by order, and leaves out every field that has its default,
so the same configuration is always the same document. A document is checked with the
checks the console and the API use (app.pipelines.checks, app.parameters,
app.backends, app.fairuse, app.validators); the shape around them (keys, types, sizes)
is checked here, and every problem names the path of its value, e.g.
`tasks[2].parameters[0].flag`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from sqlmodel import select

from app import backends as backend_settings
from app.config_yaml import join
from app.errors import InvalidInput
from app.jobtypes import BACKENDS
from app.models import Backend, Pipeline, PipelineStep
from app.parameters import MAX_CHOICES, ParameterInfo
from app.pipelines.checks import DEFAULT_BACKEND, MAX_STEPS, _task_values
from app.pipelines.config import _tasks_by_id, pipeline_values, resolve_steps
from app.shapes import check_text

VERSION = 1
SECTIONS = ("backends", "tasks", "pipelines")
MAX_ITEMS = 1000  # backends, tasks or pipelines in one document
MAX_PARAMETERS = 50
MAX_VALIDATORS = 20
MAX_ENVIRONMENT = 50  # variables of a task

# Each kind's fields in the order a document writes them, with their defaults (left out
# of an export); None as a default: always written.
BACKEND_FIELDS = {"name": None, "description": "", "max_workers": None, "idle_timeout_s": None,
                  "job_timeout_s": None}
TASK_FIELDS = {"name": None, "description": "", "backend": None, "kind": None, "command": "", "handler": "",
               "input_glob": "", "output_glob": "", "ok_exit_codes": "0", "timeout_s": 600, "retries": 0,
               "software_version": "", "environment": {}, "parameters": []}
PARAMETER_FIELDS = {"name": None, "flag": "", "default": "", "required": False, "type": "text", "choices": [],
                    "minimum": None, "maximum": None, "bool_valued": False}
PIPELINE_FIELDS = {"name": None, "description": "", "steps": None, "queue_hog_size": None,
                   "queue_hard_limit": None, "runnable": True, "public": False, "validators": []}
FIELDS = {"backend": BACKEND_FIELDS, "task": TASK_FIELDS, "pipeline": PIPELINE_FIELDS}
_ALWAYS_NONE_OK = {"minimum", "maximum", "queue_hog_size", "queue_hard_limit"}  # None is their default


def _compact(values: dict[str, Any], fields: dict[str, Any]) -> dict[str, Any]:
    """The fields in their order, without those at their default."""
    out = {}
    for k, default in fields.items():
        v = values.get(k)
        if default is None and k not in _ALWAYS_NONE_OK:
            out[k] = v
        elif v != default and not (default is None and v is None):
            out[k] = v
    return out


def _number(x: Optional[float]) -> Any:
    """A bound as a person writes it: 1, not 1.0."""
    if x is None:
        return None
    return int(x) if float(x).is_integer() and abs(x) < 2 ** 53 else float(x)


def _parameter(p: ParameterInfo) -> dict[str, Any]:
    return _compact({**vars(p), "choices": list(p.choices), "minimum": _number(p.minimum),
                     "maximum": _number(p.maximum)}, PARAMETER_FIELDS)


# --- the configuration now ---------------------------------------------------------------


def current(s) -> dict[str, list[dict[str, Any]]]:
    """Every backend (with the settings that apply), task and pipeline in canonical form,
    read in the session given (the import's own transaction)."""
    rows = {r.name: r for r in s.exec(select(Backend))}
    backends = []
    for name in sorted(set(BACKENDS) | set(rows)):
        r = rows.get(name)
        cfg = backend_settings.default_config(name) if r is None else None
        backends.append(_compact({"name": name, "description": r.description if r else "",
                                  "max_workers": max(0, r.max_workers) if r else cfg.max_workers,
                                  "idle_timeout_s": max(1, r.idle_timeout_s) if r else cfg.idle_timeout_s,
                                  "job_timeout_s": max(0, r.job_timeout_s or 0) if r else 0}, BACKEND_FIELDS))
    tasks = _tasks_by_id(s)
    names = {t.id: t.name for t in tasks.values()}
    task_docs = [_compact({**{k: getattr(t, k) for k in TASK_FIELDS if k != "parameters"},
                           "parameters": [_parameter(p) for p in t.parameters]}, TASK_FIELDS)
                 for t in sorted(tasks.values(), key=lambda t: t.name)]
    steps: dict[int, list[PipelineStep]] = {}
    for st in s.exec(select(PipelineStep).order_by(PipelineStep.order, PipelineStep.id)):
        steps.setdefault(st.pipeline_id, []).append(st)
    pipeline_docs = []
    for p in s.exec(select(Pipeline).order_by(Pipeline.name)):
        pipeline_docs.append(_compact({
            "name": p.name, "description": p.description,
            "steps": [{"order": st.order, "task": names.get(st.task_id, f"#{st.task_id}")}
                      for st in steps.get(p.id, [])],
            "queue_hog_size": p.queue_hog_size, "queue_hard_limit": p.queue_hard_limit,
            "runnable": bool(p.runnable), "public": bool(p.public), "validators": list(p.validators or [])},
            PIPELINE_FIELDS))
    return {"version": VERSION, "backends": backends, "tasks": task_docs, "pipelines": pipeline_docs}


# --- a document checked -----------------------------------------------------------------


@dataclass
class Checked:
    """A document checked whole: each section given, in canonical form (a section left
    out is None: that kind stays as it is), and what the writes need."""

    backends: Optional[list[dict[str, Any]]] = None
    tasks: Optional[list[dict[str, Any]]] = None
    pipelines: Optional[list[dict[str, Any]]] = None
    task_values: dict[str, tuple[dict[str, Any], list[ParameterInfo]]] = field(default_factory=dict)
    pipeline_values: dict[str, dict[str, Any]] = field(default_factory=dict)


def _bad(path: str, message: str) -> InvalidInput:
    path = path or "document"
    return InvalidInput(f"{path}: {message}", field=path)


def _mapping(value: Any, path: str, fields: dict[str, Any], what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _bad(path, f"a {what} is a mapping of {', '.join(fields)}")
    for k in value:
        if k not in fields:
            raise _bad(join(path, str(k)), f"unknown key {str(k)!r} in a {what}; its keys: {', '.join(fields)}")
    return value


def _list(value: Any, path: str, what: str, at_most: int) -> list:
    if not isinstance(value, list):
        raise _bad(path, f"must be a list of {what}")
    if len(value) > at_most:
        raise _bad(path, f"has {len(value)} {what}; at most {at_most} are read")
    return value


def _text(value: Any, path: str, *, multiline: bool = False, numbers: bool = False) -> str:
    """A string as written; a number too where the field is text that reads as one (an
    exit code, a default)."""
    if numbers and isinstance(value, bool):
        value = "true" if value else "false"
    elif numbers and isinstance(value, (int, float)):
        value = str(value)
    if not isinstance(value, str):
        raise _bad(path, f"must be text, not {_kind(value)}")
    return check_text(value, path, multiline=multiline)


def _whole(value: Any, path: str, *, none: bool = False) -> Optional[int]:
    if value is None and none:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad(path, f"must be a whole number{' or null' if none else ''}, not {_kind(value)}")
    return value


def _bool(value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        raise _bad(path, f"must be true or false, not {_kind(value)}")
    return value


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    names = {bool: "true/false", int: "a number", float: "a number", str: "text", list: "a list",
             dict: "a mapping"}
    return names.get(type(value), f"a {type(value).__name__} value")


def _names_once(items: list[dict[str, Any]], section: str) -> None:
    seen: dict[str, int] = {}
    for i, item in enumerate(items):
        name = item["name"]
        if name in seen:
            raise _bad(f"{section}[{i}].name", f"{name!r} is named twice (also {section}[{seen[name]}])")
        seen[name] = i


def _checked(fn, path: str):
    """Run a domain check; its InvalidInput gets the path of the value in the document."""
    try:
        return fn()
    except InvalidInput as exc:
        where = join(path, exc.field or "")
        raise InvalidInput(f"{where}: {exc.message}", field=where) from None


def _backend(value: Any, path: str, known: set[str]) -> dict[str, Any]:
    """A backend as the document gives it: its name and the fields it writes (a field
    left out is filled in by backend_records, where what is there now is known)."""
    b = _mapping(value, path, BACKEND_FIELDS, "backend")
    if "name" not in b:
        raise _bad(path, "a backend needs its name")
    name = _text(b["name"], f"{path}.name").strip()
    if name not in known:
        # A new backend: its name is its queues' names too, so it is checked as the console's.
        name = _checked(lambda: backend_settings.check_name(name), path)
    out: dict[str, Any] = {"name": name}
    if "description" in b:
        text = "" if b["description"] is None else _text(b["description"], f"{path}.description")
        out["description"] = _checked(lambda: backend_settings.check_description(text), path)
    given = {k: _whole(b[k], f"{path}.{k}", none=k == "job_timeout_s") for k in backend_settings.EDITABLE
             if k in b}
    if given.get("job_timeout_s", 0) is None:
        given["job_timeout_s"] = 0  # null: each job type's own limit, as 0 says
    return {**out, **_checked(lambda: backend_settings.check_settings(given), path)}


def _parameter_in(value: Any, path: str) -> dict[str, Any]:
    p = _mapping(value, path, PARAMETER_FIELDS, "parameter")
    out: dict[str, Any] = {}
    for k, v in p.items():
        at = f"{path}.{k}"
        if k in ("name", "flag", "type"):
            out[k] = _text(v, at)
        elif k == "default":
            out[k] = "" if v is None else _text(v, at, numbers=True)
        elif k in ("required", "bool_valued"):
            out[k] = _bool(v, at)
        elif k == "choices":
            values = _list(v, at, "allowed values", MAX_CHOICES)
            out[k] = [_text(c, f"{at}[{j}]", numbers=True) for j, c in enumerate(values)]
        elif v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))):
            raise _bad(at, f"must be a number or null, not {_kind(v)}")
        else:
            out[k] = v
    return out


def _task(value: Any, path: str, backends: set[str]) -> tuple[dict[str, Any], list[ParameterInfo]]:
    t = _mapping(value, path, TASK_FIELDS, "task")
    if "name" not in t:
        raise _bad(path, "a task needs its name")
    given: dict[str, Any] = {}
    for k, v in t.items():
        at = f"{path}.{k}"
        if k in ("timeout_s", "retries"):
            given[k] = _whole(v, at)
        elif k == "environment":
            if not isinstance(v, dict):
                raise _bad(at, f"must be a mapping of variable names to values, not {_kind(v)}")
            if len(v) > MAX_ENVIRONMENT:
                raise _bad(at, f"has {len(v)} variables; at most {MAX_ENVIRONMENT} are read")
            given[k] = {name: _text(x, f"{at}.{name}", numbers=True) for name, x in v.items()}
        elif k == "parameters":
            given[k] = [_parameter_in(p, f"{at}[{j}]")
                        for j, p in enumerate(_list(v, at, "parameters", MAX_PARAMETERS))]
        else:
            given[k] = _text(v, at, multiline=k in ("description", "command"), numbers=k == "ok_exit_codes")
    args = {k: given.get(k, d) for k, d in TASK_FIELDS.items()}
    args["backend"] = given.get("backend", DEFAULT_BACKEND)
    args["kind"] = given.get("kind", "command")
    return _checked(lambda: _task_values(**args, backends=backends), path)


def _task_doc(values: dict[str, Any], params: list[ParameterInfo]) -> dict[str, Any]:
    return _compact({**values, "parameters": [_parameter(p) for p in params]}, TASK_FIELDS)


def _pipeline(value: Any, path: str, task_names: set[str],
              from_document: bool) -> tuple[dict[str, Any], list[tuple[int, str]]]:
    p = _mapping(value, path, PIPELINE_FIELDS, "pipeline")
    if "name" not in p:
        raise _bad(path, "a pipeline needs its name")
    if "steps" not in p:
        raise _bad(path, "a pipeline needs its steps, e.g. [{order: 1, task: line count}]")
    given: dict[str, Any] = {}
    for k, v in p.items():
        at = f"{path}.{k}"
        if k in ("name", "description"):
            given[k] = _text(v, at, multiline=k == "description")
        elif k in ("runnable", "public"):
            given[k] = _bool(v, at)
        elif k in ("queue_hog_size", "queue_hard_limit"):
            given[k] = _whole(v, at, none=True)
        elif k == "validators":
            given[k] = [_text(x, f"{at}[{j}]") for j, x in enumerate(_list(v, at, "validator names",
                                                                             MAX_VALIDATORS))]
    steps = _list(p["steps"], f"{path}.steps", "steps", MAX_STEPS)
    for j, st in enumerate(steps):
        st = _mapping(st, f"{path}.steps[{j}]", {"order": None, "task": None}, "step")
        if "task" in st:
            _text(st["task"], f"{path}.steps[{j}].task")
    order = sorted(task_names)
    index = {n: i for i, n in enumerate(order)}
    values = _checked(lambda: pipeline_values(name=given.get("name"), description=given.get("description", ""),
                                              queue_hog_size=given.get("queue_hog_size"),
                                              queue_hard_limit=given.get("queue_hard_limit"),
                                              runnable=given.get("runnable", True), public=given.get("public", False),
                                              validators=given.get("validators", [])), path)
    try:
        pairs = _checked(lambda: resolve_steps(steps, lambda ref: index.get(ref.strip()) if isinstance(ref, str)
                                               else None), path)
    except InvalidInput as exc:
        if not (exc.field or "").endswith(".task"):
            raise
        where = "the document's tasks" if from_document else "the tasks configured now (the document has none)"
        raise InvalidInput(f"{exc.message[:-1]}; a step names one of {where}.", field=exc.field) from None
    # Equal orders keep the document's order; the database gives them ids in it.
    named = sorted(((o, order[i]) for o, i in pairs), key=lambda x: x[0])
    return values, named


def check(data: Any, *, task_names_now: set[str]) -> Checked:
    """A document (as YAML read it) checked whole; InvalidInput names the path of the
    first problem. `task_names_now`: the tasks configured now, which a pipeline may name
    when the document has no tasks section."""
    if data is None:
        raise InvalidInput("The document is empty: export the configuration for a start.", field="document")
    root = _mapping(data, "", {"version": None, **{s: None for s in SECTIONS}}, "configuration document")
    if "version" in root and (isinstance(root["version"], bool) or root["version"] != VERSION):
        raise _bad("version", f"this server reads version {VERSION} of the configuration document")
    if not any(s in root for s in SECTIONS):
        raise InvalidInput(f"The document has none of {', '.join(SECTIONS)}: nothing to import.",
                           field="document")
    out = Checked()
    known = set(backend_settings.backend_configs(refresh=True))
    if "backends" in root:
        items = _list(root["backends"], "backends", "backends", MAX_ITEMS)
        out.backends = [_backend(b, f"backends[{i}]", known) for i, b in enumerate(items)]
        _names_once(out.backends, "backends")
        out.backends.sort(key=lambda b: b["name"])
    if "tasks" in root:
        items = _list(root["tasks"], "tasks", "tasks", MAX_ITEMS)
        # A task may run on a backend the document creates. One it removes passes here: the
        # import refuses that removal (409, app.config_import) as deleting it is refused.
        backends = known | {b["name"] for b in out.backends or []}
        checked = [_task(t, f"tasks[{i}]", backends) for i, t in enumerate(items)]
        docs = [_task_doc(v, params) for v, params in checked]
        _names_once(docs, "tasks")
        out.task_values = {v["name"]: (v, params) for v, params in checked}
        out.tasks = sorted(docs, key=lambda t: t["name"])
    task_names = set(out.task_values) if out.tasks is not None else set(task_names_now)
    if "pipelines" in root:
        items = _list(root["pipelines"], "pipelines", "pipelines", MAX_ITEMS)
        docs = []
        for i, p in enumerate(items):
            values, steps = _pipeline(p, f"pipelines[{i}]", task_names, out.tasks is not None)
            out.pipeline_values[values["name"]] = values
            docs.append(_compact({**values, "steps": [{"order": o, "task": t} for o, t in steps]},
                                 PIPELINE_FIELDS))
        _names_once(docs, "pipelines")
        out.pipelines = sorted(docs, key=lambda p: p["name"])
    return out


# --- the difference ----------------------------------------------------------------------


@dataclass
class Change:
    kind: str  # backend | task | pipeline
    name: str
    action: str  # create | change | remove
    fields: list[str] = field(default_factory=list)  # what changes (a change)


def backend_records(now: dict[str, list[dict[str, Any]]], given: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each backend the document lists, by name, as an import leaves it (canonical form):
    a field it leaves out keeps its value, or for a new backend takes the default a
    backend created on the console has (app.backends.new_settings, no description)."""
    before = {b["name"]: b for b in now["backends"]}
    out = {}
    for b in given:
        start = before.get(b["name"]) or {"name": b["name"], **backend_settings.new_settings(b["name"])}
        out[b["name"]] = _compact({"description": "", **start, **b}, BACKEND_FIELDS)
    return out


def differences(now: dict[str, list[dict[str, Any]]], doc: Checked) -> tuple[list[Change], int]:
    """What an import of `doc` does to `now`: the changes (each kind by name), and how
    many items stay as they are. A section the document leaves out changes nothing; a
    built-in backend left out of its section stays as it is (job types run on it)."""
    changes: list[Change] = []
    unchanged = 0
    for section, kind in (("backends", "backend"), ("tasks", "task"), ("pipelines", "pipeline")):
        given = getattr(doc, section)
        if given is None:
            unchanged += len(now[section])
            continue
        before = {x["name"]: x for x in now[section]}
        after = backend_records(now, given) if kind == "backend" else {x["name"]: x for x in given}
        for name, x in after.items():
            old = before.get(name)
            if old is None:
                changes.append(Change(kind, name, "create"))
            elif old != x:
                # In the document's order: a field only one side writes (at its default on the other) too.
                keys = [k for k in FIELDS[kind] if old.get(k) != x.get(k)]
                changes.append(Change(kind, name, "change", keys))
            else:
                unchanged += 1
        for name in before:
            if name not in after:
                if kind == "backend" and name in BACKENDS:
                    unchanged += 1
                else:
                    changes.append(Change(kind, name, "remove"))
    return changes, unchanged
