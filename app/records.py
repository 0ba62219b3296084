"""Provenance records of job runs: what no job system keeps. For every attempt that
ends on a worker, the job's record says what it used and what it made (each by
sha256), the code it ran (its distribution's version and commit, and for a pipeline
step the definition of its task it ran: its run's version of it), the worker's host
and environment fingerprint (the list of distributions kept once per fingerprint), its
parameters, who lodged it and its times. It is written in the transaction that ends
the attempt, so an outcome is never recorded without its record, and it is
self-contained, so it outlives the job: retention removes jobs, never records.

A record reads back as W3C PROV-JSON, for one job or for a whole workflow (a pipeline
run): an activity per job with its times, entities for its inputs and outputs with
their sha256 (a step's input is the very entity an earlier step generated), agents for
the user, the worker and the code.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import datetime
from functools import lru_cache
from typing import Any, Callable, Iterable, Optional

import sqlalchemy as sa

from app import fingerprint, runs
from app.db import dialect_insert, insert_ignore, session, utcnow
from app.errors import Conflict, NotFound
from app.jobtypes import SPECS
from app.models import Job, JobFile, Task, TaskParameter, User
from app.record_tables import JobRecord, WorkerEnvironment

log = logging.getLogger(__name__)

_job, _file, _rec, _env = Job.__table__, JobFile.__table__, JobRecord.__table__, WorkerEnvironment.__table__
_task, _param = Task.__table__, TaskParameter.__table__


# A payload larger than this (a bulk registration's thousands of records) is not copied
# into its record's parameters: its sha256 (in the inputs) identifies it.
MAX_PARAMETERS_BYTES = 256 * 1024


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def sha256_json(value: Any) -> str:
    """sha256 of a JSON value written canonically (sorted keys, no spaces)."""
    return hashlib.sha256(_canonical(value)).hexdigest()


def _parameters(job: Any, payload: dict[str, Any]) -> dict[str, Any]:
    if runs.is_step(job):
        return dict(payload.get("parameters") or {})
    size = len(_canonical(payload))
    if size > MAX_PARAMETERS_BYTES:
        return {"_not_kept": f"the payload is {size} bytes; its sha256 is the payload input's"}
    return payload


def may_see(actor: User, owner: str) -> bool:
    return owner == actor.username or actor.role in ("admin", "service")


# --- writing (the worker's side) --------------------------------------------------------


def with_record(also: Optional[Callable] = None) -> Callable:
    """An `also` for the transition that ends an attempt: runs `also` first (a step's
    kept files are written there), then writes the job's record."""
    def run(conn: sa.Connection, done) -> None:
        if also is not None:
            also(conn, done)
        try:
            with conn.begin_nested():  # a record that cannot be written never costs the outcome
                write_record(conn, done.job_id)
        except Exception as exc:
            if getattr(exc, "connection_invalidated", False) or conn.invalidated:
                raise  # the database went away: the whole transition is lost, and retried
            log.exception("job %s: its provenance record was not written", done.job_id)
    return run


# Built once: on the hot path SQLAlchemy then skips building statements and their cache
# keys, which were most of a record's cost.
_SELECT_JOB = sa.select(_job).where(_job.c.id == sa.bindparam("_id"))
_SELECT_FILES = (sa.select(_file.c.name, _file.c.size, _file.c.sha256, _file.c.stored_path)
                 .where(_file.c.job_id == sa.bindparam("_id")).order_by(_file.c.name))
_SELECT_ATTEMPTS = sa.select(_rec.c.attempts).where(_rec.c.job_id == sa.bindparam("_id"))
_SELECT_ENV = sa.select(_env.c.fingerprint).where(_env.c.fingerprint == sa.bindparam("_fp"))


@lru_cache(maxsize=None)
def _upsert(dialect: str) -> sa.Insert:
    """A job's record written whole, whether or not one was written before (an earlier
    attempt's, or this one's end recorded again)."""
    stmt = dialect_insert(_rec, dialect)
    return stmt.on_conflict_do_update(index_elements=[_rec.c.job_id],
                                      set_={c.name: stmt.excluded[c.name] for c in _rec.c if c.name != "job_id"})


def write_record(conn: sa.Connection, job_id: str, *, host: Optional[str] = None) -> None:
    job = conn.execute(_SELECT_JOB, {"_id": job_id}).first()
    if job is None:
        return
    files = conn.execute(_SELECT_FILES, {"_id": job_id}).all()
    payload = job.payload or {}
    step = runs.is_step(job)
    root = runs.root_of(job)
    spec = SPECS.get((job.job_type, job.job_subtype))
    code = fingerprint.code_version(spec.handler if spec else f"{job.job_type}.{job.job_subtype}")
    if step:
        code["task"] = _task_config(conn, payload)
    env = fingerprint.environment()
    _keep_environment(conn, env)
    this = {"attempt": job.attempt, "status": job.status, "worker": job.worker or "",
            "host": host or fingerprint.host(), "environment": env.fingerprint,
            **{k: _iso(getattr(job, k)) for k in ("lodged_at", "dequeued_at", "started_at", "finished_at")}}
    # A first attempt has no earlier attempts to keep: nothing to read.
    before = None if (job.attempt or 1) <= 1 else conn.execute(_SELECT_ATTEMPTS, {"_id": job_id}).first()
    attempts = [a for a in (before.attempts if before else None) or [] if a.get("attempt") != job.attempt]
    values = dict(
        owner=job.owner, lodged_by=job.lodged_by or job.owner, job_type=job.job_type, job_subtype=job.job_subtype,
        workflow_id=job.workflow_id or job.id, parent_job_id=job.parent_job_id, batch_id=job.batch_id,
        step_key=step_key(job)[:256], status=job.status, attempt=job.attempt,
        parameters=_parameters(job, payload),
        inputs=_inputs(job, payload, root), outputs=_outputs(job, files, root),
        code=code, host=this["host"], worker=job.worker or "", environment=env.fingerprint,
        attempts=sorted(attempts + [this], key=lambda a: a.get("attempt") or 0),
        created_at=job.created_at, lodged_at=job.lodged_at, dequeued_at=job.dequeued_at,
        started_at=job.started_at, finished_at=job.finished_at, recorded_at=utcnow())
    conn.execute(_upsert(conn.dialect.name), {"job_id": job_id, **values})


def _iso(t: Optional[datetime]) -> Optional[str]:
    return t.isoformat() if t else None


# Per engine, the fingerprints found committed in its database: rows that are never
# removed, so once seen a worker's next records need not look again (one read a job less).
_known_envs: dict[Any, set[str]] = {}


def _keep_environment(conn: sa.Connection, env: fingerprint.Environment) -> None:
    seen = _known_envs.setdefault(conn.engine, set())
    if env.fingerprint in seen:
        return
    known = conn.execute(_SELECT_ENV, {"_fp": env.fingerprint}).first()
    if known is not None:
        seen.add(env.fingerprint)  # committed before this transaction: it stays
    else:
        conn.execute(insert_ignore(_env, conn.dialect.name).values(
            fingerprint=env.fingerprint, python=env.python, implementation=env.implementation,
            packages=[list(p) for p in env.packages], created_at=utcnow()))


def _task_config(conn: sa.Connection, payload: dict[str, Any]) -> dict[str, Any]:
    """A pipeline step's task as it ran, with its sha256: its run's version of it (the
    snapshot the step ran from, app.pipelines.snapshot), or for a step whose payload
    carries none (a run lodged before runs kept them) the task as configured now."""
    task_id = payload.get("task_id")
    kept = (payload.get("tasks") or {}).get(str(task_id))
    if isinstance(kept, dict):
        return _config(kept, [[p.get("name"), p.get("flag", ""), p.get("default", ""), bool(p.get("required")),
                               p.get("type") or "text"] for p in kept.get("parameters") or []])
    t = conn.execute(sa.select(_task).where(_task.c.id == task_id)).first() if isinstance(task_id, int) else None
    if t is None:
        return {"task_id": task_id, "missing": True}
    params = conn.execute(sa.select(_param.c.name, _param.c.flag, _param.c.default, _param.c.required,
                                    _param.c.type).where(_param.c.task_id == t.id).order_by(_param.c.id)).all()
    return _config({"task_id": t.id, **t._mapping}, [list(p) for p in params])


def _config(t: dict[str, Any], params: list[list[Any]]) -> dict[str, Any]:
    """The record's `code.task` of a task's fields (a snapshot's or a row's): the same
    definition gives the same configuration and sha256 whichever it was read from."""
    cfg = {"task_id": t["task_id"], "name": t["name"], "kind": t["kind"], "command": t["command"],
           "handler": t["handler"], "input_glob": t["input_glob"], "output_glob": t["output_glob"],
           "ok_exit_codes": t["ok_exit_codes"], "timeout_s": t["timeout_s"], "parameters": params}
    # Written only when set, so the configuration (and its sha256) of a task without them
    # reads as it did before tasks had them.
    if t.get("software_version"):
        cfg["software_version"] = t["software_version"]
    if t.get("environment"):
        cfg["environment"] = dict(sorted(t["environment"].items()))
    if t.get("retries"):
        cfg["retries"] = t["retries"]
    if t["kind"] == "handler" and t["handler"]:
        code = fingerprint.code_version(t["handler"])
        cfg["handler_package"], cfg["handler_version"] = code["package"], code["version"]
    return {**cfg, "sha256": sha256_json(cfg)}


def step_key(job: Any) -> str:
    """What pairs a workflow's job with its counterpart in another run of it."""
    p = job.payload or {}
    if runs.is_step(job):
        return f"{p.get('order')}.{p.get('index')} {p.get('task')}"
    key = (job.lineage_key or "").split("/", 1)[1] if "/" in (job.lineage_key or "") else ""
    return f"{job.job_type}/{job.job_subtype}" + (f" {key}" if key else "")


def _inputs(job: Any, payload: dict[str, Any], root: Optional[str]) -> list[dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    refs = []
    if isinstance(payload.get("upload"), dict):
        refs.append(("upload", payload["upload"]))
    refs += [("input", r) for r in payload.get("inputs") or [] if isinstance(r, dict)]
    for role, r in refs:
        if not r.get("sha256") or not r.get("path"):
            continue
        producer = r.get("job_id")
        entity = f"file/{producer}/{r.get('name')}" if producer else f"run/{root or job.id}/{r['path']}"
        out.setdefault(entity, {"name": r.get("name"), "path": r["path"], "sha256": r["sha256"],
                                "size": r.get("size"), "role": role, "job_id": producer, "entity": entity})
    if not runs.is_step(job):
        out[f"job/{job.id}/payload"] = {"name": "payload", "role": "payload", "sha256": sha256_json(payload),
                                        "entity": f"job/{job.id}/payload"}
    return list(out.values())


def _outputs(job: Any, files: list, root: Optional[str]) -> list[dict[str, Any]]:
    out = [{"name": f.name, "path": runs.in_run(f.stored_path, root) if root else f.stored_path,
            "sha256": f.sha256, "size": f.size, "role": "file", "entity": f"file/{job.id}/{f.name}"}
           for f in files]
    if not runs.is_step(job) and job.result is not None:
        out.append({"name": "result", "role": "result", "sha256": sha256_json(job.result),
                    "entity": f"job/{job.id}/result"})
    return out


# --- reading ---------------------------------------------------------------------------


def record_for(actor: User, job_id: str) -> JobRecord:
    """The record of a job the actor may see. NotFound for an unknown or someone
    else's id alike; Conflict for a job of theirs that has not run yet."""
    with session() as s:
        rec = s.get(JobRecord, job_id)
        job = s.get(Job, job_id) if rec is None else None
    if rec is not None and may_see(actor, rec.owner):
        return rec
    if job is not None and may_see(actor, job.owner):
        raise Conflict(f"Job {job_id} has not run yet: its record is written when an attempt ends "
                       f"(it is {job.status}).")
    raise NotFound(f"No job {job_id}.")


def workflow_of(actor: User, job_id: str) -> str:
    """The workflow (a pipeline run's root) a job the actor may see belongs to."""
    with session() as s:
        rec = s.get(JobRecord, job_id)
        job = s.get(Job, job_id)
    owner = rec.owner if rec is not None else job.owner if job is not None else None
    if owner is None or not may_see(actor, owner):
        raise NotFound(f"No job {job_id}.")
    return (rec.workflow_id if rec is not None else None) or (job.workflow_id if job else None) or job_id


def workflow_records(actor: User, job_id: str) -> tuple[str, list[JobRecord]]:
    """The workflow of a job and the records of its jobs, oldest first (Conflict when
    none of them has run yet)."""
    wf = workflow_of(actor, job_id)
    with session() as s:
        recs = list(s.exec(sa.select(JobRecord).where(JobRecord.workflow_id == wf)
                           .order_by(JobRecord.created_at, JobRecord.job_id)).scalars())
    recs = [r for r in recs if may_see(actor, r.owner)]
    if not recs:
        raise Conflict(f"No job of workflow {wf} has run yet: records are written when attempts end.")
    return wf, recs


def environments(fingerprints: Iterable[str]) -> dict[str, WorkerEnvironment]:
    fps = sorted({f for f in fingerprints if f})
    if not fps:
        return {}
    with session() as s:
        return {e.fingerprint: e for e in s.exec(sa.select(WorkerEnvironment)
                                                 .where(WorkerEnvironment.fingerprint.in_(fps))).scalars()}


def environment(fp: str) -> WorkerEnvironment:
    with session() as s:
        env = s.get(WorkerEnvironment, fp)
    if env is None:
        raise NotFound(f"No environment {fp}.")
    return env


def as_dict(rec: JobRecord, env: Optional[WorkerEnvironment] = None) -> dict[str, Any]:
    """A record as the API answers it."""
    out = rec.model_dump(mode="json")
    out["environment"] = {"fingerprint": rec.environment, "python": env.python if env else None,
                          "implementation": env.implementation if env else None,
                          "packages": len(env.packages or []) if env else None}
    return out


# --- W3C PROV-JSON ---------------------------------------------------------------------------


def prov_json(recs: list[JobRecord]) -> dict[str, Any]:
    """The records as one W3C PROV-JSON document (read back by `prov.read(…, format="json")`)."""
    from prov.model import PROV_LABEL, PROV_TYPE, ProvDocument

    envs = environments(r.environment for r in recs)
    doc = ProvDocument()
    doc.add_namespace("jd", "urn:jobdeck:")
    doc.add_namespace("prov", "http://www.w3.org/ns/prov#")
    q = lambda n: "jd:" + n  # noqa: E731
    seen: set[str] = set()
    ids = {r.job_id for r in recs}

    def once(key: str, make: Callable[[], Any]) -> None:
        if key not in seen:
            seen.add(key)
            make()

    for r in recs:
        act = q(f"job/{r.job_id}")
        attrs = {"jd:job_type": r.job_type, "jd:job_subtype": r.job_subtype, "jd:status": r.status,
                 "jd:attempt": r.attempt, "jd:step": r.step_key, "jd:parameters": json.dumps(r.parameters,
                                                                                           sort_keys=True),
                 "jd:lodged_at": _iso(r.created_at) or "", PROV_LABEL: r.step_key}
        if r.workflow_id:
            attrs["jd:workflow"] = r.workflow_id
        doc.activity(act, r.started_at, r.finished_at, attrs)
        user = q(f"user/{r.owner}")
        once(user, lambda: doc.agent(user, {PROV_TYPE: "prov:Person", PROV_LABEL: r.owner}))
        worker = q(f"worker/{r.host}/{r.worker or 'unknown'}")
        env = envs.get(r.environment)
        once(worker, lambda: doc.agent(worker, {
            PROV_TYPE: "prov:SoftwareAgent", "jd:host": r.host, "jd:worker": r.worker,
            "jd:environment": r.environment, "jd:python": env.python if env else ""}))
        c = r.code or {}
        software = q(f"software/{c.get('package')}/{c.get('version')}/{c.get('commit') or 'unknown'}")
        once(software, lambda: doc.agent(software, {
            PROV_TYPE: "prov:SoftwareAgent", "jd:package": c.get("package") or "",
            "jd:version": c.get("version") or "", "jd:commit": c.get("commit") or ""}))
        doc.wasAssociatedWith(act, user)
        doc.wasAssociatedWith(act, worker)
        doc.wasAssociatedWith(act, software)
        if r.lodged_by and r.lodged_by != r.owner:
            by = q(f"user/{r.lodged_by}")
            once(by, lambda: doc.agent(by, {PROV_TYPE: "prov:Person", PROV_LABEL: r.lodged_by}))
            doc.actedOnBehalfOf(by, user, act)
        if r.parent_job_id and r.parent_job_id in ids:
            doc.wasInformedBy(act, q(f"job/{r.parent_job_id}"))
        for i in r.inputs or []:
            ent = q(i["entity"])
            once(ent, lambda: doc.entity(ent, _entity_attrs(i)))
            doc.used(act, ent, r.started_at)
        for o in r.outputs or []:
            ent = q(o["entity"])
            once(ent, lambda: doc.entity(ent, _entity_attrs(o)))
            doc.wasGeneratedBy(ent, act, r.finished_at)
            doc.wasAttributedTo(ent, user)
    return json.loads(doc.serialize(format="json"))


def _entity_attrs(e: dict[str, Any]) -> dict[str, Any]:
    from prov.model import PROV_LABEL

    attrs = {"jd:sha256": e["sha256"], "jd:role": e.get("role") or "", PROV_LABEL: e.get("name") or ""}
    if e.get("size") is not None:
        attrs["jd:size"] = int(e["size"])
    if e.get("path"):
        attrs["jd:path"] = e["path"]
    return attrs
