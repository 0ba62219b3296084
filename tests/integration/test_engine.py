"""The engine end to end against a real Redis server and real RQ workers: create,
version, model run and batch workflows with their provenance edges; crashes; jobs lodged
while Redis is down or lost in a flush; keyset paging."""

import pytest
import sqlalchemy as sa
from rq import SimpleWorker
from sqlmodel import select

from app import launch, paging, provenance, queries, queues, registry
from app.db import session
from app.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from app.lifecycle import JobStatus
from app.models import Activity, Batch, Job, JobMessage, ProvEdge
from app.state.views import sort_key
from tests.conftest import model_run_record, run_workers


def _jobs(**where):
    with session() as s:
        stmt = select(Job).order_by(Job.created_at)
        for k, v in where.items():
            stmt = stmt.where(getattr(Job, k) == v)
        return list(s.exec(stmt))


def _edges(record_id=None):
    with session() as s:
        stmt = select(ProvEdge)
        if record_id:
            stmt = stmt.where(ProvEdge.record_id == record_id)
        return {(e.subject, e.relation, e.object) for e in s.exec(stmt)}


def _messages(job_id):
    with session() as s:
        return [(m.status, m.text) for m in s.exec(select(JobMessage).where(JobMessage.job_id == job_id)
                                                   .order_by(JobMessage.id))]


def test_create_item_runs_its_workflow(users):
    alice = users["alice"]
    item, job = registry.create_item(actor=alice, subtype="DATASET", display_name="Rainfall")
    assert item.record_status == "INCOMPLETE" and job.status == "PENDING" and job.entity_id == item.id
    SimpleWorker([queues.queue("registry")], connection=queues.redis_conn()).work(burst=True, max_jobs=1)
    assert registry.get_item(item.id).record_status == "COMPLETE"  # registered, its PROV not lodged yet
    run_workers()
    register, lodge = _jobs(workflow_id=job.id)
    assert (register.job_subtype, lodge.job_subtype) == ("REGISTER_CREATE_ACTIVITY", "LODGE_CREATE_ACTIVITY")
    assert register.status == lodge.status == "SUCCEEDED"
    assert lodge.parent_job_id == register.id and lodge.entity_id == item.id
    assert register.result["lodge_session_id"] == lodge.id
    aid = register.result["activity_id"]
    assert _edges() == {(item.id, "wasGeneratedBy", aid), (aid, "wasAssociatedWith", "user/alice"),
                        (item.id, "wasAttributedTo", "user/alice")}
    assert registry.get_item(item.id).record_status == "LODGED"
    assert [s for s, _ in _messages(register.id)] == ["PENDING", "DEQUEUED", "IN_PROGRESS", "SUCCEEDED"]
    assert register.dequeued_at <= register.started_at <= register.finished_at
    graph = queries.item_workflow(item.id)
    assert {n["id"] for n in graph.nodes} == {register.id, lodge.id}
    assert graph.edges == [{"source": register.id, "target": lodge.id}] and graph.overall == "SUCCEEDED"


def test_version_item_runs_its_workflow(users):
    alice, bob = users["alice"], users["bob"]
    v1, _ = registry.create_item(actor=alice, subtype="MODEL", display_name="Water balance")
    run_workers()
    with pytest.raises(InvalidInput, match="reason"):
        registry.version_item(actor=alice, item_id=v1.id, reason="  ")
    with pytest.raises(PermissionDenied):
        registry.version_item(actor=bob, item_id=v1.id, reason="mine now")
    v2, job = registry.version_item(actor=alice, item_id=v1.id, reason="recalibrated")
    assert v2.version == 2 and v2.previous_version_id == v1.id
    with pytest.raises(Conflict, match="newer version"):
        registry.version_item(actor=alice, item_id=v1.id, reason="again")
    run_workers()
    register, lodge = _jobs(workflow_id=job.id)
    assert register.status == lodge.status == "SUCCEEDED"
    aid = register.result["activity_id"]
    assert _edges(aid) == {(v2.id, "wasGeneratedBy", aid), (aid, "used", v1.id),
                           (aid, "wasAssociatedWith", "user/alice"), (v2.id, "wasAttributedTo", "user/alice"),
                           (v2.id, "wasDerivedFrom", v1.id)}
    with session() as s:
        act = s.get(Activity, aid)
    assert act.kind == "Version" and act.record["reason"] == "recalibrated" and act.record["new_version_number"] == 2
    assert registry.get_item(v2.id).record_status == "LODGED"
    assert [i.id for i in registry.item_versions(v1.id)] == [v1.id, v2.id]


def test_model_run_lodges_its_graph(world, users):
    alice = users["alice"]
    job = launch.launch_job(actor=alice, job_type="PROV_LODGE", job_subtype="MODEL_RUN_PROV_LODGE",
                            payload={"record": model_run_record(world)})
    run_workers()
    job = launch.get_job(job.id)
    assert job.status == "SUCCEEDED", job.info
    run = job.result["record_id"]
    assert job.entity_id == run
    w = world
    assert _edges(run) == {
        (run, "used", w["wf"].id), (run, "wasAssociatedWith", w["person"].id),
        (run, "wasAssociatedWith", w["org"].id), (run, "used", w["rain"].id),
        (w["flow"].id, "wasGeneratedBy", run), (w["flow"].id, "wasAttributedTo", w["person"].id)}
    doc = provenance.export_prov_json(run)
    assert f"jd:{run}" in doc["activity"]
    assert f"jd:{w['rain'].id}" in doc["entity"] and f"jd:{w['person'].id}" in doc["agent"]
    assert any(r["prov:activity"] == f"jd:{run}" for r in doc["used"].values())
    assert any(r["prov:entity"] == f"jd:{w['flow'].id}" for r in doc["wasGeneratedBy"].values())


def test_model_run_naming_unknown_items_fails_with_the_reason(world, users):
    rec = model_run_record(world, inputs=[{"dataset_template_id": world["template"].id, "dataset_id": "nope"}])
    rec["associations"]["modeller_id"] = world["rain"].id  # a dataset, not a person
    job = launch.launch_job(actor=users["alice"], job_type="PROV_LODGE", job_subtype="MODEL_RUN_PROV_LODGE",
                            payload={"record": rec})
    run_workers()
    job = launch.get_job(job.id)
    assert job.status == "FAILED" and job.result is None
    # Provena's words for the first rule broken (the input, rule 6b), not the modeller's (rule 9)
    assert job.info.startswith("Failed to validate an entity's ID in the record, error: An input dataset "
                               "validation process failed")
    assert "Could not find the given key (nope)" in job.info and world["rain"].id not in job.info
    assert job.error_detail is None


def test_batch_submit_fans_out_with_counts(world, users):
    records = [model_run_record(world, display_name=f"run {i}") for i in range(5)]
    records[3]["outputs"] = [{"dataset_template_id": world["template"].id, "dataset_id": "missing"}]
    submit = launch.launch_job(actor=users["alice"], job_type="PROV_LODGE", job_subtype="MODEL_RUN_BATCH_SUBMIT",
                               payload={"records": records, "label": "five runs"})
    run_workers()
    submit = launch.get_job(submit.id)
    assert submit.status == "SUCCEEDED"
    batch_id = submit.result["batch_id"]
    with session() as s:
        batch = s.get(Batch, batch_id)
    assert (batch.total, batch.succeeded, batch.failed, batch.pending) == (5, 4, 1, 0)
    assert batch.label == "five runs" and batch.submission_job_id == submit.id
    children = queries.batch_jobs(viewer=users["alice"], batch_id=batch_id, limit=10).jobs
    assert len(children) == 5 and all(c.parent_job_id == submit.id for c in children)
    failed = queries.batch_jobs(viewer=users["alice"], batch_id=batch_id, failures_only=True).jobs
    assert [j.payload["record"]["display_name"] for j in failed] == ["run 3"]
    w = world
    runs = [c for c in children if c.status == "SUCCEEDED"]
    for c in runs:  # each run of the batch lodged its own graph, once
        run = c.result["record_id"]
        assert {e for e in _edges(run) if run in (e[0], e[2])} == {
            (run, "used", w["wf"].id), (run, "wasAssociatedWith", w["person"].id),
            (run, "wasAssociatedWith", w["org"].id), (run, "used", w["rain"].id),
            (w["flow"].id, "wasGeneratedBy", run)}
    assert len({c.result["record_id"] for c in runs}) == 4
    # the output's attribution to the modeller is one edge, whichever run lodged it first
    assert sum((w["flow"].id, "wasAttributedTo", w["person"].id) in _edges(c.result["record_id"])
               for c in runs) == 1
    assert _edges(failed[0].id) == set()  # the failed record lodged nothing
    with pytest.raises(NotFound):
        queries.batch_jobs(viewer=users["bob"], batch_id=batch_id)


def test_launch_batch_is_one_transaction_enqueued_in_bulk(users):
    root = users["root"]
    batch = launch.launch_batch(actor=root, job_type="SYSTEM", job_subtype="NOOP",
                                payloads=[{}] * 50, label="fifty")
    assert queues.queue("system").count == 50
    run_workers()
    with session() as s:
        b = s.get(Batch, batch.id)
    assert (b.total, b.succeeded) == (50, 50)
    assert queries.batch_counts(b)["SUCCEEDED"] == 50


def test_handlers_are_idempotent(users):
    """At-least-once execution: a lodge or a registration that runs again adds nothing."""
    from app.payloads import LodgeCreateActivity, RegisterCreateActivity
    from worker import tasks
    from worker.context import JobContext

    item, job = registry.create_item(actor=users["alice"], subtype="DATASET", display_name="Twice")
    run_workers()
    register, lodge = _jobs(workflow_id=job.id)
    edges_before, jobs_before = _edges(), len(_jobs())
    ctx = JobContext(job_id=register.id, attempt=1, owner="alice", job_type="REGISTRY",
                     job_subtype="REGISTER_CREATE_ACTIVITY", workflow_id=job.id, batch_id=None,
                     entity_id=item.id, worker="test")
    again = tasks.register_create_activity(ctx, RegisterCreateActivity(item_id=item.id))
    assert again.result.activity_id == register.result["activity_id"]
    assert again.next_jobs[0].key == "lodge"
    from app.db import write_conn
    from app.lifecycle import Transitioned
    parent = Transitioned(job_id=register.id, status=JobStatus.SUCCEEDED, prev_status=JobStatus.IN_PROGRESS,
                          attempt=1, owner="alice", batch_id=None, workflow_id=job.id, entity_id=item.id,
                          job_type="REGISTRY", job_subtype="REGISTER_CREATE_ACTIVITY", message="", at="")
    with write_conn() as conn:
        assert launch.lodge_next(conn, parent, again.next_jobs) == []
    for _ in range(2):
        tasks.lodge_create_activity(ctx, LodgeCreateActivity(item_id=item.id, activity_id=lodge.payload["activity_id"]))
    assert _edges() == edges_before and len(_jobs()) == jobs_before
    with session() as s:
        assert s.exec(sa.select(sa.func.count()).select_from(Activity)).one()[0] == 1


def test_duplicate_enqueue_runs_the_job_once(users):
    job = launch.launch_job(actor=users["root"], job_type="SYSTEM", job_subtype="NOOP", payload={})
    queues.enqueue([(job.id, 1, "system", None)])  # RQ refuses nothing: a second copy is queued
    run_workers()
    statuses = [s for s, _ in _messages(job.id)]
    assert statuses == ["PENDING", "DEQUEUED", "IN_PROGRESS", "SUCCEEDED"]


def test_handler_crash_gives_crashed_with_traceback_for_admins(users):
    job = launch.launch_job(actor=users["root"], job_type="SYSTEM", job_subtype="NOOP",
                            payload={"outcome": "crash"})
    run_workers()
    job = launch.get_job(job.id)
    assert job.status == "CRASHED"
    assert "internal error (RuntimeError)" in job.info and "Traceback" not in job.info
    assert "Traceback" in job.error_detail and "asked to crash" in job.error_detail


def test_failed_job_retried_keeps_history(users):
    root = users["root"]
    job = launch.launch_job(actor=root, job_type="SYSTEM", job_subtype="NOOP", payload={"outcome": "fail"})
    run_workers()
    assert launch.get_job(job.id).status == "FAILED"
    launch.retry_job(actor=root, job_id=job.id)
    run_workers()
    job = launch.get_job(job.id)
    assert job.status == "FAILED" and job.attempt == 2
    with session() as s:
        attempts = [m.attempt for m in s.exec(select(JobMessage).where(JobMessage.job_id == job.id))]
    assert attempts.count(1) == 4 and attempts.count(2) == 4


def test_cancel_pending_job_leaves_its_queue(users):
    root = users["root"]
    job = launch.launch_job(actor=root, job_type="SYSTEM", job_subtype="NOOP", payload={})
    assert queues.queue("system").count == 1
    with pytest.raises(NotFound):
        launch.cancel_job(actor=users["alice"], job_id=job.id)  # not hers: not even visible
    launch.cancel_job(actor=root, job_id=job.id)
    assert queues.queue("system").count == 0
    run_workers()
    assert launch.get_job(job.id).status == "CANCELLED"


def test_job_lodged_while_redis_is_down_runs_once_redis_is_back(users, redis_server):
    redis_server.stop()
    queues.reset_connections()
    item, job = registry.create_item(actor=users["alice"], subtype="DATASET", display_name="Offline")
    job = launch.get_job(job.id)
    assert job.status == "PENDING" and job.last_message == launch.WAITING
    assert [s for s, _ in _messages(job.id)] == ["PENDING", "PENDING"]
    redis_server.start()  # same port, empty: the job is in SQL only
    queues.reset_connections()
    assert launch.reconcile_pending(grace_s=0) == 1
    assert launch.reconcile_pending(grace_s=0) == 0  # now it is queued: nothing more to do
    run_workers()
    assert launch.get_job(job.id).status == "SUCCEEDED"
    assert registry.get_item(item.id).record_status == "LODGED"


def test_jobs_lost_in_a_redis_flush_are_queued_again(users):
    root = users["root"]
    ids = [launch.launch_job(actor=root, job_type="SYSTEM", job_subtype="NOOP", payload={}).id for _ in range(3)]
    queues.redis_conn().flushdb()
    assert launch.reconcile_pending(grace_s=0) == 3
    run_workers()
    assert {launch.get_job(i).status for i in ids} == {"SUCCEEDED"}


def test_keyset_paging_and_visibility(users):
    alice, bob, root = users["alice"], users["bob"], users["root"]
    for i in range(7):
        launch.launch_job(actor=root, job_type="SYSTEM", job_subtype="NOOP", payload={"sleep_s": i}, owner="alice")
    launch.launch_job(actor=root, job_type="SYSTEM", job_subtype="NOOP", payload={}, owner="bob")
    seen, cursor = [], None
    while True:
        page = queries.list_jobs(viewer=alice, cursor=cursor, limit=3)
        seen += page.jobs
        cursor = page.next_cursor
        if not cursor:
            break
    assert [j.payload["sleep_s"] for j in seen] == [6, 5, 4, 3, 2, 1, 0]
    assert len({j.id for j in seen}) == 7
    # A live list that trims its rows leaves the cursor after its last row from that
    # row's sort key: the same cursor the query gives, so Load more goes on from there.
    first = queries.list_jobs(viewer=alice, limit=3)
    assert paging.cursor_of_key(sort_key(first.jobs[-1])) == first.next_cursor
    assert all(j.owner == "alice" for j in seen)
    assert len(queries.list_jobs(viewer=bob).jobs) == 1
    assert len(queries.list_jobs(viewer=root, all_users=True).jobs) == 8
    assert len(queries.list_jobs(viewer=root, owner="bob").jobs) == 1
    assert len(queries.list_jobs(viewer=bob, owner="alice").jobs) == 1  # a user cannot widen the filter
    filtered = queries.list_jobs(viewer=alice, filters=queries.JobFilter(status="PENDING", job_type="SYSTEM"))
    assert len(filtered.jobs) == 7
    launch.launch_job(actor=root, job_type="SYSTEM", job_subtype="FLAKY", payload={}, owner="alice")
    by_subtype = queries.list_jobs(viewer=alice, filters=queries.JobFilter(job_type="SYSTEM", job_subtype="FLAKY"))
    assert [j.job_subtype for j in by_subtype.jobs] == ["FLAKY"]
    assert len(queries.list_jobs(viewer=alice, filters=queries.JobFilter(job_subtype="NOOP"), limit=50).jobs) == 7
    assert queries.status_counts(viewer=alice)["PENDING"] == 8
    with pytest.raises(InvalidInput):
        queries.list_jobs(viewer=alice, filters=queries.JobFilter(status="DONE"))
    with pytest.raises(InvalidInput):
        queries.list_jobs(viewer=alice, cursor="forged!")
    with pytest.raises(NotFound):
        launch.job_for(bob, seen[0].id)
