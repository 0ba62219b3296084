"""The rules a model run record must follow against the registry, as Provena checks
them, in Provena's order and with Provena's words:

 1 study_id names a complete STUDY              7 the same for each output
 2 the workflow template is a complete one      8 the workflow's model is a complete MODEL
 3 its input, then output templates are         9 modeller_id names a complete PERSON
   complete DATASET_TEMPLATEs                  10 requesting_organisation_id, when set,
 4 each required input template has an input      names a complete ORGANISATION
 5 each required output template has an output 11 every required annotation key is given
 6 each input's template is one the workflow knows (input or output list); its dataset
   is a DATASET; its resources give every required deferred key and no unknown one

Provena stops at the first failure (its register and update routes answer it as a 400,
its batch's jobs end FAILED with it); Jobdeck's own routes list every problem of every
record. Both come from `check_records`, which reads every item the records name in a
few queries (two rounds: what the records name, then what their workflows name), so a
file of 10,000 rows costs tens of reads, not tens of thousands.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Optional

import sqlalchemy as sa

from app import item_kinds
from app.errors import InvalidInput
from app.models import Item

_item = Item.__table__

WRAPPER = "Failed to validate an entity's ID in the record, error: {}."


class RecordRefused(InvalidInput):
    """A model run record that breaks a rule of its workflow template or names an item
    that is missing, a seed or of the wrong kind: refused before anything is lodged."""

    status_code = 400


@dataclass(frozen=True)
class RuleProblem:
    rule: str  # "1" .. "11", "6b", "7b": the rule of the table above
    field: str  # the place in the record, e.g. "inputs.0.dataset_id"
    message: str  # Provena's words for it
    raw: bool = False  # Provena answers this one as it is, without WRAPPER

    @property
    def detail(self) -> str:
        """What Provena answers for this problem (a 400's detail, a FAILED job's info)."""
        return self.message if self.raw else WRAPPER.format(self.message)


@dataclass(frozen=True)
class Found:
    id: str
    subtype: str
    record: dict[str, Any]
    record_type: str


def unavailable(item_id: str, item: Optional[Found], subtype: str, *, seed_allowed: bool = False) -> Optional[str]:
    """Why a fetch of `item_id` as a `subtype` finds nothing to use (Provena's
    status.details), or None when it does."""
    if item is None:
        return f"Could not find the given key ({item_id}) in the registry."
    if item.subtype != subtype:
        return (f"The item with id {item_id} is a {item.subtype}, not a {subtype}: fetch it through the "
                f"{item.subtype.lower()} route.")
    if item.record_type == item_kinds.SEED and not seed_allowed:
        return (f"The item with id {item_id} is a seed item (it lacks fields a complete "
                f"{subtype.lower().replace('_', ' ')} has) and seed items were not allowed.")
    return None


def load(conn: sa.Connection, ids: Iterable[str], chunk: int = 500) -> dict[str, Found]:
    """The items of these ids that exist (in chunks: a whole file's ids at once)."""
    wanted = sorted({i for i in ids if isinstance(i, str) and i})
    out: dict[str, Found] = {}
    for i in range(0, len(wanted), chunk):
        rows = conn.execute(sa.select(_item.c.id, _item.c.subtype, _item.c.record, _item.c.description,
                                      _item.c.record_type).where(_item.c.id.in_(wanted[i:i + chunk])))
        for r in rows:
            info = item_kinds.domain_info(r.subtype, r.record or {}, r.description or "")
            out[r.id] = Found(r.id, r.subtype, info, r.record_type)
    return out


def _text(v: Any) -> str:
    return v if isinstance(v, str) else ""


def _datasets(record: dict[str, Any], side: str) -> list[dict[str, Any]]:
    return [d for d in (record.get(side) or []) if isinstance(d, dict)]


def _assoc(record: dict[str, Any]) -> dict[str, Any]:
    a = record.get("associations")
    return a if isinstance(a, dict) else {}


def _first_round(record: dict[str, Any]) -> list[str]:
    ids = [_text(record.get("study_id")), _text(record.get("workflow_template_id")),
           _text(_assoc(record).get("modeller_id")), _text(_assoc(record).get("requesting_organisation_id"))]
    ids += [_text(d.get("dataset_id")) for side in ("inputs", "outputs") for d in _datasets(record, side)]
    return ids


def _templates(workflow: Found, side: str) -> list[dict[str, Any]]:
    return [t for t in (workflow.record.get(side) or []) if isinstance(t, dict) and _text(t.get("template_id"))]


def _second_round(workflow: Optional[Found]) -> list[str]:
    if workflow is None or workflow.subtype != "MODEL_RUN_WORKFLOW_TEMPLATE":
        return []
    return ([t["template_id"] for side in ("input_templates", "output_templates") for t in _templates(workflow, side)]
            + [_text(workflow.record.get("software_id"))])


@dataclass
class _Workflow:
    """What every record naming one (complete) workflow template is checked against."""

    sides: dict[str, list[dict[str, Any]]]  # its input and output templates
    problems: list[RuleProblem]  # rule 3: those that are no complete DATASET_TEMPLATE
    known: dict[str, Found]  # those that are
    required: dict[str, list[str]]  # rules 4 and 5: each side's templates that are not optional
    model: Optional[RuleProblem]  # rule 8
    annotations: list[str]  # rule 11: the annotation keys it requires


class _Checks:
    """The items a file's records name, and what each record's rules ask of them worked
    out once per item, template and workflow rather than once per record: a file's rows
    mostly name the same few (10,000 runs of one workflow)."""

    def __init__(self, found: dict[str, Found]):
        self.found = found
        self._why: dict[tuple[str, str], Optional[str]] = {}
        self._workflows: dict[str, _Workflow] = {}
        self._resources: dict[str, tuple[set, set]] = {}

    def e(self, item_id: str, subtype: str) -> Optional[str]:
        key = (item_id, subtype)
        if key not in self._why:
            why = unavailable(item_id, self.found.get(item_id), subtype)
            self._why[key] = None if why is None else f"Failed to retrieve item with details: {why}."
        return self._why[key]

    def workflow(self, wf_id: str) -> _Workflow:
        """The workflow template `wf_id` (complete: rule 2 passed)."""
        got = self._workflows.get(wf_id)
        if got is None:
            got = self._workflows[wf_id] = self._workflow(self.found[wf_id])
        return got

    def _workflow(self, wf: Found) -> _Workflow:
        sides = {"inputs": _templates(wf, "input_templates"), "outputs": _templates(wf, "output_templates")}
        problems, known = [], {}
        for t in sides["inputs"] + sides["outputs"]:
            tid = t["template_id"]
            if (e := self.e(tid, "DATASET_TEMPLATE")):
                problems.append(RuleProblem("3", "workflow_template_id", (
                    f"Provided dataset template with id {tid} (associated with the workflow def.) was not a "
                    f"valid id, error: {e}")))
            else:
                known[tid] = self.found[tid]
        required = {side: [t["template_id"] for t in ts if not t.get("optional")] for side, ts in sides.items()}
        model_id, model = _text(wf.record.get("software_id")), None
        if (e := self.e(model_id, "MODEL")):
            model = RuleProblem("8", "workflow_template_id", (
                f"Model with id {model_id} (associated with workflow definition) was not a valid model, "
                f"error: {e}."))
        wanted = wf.record.get("annotations")
        wanted = wanted if isinstance(wanted, dict) else {}
        annotations = [k for k in (wanted.get("required") or []) if isinstance(k, str)]
        return _Workflow(sides, problems, known, required, model, annotations)

    def resource_keys(self, template: Found) -> tuple[set, set]:
        """A dataset template's required and valid deferred resource keys."""
        got = self._resources.get(template.id)
        if got is None:
            deferred = [r for r in (template.record.get("deferred_resources") or []) if isinstance(r, dict)]
            got = self._resources[template.id] = ({r.get("key") for r in deferred if not r.get("optional")},
                                                  {r.get("key") for r in deferred})
        return got


def _dataset_problems(datasets: list[dict[str, Any]], side: str, wf: _Workflow, checks: _Checks) -> list[RuleProblem]:
    word, rule = ("input", "6") if side == "inputs" else ("output", "7")
    out: list[RuleProblem] = []
    for i, d in enumerate(datasets):
        t, ds = _text(d.get("dataset_template_id")), _text(d.get("dataset_id"))
        template = wf.known.get(t)
        if template is None:
            out.append(RuleProblem(rule, f"{side}.{i}.dataset_template_id", (
                f"An {word} template in the payload (id: {t}) does not exist in the workflow definition's list "
                f"of expected/required {word} dataset templates. Check your workflow definition and provided "
                f"{word} dataset templates are correct."), raw=True))
            continue

        def failed(field: str, reason: str) -> RuleProblem:
            return RuleProblem(rule + "b", f"{side}.{i}.{field}", (
                f"An {word} dataset validation process failed, type DatasetType.DATA_STORE, template id {t}, "
                f"reason {reason}."))

        e = checks.e(ds, "DATASET")
        if e:
            # Provena's own words: "Input" for outputs too
            out.append(failed("dataset_id", f"Input dataset with id {ds} was not a valid id, error: {e}"))
            continue
        required, valid = checks.resource_keys(template)
        given = set((d.get("resources") or {}).keys()) if isinstance(d.get("resources"), dict) else set()
        missing, extra = sorted(required - given), sorted(given - valid)
        if missing:
            out.append(failed("resources", (
                f"The provided dataset template with id {t} and dataset id {ds} was missing deferred resource "
                f"paths for the following required resource keys ({','.join(missing)}).")))
        if extra:
            out.append(failed("resources", (
                f"The provided dataset template with id {t} and dataset id {ds} provided unexpected deferred "
                f"resource paths for the following unexpected resource keys ({','.join(extra)}).")))
    return out


def _problems(record: dict[str, Any], checks: _Checks) -> list[RuleProblem]:
    out: list[RuleProblem] = []
    study = _text(record.get("study_id"))
    if study and (e := checks.e(study, "STUDY")):
        out.append(RuleProblem("1", "study_id", (
            f"Provided model run workflow definition with id {study} was not a valid id, error: {e}")))
    wf_id = _text(record.get("workflow_template_id"))
    e = checks.e(wf_id, "MODEL_RUN_WORKFLOW_TEMPLATE")
    wf = None
    if e:
        out.append(RuleProblem("2", "workflow_template_id", (
            f"Provided model run workflow definition with id {wf_id} was not a valid id, error: {e}")))
    else:
        wf = checks.workflow(wf_id)
        out += wf.problems
        if not wf.problems:  # Provena stops at a bad template: the rest is not checked against it
            datasets = {side: _datasets(record, side) for side in ("inputs", "outputs")}
            for side, rule in (("inputs", "4"), ("outputs", "5")):
                given = {_text(d.get("dataset_template_id")) for d in datasets[side]}
                for tid in wf.required[side]:
                    if tid not in given:
                        out.append(RuleProblem(rule, side, (
                            f"The workflow definition expects dataset with template ID {tid} but it "
                            f"was not present in the {side}.")))
            out += _dataset_problems(datasets["inputs"], "inputs", wf, checks)
            out += _dataset_problems(datasets["outputs"], "outputs", wf, checks)
            if wf.model is not None:
                out.append(wf.model)
    assoc = _assoc(record)
    modeller = _text(assoc.get("modeller_id"))
    if (e := checks.e(modeller, "PERSON")):
        out.append(RuleProblem("9", "associations.modeller_id",
                               f"Modeller with id {modeller} was not a valid person, error: {e}."))
    org = _text(assoc.get("requesting_organisation_id"))
    if org and (e := checks.e(org, "ORGANISATION")):
        out.append(RuleProblem("10", "associations.requesting_organisation_id",
                               f"Organisation with id {org} was not a valid organisation, error: {e}."))
    if wf is not None:
        given = record.get("annotations") if isinstance(record.get("annotations"), dict) else {}
        missing = [k for k in wf.annotations if k not in given]
        if missing:
            out.append(RuleProblem("11", "annotations",
                                   f"Missing required annotations with keys: ({','.join(missing)})."))
    return out


def check_records(conn: sa.Connection, records: list[dict[str, Any]]) -> list[list[RuleProblem]]:
    """Every problem of every record, each record's in Provena's order (its first is
    the one Provena answers). Records are read as JSON: a part that is missing or of
    the wrong type is skipped here (its shape is checked elsewhere)."""
    records = [r if isinstance(r, dict) else {} for r in records]
    found = load(conn, (i for r in records for i in _first_round(r)))
    workflows = {_text(r.get("workflow_template_id")) for r in records}
    found.update(load(conn, (i for wf in workflows for i in _second_round(found.get(wf))
                             if i and i not in found)))
    checks = _Checks(found)
    return [_problems(r, checks) for r in records]


def check_record(conn: sa.Connection, record: dict[str, Any]) -> list[RuleProblem]:
    return check_records(conn, [record])[0]


def first_problem(conn: sa.Connection, record: dict[str, Any]) -> Optional[RuleProblem]:
    problems = check_record(conn, record)
    return problems[0] if problems else None


def refuse_as_provena(conn: sa.Connection, record: dict[str, Any]) -> None:
    """Provena's register and update: the first problem as a 400 in Provena's words."""
    p = first_problem(conn, record)
    if p is not None:
        raise RecordRefused(p.detail, field=p.field,
                            errors=[{"field": p.field, "rule": p.rule, "message": p.detail}])


def refuse_all(conn: sa.Connection, records: list[dict[str, Any]], *, prefix: str = "") -> None:
    """Jobdeck's own routes: every problem of every record in one refusal (422), each
    with the place it is about (`records.3.inputs.0.dataset_id`)."""
    errors = []
    for n, problems in enumerate(check_records(conn, records)):
        where = f"{prefix}{n}." if prefix else ""
        errors += [{"field": where + p.field, "rule": p.rule, "message": p.message} for p in problems]
    if errors:
        first = errors[0]
        listed = "; ".join(f"{e['field']}: {e['message'].rstrip('.')}" for e in errors[:20])
        more = f"; and {len(errors) - 20} more (see errors)" if len(errors) > 20 else ""
        n, runs = len(errors), "model runs break" if len(records) > 1 else "model run breaks"
        raise InvalidInput(f"The {runs} {n} rule{'s' if n != 1 else ''} of the registry; nothing was "
                           f"lodged. {listed}{more}.", field=first["field"], errors=errors)


def refuse_all_now(records: list[dict[str, Any]], *, prefix: str = "") -> None:
    """refuse_all in a session of its own."""
    from app.db import session

    with session() as s:
        refuse_all(s.connection(), records, prefix=prefix)
