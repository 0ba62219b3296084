"""Fair use and priorities: a backend's high, normal and low queues drained in that order
by a real pool's worker; a signed-in submitter's runs at high, an anonymous one's at
normal, one lower past the soft limit; the hard limit answered 429 through the REST API
with nothing lodged, per user and per client address; a pipeline's own limits over the
global ones; 0 turning a limit off; and a lost job queued again on its own priority's
queue by the reconciler, the reaper and a retry."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from app import fairuse, launch, pipelines, queues
from app.db import get_engine, session
from app.errors import TooManyActive
from app.keys import PRIORITIES, queue_name, rq_job_id
from app.models import Job
from app.runs import runs_dir
from app.settings import reload_settings
from tests.conftest import run_workers
from tests.integration.test_api_admin import problem_of
from tests.pools import pools, set_backend, status, wait_for  # noqa: F401
from worker import reaper


def _limits(monkeypatch, hog: int, hard: int) -> None:
    monkeypatch.setenv("JOBDECK_QUEUE_HOG_SIZE", str(hog))
    monkeypatch.setenv("JOBDECK_QUEUE_HARD_LIMIT", str(hard))
    reload_settings()


def _pipeline(root, name="Count", **limits):
    if not any(t.name == "count" for t in pipelines.list_tasks(actor=root)):
        pipelines.create_task(actor=root, name="count", command="wc -c {input}")
        pipelines.create_task(actor=root, name="again", command="wc -c {inputs}")
    return pipelines.create_pipeline(actor=root, name=name, steps=[{"order": 1, "task": "count"}], **limits)


def _run(actor, info, client_addr=None):
    return pipelines.run_pipeline(actor=actor, pipeline=info.id, file_name="a.txt", content=b"abc",
                                  parameters={}, client_addr=client_addr)


def _depths(backend="pipeline") -> dict[str, int]:
    return queues.depths([backend])[backend]


def _all_jobs() -> int:
    with session() as s:
        return s.connection().execute(sa.select(sa.func.count()).select_from(Job.__table__)).scalar()


# --- priorities order work ---------------------------------------------------------------------


def test_one_worker_takes_high_then_normal_then_low(api, users, pools):
    set_backend("system", max_workers=1, idle_timeout_s=30)
    lodged = []
    for priority in ("low", "normal", "high", "low", "normal", "high"):  # while no worker runs
        r = api.post("/api/jobs", headers=api.as_("root"),
                     json={"job_type": "SYSTEM", "job_subtype": "NOOP", "payload": {}, "priority": priority})
        assert r.status_code == 201, r.text
        assert r.json()["priority"] == priority
        lodged.append((priority, r.json()["id"]))
    assert _depths("system") == {"high": 2, "normal": 2, "low": 2}
    pools("--backends", "system")
    wait_for(lambda: all(status(j) == "SUCCEEDED" for _, j in lodged), timeout=60)
    with session() as s:
        started = dict(s.connection().execute(sa.select(Job.id, Job.started_at)
                                              .where(Job.id.in_([j for _, j in lodged]))).all())
    ran = [p for p, j in sorted(lodged, key=lambda pj: started[pj[1]])]
    assert ran == ["high", "high", "normal", "normal", "low", "low"]
    # in lodging order within a priority
    highs = [j for p, j in lodged if p == "high"]
    assert started[highs[0]] < started[highs[1]]


def test_only_admins_and_services_choose_a_priority(api, users):
    # a job type users may lodge (its payload is checked by its worker, which never runs here)
    body = {"job_type": "PROV_LODGE", "job_subtype": "MODEL_RUN_PROV_LODGE",
            "payload": {"record": {"workflow_template_id": "w", "display_name": "d", "description": "d",
                                   "associations": {"modeller_id": "p"}, "start_time": 1, "end_time": 2}}}
    refused = problem_of(api.post("/api/jobs", headers=api.as_("alice"), json={**body, "priority": "high"}), 403)
    assert "priority" in refused["detail"]
    bad = problem_of(api.post("/api/jobs", headers=api.as_("root"), json={**body, "priority": "urgent"}), 422)
    assert bad["field"] == "priority" and "high, normal, low" in bad["detail"]
    assert _all_jobs() == 0
    ok = api.post("/api/jobs", headers=api.as_("alice"), json={**body, "priority": "normal"})
    assert ok.status_code == 201 and ok.json()["priority"] == "normal"


# --- the soft limit ---------------------------------------------------------------------------------


def test_past_the_soft_limit_a_run_waits_one_priority_lower(users, monkeypatch):
    _limits(monkeypatch, hog=2, hard=0)
    root, alice, bob = users["root"], users["alice"], users["bob"]
    info = _pipeline(root)
    signed_in = [_run(alice, info).priority for _ in range(3)]
    assert signed_in == ["high", "high", "normal"]
    anonymous = [_run(bob, info, client_addr="192.0.2.7").priority for _ in range(3)]
    assert anonymous == ["normal", "normal", "low"]
    # bob signed in is counted apart from the address he also submitted from
    assert _run(bob, info).priority == "high"
    assert _depths() == {"high": 3, "normal": 3, "low": 1}
    # once alice's runs end, she is back at high
    run_workers()
    assert _run(alice, info).priority == "high"


def test_a_runs_later_steps_keep_its_priority_and_address(users, monkeypatch):
    _limits(monkeypatch, hog=1, hard=0)
    root, bob = users["root"], users["bob"]
    pipelines.create_task(actor=root, name="count", command="wc -c {input}")
    pipelines.create_task(actor=root, name="again", command="cat {inputs}", input_glob="*")
    pipelines.create_task(actor=root, name="keep", command="cp {input} {output_dir}/copy.txt", output_glob="*")
    info = pipelines.create_pipeline(actor=root, name="Two", steps=[{"order": 1, "task": "keep"},
                                                                    {"order": 2, "task": "again"}])
    first = _run(bob, info, client_addr="198.51.100.1")  # normal
    second = _run(bob, info, client_addr="198.51.100.1")  # past the soft limit: low
    assert (first.priority, second.priority) == ("normal", "low")
    run_workers()
    for root_job, priority in ((first, "normal"), (second, "low")):
        steps = pipelines.run_steps(root_job.id)
        assert [(s.step, s.status) for s in steps] == [(1, "SUCCEEDED"), (2, "SUCCEEDED")], [s.info for s in steps]
        assert {(s.priority, s.client_addr) for s in steps} == {(priority, "198.51.100.1")}


# --- the hard limit --------------------------------------------------------------------------------


def _post_run(api, who, pipeline_id):
    return api.post(f"/api/pipelines/{pipeline_id}/runs", headers=api.as_(who),
                    files={"file": ("a.txt", b"abc", "text/plain")}, data={"parameters": "{}"})


def test_the_hard_limit_answers_429_naming_limit_and_active_with_nothing_lodged(api, users, monkeypatch):
    _limits(monkeypatch, hog=0, hard=2)
    info = _pipeline(users["root"])
    for _ in range(2):
        assert _post_run(api, "alice", info.id).status_code == 201
    jobs, folders = _all_jobs(), sorted(runs_dir().iterdir())
    body = problem_of(_post_run(api, "alice", info.id), 429)
    assert (body["limit"], body["active"]) == (2, 2)
    assert "2 submitted or running" in body["detail"] and "the limit is 2" in body["detail"]
    assert "JOBDECK_QUEUE_HARD_LIMIT" in body["detail"]
    assert _all_jobs() == jobs and sorted(runs_dir().iterdir()) == folders  # nothing lodged, nothing stored
    # per user: bob is not held by alice's runs
    assert _post_run(api, "bob", info.id).status_code == 201
    # a run that ends frees its place
    alice_runs = [j for j in api.get("/api/jobs", headers=api.as_("alice")).json()["jobs"]]
    assert api.post(f"/api/jobs/{alice_runs[0]['id']}/cancel", headers=api.as_("alice")).status_code == 200
    assert _post_run(api, "alice", info.id).status_code == 201


@pytest.mark.parametrize("client_addr", [None, "192.0.2.44"])
def test_submissions_arriving_together_do_not_pass_the_hard_limit(users, monkeypatch, client_addr):
    import threading

    _limits(monkeypatch, hog=0, hard=3)
    info = _pipeline(users["root"])
    alice = users["alice"]
    start = threading.Barrier(8)
    outcomes: list[str] = []

    def submit():
        start.wait()
        try:
            _run(alice, info, client_addr=client_addr)
            outcomes.append("lodged")
        except TooManyActive:
            outcomes.append("refused")

    threads = [threading.Thread(target=submit) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(outcomes) == ["lodged"] * 3 + ["refused"] * 5
    assert fairuse.live_submissions(owner="alice", client_addr=client_addr, at_most=100) == 3
    assert len(list(runs_dir().iterdir())) == 3  # the refused ones' uploads are gone


def test_the_hard_limit_per_client_address(users, monkeypatch):
    _limits(monkeypatch, hog=0, hard=2)
    root, bob, alice = users["root"], users["bob"], users["alice"]
    info = _pipeline(root)
    for _ in range(2):
        _run(bob, info, client_addr="203.0.113.5")
    jobs = _all_jobs()
    with pytest.raises(TooManyActive) as refused:
        _run(bob, info, client_addr="203.0.113.5")
    assert (refused.value.limit, refused.value.active) == (2, 2)
    assert "203.0.113.5" in refused.value.message and refused.value.status_code == 429
    assert _all_jobs() == jobs
    # another address, and the same owner signed in, are counted apart
    assert _run(bob, info, client_addr="203.0.113.6").priority == "normal"
    assert _run(bob, info).priority == "high"
    assert _run(alice, info, client_addr="2001:db8::1").priority == "normal"


def test_a_pipelines_own_limits_beat_the_global_ones(api, users, monkeypatch):
    _limits(monkeypatch, hog=0, hard=1)
    root = users["root"]
    own = _pipeline(root, name="Own")
    plain = _pipeline(root, name="Plain")
    put = api.put(f"/api/pipelines/{own.id}", headers=api.as_("root"),
                  json={"name": "Own", "steps": [{"order": 1, "task": "count"}], "queue_hog_size": 2,
                        "queue_hard_limit": 3})
    assert put.status_code == 200, put.text
    assert (put.json()["queue_hog_size"], put.json()["queue_hard_limit"]) == (2, 3)
    got = api.get(f"/api/pipelines/{plain.id}", headers=api.as_("alice")).json()
    assert (got["queue_hog_size"], got["queue_hard_limit"]) == (None, None)
    answers = [_post_run(api, "alice", own.id) for _ in range(4)]
    assert [r.status_code for r in answers] == [201, 201, 201, 429]
    assert [r.json()["job"]["priority"] for r in answers[:3]] == ["high", "high", "normal"]
    assert "pipeline Own" in answers[3].json()["detail"] and answers[3].json()["limit"] == 3
    # the global limit (1) holds on the other pipeline: alice's 3 live runs count there too
    assert problem_of(_post_run(api, "alice", plain.id), 429)["limit"] == 1
    # bad limits are refused, naming the field, and change nothing
    for value, field in ((-1, "queue_hard_limit"), ("3", "queue_hard_limit"), (100_001, "queue_hard_limit"),
                         (True, "queue_hog_size")):
        bad = api.put(f"/api/pipelines/{own.id}", headers=api.as_("root"),
                      json={"name": "Own", "steps": [{"order": 1, "task": "count"}], field: value})
        assert bad.status_code == 422, (value, bad.text)
        assert field in bad.json()["field"]
    assert api.get(f"/api/pipelines/{own.id}", headers=api.as_("root")).json()["queue_hard_limit"] == 3
    assert problem_of(api.put(f"/api/pipelines/{own.id}", headers=api.as_("alice"),
                              json={"name": "Own", "steps": [{"order": 1, "task": "count"}],
                                    "queue_hard_limit": 0}), 403)


def test_a_limit_of_0_is_off(api, users, monkeypatch):
    _limits(monkeypatch, hog=0, hard=0)
    root, alice = users["root"], users["alice"]
    info = _pipeline(root)
    assert {_run(alice, info).priority for _ in range(20)} == {"high"}
    assert {_run(alice, info, client_addr="192.0.2.1").priority for _ in range(20)} == {"normal"}
    # a pipeline's own 0 turns off a global limit
    _limits(monkeypatch, hog=1, hard=1)
    off = _pipeline(root, name="Off", queue_hog_size=0, queue_hard_limit=0)
    assert _run(alice, off).priority == "high"
    with pytest.raises(TooManyActive):
        _run(alice, info)


def test_the_count_stops_at_the_limit(users, monkeypatch):
    _limits(monkeypatch, hog=0, hard=0)
    root, alice = users["root"], users["alice"]
    info = _pipeline(root)
    for _ in range(30):
        _run(alice, info)
    assert fairuse.live_submissions(owner="alice", client_addr=None, at_most=1000) == 30
    assert fairuse.live_submissions(owner="alice", client_addr=None, at_most=5) == 5
    _limits(monkeypatch, hog=0, hard=5)
    with pytest.raises(TooManyActive) as refused:
        _run(alice, info)
    assert refused.value.active == 5  # counted up to the limit, not all 30


@pytest.mark.parametrize("client_addr, index", [(None, "ix_job_live_runs_owner"),
                                                 ("192.0.2.9", "ix_job_live_runs_addr")])
def test_the_count_reads_its_partial_index(users, client_addr, index):
    info = _pipeline(users["root"])
    _run(users["alice"], info, client_addr=client_addr)
    engine = get_engine()
    captured = {}

    def keep(conn, cursor, statement, parameters, context, executemany):
        if "DISTINCT" in statement and "workflow_id" in statement:
            captured["sql"], captured["params"] = statement, parameters

    sa.event.listen(engine, "before_cursor_execute", keep)
    try:
        assert fairuse.live_submissions(owner="alice", client_addr=client_addr, at_most=10) == 1
    finally:
        sa.event.remove(engine, "before_cursor_execute", keep)
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql("SET enable_seqscan = off")  # can the planner use the index at all?
            plan = conn.exec_driver_sql("EXPLAIN " + captured["sql"], captured["params"]).all()
        else:
            plan = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + captured["sql"], captured["params"]).all()
    text = "\n".join(str(row[-1]) for row in plan)
    assert index in text, text


# --- lost jobs go back on their priority's queue -----------------------------------------------------


def test_reconciler_reaper_and_retry_queue_a_job_again_at_its_priority(users):
    root = users["root"]
    conn = queues.redis_conn()
    high = queues.queue("system", "high")
    low = queues.queue("system", "low")
    # lost in a flush: the reconciler puts it back on the high queue
    lost = launch.launch_job(actor=root, job_type="SYSTEM", job_subtype="NOOP", payload={}, priority="high")
    assert high.count == 1
    conn.lrem(high.key, 0, rq_job_id(lost.id, 1))
    conn.delete(f"rq:job:{rq_job_id(lost.id, 1)}")
    assert high.count == 0
    assert launch.reconcile_pending(grace_s=0) == 1
    assert high.count == 1 and _depths("system") == {"high": 1, "normal": 0, "low": 0}
    # off its queue while its record still says queued (a worker killed between taking it and
    # a Redis restart): with every list of its backend empty it is on none, so lost too
    conn.lrem(high.key, 0, rq_job_id(lost.id, 1))
    assert conn.hget(f"rq:job:{rq_job_id(lost.id, 1)}", "status") == b"queued"
    assert launch.reconcile_pending(grace_s=0) == 1
    assert high.count == 1
    assert launch.reconcile_pending(grace_s=0) == 0  # on its queue now: left alone
    # popped by a worker that died before starting it: the reaper puts it back where it was
    conn.lmove(high.key, high.intermediate_queue_key)
    assert high.count == 0
    seen: dict = {}
    assert reaper.recover_lost_takes(["system"], seen=seen) == 0  # noted
    time.sleep(0.05)
    assert reaper.recover_lost_takes(["system"], seen=seen) == 1
    assert _depths("system") == {"high": 1, "normal": 0, "low": 0}
    # cancelled while waiting (it leaves its queue), then retried: back on the low queue it was lodged on
    slow = launch.launch_job(actor=root, job_type="SYSTEM", job_subtype="NOOP", payload={}, priority="low")
    assert low.count == 1
    launch.cancel_job(actor=root, job_id=slow.id)
    assert low.count == 0
    launch.retry_job(actor=root, job_id=slow.id)
    assert low.count == 1 and conn.lindex(low.key, 0).decode() == rq_job_id(slow.id, 2)
    run_workers()
    assert status(lost.id) == "SUCCEEDED" and status(slow.id) == "SUCCEEDED"
    assert all(queues.queue("system", p).count == 0 for p in PRIORITIES)


def test_a_delayed_automatic_retry_waits_on_its_prioritys_queue(users):
    from rq.registry import ScheduledJobRegistry

    from app import retries

    root = users["root"]
    job = launch.launch_job(actor=root, job_type="SYSTEM", job_subtype="FLAKY",
                            payload={"fail_attempts": 1}, priority="high")
    run_workers()  # attempt 1 fails; attempt 2 waits for its delay
    assert launch.get_job(job.id).attempt == 2 and status(job.id) == "PENDING"
    high = queues.queue("system", "high")
    assert rq_job_id(job.id, 2) in ScheduledJobRegistry(queue=high).get_job_ids()
    assert retries.scheduled_count("system") == 1
    wait_for(lambda: retries.release_due(["system"]) == 1, timeout=30)
    assert high.count == 1 and queues.queue("system").count == 0
    run_workers()
    assert status(job.id) == "SUCCEEDED"


def test_queue_names_name_backend_and_priority():
    from app.keys import backend_of_queue, priority_of_queue, queue_names

    assert queue_names("a:b") == [queue_name("a:b", "high"), queue_name("a:b"), queue_name("a:b", "low")]
    for backend in ("system", "a:b", "x-high", "high"):
        for p in PRIORITIES:
            assert (backend_of_queue(queue_name(backend, p)), priority_of_queue(queue_name(backend, p))) == (backend, p)
    assert PRIORITIES == ("high", "normal", "low")
