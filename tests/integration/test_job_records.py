"""The provenance record of every job, as real RQ workers write it: hashes of what a
job used and made, its code version, its worker's environment fingerprint, its times;
its PROV-JSON read back by the `prov` library; two runs side by side; reproduce, with
matching outputs for a deterministic run and a mismatch for one that writes the time;
someone else's ids answer 404 as unknown ones do; retention keeps the records."""

from __future__ import annotations

import hashlib
import importlib.metadata as md
import json
import platform
import subprocess
import sys
from datetime import timedelta

import prov
import sqlalchemy as sa

from app import launch, pipelines, retention
from app.db import session, utcnow
from app.models import Job
from app.record_tables import JobRecord, WorkerEnvironment
from tests.conftest import ROOT, run_workers

POEM = b"the rain in spain\nfalls mainly\non the plain\nthe rain\n"


def _sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def _pipelines(root):
    pipelines.create_task(actor=root, name="sort lines", command="sort {input} -o {output_dir}/sorted.txt",
                          output_glob="sorted.txt", timeout_s=60)
    pipelines.create_task(actor=root, name="top words", kind="handler",
                          handler="app.pipelines.word_frequencies", input_glob="*.txt",
                          output_glob="*.csv", parameters=[{"name": "top", "default": "3"}])
    pipelines.create_task(actor=root, name="clock", command="sh -c 'date +%s%N > \"$0\"/now.txt' {output_dir}",
                          output_glob="now.txt", timeout_s=60)
    pipelines.create_pipeline(actor=root, name="Sort and count", steps=[
        {"order": 1, "task": "sort lines"}, {"order": 2, "task": "top words"}])
    pipelines.create_pipeline(actor=root, name="Clock", steps=[{"order": 1, "task": "clock"}])


def _run(user, name="Sort and count", top="3"):
    params = {"top": top} if name == "Sort and count" else {}
    job = pipelines.run_pipeline(actor=user, pipeline=name, file_name="poem.txt", content=POEM, parameters=params)
    run_workers()
    return job.id


def _records(wf: str) -> list[JobRecord]:
    with session() as s:
        return list(s.exec(sa.select(JobRecord).where(JobRecord.workflow_id == wf)
                           .order_by(JobRecord.created_at)).scalars())


def _fingerprint() -> str:
    """The environment fingerprint, computed here from scratch."""
    import re
    pk = {}
    for d in md.distributions():
        if d.metadata and d.metadata["Name"]:
            pk.setdefault(re.sub(r"[-_.]+", "-", d.metadata["Name"]).lower(), d.version)
    text = json.dumps({"python": platform.python_version(), "implementation": sys.implementation.name,
                       "packages": sorted([list(p) for p in pk.items()])}, separators=(",", ":"))
    return _sha(text.encode())


def test_a_runs_records_hold_hashes_code_version_fingerprint_and_times(users):
    _pipelines(users["root"])
    root = _run(users["alice"])
    first, second = _records(root)
    # step 1 used the upload and made sorted.txt; step 2 used that very file
    sorted_bytes = b"".join(sorted(POEM.splitlines(keepends=True)))
    assert [(i["role"], i["name"], i["sha256"]) for i in first.inputs] == [("upload", "poem.txt", _sha(POEM))]
    assert [(o["name"], o["sha256"]) for o in first.outputs] == [("sorted.txt", _sha(sorted_bytes))]
    assert [(i["name"], i["sha256"], i["entity"]) for i in second.inputs if i["role"] == "input"] == [
        ("sorted.txt", _sha(sorted_bytes), first.outputs[0]["entity"])]
    csv = pipelines.runs_dir() / root / second.job_id / "a1" / "out" / "word_frequencies.csv"
    assert [(o["name"], o["sha256"]) for o in second.outputs] == [("word_frequencies.csv", _sha(csv.read_bytes()))]
    assert second.parameters == {"top": "3"} and second.step_key == "2.0 top words"
    # the code: this project's version and commit; a step's task as configured
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    assert first.code["package"] == "jobdeck" and first.code["version"] == md.version("jobdeck")
    assert first.code["commit"] == commit and len(commit) == 40
    assert first.code["task"]["command"] == "sort {input} -o {output_dir}/sorted.txt"
    assert second.code["task"]["handler"] == "app.pipelines.word_frequencies"
    assert len(first.code["task"]["sha256"]) == 64
    # the environment: one fingerprint, its list kept once however many jobs ran
    assert first.environment == second.environment == _fingerprint()
    with session() as s:
        envs = list(s.exec(sa.select(WorkerEnvironment)).scalars())
    assert [e.fingerprint for e in envs] == [_fingerprint()]
    assert ["rq", md.version("rq")] in envs[0].packages and envs[0].python == platform.python_version()
    # the times are the job's, and who lodged it
    with session() as s:
        job = s.get(Job, second.job_id)
    assert (second.created_at, second.started_at, second.finished_at) == (job.created_at, job.started_at,
                                                                           job.finished_at)
    assert second.created_at <= second.started_at <= second.finished_at
    assert second.owner == second.lodged_by == "alice" and second.host and second.worker == job.worker
    assert [(a["attempt"], a["status"]) for a in second.attempts] == [(1, "SUCCEEDED")]


def test_every_attempt_is_in_the_record_and_a_plain_job_has_its_payload_and_result_hashed(users):
    job = launch.launch_job(actor=users["root"], job_type="SYSTEM", job_subtype="FLAKY",
                            payload={"fail_attempts": 1}, owner="alice")
    from tests.integration.test_retry import _run_until_final
    _run_until_final(job.id)
    with session() as s:
        rec, row = s.get(JobRecord, job.id), s.get(Job, job.id)
    assert row.status == "SUCCEEDED" and rec.attempt == 2
    assert [(a["attempt"], a["status"]) for a in rec.attempts] == [(1, "FAILED"), (2, "SUCCEEDED")]
    assert rec.lodged_by == "root" and rec.owner == "alice"
    canon = lambda v: _sha(json.dumps(v, sort_keys=True, separators=(",", ":")).encode())  # noqa: E731
    assert {i["name"]: i["sha256"] for i in rec.inputs} == {"payload": canon(row.payload)}
    assert {o["name"]: o["sha256"] for o in rec.outputs} == {"result": canon(row.result)}
    assert rec.code["handler"] == "worker.tasks.flaky"


def test_a_first_attempt_recorded_again_is_replaced_whole(users):
    """A first attempt's record is written in one statement (no read of earlier attempts):
    written again (its end recorded again), it replaces the first, one attempt listed."""
    from app.db import write_conn
    from app.records import write_record

    job = launch.launch_job(actor=users["root"], job_type="SYSTEM", job_subtype="NOOP", payload={})
    run_workers()
    with session() as s:
        first = s.get(JobRecord, job.id)
    with write_conn() as conn:
        write_record(conn, job.id, host="another-host")
    with session() as s:
        again = list(s.exec(sa.select(JobRecord).where(JobRecord.job_id == job.id)).scalars())
    assert len(again) == 1 and again[0].host == "another-host" and first.host != "another-host"
    assert [(a["attempt"], a["status"], a["host"]) for a in again[0].attempts] == [(1, "SUCCEEDED", "another-host")]
    assert again[0].recorded_at >= first.recorded_at and again[0].outputs == first.outputs


def _read(body: dict):
    return prov.read(json.dumps(body), format="json")


def test_prov_json_of_a_job_and_of_a_run_reads_back_with_prov(api, users):
    _pipelines(users["root"])
    root = _run(users["alice"])
    first, second = _records(root)
    r = api.get(f"/api/jobs/{first.job_id}/prov", headers=api.as_("alice"))
    assert r.status_code == 200, r.text
    doc = _read(r.json())
    acts = {str(a.identifier): a for a in doc.get_records(prov.model.ProvActivity)}
    assert list(acts) == [f"jd:job/{first.job_id}"]
    act = acts[f"jd:job/{first.job_id}"]
    assert act.get_startTime() == first.started_at and act.get_endTime() == first.finished_at
    ents = {str(e.identifier): e for e in doc.get_records(prov.model.ProvEntity)}
    sha = {k: list(e.get_attribute("jd:sha256"))[0] for k, e in ents.items()}
    assert sha == {f"jd:run/{root}/upload/poem.txt": _sha(POEM),
                   f"jd:file/{first.job_id}/sorted.txt": first.outputs[0]["sha256"]}
    agents = {str(a.identifier) for a in doc.get_records(prov.model.ProvAgent)}
    assert "jd:user/alice" in agents and any(a.startswith("jd:worker/") for a in agents)
    assert any(a.startswith("jd:software/jobdeck/") for a in agents)
    kinds = {type(x).__name__ for x in doc.get_records()}
    assert {"ProvUsage", "ProvGeneration", "ProvAssociation", "ProvAttribution"} <= kinds

    r = api.get(f"/api/jobs/{second.job_id}/prov?workflow=true&download=true", headers=api.as_("alice"))
    assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
    doc = _read(r.json())
    assert {str(a.identifier) for a in doc.get_records(prov.model.ProvActivity)} == {
        f"jd:job/{first.job_id}", f"jd:job/{second.job_id}"}
    made = {str(g.formal_attributes[0][1]) for g in doc.get_records(prov.model.ProvGeneration)}
    used = {(str(u.formal_attributes[0][1]), str(u.formal_attributes[1][1]))
            for u in doc.get_records(prov.model.ProvUsage)}
    # step 2 used the very entity step 1 generated: one connected graph
    assert (f"jd:job/{second.job_id}", f"jd:file/{first.job_id}/sorted.txt") in used
    assert f"jd:file/{first.job_id}/sorted.txt" in made
    informed = [(str(x.formal_attributes[0][1]), str(x.formal_attributes[1][1]))
                for x in doc.get_records(prov.model.ProvCommunication)]
    assert informed == [(f"jd:job/{second.job_id}", f"jd:job/{first.job_id}")]


def test_diff_of_two_runs_with_different_parameters_shows_the_difference(api, users):
    _pipelines(users["root"])
    a, b = _run(users["alice"], top="2"), _run(users["alice"], top="3")
    r = api.get(f"/api/jobs/{a}/diff/{b}", headers=api.as_("alice"))
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["scope"] == "workflow" and d["a"]["status"] == d["b"]["status"] == "SUCCEEDED"
    rows = {s: {x["name"]: x for x in rows} for s, rows in d["sections"].items()}
    assert rows["parameters"]["top"] == {"name": "top", "a": "2", "b": "3", "same": False}
    assert d["same"]["parameters"] is False and d["same"]["inputs"] is True  # same upload, same hashes
    assert d["same"]["environment"] is False or d["same"]["code"] is True  # the same code ran both
    assert rows["outputs"]["1.0 sort lines · file sorted.txt"]["same"] is True
    assert rows["outputs"]["2.0 top words · file word_frequencies.csv"]["same"] is False
    assert d["outputs_match"] is False
    assert d["sections"]["packages"] == []  # one environment: no package differs
    # the two first steps alone, as jobs
    r = api.get(f"/api/jobs/{a}/diff/{b}?scope=job", headers=api.as_("alice"))
    assert r.json()["scope"] == "job" and r.json()["outputs_match"] is True
    assert api.get(f"/api/jobs/{a}/diff/{b}?scope=everything", headers=api.as_("alice")).status_code == 422


def _reproduce(api, job_id: str) -> dict:
    r = api.post(f"/api/jobs/{job_id}/reproduce", headers=api.as_("alice"))
    assert r.status_code == 201, r.text
    return r.json()


def test_reproduce_of_a_deterministic_run_matches_and_of_one_writing_the_time_does_not(api, users):
    _pipelines(users["root"])
    same = _run(users["alice"])
    with session() as s:  # reproducing any step reproduces its whole run
        step2 = s.exec(sa.select(Job.id).where(Job.workflow_id == same, Job.id != same)).scalars().one()
    answer = _reproduce(api, step2)
    assert answer["reproduces"] == same and answer["scope"] == "workflow"
    new = answer["job"]["id"]
    # not run yet: the diff cannot say
    assert api.get(f"/api/jobs/{new}/diff/{same}", headers=api.as_("alice")).status_code == 409
    run_workers()
    d = api.get(answer["diff"], headers=api.as_("alice")).json()
    assert d["outputs_match"] is True and d["reproduction"] == {"job_id": new, "of_job_id": same,
                                                                "scope": "workflow"}
    assert d["same"]["inputs"] and d["same"]["parameters"] and d["same"]["outputs"]
    rec = api.get(f"/api/jobs/{new}/record", headers=api.as_("alice")).json()
    assert rec["reproduction"]["reproduces"]["outputs_match"] is True
    orig = api.get(f"/api/jobs/{same}/record", headers=api.as_("alice")).json()
    assert orig["reproduction"]["reproduced_by"] == [{"job_id": new, "scope": "workflow", "outputs_match": True}]

    clock = _run(users["alice"], name="Clock")
    again = _reproduce(api, clock)["job"]["id"]
    run_workers()
    d = api.get(f"/api/jobs/{again}/diff/{clock}", headers=api.as_("alice")).json()
    assert d["outputs_match"] is False
    assert [x["name"] for x in d["sections"]["outputs"] if not x["same"]] == ["1.0 clock · file now.txt"]
    rec = api.get(f"/api/jobs/{again}/record", headers=api.as_("alice")).json()
    assert rec["reproduction"]["reproduces"]["outputs_match"] is False


def test_someone_elses_job_is_404_on_record_prov_diff_and_reproduce_like_an_unknown_id(api, users):
    _pipelines(users["root"])
    mine, theirs = _run(users["alice"]), _run(users["bob"])
    unknown = "00000000-0000-4000-8000-000000000000"
    for other in (theirs, unknown):
        for method, url in (("get", f"/api/jobs/{other}/record"), ("get", f"/api/jobs/{other}/prov"),
                            ("get", f"/api/jobs/{other}/prov?workflow=true"),
                            ("get", f"/api/jobs/{mine}/diff/{other}"), ("get", f"/api/jobs/{other}/diff/{mine}"),
                            ("post", f"/api/jobs/{other}/reproduce")):
            r = getattr(api, method)(url, headers=api.as_("alice"))
            assert r.status_code == 404, (url, r.status_code, r.text)
            assert r.json()["detail"] == f"No job {other}.", url
    with session() as s:
        assert s.exec(sa.select(sa.func.count()).select_from(Job).where(Job.owner == "alice")).scalar_one() == 2
    # an admin sees and diffs both
    r = api.get(f"/api/jobs/{mine}/diff/{theirs}", headers=api.as_("root"))
    assert r.status_code == 200 and r.json()["outputs_match"] is True


def test_retention_removes_the_jobs_and_keeps_their_records(api, users):
    _pipelines(users["root"])
    root = _run(users["alice"])
    noop = launch.launch_job(actor=users["root"], job_type="SYSTEM", job_subtype="NOOP", payload={}, owner="alice")
    run_workers()
    ids = [r.job_id for r in _records(root)] + [noop.id]
    before = {r.job_id: r.model_dump() for r in _records(root)}
    done = retention.prune(now=utcnow() + timedelta(days=3), rules=retention.Policy(1, {}))
    assert done.jobs == 3
    with session() as s:
        assert s.exec(sa.select(sa.func.count()).select_from(Job).where(Job.id.in_(ids))).scalar_one() == 0
    assert {r.job_id: r.model_dump() for r in _records(root)} == before  # untouched
    assert not (pipelines.runs_dir() / root).exists()
    r = api.get(f"/api/jobs/{root}/prov?workflow=true", headers=api.as_("alice"))
    assert r.status_code == 200 and len(list(_read(r.json()).get_records(prov.model.ProvActivity))) == 2
    assert api.get(f"/api/jobs/{noop.id}/record", headers=api.as_("alice")).json()["status"] == "SUCCEEDED"
    assert api.get(f"/api/jobs/{noop.id}/record", headers=api.as_("bob")).status_code == 404
    # its upload went with it: a run removed by retention cannot be reproduced, and says why
    r = api.post(f"/api/jobs/{root}/reproduce", headers=api.as_("alice"))
    assert r.status_code == 409 and "retention" in r.json()["detail"]
    # a plain job can: its record holds its payload
    r = api.post(f"/api/jobs/{noop.id}/reproduce", headers=api.as_("root"))
    assert r.status_code == 201, r.text


def test_hostile_or_refused_requests_answer_4xx_and_write_nothing(api, users):
    from app import registry
    from app.record_tables import JobReproduction

    item, job = registry.create_item(actor=users["alice"], subtype="DATASET", display_name="rain")
    # not run yet: no record, and the answer says why
    r = api.get(f"/api/jobs/{job.id}/record", headers=api.as_("alice"))
    assert r.status_code == 409 and "has not run yet" in r.json()["detail"]
    run_workers()
    assert api.get(f"/api/jobs/{job.id}/record", headers=api.as_("alice")).json()["status"] == "SUCCEEDED"
    # a registry job is lodged through the registry, not directly: reproducing it is refused
    r = api.post(f"/api/jobs/{job.id}/reproduce", headers=api.as_("alice"))
    assert r.status_code == 403, r.text
    long_id = "x" * 65
    for url in (f"/api/jobs/{long_id}/diff/{job.id}", f"/api/jobs/{job.id}/diff/{long_id}",
                f"/api/jobs/{long_id}/prov", "/api/environments/not-a-fingerprint"):
        assert api.get(url, headers=api.as_("alice")).status_code == 422, url
    assert api.get("/api/environments/" + "0" * 64, headers=api.as_("alice")).status_code == 404
    rec = api.get(f"/api/jobs/{job.id}/record", headers=api.as_("alice")).json()
    env = api.get(f"/api/environments/{rec['environment']['fingerprint']}", headers=api.as_("alice")).json()
    assert {"name": "rq", "version": md.version("rq")} in env["packages"]
    with session() as s:
        assert s.exec(sa.select(sa.func.count()).select_from(JobReproduction)).scalar_one() == 0
        assert s.exec(sa.select(sa.func.count()).select_from(Job)).scalar_one() == 2  # the job and its lodge


def test_a_large_payload_is_kept_by_its_hash_only(api, users, monkeypatch):
    from app import records

    monkeypatch.setattr(records, "MAX_PARAMETERS_BYTES", 16)  # every NOOP payload is larger
    job = launch.launch_job(actor=users["root"], job_type="SYSTEM", job_subtype="NOOP", payload={}, owner="alice")
    run_workers()
    with session() as s:
        rec, row = s.get(JobRecord, job.id), s.get(Job, job.id)
    assert list(rec.parameters) == ["_not_kept"] and "bytes" in rec.parameters["_not_kept"]
    assert [i["sha256"] for i in rec.inputs] == [records.sha256_json(row.payload)]
    retention.prune(now=utcnow() + timedelta(days=3), rules=retention.Policy(1, {}))
    r = api.post(f"/api/jobs/{job.id}/reproduce", headers=api.as_("root"))
    assert r.status_code == 409 and "large payload" in r.json()["detail"]
