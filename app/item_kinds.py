"""What each kind (subtype) of registry item holds: the fields of its record, which of
them a complete item needs, and how a record is checked when it is written.

An item whose record lacks a required field is a seed (Provena's SEED_ITEM): it has
an id and a name but not yet its content. Seeds are kept and listed, but a model run
cannot name one. The record type is decided when the record is written and stored on
the item, so a list filtered by it reads only the rows it shows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Optional

from app.errors import InvalidInput

COMPLETE, SEED = "COMPLETE_ITEM", "SEED_ITEM"
RECORD_TYPES = (COMPLETE, SEED)

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_URL = re.compile(r"https?://[^\s/$.?#][^\s]*", re.IGNORECASE)


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    kind: str = "text"  # text | email | url | item | templates | resources | annotations | bool
    required: bool = False
    of: str = ""  # for kind "item": the subtype the id names
    help: str = ""


ITEM_FIELDS: dict[str, tuple[Field, ...]] = {
    "PERSON": (Field("first_name", "First name", required=True), Field("last_name", "Last name", required=True),
               Field("email", "Email", "email", required=True), Field("orcid", "ORCID", "url")),
    "ORGANISATION": (Field("name", "Official name", required=True), Field("ror", "ROR", "url")),
    "MODEL": (Field("name", "Model name", required=True), Field("description", "Description", required=True),
              Field("documentation_url", "Documentation URL", "url", required=True),
              Field("source_url", "Source URL", "url", required=True)),
    "MODEL_RUN_WORKFLOW_TEMPLATE": (
        Field("software_id", "Model", "item", required=True, of="MODEL", help="the id of the model it runs"),
        Field("input_templates", "Input dataset templates", "templates",
              help="dataset template ids, comma-separated; end one with ? if it is optional"),
        Field("output_templates", "Output dataset templates", "templates",
              help="dataset template ids, comma-separated; end one with ? if it is optional"),
        Field("annotations", "Annotations", "annotations",
              help="keys, comma-separated; end one with ? if it is optional")),
    "DATASET_TEMPLATE": (Field("deferred_resources", "Deferred resource keys", "resources",
                               help="keys a model run gives a path for, comma-separated; "
                                    "end one with ? if it is optional"),),
    "STUDY": (Field("title", "Title", required=True), Field("description", "Description", required=True),
              Field("study_alternative_id", "Alternative id")),
    "DATASET": (),
    # A model run's record is the ModelRunRecord its job registered (app.provenance).
    "MODEL_RUN": (),
}


def fields_of(subtype: str) -> tuple[Field, ...]:
    return ITEM_FIELDS.get(subtype, ())


def domain_info(subtype: str, record: dict[str, Any], description: str = "") -> dict[str, Any]:
    """The item's fields as its kind reads them: the record, with the item's own
    description standing in where the record has none."""
    out = dict(record or {})
    if description and not out.get("description") and any(f.name == "description" for f in fields_of(subtype)):
        out["description"] = description
    return out


def record_type(subtype: str, record: dict[str, Any], description: str = "") -> str:
    info = domain_info(subtype, record, description)
    missing = [f for f in fields_of(subtype) if f.required and info.get(f.name) in (None, "", [])]
    return SEED if missing else COMPLETE


def _problem(field: Field, why: str) -> InvalidInput:
    return InvalidInput(f"record.{field.name}: {why}", field=f"record.{field.name}")


def _str_list(v: Any, field: Field, key: str) -> None:
    if not isinstance(v, list) or not all(isinstance(x, str) and x for x in v):
        raise _problem(field, f"{key} must be a list of non-empty strings.")


def check_record(subtype: str, record: dict[str, Any]) -> None:
    """Refuse a field of the item's kind that holds the wrong type of value (a missing
    required field is not refused: the item is then a seed)."""
    for f in fields_of(subtype):
        v = record.get(f.name)
        if v is None or (v == "" and not f.required):
            continue
        if f.kind in ("text", "email", "url", "item"):
            if not isinstance(v, str):
                raise _problem(f, "must be text.")
            if f.kind == "email" and v and not _EMAIL.fullmatch(v):
                raise _problem(f, f"{v[:80]!r} is not an email address.")
            if f.kind == "url" and v and not _URL.fullmatch(v):
                raise _problem(f, f"{v[:80]!r} is not an http(s) URL.")
        elif f.kind == "templates":
            if not isinstance(v, list) or not all(isinstance(t, dict) and isinstance(t.get("template_id"), str)
                                                  and t["template_id"] for t in v):
                raise _problem(f, "must be a list of {template_id, optional} objects.")
            ids = [t["template_id"] for t in v]
            if len(set(ids)) != len(ids):
                raise _problem(f, "names a template twice.")
        elif f.kind == "resources":
            if not isinstance(v, list) or not all(isinstance(r, dict) and isinstance(r.get("key"), str)
                                                  and r["key"] for r in v):
                raise _problem(f, "must be a list of {key, description, usage_type, optional} objects.")
            keys = [r["key"] for r in v]
            if len(set(keys)) != len(keys):
                raise _problem(f, "names a resource key twice.")
        elif f.kind == "annotations":
            if not isinstance(v, dict):
                raise _problem(f, "must be an object {required: [keys], optional: [keys]}.")
            for key in ("required", "optional"):
                _str_list(v.get(key, []), f, key)
            if set(v.get("required", [])) & set(v.get("optional", [])):
                raise _problem(f, "a key is both required and optional.")


# --- the console's form: one text box per field ------------------------------------


def _keys(text: str) -> list[tuple[str, bool]]:
    """'a, b?' -> [('a', False), ('b', True)]: a trailing ? marks a key optional."""
    out = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        out.append((part[:-1].strip(), True) if part.endswith("?") else (part, False))
    return [(k, o) for k, o in out if k]


def record_from_form(subtype: str, form: dict[str, Any]) -> dict[str, Any]:
    """A record from the create form's text boxes (each field's own name); blank boxes
    are left out."""
    record: dict[str, Any] = {}
    for f in fields_of(subtype):
        text = str(form.get(f"field_{f.name}", "") or "").strip()
        if not text:
            continue
        if f.kind == "templates":
            record[f.name] = [{"template_id": k, **({"optional": True} if o else {})} for k, o in _keys(text)]
        elif f.kind == "resources":
            record[f.name] = [{"key": k, "description": k, "usage_type": "GENERAL_DATA",
                               **({"optional": True} if o else {})} for k, o in _keys(text)]
        elif f.kind == "annotations":
            keys = _keys(text)
            record[f.name] = {"required": [k for k, o in keys if not o], "optional": [k for k, o in keys if o]}
        else:
            record[f.name] = text
    return record


def summary(subtype: str, record: dict[str, Any], description: str = "") -> list[tuple[str, str]]:
    """(label, value as text) of each field the item has, for its page."""
    info = domain_info(subtype, record, description)
    out = []
    for f in fields_of(subtype):
        v: Optional[Any] = info.get(f.name)
        if v in (None, "", []):
            continue
        if f.kind == "templates":
            v = ", ".join(t["template_id"] + ("?" if t.get("optional") else "") for t in v)
        elif f.kind == "resources":
            v = ", ".join(r["key"] + ("?" if r.get("optional") else "") for r in v)
        elif f.kind == "annotations":
            v = ", ".join(list(v.get("required", [])) + [k + "?" for k in v.get("optional", [])])
        out.append((f.label, str(v)))
    return out
