"""Bulk actions over real HTTP (uvicorn on a port) with the project's real RQ workers:
ids at once, every job matching a filter through a bulk job walked in small chunks,
a submission as one unit; exact summaries, permissions per job, the bulk job's
progress and audit entries, and hostile input answered 4xx naming the problem."""

from __future__ import annotations

import json

import httpx
import pytest

from app import audit, bulk_filter, counts, launch
from app.audit import AuditFilter
from app.errors import NotFound
from app.models import Job
from tests.conftest import run_workers
from tests.integration.api_live import LiveServer, token_for
from tests.pools import live_workers, messages, pools, set_backend, status, wait_for  # noqa: F401


@pytest.fixture
def http(jobdeck, users, monkeypatch):
    """An httpx client of a live server; `http.as_(name)` posts as that user."""
    from app.settings import reload_settings

    monkeypatch.setenv("JOBDECK_BULK_CHUNK", "3")  # chunks of 3: a walk of 10 jobs takes 4
    monkeypatch.setenv("JOBDECK_API_RATE_LIMIT", "0")
    reload_settings()
    server = LiveServer().start()
    tokens = {name: token_for(name) for name in users}
    client = httpx.Client(base_url=server.url, timeout=60)
    client.as_ = lambda name: {"Authorization": f"Bearer {tokens[name]}"}
    yield client
    client.close()
    server.stop()


def noops(users, owner: str, n: int, **payload) -> list[str]:
    """`n` NOOP jobs of `owner`, at low priority: a worker takes the bulk job (normal) first."""
    return [launch.launch_job(actor=users["root"], job_type="SYSTEM", job_subtype="NOOP", payload=payload,
                              owner=owner, priority="low").id for _ in range(n)]


def bulk(http, who: str, **body):
    return http.post("/api/jobs/bulk", json=body, headers=http.as_(who))


def problem(r, code: int, *words: str) -> dict:
    assert r.status_code == code, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    for w in words:
        assert w in body["detail"] or w == body.get("field"), body
    return body


def entries(action: str) -> list:
    rows, _ = audit.entries(viewer=_admin(), filters=AuditFilter(action=action), limit=100)
    return rows


def _admin():
    from app.auth import find_user

    return find_user("root")


# --- ids ---------------------------------------------------------------------------------


def test_cancel_by_ids_answers_an_exact_summary_and_touches_only_the_callers_jobs(http, users):
    done = noops(users, "alice", 1, outcome="fail")
    run_workers_only(done)
    mine = noops(users, "alice", 3)
    bobs = noops(users, "bob", 1)
    r = bulk(http, "alice", action="cancel", ids=[*mine, *done, bobs[0], "no-such-job", mine[0]])
    assert r.status_code == 200, r.text
    s = r.json()["summary"]
    assert (s["acted"], s["already_final"], s["not_yours"], s["looked_at"]) == (3, 1, 2, 6)
    assert s["summary"] == "3 cancelled, 1 already final, 2 not yours"
    assert s["outcomes"] == {**{j: "cancelled" for j in mine}, done[0]: "already_final",
                             bobs[0]: "not_yours", "no-such-job": "not_yours"}
    assert [status(j) for j in mine] == ["CANCELLED"] * 3 and status(bobs[0]) == "PENDING"
    assert messages(mine[0])[-1][2] == "Cancelled by alice (bulk action)"
    (entry,) = entries("jobs.cancel")
    assert (entry.actor, entry.outcome, entry.via, entry.message) == ("alice", "ok", "api", s["summary"])
    assert entries("job.cancel") == []  # one entry for the one action


def run_workers_only(job_ids):
    run_workers()
    assert all(status(j) in ("FAILED", "SUCCEEDED") for j in job_ids)


def test_retry_by_ids_only_moves_failed_crashed_or_cancelled_jobs(http, users):
    failed = noops(users, "alice", 2, outcome="fail")
    ok = noops(users, "alice", 1)
    run_workers()
    r = bulk(http, "alice", action="retry", ids=[*failed, *ok])
    s = r.json()["summary"]
    assert (s["acted"], s["not_retryable"], s["not_yours"]) == (2, 1, 0), s
    assert s["summary"] == "2 retried, 1 not FAILED, CRASHED or CANCELLED"
    assert [launch.get_job(j).attempt for j in failed] == [2, 2] and status(failed[0]) == "PENDING"
    run_workers()  # the new attempts are queued for real
    assert [status(j) for j in failed] == ["FAILED", "FAILED"]


def test_delete_is_for_admins_and_cancels_live_jobs_first(http, users):
    final = noops(users, "alice", 1, outcome="fail")
    run_workers_only(final)
    live = noops(users, "alice", 2)
    problem(bulk(http, "alice", action="delete", ids=live), 403, "admins")
    assert entries("jobs.delete")[0].outcome == "refused"
    before = counts.read("alice")
    r = bulk(http, "root", action="delete", ids=[*live, *final, "nope"])
    s = r.json()["summary"]
    assert (s["acted"], s["cancelled_first"], s["not_yours"]) == (3, 2, 1), s
    assert s["summary"] == "3 deleted (2 cancelled first), 1 not yours"
    after = counts.read("alice")
    assert before["PENDING"] - after["PENDING"] == 2 and before["FAILED"] - after["FAILED"] == 1
    with pytest.raises(NotFound):
        launch.get_job(live[0])


# --- a filter, through a bulk job ---------------------------------------------------------


def test_cancel_every_job_matching_a_filter_in_chunks_with_progress_and_a_summary(http, users):
    failed = noops(users, "alice", 2, outcome="fail")
    run_workers_only(failed)
    mine = noops(users, "alice", 10)  # PENDING, low priority
    bobs = noops(users, "bob", 3)
    dry = bulk(http, "alice", action="cancel", filter={}, dry_run=True).json()
    assert (dry["count"], dry["count_exact"], dry["job_id"]) == (10, True, None)
    assert all(status(j) == "PENDING" for j in mine)
    r = bulk(http, "alice", action="cancel", filter={})
    assert r.status_code == 202, r.text
    body = r.json()
    assert (body["count"], body["count_exact"]) == (10, True) and body["filter"].endswith("of alice")
    job_id = body["job_id"]
    assert r.headers["location"] == f"/api/jobs/{job_id}"
    assert body["job"]["job_type"] == "JOBS" and body["job"]["job_subtype"] == "BULK_ACTION"
    run_workers()  # the bulk job first (normal priority), then bob's
    got = http.get(f"/api/jobs/{job_id}", headers=http.as_("alice")).json()
    assert got["status"] == "SUCCEEDED" and got["progress"] == 1.0, got
    assert got["info"] == "10 cancelled" and got["result"]["acted"] == 10 and got["result"]["looked_at"] == 10
    assert [status(j) for j in mine] == ["CANCELLED"] * 10
    assert [status(j) for j in bobs] == ["SUCCEEDED"] * 3 and [status(j) for j in failed] == ["FAILED"] * 2
    said = [m[2] for m in messages(job_id)]
    assert "3 of 10 jobs: 3 cancelled" in said and "9 of 10 jobs: 9 cancelled" in said
    # one audit entry for the request, one per chunk of 3 (4 chunks), each naming the bulk job
    (lodged,) = entries("jobs.bulk")
    assert lodged.target == job_id and lodged.message == "cancel 10 jobs: status PENDING/DEQUEUED/IN_PROGRESS, of alice"
    chunks = entries("jobs.cancel")
    assert len(chunks) == 4 and {e.target for e in chunks} == {job_id} and {e.actor for e in chunks} == {"alice"}
    assert sorted(e.message for e in chunks) == ["1 cancelled", "3 cancelled", "3 cancelled", "3 cancelled"]


def test_retry_a_filter_of_a_batch_and_nothing_to_do_lodges_nothing(http, users):
    batch = launch.launch_batch(actor=users["root"], job_type="SYSTEM", job_subtype="NOOP", owner="alice",
                                payloads=[{"outcome": "fail"}] * 5 + [{}] * 2, label="mixed")
    run_workers()
    r = bulk(http, "alice", action="retry", filter={"batch_id": batch.id, "status": ["FAILED", "SUCCEEDED"]})
    assert r.status_code == 202 and r.json()["count"] == 5, r.text  # from the batch's counts: FAILED only
    run_workers()  # the bulk job retries 5; the new attempts fail again
    job = launch.get_job(r.json()["job_id"])
    assert job.info == "5 retried" and job.result["acted"] == 5
    failed = [j for j in launch_batch_jobs(batch.id) if j.status == "FAILED"]
    assert len(failed) == 5 and {j.attempt for j in failed} == {2}
    # bob may not touch alice's batch: it is not his
    problem(bulk(http, "bob", action="retry", filter={"batch_id": batch.id}), 404, "No batch")
    # a filter nothing matches: the count says so and no job is lodged
    none = bulk(http, "alice", action="cancel", filter={"batch_id": batch.id})
    assert none.status_code == 200 and none.json()["count"] == 0 and none.json()["job_id"] is None


def launch_batch_jobs(batch_id):
    from sqlmodel import select

    from app.db import session

    with session() as s:
        return list(s.exec(select(Job).where(Job.batch_id == batch_id)))


def test_admins_filter_scope_and_type_filters_are_counted_by_reading_the_index(http, users):
    noops(users, "alice", 4)
    noops(users, "bob", 2)
    users_only = bulk(http, "alice", action="cancel", filter={"all_users": True})
    problem(users_only, 403, "admins")
    problem(bulk(http, "alice", action="cancel", filter={"owner": "bob"}), 403, "admins")
    mine = bulk(http, "alice", action="cancel", filter={"owner": "alice", "job_type": "SYSTEM"}, dry_run=True).json()
    assert (mine["count"], mine["count_exact"]) == (4, True)
    everyone = bulk(http, "root", action="cancel", filter={"all_users": True, "job_subtype": "NOOP"}).json()
    assert everyone["count"] == 6 and everyone["filter"].endswith("of every user")
    run_workers()
    assert launch.get_job(everyone["job_id"]).info == "6 cancelled"
    assert counts.read("alice")["CANCELLED"] == 4 and counts.read("bob")["CANCELLED"] == 2


def test_a_count_past_its_cap_says_at_least(users):
    noops(users, "alice", 7)
    f = bulk_filter.parse(users["alice"], "cancel", {"job_type": "SYSTEM"})
    assert bulk_filter.count(f, cap=100) == bulk_filter.Count(7, True)
    got = bulk_filter.count(f, cap=4)
    assert not got.exact and got.n >= 4
    # the walk reads at most a chunk a query, newest first, each job once
    seen = [rows for rows in bulk_filter.walk(f, chunk=3)]
    assert [n for n, _ in seen] == [3, 3, 1] and len({r.id for _, rows in seen for r in rows}) == 7


# --- a submission --------------------------------------------------------------------------


def test_a_user_cancels_a_whole_batch_of_theirs_in_one_action(http, users):
    batch = launch.launch_batch(actor=users["root"], job_type="SYSTEM", job_subtype="NOOP", owner="alice",
                                payloads=[{}] * 4, label="four")
    problem(bulk(http, "bob", action="cancel", submission=batch.id), 404)
    problem(bulk(http, "alice", action="delete", submission=batch.id), 403, "admins")
    problem(bulk(http, "alice", action="retry", submission=batch.id), 422, "filter")
    dry = bulk(http, "alice", action="cancel", submission=batch.id, dry_run=True).json()
    assert (dry["count"], dry["summary"]) == (4, None)
    assert {j.status for j in launch_batch_jobs(batch.id)} == {"PENDING"}
    problem(bulk(http, "bob", action="cancel", submission=batch.id, dry_run=True), 404)
    r = bulk(http, "alice", action="cancel", submission=batch.id)
    assert r.status_code == 200 and r.json()["summary"]["summary"] == "4 cancelled", r.text
    assert {j.status for j in launch_batch_jobs(batch.id)} == {"CANCELLED"}
    assert entries("submission.cancel")[0].actor == "alice"


# --- hostile input ---------------------------------------------------------------------------


def test_hostile_bulk_requests_are_4xx_naming_the_problem_and_change_nothing(http, users):
    mine = noops(users, "alice", 2)
    cases = [
        (dict(action="cancel", ids=[f"id-{i}" for i in range(1001)]), 422, "ids"),
        (dict(action="explode", ids=mine), 422, "action"),
        (dict(action="cancel"), 422, "one of ids, filter or submission"),
        (dict(action="cancel", ids=mine, filter={}), 422, "not ids and filter"),
        (dict(action="cancel", ids=[]), 422, "ids"),
        (dict(action="cancel", ids=["bad\x00id"]), 422, "ids.0"),
        (dict(action="cancel", ids=[{"id": 1}]), 422, "ids.0"),
        (dict(action="cancel", filter={"colour": "red"}), 422, "filter.colour"),
        (dict(action="cancel", filter={"status": "DONE"}), 422, "DONE"),
        (dict(action="cancel", filter={"status": "SUCCEEDED"}), 422, "nothing to cancel"),
        (dict(action="retry", filter={"status": ["PENDING", "IN_PROGRESS"]}), 422, "nothing to retry"),
        (dict(action="cancel", filter={"since": "yesterday"}), 422, "filter.since"),
        (dict(action="cancel", filter={"owner": "root", "all_users": True}), 422, "exclude each other"),
        (dict(action="cancel", filter={"owner": "root"}), 403, "admins"),
        (dict(action="cancel", filter={"workflow_id": "nope"}), 404, "No workflow"),
        (dict(action="cancel", filter={"batch_id": "x" * 65}), 422, "batch_id"),
        (dict(action="delete", filter={}), 403, "admins"),
        (dict(action="cancel", filter="everything"), 422, "filter"),
        (dict(action="cancel", submission="no-such-thing"), 404, "No job or batch"),
    ]
    for body, code, word in cases:
        r = bulk(http, "alice", **body)
        assert r.status_code == code, (body, r.status_code, r.text)
        detail = r.json()
        assert word in detail["detail"] or word in str(detail.get("field")) or word in json.dumps(detail), (body, detail)
    assert problem(bulk(http, "root", action="cancel", filter={"owner": "root", "all_users": True}), 422,
                   "exclude each other")
    # a million ids: the body is over the size limit before anything reads it
    huge = http.post("/api/jobs/bulk", content=json.dumps({"action": "cancel", "ids": ["0" * 36] * 1_000_000}),
                     headers={**http.as_("alice"), "Content-Type": "application/json"})
    assert huge.status_code == 413, huge.text
    assert http.post("/api/jobs/bulk", content="{not json", headers={**http.as_("alice"),
                     "Content-Type": "application/json"}).status_code == 400
    assert [status(j) for j in mine] == ["PENDING", "PENDING"]
    assert entries("jobs.bulk") == [] or all(e.outcome == "refused" for e in entries("jobs.bulk"))


def test_delete_by_filter_cancels_running_jobs_first_and_waits_for_their_workers(http, users, pools):
    set_backend("system", max_workers=3, idle_timeout_s=30)
    pools("--backends", "system")
    running = noops(users, "alice", 2, sleep_s=60)
    wait_for(lambda: all(status(j) == "IN_PROGRESS" for j in running), message="both running")
    r = bulk(http, "root", action="delete", filter={"owner": "alice", "job_subtype": "NOOP"})
    assert r.status_code == 202 and (r.json()["count"], r.json()["count_exact"]) == (2, True), r.text
    job_id = r.json()["job_id"]
    wait_for(lambda: status(job_id) == "SUCCEEDED", timeout=40, message="the bulk job ended")
    assert launch.get_job(job_id).info == "2 deleted (2 cancelled first)"
    for j in running:
        with pytest.raises(NotFound):
            launch.get_job(j)
    assert counts.read("alice") == dict.fromkeys(counts.STATUSES, 0)
    wait_for(lambda: not [w for w in live_workers("system") if w.current_job_id in running], message="let go")


def _walk_shapes(users):
    """Each shape of filter, and the index its passes must read."""
    batch = launch.launch_batch(actor=users["root"], job_type="SYSTEM", job_subtype="NOOP", owner="alice",
                                payloads=[{}], label="one")
    job = launch.launch_job(actor=users["root"], job_type="SYSTEM", job_subtype="NOOP", payload={}, owner="alice")
    alice, root = users["alice"], users["root"]
    return [
        (alice, "cancel", {}, "ix_job_owner_status_created"),
        (root, "delete", {"owner": "alice"}, "ix_job_owner_created"),
        (root, "cancel", {"all_users": True}, "ix_job_status_created_id"),
        (alice, "retry", {"job_type": "SYSTEM"}, "ix_job_owner_type_created"),
        (root, "retry", {"all_users": True, "job_subtype": "NOOP"}, "ix_job_subtype_created"),
        (alice, "cancel", {"batch_id": batch.id}, "ix_job_batch_created"),
        (alice, "cancel", {"status": "PENDING", "workflow_id": job.id}, "ix_job_workflow_created_id"),
    ]


def _queries(users):
    from app.db import utcnow

    for actor, action, raw, index in _walk_shapes(users):
        f = bulk_filter.parse(actor, action, raw)
        for conds in bulk_filter.passes(f):
            for after in (None, (utcnow(), "z")):
                yield f, index, bulk_filter.page_query(conds, chunk=3, after=after)


@pytest.mark.sqlite_only
def test_each_walk_reads_one_index_in_its_order(users):
    """Every filter's pass is a search of one index (never a scan of the jobs, never a
    sort of what it found), after the keyset too."""
    import sqlalchemy as sa

    from app.db import get_engine

    with get_engine().connect() as conn:
        for f, index, q in _queries(users):
            sql = str(q.compile(conn, compile_kwargs={"literal_binds": True}))
            plan = " | ".join(r[-1] for r in conn.execute(sa.text("EXPLAIN QUERY PLAN " + sql)))
            assert f"USING INDEX {index}" in plan or f"USING COVERING INDEX {index}" in plan, (f, plan)
            # An index ending in created_at (a status's, a workflow's) leaves ties of one
            # time to be put in id order ("RIGHT PART"): never a sort of all it found.
            assert "TEMP B-TREE FOR ORDER BY" not in plan, (f, plan)


@pytest.mark.postgresql_only
def test_each_walk_reads_one_index_in_its_order_on_postgresql(users):
    """The same on PostgreSQL: an index read in its order, at most an incremental sort
    of ties (the planner asked whether it can use an index at all; which of the
    indexes that serve the order it picks among tied costs on a small table varies)."""
    from app.db import get_engine

    with get_engine().connect() as conn:
        conn.exec_driver_sql("SET enable_seqscan = off")
        for f, index, q in _queries(users):
            compiled = q.compile(conn)
            plan = "\n".join(r[0] for r in conn.exec_driver_sql("EXPLAIN " + str(compiled), compiled.params))
            assert "Index" in plan and "Seq Scan" not in plan and "Bitmap" not in plan, (f, plan)
            assert all("Incremental Sort" in line for line in plan.splitlines() if "Sort" in line
                       and "Sort Key" not in line and "Presorted" not in line), (f, plan)
