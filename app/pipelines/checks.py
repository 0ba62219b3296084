"""What an admin may configure in a task or pipeline, checked as the API and the console
send it: names, texts, globs, exit codes, time limits, backends, parameters and the
command template (never run through a shell: split with shlex, each placeholder filled
inside its own argument).
"""

from __future__ import annotations

import fnmatch
import re
import shlex
import string
from pathlib import Path
from typing import Any, Collection, Optional

from sqlmodel import select

from app import parameters as rules
from app.errors import Conflict, InvalidInput, PermissionDenied
from app.models import TaskParameter, User
from app.parameters import ParameterInfo
from app.pipelines.handlers import HANDLERS
from app.shapes import check_text

JOB_TYPE, JOB_SUBTYPE = "PIPELINE", "RUN_TASK"
DEFAULT_BACKEND = "pipeline"
KINDS = ("command", "handler")
PLACEHOLDERS = {
    "input": "the step's first input file",
    "inputs": "all its input files, as separate arguments",
    "upload": "the file the user uploaded",
    "output_dir": "the directory whose files matching the output glob are kept",
}
MAX_TIMEOUT_S = 86_400
MAX_STEPS = 50
HISTORY_CHARS = 4000  # of a command's stdout and stderr, in its history and result
TIMEOUT_GRACE_S = 2.0  # a worker's own watch halts a step this long after the task's limit

_NAME_RE = re.compile(r"^[^\x00-\x1f/\\]{1,64}$")
_ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")  # a shell variable's name
MAX_ENV_VARS = 50
MAX_ENV_VALUE = 4000  # characters of one value
# Set by the runner for every step (its own directories, its locale); JOBDECK_* are the
# worker's settings, never a command's.
RESERVED_ENV = ("HOME", "TMPDIR")
MAX_RETRIES = 10
MAX_VERSION = 500
_FILE_RE = re.compile(r"^\w[\w.\- ()+,]{0,199}$")



def _admin(actor: User) -> None:
    if actor.role != "admin":
        raise PermissionDenied("Changing tasks and pipelines is for admins.")


def _name(value: Any, what: str) -> str:
    name = str(value or "").strip()
    if not _NAME_RE.match(name):
        raise InvalidInput(f"A {what} name is 1-64 characters, without / or \\ or control characters.",
                           field="name")
    return name


def _text(value: Any, field_: str, limit: int) -> str:
    text = str(value or "")
    if len(text) > limit:
        raise InvalidInput(f"{field_} is longer than {limit} characters.", field=field_)
    return check_text(text, field_, multiline=True)


def _globs(value: Any, field_: str) -> str:
    """Comma-separated patterns, relative, never reaching out of their directory."""
    text = _text(value, field_, 1000).strip()
    parts = [p.strip() for p in text.split(",") if p.strip()]
    for p in parts:
        if p.startswith(("/", "\\")) or ".." in Path(p).parts or "\x00" in p:
            raise InvalidInput(f"{field_}: {p!r} must be a relative pattern such as *.txt, without '..'.",
                               field=field_)
    return ", ".join(parts)


def _patterns(globs: str) -> list[str]:
    return [p.strip() for p in (globs or "").split(",") if p.strip()]


def _exit_codes(value: Any) -> str:
    text = str(value if value is not None else "").strip()
    codes = []
    for part in text.replace(" ", "").split(","):
        if not part.isdigit() or not 0 <= int(part) <= 255:
            raise InvalidInput(f"ok_exit_codes must be exit codes from 0 to 255 separated by commas, "
                               f"e.g. 0 or 0,1; {text!r} is not.", field="ok_exit_codes")
        codes.append(int(part))
    return ",".join(str(c) for c in sorted(set(codes)))




def _timeout(value: Any) -> int:
    if isinstance(value, bool) or not (isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit())):
        raise InvalidInput(f"timeout_s must be a whole number of seconds, not {value!r}.", field="timeout_s")
    n = int(value)
    if not 1 <= n <= MAX_TIMEOUT_S:
        raise InvalidInput(f"timeout_s must be from 1 to {MAX_TIMEOUT_S} seconds; {n} is out of range.",
                           field="timeout_s")
    return n


def _environment(value: Any) -> dict[str, str]:
    """Variables added to a command's environment: names as a shell writes them
    (letters, digits, _; not starting with a digit), values one line of text."""
    if value is None or value == "":
        return {}
    if not isinstance(value, dict):
        raise InvalidInput("environment must be a mapping of variable names to values, e.g. {LC_ALL: C}.",
                           field="environment")
    if len(value) > MAX_ENV_VARS:
        raise InvalidInput(f"environment has {len(value)} variables; at most {MAX_ENV_VARS}.", field="environment")
    out: dict[str, str] = {}
    for name, v in value.items():
        if not isinstance(name, str) or not _ENV_NAME_RE.match(name):
            raise InvalidInput(f"environment: {str(name)[:80]!r} is not a variable name: letters, digits and _, "
                               f"not starting with a digit, at most 64 characters.", field="environment")
        at = f"environment.{name}"
        if name in RESERVED_ENV or name.upper().startswith("JOBDECK_"):
            raise InvalidInput(f"environment: {name} is set by the worker for every step "
                               f"({', '.join(RESERVED_ENV)}, JOBDECK_*); choose another name.", field=at)
        if isinstance(v, bool) or not isinstance(v, (str, int, float)):
            raise InvalidInput(f"environment: the value of {name} must be text.", field=at)
        text = str(v)
        if len(text) > MAX_ENV_VALUE:
            raise InvalidInput(f"environment: the value of {name} is {len(text)} characters; at most "
                               f"{MAX_ENV_VALUE}.", field=at)
        out[name] = check_text(text, at)
    return dict(sorted(out.items()))


def _retries(value: Any) -> int:
    if isinstance(value, bool) or not (isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit())):
        raise InvalidInput(f"retries must be a whole number from 0 to {MAX_RETRIES}, not {value!r}.",
                           field="retries")
    n = int(value)
    if not 0 <= n <= MAX_RETRIES:
        raise InvalidInput(f"retries must be from 0 to {MAX_RETRIES}; {n} is out of range.", field="retries")
    return n


def _version(value: Any) -> str:
    text = str(value if value is not None else "").strip()
    if len(text) > MAX_VERSION:
        raise InvalidInput(f"software_version is longer than {MAX_VERSION} characters.", field="software_version")
    return check_text(text, "software_version")


def _backend(value: Any, known: Optional[Collection[str]] = None) -> str:
    """A backend's name, one of `known` (default: the backends there are now; an import
    of the configuration passes those there will be once it is written)."""
    from app.backends import backend_configs

    name = str(value or "").strip() or DEFAULT_BACKEND
    if known is None:
        known = backend_configs(refresh=True)
    if name not in known:
        raise InvalidInput(f"No backend {name!r}; backends: {', '.join(sorted(known))}.", field="backend")
    return name


def _parameters(value: Any) -> list[ParameterInfo]:
    out: list[ParameterInfo] = []
    for i, p in enumerate(value or []):
        prm = rules.declare(p, i, reserved=PLACEHOLDERS)
        if any(o.name == prm.name for o in out):
            raise InvalidInput(f"Parameter {prm.name!r} is declared twice.", field=f"parameters.{i}.name")
        out.append(prm)
    return out


def _placeholders(token: str) -> list[str]:
    """The placeholders of one argument of a template; ValueError when it is malformed."""
    names = []
    for _literal, name, spec, conversion in string.Formatter().parse(token):
        if name is None:
            continue
        if spec or conversion or not name.isidentifier():
            raise ValueError(f"{{{name}{'!' + conversion if conversion else ''}{':' + spec if spec else ''}}} "
                             f"is not a plain placeholder such as {{input}}")
        names.append(name)
    return names


def check_command(command: str, parameters: list[ParameterInfo]) -> list[str]:
    """The arguments of a command template, every placeholder known; InvalidInput
    (field "command") otherwise. Braces meant literally are written {{ and }}."""
    known = set(PLACEHOLDERS) | {p.name for p in parameters}
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise InvalidInput(f"The command cannot be split into arguments: {exc}.", field="command") from None
    if not argv:
        raise InvalidInput("A command task needs a command, e.g. wc -l {input}.", field="command")
    for i, token in enumerate(argv):
        try:
            names = _placeholders(token)
        except ValueError as exc:
            raise InvalidInput(f"Argument {i + 1} of the command ({token!r}): {exc}; write {{{{ and }}}} "
                               f"for literal braces.", field="command") from None
        unknown = [n for n in names if n not in known]
        if unknown:
            raise InvalidInput(f"Unknown placeholder {{{unknown[0]}}} in the command; known: "
                               f"{', '.join('{' + k + '}' for k in sorted(known))}.", field="command")
        if i == 0 and names:
            raise InvalidInput("The program (the command's first word) must be written out, not a placeholder.",
                               field="command")
        if "inputs" in names and token != "{inputs}":
            raise InvalidInput("{inputs} stands for several arguments: write it as an argument of its own.",
                               field="command")
    return argv


def _task_values(*, name, description, backend, kind, command, handler, input_glob, output_glob,
                 ok_exit_codes, timeout_s, parameters, environment=None, retries=0,
                 software_version="", backends: Optional[Collection[str]] = None
                 ) -> tuple[dict[str, Any], list[ParameterInfo]]:
    values: dict[str, Any] = {"name": _name(name, "task"), "description": _text(description, "description", 2000)}
    if kind not in KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(KINDS)}, not {kind!r}.", field="kind")
    params = _parameters(parameters)
    command, handler = str(command or "").strip(), str(handler or "").strip()
    if kind == "command":
        check_command(command, params)
        if len(command) > 4000:
            raise InvalidInput("The command is longer than 4000 characters.", field="command")
        used = {n for tok in shlex.split(command) for n in _placeholders(tok)}
        for i, p in enumerate(params):
            if p.name not in used and not p.flag:
                raise InvalidInput(f"Parameter {p.name} is neither in the command ({{{p.name}}}) nor has a flag.",
                                   field=f"parameters.{i}.flag")
        handler = ""
    else:
        if handler not in HANDLERS:
            raise InvalidInput(f"No registered handler {handler!r}; handlers: {', '.join(sorted(HANDLERS))}.",
                               field="handler")
        command = ""
    values.update(kind=kind, command=command, handler=handler, backend=_backend(backend, backends),
                  input_glob=_globs(input_glob, "input_glob"), output_glob=_globs(output_glob, "output_glob"),
                  ok_exit_codes=_exit_codes(ok_exit_codes), timeout_s=_timeout(timeout_s),
                  environment=_environment(environment), retries=_retries(retries),
                  software_version=_version(software_version))
    return values, params


def _save_parameters(s, task_id: int, params: list[ParameterInfo]) -> None:
    for old in s.exec(select(TaskParameter).where(TaskParameter.task_id == task_id)):
        s.delete(old)
    s.flush()
    for p in params:
        s.add(TaskParameter(task_id=task_id, name=p.name, flag=p.flag, default=p.default, required=p.required,
                            type=p.type, choices=list(p.choices), minimum=p.minimum, maximum=p.maximum,
                            bool_valued=p.bool_valued))


def _name_free(s, model, name: str, own_id: Optional[int], what: str) -> None:
    other = s.exec(select(model).where(model.name == name)).first()
    if other is not None and other.id != own_id:
        raise Conflict(f"A {what} named {name!r} exists already.", field="name")



def _matches(name: str, globs: str) -> bool:
    pats = _patterns(globs)
    return not pats or any(fnmatch.fnmatchcase(name, p) for p in pats)


