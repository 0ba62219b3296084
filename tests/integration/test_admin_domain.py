"""What the admin console calls in the domain: changing a backend (checked, all or
nothing), the submissions list (roots and lone batches, newest first by keyset, one
status for each as a whole), and the configuration as admins read it."""

import re

import pytest
import sqlalchemy as sa
from rq import SimpleWorker

from app import backends, configuration, launch, queues, registry, submissions, workers
from app.db import get_engine, session
from app.errors import InvalidInput, NotFound, PermissionDenied
from app.models import Backend
from app.submissions import overall_status
from tests.conftest import model_run_record, run_workers


def _row(name):
    with session() as s:
        return s.exec(sa.select(Backend).where(Backend.name == name)).scalars().first()


def test_update_backend_checks_every_field_before_writing(users):
    root, alice = users["root"], users["alice"]
    with pytest.raises(PermissionDenied):
        backends.update_backend(actor=alice, name="system", max_workers=3)
    with pytest.raises(NotFound, match="No backend 'nope'"):
        backends.update_backend(actor=root, name="nope", max_workers=3)
    bad = [({"max_workers": -1}, "max_workers", "between 0 and 100"),
           ({"max_workers": 101}, "max_workers", "out of range"),
           ({"idle_timeout_s": 0}, "idle_timeout_s", "Idle timeout must be between 1"),
           ({"idle_timeout_s": "two minutes"}, "idle_timeout_s", "whole number"),
           ({"job_timeout_s": 1.5}, "job_timeout_s", "whole number"),
           ({"max_workers": True}, "max_workers", "whole number"),
           # a good value next to a bad one: nothing is written
           ({"max_workers": 4, "job_timeout_s": -5}, "job_timeout_s", "Job time limit")]
    for values, field, text in bad:
        with pytest.raises(InvalidInput, match=text) as err:
            backends.update_backend(actor=root, name="system", **values)
        assert err.value.field == field
    assert _row("system") is None  # no row was made by a refused change
    assert backends.backend_config("system").max_workers == 2  # JOBDECK_WORKERS

    # The first change makes the row from what applied so far; fields left out keep it.
    got = backends.update_backend(actor=root, name="system", max_workers="5")
    assert (got.max_workers, got.idle_timeout_s, got.job_timeout_s, got.configured) == (5, 120, None, True)
    got = backends.update_backend(actor=root, name="system", idle_timeout_s=30, job_timeout_s=90)
    assert (got.max_workers, got.idle_timeout_s, got.job_timeout_s) == (5, 30, 90)
    row = _row("system")
    assert (row.max_workers, row.idle_timeout_s, row.job_timeout_s) == (5, 30, 90)
    # what the overview reads, and what the runner applies
    (st,) = [b for b in workers.backend_status() if b.name == "system"]
    assert (st.max_workers, st.idle_timeout_s, st.job_timeout_s) == (5, 30, 90)
    assert backends.time_limit(job_type="SYSTEM", job_subtype="NOOP") == 90
    # 0 workers pauses the backend, and a stuck job says why
    backends.update_backend(actor=root, name="system", max_workers=0, job_timeout_s=0)
    assert backends.backend_config("system").job_timeout_s is None
    assert "set to 0 workers" in workers.backend_unavailable(backend="system")


def test_overall_status_of_a_submission():
    c = lambda **kw: {s: kw.get(s, 0) for s in ("PENDING", "DEQUEUED", "IN_PROGRESS", "SUCCEEDED", "FAILED",
                                                 "CRASHED", "CANCELLED")}
    assert overall_status(c(PENDING=3)) == "PENDING"
    assert overall_status(c(DEQUEUED=1, PENDING=2)) == "DEQUEUED"
    assert overall_status(c(SUCCEEDED=1, PENDING=1)) == "IN_PROGRESS"  # step 1 done, step 2 waits
    assert overall_status(c(IN_PROGRESS=1, FAILED=1)) == "IN_PROGRESS"  # still going
    assert overall_status(c(SUCCEEDED=5, FAILED=1, CRASHED=1)) == "CRASHED"
    assert overall_status(c(SUCCEEDED=5, CANCELLED=1, FAILED=1)) == "FAILED"
    assert overall_status(c(SUCCEEDED=1, CANCELLED=1)) == "CANCELLED"
    assert overall_status(c(SUCCEEDED=2)) == "SUCCEEDED"


def test_submissions_are_roots_and_lone_batches_newest_first(users, world):
    root, alice, bob = users["root"], users["alice"], users["bob"]
    with pytest.raises(PermissionDenied):
        submissions.list_submissions(viewer=alice)
    with pytest.raises(InvalidInput) as err:
        submissions.list_submissions(viewer=root, limit=0)
    assert err.value.field == "limit"
    # the world's items: a create workflow of two jobs each, all done
    first = submissions.list_submissions(viewer=root, limit=50).submissions
    assert len(first) == len(world) and all(s.kind == "job" and s.jobs == 2 and s.finished == 2 for s in first)
    assert {s.status for s in first} == {"SUCCEEDED"} and first[0].aa_status == "COMPLETE"
    assert first[0].job_subtype == "REGISTER_CREATE_ACTIVITY" and first[0].last_message.startswith("Succeeded")

    batch = launch.launch_batch(actor=root, job_type="SYSTEM", job_subtype="NOOP", payloads=[{}] * 4,
                                label="four noops", owner="bob")
    submit = launch.launch_job(actor=alice, job_type="PROV_LODGE", job_subtype="MODEL_RUN_BATCH_SUBMIT",
                               payload={"records": [model_run_record(world, display_name=f"r{i}")
                                                    for i in range(3)]})
    # the submission runs and fans out its batch of three; none of those ran yet
    SimpleWorker([queues.queue("prov")], connection=queues.redis_conn()).work(burst=True, max_jobs=1)
    lone = launch.launch_job(actor=root, job_type="SYSTEM", job_subtype="NOOP", payload={}, owner="bob")

    page = submissions.list_submissions(viewer=root, limit=50).submissions
    assert [s.id for s in page[:3]] == [lone.id, submit.id, batch.id]
    assert len(page) == len(world) + 3  # the batch counts once, the fanned-out batch not at all
    by = {s.id: s for s in page}
    b = by[batch.id]
    assert (b.kind, b.owner, b.label, b.jobs, b.finished, b.job_subtype) == ("batch", "bob", "four noops", 4, 0, "NOOP")
    assert (b.status, b.aa_status, b.last_message) == ("PENDING", "SUBMITTED", "0 of 4 finished")
    s = by[submit.id]
    assert (s.kind, s.jobs, s.finished, s.status, s.aa_status) == ("job", 4, 1, "IN_PROGRESS", "RUNNING")
    assert s.last_message.endswith("batch: 0 of 3 finished") and len(s.batch_ids) == 1

    run_workers()
    now = submissions.submission_summaries(viewer=root, ids=[batch.id, submit.id, lone.id, "no-such-id"])
    assert set(now) == {batch.id, submit.id, lone.id}
    assert {x.status for x in now.values()} == {"SUCCEEDED"} and now[submit.id].finished == 4

    # keyset pages: every submission once, in order, whatever the page size
    for size in (1, 2, 4):
        seen, cursor = [], None
        while True:
            p = submissions.list_submissions(viewer=root, cursor=cursor, limit=size)
            seen += [x.id for x in p.submissions]
            cursor = p.next_cursor
            if cursor is None:
                break
        assert seen == [x.id for x in page]
    mine = submissions.list_submissions(viewer=root, owner=" bob ").submissions
    assert [x.id for x in mine] == [lone.id, batch.id]
    assert submissions.list_submissions(viewer=root, owner="carol").submissions == []
    with pytest.raises(InvalidInput) as err:
        submissions.list_submissions(viewer=root, cursor="not-a-cursor")
    assert err.value.field == "cursor"
    with pytest.raises(PermissionDenied):
        submissions.submission_summaries(viewer=bob, ids=[lone.id])


def test_cancelled_and_deleted_submissions_as_the_list_shows_them(users):
    root, alice = users["root"], users["alice"]
    _, wf = registry.create_item(actor=alice, subtype="DATASET", display_name="Stopped early")
    keep = launch.launch_job(actor=root, job_type="SYSTEM", job_subtype="NOOP", payload={}, owner="alice")
    (s,) = submissions.submission_summaries(viewer=root, ids=[wf.id]).values()
    assert (s.status, s.aa_status) == ("PENDING", "SUBMITTED")
    done = submissions.cancel_submission(actor=root, submission_id=wf.id)
    assert done.cancelled == [wf.id]
    (s,) = submissions.submission_summaries(viewer=root, ids=[wf.id]).values()
    assert (s.status, s.aa_status, s.last_message) == ("CANCELLED", "CANCELLED", "Cancelled with its submission by root")
    gone = submissions.delete_submission(actor=root, submission_id=keep.id)
    assert (gone.jobs_deleted, gone.cancelled) == (1, 1)
    assert [x.id for x in submissions.list_submissions(viewer=root, owner="alice").submissions] == [wf.id]


def _plan(sql: str, params: tuple) -> str:
    with get_engine().connect() as conn:
        return " ".join(r[-1] for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params).all())


@pytest.mark.sqlite_only
def test_an_index_serves_every_submissions_query(jobdeck):
    """The four queries of a page (jobs, batches; everyone's or one owner's) each search
    an index in order: no scan of the table, no sort. Everyone's root jobs are those with
    batch_id NULL in ix_job_batch_created (workflow steps skipped on the way); one owner's
    have a partial index, since a user's bulk batches would otherwise be walked."""
    from app.submissions import _LONE_BATCH, _ROOT_JOB, _batch, _job
    from app.db import utcnow

    eng = get_engine()
    # One owner's root jobs: SQLite's planner picks the partial index or the owner index
    # depending on its statistics; both search in order without a sort.
    expected = {("job", None): "ix_job_batch_created",
                ("job", "alice"): "(ix_job_root_owner_created|ix_job_owner_created)",
                ("batch", None): "ix_batch_submission_created", ("batch", "alice"): "ix_batch_owner_created"}
    for t, where in ((_job, _ROOT_JOB), (_batch, _LONE_BATCH)):
        for owner in (None, "alice"):
            q = sa.select(t.c.id, t.c.created_at).where(*where)
            if owner:
                q = q.where(t.c.owner == owner)
            q = q.where(sa.tuple_(t.c.created_at, t.c.id) < (utcnow(), "x"))
            q = q.order_by(t.c.created_at.desc(), t.c.id.desc()).limit(26)
            c = q.compile(eng)
            params = tuple(str(v.replace(tzinfo=None)) if hasattr(v, "tzinfo") else v
                           for v in (c.params[k] for k in c.positiontup))
            plan = _plan(str(c), params)
            index = expected[(t.name, owner)]
            assert re.match(rf"SEARCH {t.name} USING (COVERING )?INDEX {index} ", plan), (owner, plan)
            assert "TEMP B-TREE" not in plan, (t.name, owner, plan)


def test_configuration_reads_backends_tasks_and_pipelines(users):
    from app import pipelines

    root, alice = users["root"], users["alice"]
    with pytest.raises(PermissionDenied):
        configuration.read_configuration(actor=alice)
    empty = configuration.read_configuration(actor=root)
    assert (empty.backends, empty.tasks, empty.pipelines) == ([], [], [])
    with session(write=True) as s:
        s.add(Backend(name="hpc", max_workers=8))
    pipelines.create_task(actor=root, name="count-lines", command="wc -l {input}", input_glob="*.txt")
    pipelines.create_task(actor=root, name="sort", command="sort {input}", input_glob="*.txt")
    pipelines.create_pipeline(actor=root, name="count-then-sort", steps=[
        {"order": 2, "task": "sort"}, {"order": 1, "task": "count-lines"}])
    got = configuration.read_configuration(actor=root)
    assert [b.name for b in got.backends] == ["hpc"]
    assert [t.name for t in got.tasks] == ["count-lines", "sort"]
    assert [(p.name, [(st.order, st.task) for st in p.steps]) for p in got.pipelines] == [
        ("count-then-sort", [(1, "count-lines"), (2, "sort")])]


def test_worker_status_is_for_admins_and_services(users):
    from app import auth

    service = auth.create_user(username="svc", password="svc-password", role="service")
    reads = (lambda v: workers.list_workers(viewer=v), lambda v: workers.list_pools(viewer=v),
             lambda v: workers.backend_status(viewer=v), lambda v: workers.stuck_jobs(viewer=v))
    for read in reads:
        with pytest.raises(PermissionDenied, match="for admins"):
            read(users["alice"])
        assert isinstance(read(users["root"]), list) and isinstance(read(service), list)
    assert {b.name for b in workers.backend_status(viewer=users["root"])} >= {"prov", "registry", "system"}


def test_stuck_jobs_read_each_backends_oldest_through_its_queue_index(users, monkeypatch):
    """The admin overview's stuck jobs: per stalled backend, the oldest waiting jobs'
    keys through ix_job_status_queue_created (no scan of every waiting job, no sort),
    and the oldest of them all returned, oldest first."""
    from tests.plans import assert_reads_index

    from datetime import datetime, timedelta, timezone

    from app.models import Job

    root = users["root"]
    monkeypatch.setattr(workers, "backend_unavailable", lambda backend: f"no worker serves {backend}")
    ids = [launch.launch_job(actor=root, job_type="SYSTEM", job_subtype="NOOP", payload={}, owner="alice").id
           for _ in range(3)]
    long_ago = datetime(2020, 1, 1, tzinfo=timezone.utc)
    with session(write=True) as s:  # waiting for years, oldest first
        for i, j in enumerate(ids):
            job = s.get(Job, j)
            job.created_at = job.updated_at = long_ago + timedelta(seconds=i)
    engine = get_engine()
    seen: list = []

    def grab(conn, cursor, statement, parameters, context, executemany):
        if "FROM job" in statement and "ORDER BY" in statement and "queue" in statement:
            seen.append((statement, parameters))

    sa.event.listen(engine, "before_cursor_execute", grab)
    try:
        stuck = workers.stuck_jobs(viewer=root, limit=2)
    finally:
        sa.event.remove(engine, "before_cursor_execute", grab)
    assert [s.job.id for s in stuck] == ids[:2] and "no worker serves system" in stuck[0].reason
    assert seen, "no per-backend read seen"
    for statement, parameters in seen:
        assert_reads_index(engine, statement, parameters, "ix_job_status_queue_created", "job")
