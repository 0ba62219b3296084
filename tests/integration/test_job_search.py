"""The jobs list sorted, searched and ranged (app.job_search, GET /api/jobs): each order
and search pages by its own cursor, a cursor of another order or a forged one is a 400
naming it, hostile values a 4xx naming the parameter; and each read is one index read
in its order on SQLite and on PostgreSQL (tests/plans.py)."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from app import job_search, launch, queries
from app.db import get_engine, session, utcnow
from app.models import Job
from tests.conftest import run_workers
from tests.plans import assert_reads_index


def _noops(users, owner, n, **kw):
    return [launch.launch_job(actor=users["root"], job_type="SYSTEM", job_subtype="NOOP", payload={}, owner=owner,
                              **kw) for _ in range(n)]


def _times(job_id, *, started_s=None, ran_ms=None, created_s=None):
    """A job's times set by hand, so an order is known without timing a worker."""
    now = utcnow()
    vals = {}
    if started_s is not None:
        vals["started_at"] = now - timedelta(seconds=started_s)
    if ran_ms is not None:
        vals["ran_ms"], vals["finished_at"] = ran_ms, now
    if created_s is not None:
        vals["created_at"] = now - timedelta(seconds=created_s)
    with session() as s:
        s.execute(sa.update(Job).where(Job.id == job_id).values(**vals))
        s.commit()


def _all(**kw):
    """Every page of a find, following its cursors."""
    seen, cursor = [], None
    while True:
        page = job_search.find_jobs(cursor=cursor, **kw)
        seen += [j.id for j in page.jobs]
        cursor = page.next_cursor
        if not cursor:
            return seen


def test_a_finished_job_keeps_how_long_it_ran_and_a_retry_clears_it(users):
    job = launch.launch_job(actor=users["root"], job_type="SYSTEM", job_subtype="NOOP", owner="alice",
                            payload={"sleep_s": 0.2, "outcome": "fail"})
    run_workers()
    done = launch.get_job(job.id)
    expected = (done.finished_at - done.started_at).total_seconds() * 1000
    assert done.ran_ms is not None and abs(done.ran_ms - expected) <= 2 and done.ran_ms >= 200
    launch.retry_job(actor=users["alice"], job_id=job.id)
    assert launch.get_job(job.id).ran_ms is None


def test_sorted_by_started_and_by_run_time_paged_by_their_own_cursors(users):
    jobs = _noops(users, "alice", 5)
    never = _noops(users, "alice", 1)[0]  # never started: in neither order
    for i, j in enumerate(jobs):
        _times(j.id, started_s=100 - i * 10, ran_ms=[300, 50, 9000, 50, 1][i])
    alice = users["alice"]
    started = _all(viewer=alice, sort="started", limit=2)
    assert started == [j.id for j in reversed(jobs)] and never.id not in started
    longest = _all(viewer=alice, sort="duration", limit=2)
    ties = sorted([jobs[1].id, jobs[3].id], reverse=True)  # equal run times: by id
    assert longest == [jobs[2].id, jobs[0].id, *ties, jobs[4].id]
    # a cursor of one order is refused by another, naming it
    page = job_search.find_jobs(viewer=alice, sort="duration", limit=2)
    for sort in ("created", "started"):
        try:
            job_search.find_jobs(viewer=alice, sort=sort, cursor=page.next_cursor, limit=2)
        except Exception as exc:
            assert exc.status_code == 400 and exc.field == "cursor"
        else:
            raise AssertionError(f"a duration cursor was taken by sort {sort}")


def test_search_by_id_prefix_batch_label_and_words_of_a_subject(users):
    mine = _noops(users, "alice", 3)
    batch = launch.launch_batch(actor=users["root"], owner="alice", job_type="SYSTEM", job_subtype="NOOP",
                                payloads=[{}] * 3, label="Soil moisture Q3")
    theirs = launch.launch_batch(actor=users["root"], owner="bob", job_type="SYSTEM", job_subtype="NOOP",
                                 payloads=[{}] * 2, label="Soil moisture bob")
    alice = users["alice"]
    got = job_search.find_jobs(viewer=alice, q=mine[1].id[:8])
    assert got.kind == "prefix" and mine[1].id in [j.id for j in got.jobs]
    assert all(j.owner == "alice" for j in got.jobs)
    words = job_search.find_jobs(viewer=alice, q="MOISTURE soil")
    assert words.kind == "subject" and {j.batch_id for j in words.jobs} == {batch.id}
    # an admin's everyone finds both owners' batches; a user never another's
    assert {j.batch_id for j in job_search.find_jobs(viewer=users["root"], all_users=True, q="moisture").jobs} \
        == {batch.id, theirs.id}
    assert job_search.find_jobs(viewer=alice, q="nothing like it").kind == "none"
    assert job_search.find_jobs(viewer=alice, q=batch.id).kind == "batch"
    # words paged by the order's cursor, each job once
    assert sorted(_all(viewer=alice, q="moisture", limit=2)) == sorted(j.id for j in words.jobs)


def test_a_bounded_search_says_where_it_stopped_and_load_more_goes_on(users, monkeypatch):
    monkeypatch.setattr(job_search, "WINDOW", 4)
    old = launch.launch_batch(actor=users["root"], owner="alice", job_type="SYSTEM", job_subtype="NOOP",
                              payloads=[{}], label="needle")
    _noops(users, "alice", 6)
    first = job_search.find_jobs(viewer=users["alice"], q="needle")
    assert (first.jobs, first.bounded, first.kind) == ([], True, "subject") and first.next_cursor
    nxt = job_search.find_jobs(viewer=users["alice"], q="needle", cursor=first.next_cursor)
    assert [j.batch_id for j in nxt.jobs] == [old.id] and nxt.next_cursor is None


def test_the_created_range_and_a_filter_with_another_sort(users):
    jobs = _noops(users, "alice", 4)
    for i, j in enumerate(jobs):
        _times(j.id, created_s=86400 * (4 - i), started_s=10 - i, ran_ms=10 * i)
    now = utcnow()
    f = queries.JobFilter(since=now - timedelta(days=3, hours=1), until=now - timedelta(days=1, hours=1))
    assert _all(viewer=users["alice"], filters=f) == [jobs[2].id, jobs[1].id]
    assert _all(viewer=users["alice"], filters=f, sort="duration") == [jobs[2].id, jobs[1].id]
    assert _all(viewer=users["alice"], filters=queries.JobFilter(status="PENDING"), sort="started", limit=1) \
        == [j.id for j in reversed(jobs)]


# --- the API ------------------------------------------------------------------------------


def test_the_api_sorts_searches_and_pages(api, users):
    jobs = _noops(users, "alice", 3)
    for i, j in enumerate(jobs):
        _times(j.id, started_s=5 - i, ran_ms=[7, 700, 70][i])
    h = api.as_("alice")
    first = api.get("/api/jobs", params={"sort": "duration", "limit": 2}, headers=h).json()
    assert [j["id"] for j in first["jobs"]] == [jobs[1].id, jobs[2].id] and first["next_cursor"]
    rest = api.get("/api/jobs", params={"sort": "duration", "limit": 2, "cursor": first["next_cursor"]},
                   headers=h).json()
    assert [j["id"] for j in rest["jobs"]] == [jobs[0].id] and rest["next_cursor"] is None
    found = api.get("/api/jobs", params={"q": jobs[0].id[:6]}, headers=h).json()
    assert found["search"] == "prefix" and jobs[0].id in [j["id"] for j in found["jobs"]]


def test_hostile_list_parameters_are_4xx_naming_them(api, users):
    for i, j in enumerate(_noops(users, "alice", 2)):
        _times(j.id, started_s=5, ran_ms=i)
    h = api.as_("alice")
    duration_cursor = api.get("/api/jobs", params={"sort": "duration", "limit": 1}, headers=h).json()["next_cursor"]
    cases = [
        ({"since": "yesterday"}, 422, "since"),
        ({"until": "2026-13-40"}, 422, "until"),
        ({"since": "2026-12-02T00:00:00Z", "until": "2026-12-01T00:00:00Z"}, 422, "until"),
        ({"since": "2026-12-01T00:00:00Z", "until": "2026-12-01T00:00:00Z"}, 422, "until"),
        ({"q": "x" * 5000}, 422, "q"),
        ({"q": "bad\x01text"}, 422, "control"),
        ({"sort": "random"}, 422, "sort"),
        ({"sort": "x" * 100}, 422, "sort"),
        ({"cursor": "bm90LWEtY3Vyc29y"}, 400, "cursor"),
        ({"cursor": "%%%"}, 400, "cursor"),
        ({"cursor": "x" * 5000}, 422, "cursor"),
        ({"sort": "started", "cursor": "c3RhcnRlZDpub3QtYS10aW1lfGFiYw=="}, 400, "cursor"),
        ({"sort": "created", "cursor": "<duration>"}, 400, "cursor"),
        ({"sort": "duration", "cursor": "cmFuOjk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5fGFiYw=="}, 400, "cursor"),
        ({"q": "soil", "sort": "started", "cursor": "<duration>"}, 400, "cursor"),
    ]
    for params, status, word in cases:
        params = {k: (duration_cursor if v == "<duration>" else v) for k, v in params.items()}
        r = api.get("/api/jobs", params=params, headers=h)
        assert r.status_code == status, (params, r.status_code, r.text)
        assert word in r.text, (params, r.text)


# --- plans ---------------------------------------------------------------------------------


def _many(n=6000):
    """Enough jobs of several owners, started and ran, that a planner would sooner scan
    and sort than read an index it does not need to; statistics taken."""
    import uuid

    now = utcnow()
    rows = [dict(id=str(uuid.uuid4()), owner=("alice", "bob", "carol")[i % 3], job_type="SYSTEM",
                 job_subtype="NOOP", status=("SUCCEEDED", "FAILED", "PENDING")[i % 3], attempt=1, payload={},
                 subject=f"run {i}", queue="default", priority="normal", created_at=now - timedelta(seconds=i),
                 updated_at=now, started_at=None if i % 3 == 2 else now - timedelta(seconds=i / 2),
                 ran_ms=None if i % 3 == 2 else i * 7 % 5000) for i in range(n)]
    engine = get_engine()
    with engine.begin() as conn:
        conn.execute(sa.insert(Job.__table__), rows)
        conn.exec_driver_sql("ANALYZE")


def _plan_statements(users):
    """(statement, parameters, index) of each order's first page and a load more, of one
    owner and of everyone's, and the created-time range; as the database gets them."""
    alice = users["alice"]
    _many()
    engine = get_engine()
    out = []
    for sort, mine, everyone in (("started", "ix_job_owner_started", "ix_job_started"),
                                 ("duration", "ix_job_owner_ran", "ix_job_ran"),
                                 ("created", "ix_job_owner_created", "ix_job_created")):
        page = job_search.find_jobs(viewer=alice, sort=sort, limit=1)
        for cursor in (None, page.next_cursor):
            for owner, index in (("alice", mine), (None, everyone)):
                for stmt in (job_search.statement(owner, sort, cursor, 26),
                             job_search.window_statement(owner, sort, cursor)):
                    compiled = stmt.compile(engine)
                    out.append((str(compiled), _params(compiled, engine), index))
    # the range of created, on each filter's index, through the panel's own read
    seen = []

    def grab(conn, cursor, statement, parameters, context, executemany):
        if "FROM job" in statement and "ORDER BY" in statement and "created_at >=" in statement:
            seen.append((statement, parameters))

    now = utcnow()
    sa.event.listen(engine, "before_cursor_execute", grab)
    try:
        for f in (queries.JobFilter(since=now - timedelta(days=1), until=now),
                  queries.JobFilter(since=now - timedelta(days=1), status="PENDING")):
            first = job_search.find_jobs(viewer=alice, filters=f, limit=1)
            job_search.find_jobs(viewer=alice, filters=f, limit=1, cursor=first.next_cursor)
    finally:
        sa.event.remove(engine, "before_cursor_execute", grab)
    assert len(seen) == 4
    wanted = ["ix_job_owner_created"] * 2 + ["ix_job_owner_status_created"] * 2
    out += [(st, p, ix) for (st, p), ix in zip(seen, wanted)]
    return out


def _params(compiled, engine):
    if engine.dialect.name == "sqlite":
        return tuple(_bind(compiled, k) for k in compiled.positiontup)
    return {k: _bind(compiled, k) for k in compiled.params}


def _bind(compiled, key):
    """A parameter as the driver gets it (times as stored: naive UTC)."""
    value = compiled.params[key]
    proc = compiled.binds[key].type._cached_bind_processor(compiled.dialect)
    return proc(value) if proc else value


def test_each_order_range_and_search_reads_its_index_in_order(users, monkeypatch):
    # a window that is a small part of one owner's jobs, as at scale (2,000 of a million)
    monkeypatch.setattr(job_search, "WINDOW", 200)
    engine = get_engine()
    for statement, parameters, index in _plan_statements(users):
        assert_reads_index(engine, statement, parameters, index, "job")


def test_an_id_prefix_reads_the_primary_key(users):
    engine = get_engine()
    _noops(users, "alice", 3)
    seen = []

    def grab(conn, cursor, statement, parameters, context, executemany):
        if "FROM job" in statement and "ORDER BY job.id" in statement:
            seen.append((statement, parameters))

    sa.event.listen(engine, "before_cursor_execute", grab)
    try:
        job_search.find_jobs(viewer=users["alice"], q="0123abcd")
        job_search.find_jobs(viewer=users["root"], all_users=True, q="0123abcd")
    finally:
        sa.event.remove(engine, "before_cursor_execute", grab)
    assert len(seen) == 2
    everyone = "sqlite_autoindex_job_1" if engine.dialect.name == "sqlite" else "job_pkey"
    for (statement, parameters), index in zip(seen, ["ix_job_owner_id", everyone]):
        assert_reads_index(engine, statement, parameters, index, "job")


def test_an_admin_lists_everyones_jobs_by_run_time_and_words(api, users):
    a = _noops(users, "alice", 1)[0]
    b = _noops(users, "bob", 1)[0]
    _times(a.id, started_s=3, ran_ms=10)
    _times(b.id, started_s=3, ran_ms=20)
    got = api.get("/api/admin/jobs", params={"sort": "duration"}, headers=api.as_("root")).json()
    assert [j["id"] for j in got["jobs"]] == [b.id, a.id]
    bobs = api.get("/api/admin/jobs", params={"sort": "duration", "username": "bob"}, headers=api.as_("root")).json()
    assert [j["id"] for j in bobs["jobs"]] == [b.id]
    assert api.get("/api/admin/jobs", params={"sort": "slowest"}, headers=api.as_("root")).status_code == 422
