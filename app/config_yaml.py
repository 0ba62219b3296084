"""The configuration as YAML text: written with PyYAML's `safe_dump`, read back with its
`safe_load` only after a pass over the parser's events has refused what a configuration
never needs and a hostile document relies on: more than MAX_BYTES, nesting deeper than
MAX_DEPTH, more than MAX_NODES values, anchors and aliases (a "billion laughs" is a few
lines of aliases), tags (`!!python/...` and every other), merge keys, duplicate keys,
keys that are not text, and more than one document. The pass reads events one by one
(PyYAML's parser keeps its own stack, never Python's), so a refusal costs no more than
the document's length. Each refusal names the path of the value it found, written as
the rest of the configuration names them: `tasks[2].parameters[0].flag`.

Both the pass and the building of the data use libyaml when PyYAML has it (its
CSafeLoader: the same events, the same safe constructor as `safe_load`, some forty
times faster), so no document costs more than a second or so to refuse or to read;
without libyaml, `yaml.safe_load` itself.
"""

from __future__ import annotations

import re
from typing import Any, Union

import yaml

from app.errors import DocumentNotReadable, PayloadTooLarge

MAX_BYTES = 2 * 1024 * 1024
MAX_DEPTH = 12  # the configuration itself needs 6 (root, tasks, a task, parameters, one, choices)
MAX_NODES = 100_000  # a configuration of 1,000 tasks with 10 parameters each has some 65,000
_SAFE = getattr(yaml, "CSafeLoader", None)  # safe_load's loader, in C
HEADER = ("# Jobdeck configuration: backends, tasks and pipelines (docs/admin.md).\n"
          "# Import it on the console's configuration page or with PUT /api/admin/config.\n")


def path_of(parts: list[Union[str, int]]) -> str:
    """["tasks", 2, "parameters", 0, "flag"] -> "tasks[2].parameters[0].flag"."""
    out = ""
    for p in parts:
        if isinstance(p, int):
            out += f"[{p}]"
        else:
            out += ("." if out else "") + p
    return out


def join(prefix: str, field: str) -> str:
    """A field as a domain check names it ("parameters.0.flag") under a path
    ("tasks[2]"): "tasks[2].parameters[0].flag"."""
    field = re.sub(r"\.(\d+)(?=\.|$)", r"[\1]", field or "")
    if not field:
        return prefix
    return f"{prefix}.{field}" if prefix else field


class _Dumper(yaml.SafeDumper):
    """PyYAML's safe dumper, writing text of several lines as a literal block (|)
    where YAML allows one: a description reads as it was typed."""


_OTHER_BREAKS = re.compile("[\r\x85\u2028\u2029]")  # a block would turn them into plain line breaks


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    # Other line breaks only survive escaped, in double quotes.
    style = '"' if _OTHER_BREAKS.search(value) else ("|" if "\n" in value else None)
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _text)


def dump(data: dict[str, Any]) -> str:
    """The document as text: keys in the order given, every string as YAML reads it back
    (quoted when it would read as a number, true, null...), no line folding, so the
    same data is always the same bytes."""
    body = yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, default_flow_style=False,
                     width=1_000_000, indent=2)
    return HEADER + body


def _refuse(message: str, parts: list[Union[str, int]], mark: Any = None) -> DocumentNotReadable:
    where = path_of(parts)
    at = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
    return DocumentNotReadable(f"{where or 'The document'}: {message}{at}.", field=where or "document")


class _Frame:
    __slots__ = ("mapping", "path", "keys", "key", "index")

    def __init__(self, mapping: bool, path: list[Union[str, int]]):
        self.mapping, self.path = mapping, path
        self.keys: set[str] = set()
        self.key: Union[str, None] = None  # the key whose value comes next (mappings)
        self.index = 0  # the next item's index (sequences)


def _screen(text: str) -> None:
    """Refuse what `safe_load` must never see (see the module's docstring)."""
    stack: list[_Frame] = []
    documents = nodes = 0
    for ev in yaml.parse(text, Loader=_SAFE or yaml.SafeLoader):
        if isinstance(ev, yaml.DocumentStartEvent):
            documents += 1
            if documents > 1:
                raise _refuse("only one YAML document is read; remove the second '---'", [], ev.start_mark)
            continue
        if isinstance(ev, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            stack.pop()
            continue
        if not isinstance(ev, (yaml.ScalarEvent, yaml.MappingStartEvent, yaml.SequenceStartEvent,
                               yaml.AliasEvent)):
            continue
        parent = stack[-1] if stack else None
        # Where this node sits; a mapping's key is checked as a key.
        if parent is None:
            here: list[Union[str, int]] = []
        elif parent.mapping and parent.key is None:
            if not isinstance(ev, yaml.ScalarEvent):
                raise _refuse("a key must be plain text", parent.path, ev.start_mark)
            key = ev.value
            if ev.tag is not None or ev.anchor is not None:
                raise _refuse(f"key {key!r} carries a tag or an anchor; neither is allowed", parent.path,
                              ev.start_mark)
            if key == "<<" and ev.implicit[0]:
                raise _refuse("merge keys (<<) are not allowed; write the values out", parent.path, ev.start_mark)
            if key in parent.keys:
                raise _refuse(f"key {key!r} is given twice", parent.path + [key], ev.start_mark)
            parent.keys.add(key)
            parent.key = key
            continue
        elif parent.mapping:
            here = parent.path + [parent.key]
            parent.key = None
        else:
            here = parent.path + [parent.index]
            parent.index += 1
        if isinstance(ev, yaml.AliasEvent):
            raise _refuse("aliases (*name) are not allowed; write the value out", here, ev.start_mark)
        if ev.anchor is not None:
            raise _refuse(f"anchors (&{ev.anchor}) are not allowed", here, ev.start_mark)
        if ev.tag is not None and not (isinstance(ev, yaml.ScalarEvent) and ev.tag == "!"):
            raise _refuse(f"tags ({ev.tag}) are not allowed", here, ev.start_mark)
        nodes += 1
        if nodes > MAX_NODES:
            raise _refuse(f"the document has more than {MAX_NODES} values", here, ev.start_mark)
        if isinstance(ev, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            if len(stack) >= MAX_DEPTH:
                raise _refuse(f"nested deeper than {MAX_DEPTH} levels", here, ev.start_mark)
            stack.append(_Frame(isinstance(ev, yaml.MappingStartEvent), here))


def _safe_load(text: str) -> Any:
    """`yaml.safe_load`, in C when libyaml is there: plain data only (mappings, lists,
    text, numbers, true/false, null, dates), never an object of a Python class."""
    if _SAFE is None:
        return yaml.safe_load(text)
    return yaml.load(text, Loader=_SAFE)  # CSafeLoader is SafeLoader's C twin: safe_load's rules


def load(content: Union[str, bytes]) -> Any:
    """The document's data (None when it is empty). PayloadTooLarge over MAX_BYTES;
    DocumentNotReadable (a 400) naming the path and line of anything else refused."""
    size = len(content.encode("utf-8") if isinstance(content, str) else content)
    if size > MAX_BYTES:
        raise PayloadTooLarge(f"The configuration document is {size} bytes; at most {MAX_BYTES} are read.",
                              field="document")
    if isinstance(content, bytes):
        try:
            content = content.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise DocumentNotReadable(f"The document is not UTF-8 text (byte {exc.start}).",
                                      field="document") from None
    try:
        _screen(content)
        return _safe_load(content)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise DocumentNotReadable(f"The document is not valid YAML{at}: {exc.problem or exc.context}.",
                                  field="document") from None
    except ValueError as exc:  # e.g. an integer of more digits than Python converts
        raise DocumentNotReadable(f"The document has a value that cannot be read: {str(exc).split(';')[0]}.",
                                  field="document") from None
    except (yaml.YAMLError, RecursionError) as exc:
        raise DocumentNotReadable(f"The document is not valid YAML: {exc}.", field="document") from None
