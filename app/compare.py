"""Diff and reproduce: two jobs, or two workflows (pipeline runs), side by side from
their provenance records (parameters, inputs by hash, code, environment, timings,
outputs by hash); and a new run lodged with the same inputs and parameters, which once
it ends says whether its outputs' hashes match the original's.

A workflow's jobs are paired by their step (a pipeline step by order, place and task).
Reproducing any step of a pipeline run reproduces the whole run, on the upload it had
(its sha256 checked) and with its parameters, through the pipeline as configured now:
when a task changed since, the diff shows it under code.

`run_again` lodges the same new run without recording it as a reproduction (the run
card's "Run again": a fresh run, not a claim to check).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Optional

import sqlalchemy as sa

from app import launch, records, runs
from app.audit import audited
from app.db import session, write_conn
from app.errors import Conflict, InvalidInput, NotFound
from app.lifecycle import JobStatus
from app.models import Job, User
from app.record_tables import JobRecord, JobReproduction, WorkerEnvironment

SCOPES = ("job", "workflow")
_job, _repro = Job.__table__, JobReproduction.__table__
LIVE = {JobStatus.PENDING.value, JobStatus.DEQUEUED.value, JobStatus.IN_PROGRESS.value}


@dataclass
class Side:
    id: str  # the job, or the workflow's root
    scope: str
    records: list[JobRecord]
    status: str  # of the job, or of the workflow as a whole
    finished: bool
    owner: str
    name: str

    @property
    def pipeline(self) -> bool:
        return any(runs.is_step(r) for r in self.records)


def _status(actor: User, job_id: str, scope: str, recs: list[JobRecord]) -> tuple[str, bool]:
    """Read from the jobs while they exist (a job not yet run has no record), else from
    the records (retention removed the jobs; every one had ended)."""
    with session() as s:
        if scope == "job":
            rows = list(s.exec(sa.select(Job.status).where(Job.id == job_id)).scalars())
        else:
            rows = list(s.exec(sa.select(Job.status).where(Job.workflow_id == job_id)).scalars())
    statuses = rows or [r.status for r in recs]
    return runs.overall(statuses), not any(st in LIVE for st in statuses)


def side(actor: User, job_id: str, scope: str) -> Side:
    if scope not in SCOPES:
        raise InvalidInput(f"scope must be job or workflow, not {scope!r}.", field="scope")
    if scope == "job":
        rec = records.record_for(actor, job_id)
        recs, sid = [rec], job_id
    else:
        sid, recs = records.workflow_records(actor, job_id)
    status, finished = _status(actor, sid, scope, recs)
    first = recs[0]
    name = runs.run_name(_payload(sid)) if scope == "workflow" and first.job_type == runs.JOB_TYPE else ""
    return Side(sid, scope, recs, status, finished, first.owner,
                name or (first.step_key if scope == "job" else f"workflow {sid}"))


def _payload(job_id: str) -> dict[str, Any]:
    with session() as s:
        job = s.get(Job, job_id)
    return job.payload if job is not None else {}


def reproduction_between(a: str, b: str) -> Optional[JobReproduction]:
    with session() as s:
        return s.exec(sa.select(JobReproduction).where(sa.or_(
            sa.and_(JobReproduction.job_id == a, JobReproduction.of_job_id == b),
            sa.and_(JobReproduction.job_id == b, JobReproduction.of_job_id == a)))).scalars().first()


def default_scope(a: str, b: str) -> str:
    """Workflows when one reproduces the other as a workflow, or when both are the
    roots of pipeline runs; otherwise the two jobs."""
    link = reproduction_between(a, b)
    if link is not None:
        return link.scope
    with session() as s:
        jobs = [s.get(Job, a), s.get(Job, b)]
    return "workflow" if all(j is not None and runs.is_root(j) for j in jobs) else "job"


# --- the side-by-side rows ------------------------------------------------------------------


def _text(v: Any) -> Optional[str]:
    if v is None or isinstance(v, str):
        return v
    return json.dumps(v, sort_keys=True)


def _keyed(recs: list[JobRecord], scope: str) -> list[tuple[str, JobRecord]]:
    """Each record with its step's name, unique within the workflow."""
    if scope == "job":
        return [("", recs[0])]
    seen: dict[str, int] = {}
    out = []
    for r in recs:
        n = seen[r.step_key] = seen.get(r.step_key, 0) + 1
        out.append((r.step_key + (f" #{n}" if n > 1 else ""), r))
    return out


def _flat(prefix: str, d: dict[str, Any], out: dict[str, Optional[str]]) -> None:
    for k, v in (d or {}).items():
        name = f"{prefix}{k}"
        if isinstance(v, dict) and k == "task":
            _flat(name + ".", v, out)
        else:
            out[name] = _text(v)


def _pre(step: str) -> str:
    return f"{step} · " if step else ""


def _sections(s: Side, envs: dict[str, WorkerEnvironment]) -> dict[str, dict[str, Optional[str]]]:
    keyed = _keyed(s.records, s.scope)
    params: dict[str, Optional[str]] = {}
    if s.scope == "workflow" and s.pipeline:  # a run's parameters are its steps' parameters
        for k, v in sorted((keyed[0][1].parameters or {}).items()):
            params[k] = _text(v)
    else:
        for step, r in keyed:
            for k, v in (r.parameters or {}).items():
                params[_pre(step) + k] = _text(v)
    ins, outs, code, env, times = {}, {}, {}, {}, {}
    for step, r in keyed:
        for i in r.inputs or []:
            ins[_pre(step) + f"{i.get('role')} {i.get('name')}"] = i.get("sha256")
        for o in r.outputs or []:
            outs[_pre(step) + f"{o.get('role')} {o.get('name')}"] = o.get("sha256")
        _flat(_pre(step), {k: v for k, v in (r.code or {}).items()}, code)
        e = envs.get(r.environment)
        env[_pre(step) + "fingerprint"] = r.environment
        env[_pre(step) + "python"] = f"{e.implementation} {e.python}" if e else None
        env[_pre(step) + "host"] = r.host
        times[_pre(step) + "attempts"] = str(r.attempt)
        times[_pre(step) + "status"] = r.status
        times[_pre(step) + "run seconds"] = _secs(r.started_at, r.finished_at)
        times[_pre(step) + "wait seconds"] = _secs(r.lodged_at, r.started_at)
    starts = [r.started_at for r in s.records if r.started_at]
    ends = [r.finished_at for r in s.records if r.finished_at]
    times["lodged"] = min(r.created_at for r in s.records).isoformat()
    times["started"] = min(starts).isoformat() if starts else None
    times["finished"] = max(ends).isoformat() if ends else None
    times["total seconds"] = _secs(min(starts), max(ends)) if starts and ends else None
    return {"parameters": params, "inputs": ins, "code": code, "environment": env, "timings": times,
            "outputs": outs}


def _secs(a, b) -> Optional[str]:
    return f"{(b - a).total_seconds():.3f}" if a and b else None


def _packages(a: Side, b: Side, envs: dict[str, WorkerEnvironment]) -> list[dict[str, Any]]:
    """The distributions whose versions differ between the two sides' environments."""
    def pkgs(s: Side) -> dict[str, str]:
        out: dict[str, str] = {}
        for r in s.records:
            e = envs.get(r.environment)
            out.update({n: v for n, v in (e.packages if e else [])})
        return out
    pa, pb = pkgs(a), pkgs(b)
    return [{"name": n, "a": pa.get(n), "b": pb.get(n), "same": False}
            for n in sorted(set(pa) | set(pb)) if pa.get(n) != pb.get(n)]


def _rows(a: dict[str, Optional[str]], b: dict[str, Optional[str]]) -> list[dict[str, Any]]:
    names = list(a) + [n for n in b if n not in a]
    return [{"name": n, "a": a.get(n), "b": b.get(n), "same": a.get(n) == b.get(n)} for n in names]


def outputs_match(a: Side, b: Side) -> Optional[bool]:
    """Do the outputs' hashes match? None until both have ended."""
    if not (a.finished and b.finished):
        return None
    if a.status != b.status:
        return False
    sa_, sb = _sections(a, {}), _sections(b, {})
    return sa_["outputs"] == sb["outputs"]


def _summary(s: Side) -> dict[str, Any]:
    return {"id": s.id, "scope": s.scope, "name": s.name, "status": s.status, "finished": s.finished,
            "owner": s.owner, "jobs": [r.job_id for r in s.records]}


def diff(*, actor: User, a: str, b: str, scope: Optional[str] = None) -> dict[str, Any]:
    """Two jobs or workflows side by side; NotFound for either id the actor may not see."""
    scope = scope or default_scope(a, b)
    sa_, sb = side(actor, a, scope), side(actor, b, scope)
    envs = records.environments(r.environment for r in sa_.records + sb.records)
    xa, xb = _sections(sa_, envs), _sections(sb, envs)
    sections = {k: _rows(xa[k], xb[k]) for k in xa}
    if any(not r["same"] for r in sections["environment"] if r["name"].endswith("fingerprint")):
        sections["packages"] = _packages(sa_, sb, envs)
    else:
        sections["packages"] = []
    same = {k: all(r["same"] for r in rows) for k, rows in sections.items() if k not in ("timings", "packages")}
    link = reproduction_between(sa_.id, sb.id)
    return {"a": _summary(sa_), "b": _summary(sb), "scope": scope, "same": same,
            "outputs_match": outputs_match(sa_, sb), "sections": sections,
            "reproduction": {"job_id": link.job_id, "of_job_id": link.of_job_id, "scope": link.scope}
            if link else None}


# --- reproduce ---------------------------------------------------------------------------------


def reproduce(*, actor: User, job_id: str) -> tuple[Job, JobReproduction]:
    """Lodge a new run of a job (or of the pipeline run it is a step of) with the same
    inputs and parameters. Conflict when its inputs are no longer stored."""
    with session() as s:
        job = s.get(Job, job_id)
        rec = s.get(JobRecord, job_id)
    owner = job.owner if job is not None else rec.owner if rec is not None else None
    if owner is None or not records.may_see(actor, owner):
        raise NotFound(f"No job {job_id}.")
    if (job is not None and runs.is_step(job)) or (rec is not None and rec.job_type == runs.JOB_TYPE
                                                   and rec.job_subtype == runs.RUN_SUBTYPE):
        root = (job.workflow_id if job is not None else rec.workflow_id) or job_id
        new, scope, of = _reproduce_run(actor, root), "workflow", root
    else:
        payload = job.payload if job is not None else rec.parameters
        if job is None and "_not_kept" in (payload or {}):
            raise Conflict(f"Job {job_id} can no longer be reproduced: retention removed it and its record "
                           f"keeps only the sha256 of its large payload.")
        jt, st = (job.job_type, job.job_subtype) if job is not None else (rec.job_type, rec.job_subtype)
        new = launch.launch_job(actor=actor, job_type=jt, job_subtype=st, payload=payload)
        scope, of = "job", job_id
    link = JobReproduction(job_id=new.id, of_job_id=of, scope=scope, lodged_by=actor.username)
    with write_conn() as conn:
        conn.execute(sa.insert(_repro).values(**link.model_dump()))
    return new, link


@audited("pipeline.run-again", target="job_id")
def run_again(*, actor: User, job_id: str, client_addr: Optional[str] = None) -> Job:
    """Lodge a new run of the pipeline run `job_id` is a step of, on the same upload
    (its sha256 checked) and with the same parameters: the run card's "Run again". The
    new run is the actor's. Unlike `reproduce` it records no reproduction: a researcher
    running again (after a failure, for fresh results) claims nothing about matching
    outputs, and neither run's provenance card should carry a verdict nobody asked for.
    `client_addr` is a signed-out submitter's address (a public pipeline's run)."""
    with session() as s:
        job = s.get(Job, job_id)
    if job is None or not runs.is_step(job) or not records.may_see(actor, job.owner):
        raise NotFound(f"No pipeline run {job_id}.")
    return _reproduce_run(actor, runs.root_of(job), client_addr=client_addr)


def _reproduce_run(actor: User, root: str, *, client_addr: Optional[str] = None) -> Job:
    import hashlib

    from app import pipelines
    from app.files import stored_file_path
    from app.payloads import RunTask

    with session() as s:
        job = s.get(Job, root)
    if job is None:
        raise Conflict(f"Run {root} can no longer be reproduced: its jobs and upload were removed "
                       f"(retention); its records remain.")
    p = RunTask.model_validate(job.payload)
    path = stored_file_path(runs.stored_path(p.upload.path, root))
    if path is None or not path.is_file():
        raise Conflict(f"Run {root} can no longer be reproduced: its upload {p.upload.name} is no longer stored.")
    content = path.read_bytes()
    if hashlib.sha256(content).hexdigest() != p.upload.sha256:
        raise Conflict(f"Run {root} cannot be reproduced: its upload {p.upload.name} changed since "
                       f"(sha256 differs).")
    return pipelines.run_pipeline(actor=actor, pipeline=p.pipeline_id, file_name=p.upload.name, content=content,
                                  parameters=dict(p.parameters), client_addr=client_addr)


def reproduction_report(*, actor: User, job_id: str) -> dict[str, Any]:
    """What a job's page and record say of reproductions: the run it reproduces (and
    whether the outputs match, once both ended), and the runs that reproduce it."""
    wf = records.workflow_of(actor, job_id)
    ids = sorted({job_id, wf})
    with session() as s:
        mine = s.exec(sa.select(JobReproduction).where(JobReproduction.job_id.in_(ids))).scalars().first()
        later = list(s.exec(sa.select(JobReproduction).where(JobReproduction.of_job_id.in_(ids))
                            .order_by(JobReproduction.created_at)).scalars())
    out: dict[str, Any] = {"reproduces": None, "reproduced_by": []}

    def match(link: JobReproduction) -> Optional[bool]:
        try:
            return outputs_match(side(actor, link.of_job_id, link.scope), side(actor, link.job_id, link.scope))
        except (NotFound, Conflict):
            return None
    if mine is not None:
        out["reproduces"] = {"job_id": mine.job_id, "of_job_id": mine.of_job_id, "scope": mine.scope,
                             "outputs_match": match(mine)}
    for link in later[:20]:
        try:
            records.workflow_of(actor, link.job_id)
        except NotFound:
            continue  # someone else's reproduction of a job an admin lodged: not shown
        out["reproduced_by"].append({"job_id": link.job_id, "scope": link.scope, "outputs_match": match(link)})
    return out
