"""A pipeline run's files in one place and as one zip, and a pipeline's past runs, over
real HTTP with real workers: the zip holds every step's files under its step's folder;
only the owner, admins and (for a public pipeline's run) anyone with its id get it;
forged ids, someone else's run and a run past the size bound are refused with a 4xx;
a file outside the run's directory is never served. Past runs page newest first, the
viewer's own (admins: everyone's), and their query reads its index in order."""

from __future__ import annotations

import io
import zipfile

import httpx
import pytest
import sqlalchemy as sa

from tests.plans import assert_reads_index
from tests.conftest import run_workers
from tests.integration.api_live import LiveServer, token_for

TEXT = b"pear\napple\nfig\nbanana\n"


@pytest.fixture
def live(jobdeck, users):
    from app import pipelines

    root = users["root"]
    pipelines.create_task(actor=root, name="sort", command="sort {input} -o {output_dir}/sorted.txt",
                          output_glob="sorted.txt", timeout_s=60)
    pipelines.create_task(actor=root, name="count", command="sh -c 'wc -l < \"$0\" > \"$1/count.txt\"' {input} "
                                                            "{output_dir}", output_glob="count.txt", timeout_s=60)
    pipelines.create_task(actor=root, name="head", command="sh -c 'head -n 1 \"$0\" > \"$1/first.txt\"' {input} "
                                                           "{output_dir}", output_glob="first.txt", timeout_s=60)
    pipelines.create_pipeline(actor=root, name="fan", steps=[{"order": 1, "task": "sort"},
                                                             {"order": 1, "task": "count"},
                                                             {"order": 2, "task": "head"}])
    pipelines.create_pipeline(actor=root, name="open fan", public=True, steps=[{"order": 1, "task": "sort"}])
    server = LiveServer().start()
    server.tokens = {n: token_for(n) for n in ("alice", "bob", "root")}
    try:
        yield server
    finally:
        server.stop()


def _get(live, path, who=None, **kw):
    headers = {"Authorization": f"Bearer {live.tokens[who]}"} if who else {}
    return httpx.get(live.url + path, headers=headers, timeout=30, **kw)


def _run(who: str, pipeline: str = "fan", content: bytes = TEXT) -> str:
    from app import auth, pipelines

    user = auth.get_user(who) if who != "anonymous" else __import__("app.aa_compat").aa_compat.anonymous_user()
    return pipelines.run_pipeline(actor=user, pipeline=pipeline, file_name="fruit.txt", content=content).id


def _members(r: httpx.Response) -> dict[str, bytes]:
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(r.content)) as z:
        assert z.testzip() is None
        return {n: z.read(n) for n in z.namelist()}


def test_a_runs_zip_holds_every_steps_files_under_its_step(live, users):
    root = _run("alice")
    run_workers()
    listed = _get(live, f"/api/pipelines/runs/{root}/files", "alice")
    assert listed.status_code == 200, listed.text
    body = listed.json()
    assert body["name"] == "fan on fruit.txt"
    assert [(f["order"], f["task"], f["name"], f["member"]) for f in body["files"]] == [
        (1, "sort", "sorted.txt", "1-sort/sorted.txt"), (1, "count", "count.txt", "1-count/count.txt"),
        (2, "head", "first.txt", "2-head/first.txt")]
    assert body["total_size"] == sum(f["size"] for f in body["files"])

    r = _get(live, f"/api/pipelines/runs/{root}/files.zip", "alice")
    assert 'filename="fan-on-fruit.txt-' in r.headers["content-disposition"]
    members = _members(r)
    assert members == {"1-sort/sorted.txt": b"apple\nbanana\nfig\npear\n", "1-count/count.txt": b"4\n",
                       "2-head/first.txt": b"apple\n"}
    # one step's file as the job's own route serves it: the same bytes
    sort_step = body["files"][0]
    one = _get(live, sort_step["download"], "alice")
    assert one.content == members["1-sort/sorted.txt"]
    # an admin gets it too; HEAD answers as GET without the body
    assert _members(_get(live, f"/api/pipelines/runs/{root}/files.zip", "root")) == members
    assert httpx.head(f"{live.url}/api/pipelines/runs/{root}/files.zip",
                      headers={"Authorization": f"Bearer {live.tokens['alice']}"}).status_code == 200


def test_someone_elses_run_forged_ids_and_no_token_read_as_no_run(live, users):
    root = _run("alice")
    run_workers()
    from app.launch import get_job

    step = next(j for j in __import__("app.pipelines").pipelines.run_steps(root) if j.id != root)
    for path in (f"/api/pipelines/runs/{root}/files.zip", f"/api/pipelines/runs/{root}/files"):
        r = _get(live, path, "bob")
        assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json", r.text
        assert r.json()["detail"] == f"No pipeline run {root}."
        assert _get(live, path).status_code == 404  # no token: a private run is no run
    forged = root[:-1] + ("0" if root[-1] != "0" else "1")
    for rid in (forged, step.id, "x" * 64, "a.b", "..."):
        r = _get(live, f"/api/pipelines/runs/{rid}/files.zip", "alice")
        assert r.status_code == 404, (rid, r.status_code, r.text)
    for rid in ("..", "%2e%2e%2f%2e%2e", "%00"):  # paths that lead elsewhere, control characters: a 4xx
        r = _get(live, f"/api/pipelines/runs/{rid}/files.zip", "alice")
        assert 400 <= r.status_code < 500 and r.headers["content-type"] != "application/zip", (rid, r.status_code)
    assert _get(live, f"/api/pipelines/runs/{'y' * 65}/files.zip", "alice").status_code == 422
    assert _get(live, f"/api/pipelines/runs/{root}/files.zip", "alice", params={"ticket": "1.alice.x"}).status_code \
        == 200  # a token wins over a ticket
    bad = _get(live, f"/api/pipelines/runs/{root}/files.zip", params={"ticket": "9999999999.alice.forged"})
    assert bad.status_code == 401 and "download again" in bad.json()["detail"]
    assert get_job(root).owner == "alice"


def test_a_console_ticket_is_for_one_user_one_run_and_a_short_while(live, users):
    from app import runfiles

    root, other = _run("alice"), _run("alice")
    run_workers()
    t = runfiles.ticket(users["alice"], root)
    assert _members(_get(live, f"/api/pipelines/runs/{root}/files.zip", params={"ticket": t}))
    assert _get(live, f"/api/pipelines/runs/{other}/files.zip", params={"ticket": t}).status_code == 401
    old = runfiles.ticket(users["alice"], root, now=1_000_000)
    assert _get(live, f"/api/pipelines/runs/{root}/files.zip", params={"ticket": old}).status_code == 401
    bobs = runfiles.ticket(users["bob"], root)  # a genuine ticket of someone who may not see the run
    assert _get(live, f"/api/pipelines/runs/{root}/files.zip", params={"ticket": bobs}).status_code == 404
    forged = t.replace(".alice.", ".root.")
    assert _get(live, f"/api/pipelines/runs/{root}/files.zip", params={"ticket": forged}).status_code == 401


def test_a_public_pipelines_run_is_reached_by_its_uuid_alone(live, users):
    root = _run("anonymous", "open fan")
    run_workers()
    members = _members(_get(live, f"/api/pipelines/runs/{root}/files.zip"))
    assert members == {"1-sort/sorted.txt": b"apple\nbanana\nfig\npear\n"}
    assert _get(live, f"/api/pipelines/runs/{root}/files.zip", "bob").status_code == 200
    # anyone with the id: but a user's own run stays theirs
    mine = _run("alice", "open fan")
    run_workers()
    assert _get(live, f"/api/pipelines/runs/{mine}/files.zip").status_code == 404


def test_a_file_outside_the_runs_directory_is_never_served_and_the_size_is_bounded(live, users, monkeypatch):
    from app.db import write_conn
    from app.models import JobFile
    from app.settings import get_settings, reload_settings

    root = _run("alice")
    run_workers()
    secret = get_settings().data_dir / "secret.txt"
    secret.write_bytes(b"not yours")
    other = _run("bob")
    run_workers()
    from app.pipelines import run_steps

    t = JobFile.__table__
    steps, others = [j.id for j in run_steps(root)], [j.id for j in run_steps(other)]
    with write_conn() as conn:  # bad rows: a file at the data directory's top, one in another run
        conn.execute(sa.update(t).where(t.c.job_id == root, t.c.name == "sorted.txt")
                     .values(stored_path=str(secret)))
        bobs = conn.execute(sa.select(t.c.stored_path).where(t.c.job_id.in_(others), t.c.name == "count.txt")
                            ).scalar()
        conn.execute(sa.update(t).where(t.c.job_id.in_(steps), t.c.name == "count.txt").values(stored_path=bobs))
    members = _members(_get(live, f"/api/pipelines/runs/{root}/files.zip", "alice"))
    assert set(members) == {"2-head/first.txt", "MISSING.txt"}
    assert b"1-sort/sorted.txt" in members["MISSING.txt"] and b"1-count/count.txt" in members["MISSING.txt"]
    assert b"not yours" not in b"".join(members.values())

    monkeypatch.setenv("JOBDECK_MAX_ZIP_BYTES", "5")
    reload_settings()
    r = _get(live, f"/api/pipelines/runs/{root}/files.zip", "alice")
    assert r.status_code == 413 and r.headers["content-type"] == "application/problem+json"
    assert "JOBDECK_MAX_ZIP_BYTES" in r.json()["detail"] and "one by one" in r.json()["detail"]


def test_past_runs_page_newest_first_the_viewers_own_and_admins_see_everyones(live, users):
    mine = [_run("alice") for _ in range(5)]
    bobs = _run("bob")
    _run("alice", "open fan")  # another pipeline's run is not listed
    run_workers()
    seen, cursor = [], None
    while True:
        r = _get(live, "/api/pipelines/fan/runs", "alice", params={"limit": 2, **({"cursor": cursor} if cursor else {})})
        assert r.status_code == 200, r.text
        page = r.json()
        assert len(page["runs"]) <= 2 and page["pipeline"] == "fan"
        seen += page["runs"]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert [r["session_id"] for r in seen] == mine[::-1]
    assert {(r["name"], r["status"], r["owner"], r["steps"], r["finished"]) for r in seen} == {
        ("fan on fruit.txt", "SUCCEEDED", "alice", 3, 3)}
    assert seen[0]["page"] == f"/jobs/{mine[-1]}"
    everyone = _get(live, "/api/pipelines/fan/runs", "root").json()["runs"]
    assert [r["session_id"] for r in everyone] == [bobs, *mine[::-1]]
    by_id = _get(live, f"/api/pipelines/{_pipeline_id('fan')}/runs", "bob").json()["runs"]
    assert [r["session_id"] for r in by_id] == [bobs]
    assert _get(live, "/api/pipelines/nope/runs", "bob").status_code == 404
    assert _get(live, "/api/pipelines/fan/runs").status_code == 401
    bad = _get(live, "/api/pipelines/fan/runs", "alice", params={"cursor": "forged"})
    assert bad.status_code == 400 and bad.json()["field"] == "cursor"
    assert _get(live, "/api/pipelines/fan/runs", "alice", params={"limit": 0}).status_code == 422


def _pipeline_id(name: str) -> int:
    from app import auth, pipelines

    return pipelines.get_pipeline(actor=auth.get_user("root"), pipeline=name).id


def test_run_again_lodges_a_new_run_of_the_same_upload_and_parameters(live, users):
    from app.launch import get_job
    from app.record_tables import JobReproduction
    from app.db import session

    root = _run("alice")
    run_workers()
    r = httpx.post(f"{live.url}/api/pipelines/runs/{root}/run-again",
                   headers={"Authorization": f"Bearer {live.tokens['alice']}"})
    assert r.status_code == 201, r.text
    new = r.json()["id"]
    assert new != root and r.headers["location"] == f"/api/jobs/{new}"
    a, b = get_job(root), get_job(new)
    assert (b.owner, b.payload["upload"]["sha256"], b.payload["parameters"]) == (
        "alice", a.payload["upload"]["sha256"], a.payload["parameters"])
    with session() as s:  # running again claims nothing: no reproduction recorded
        assert s.execute(sa.select(sa.func.count()).select_from(JobReproduction)).scalar() == 0
    assert httpx.post(f"{live.url}/api/pipelines/runs/{root}/run-again",
                      headers={"Authorization": f"Bearer {live.tokens['bob']}"}).status_code == 404


def test_the_past_runs_page_reads_its_index_in_order(live, users):
    """The statement the page runs, as SQLite plans it: the pipeline's index gives the
    roots in the page's order (no scan, no sort), for a user and for an admin."""
    from app import runs
    from app.db import get_engine

    for who in ("alice", "alice", "bob"):
        _run(who)
    pid = _pipeline_id("fan")
    engine = get_engine()
    seen: list[tuple[str, object]] = []

    def grab(conn, cursor, statement, parameters, context, executemany):
        if "FROM job" in statement and "ORDER BY" in statement and "pipeline_id" in statement:
            seen.append((statement, parameters))

    _, cursor = runs.past_runs(actor=users["alice"], pipeline_id=pid, limit=1)
    sa.event.listen(engine, "before_cursor_execute", grab)
    try:
        runs.past_runs(actor=users["alice"], pipeline_id=pid, limit=1, cursor=cursor)
        runs.past_runs(actor=users["root"], pipeline_id=pid, limit=1, cursor=cursor)
    finally:
        sa.event.remove(engine, "before_cursor_execute", grab)
    assert len(seen) == 2
    wanted = ["ix_job_pipeline_owner_created", "ix_job_pipeline_created"]
    for (statement, parameters), index in zip(seen, wanted):
        assert_reads_index(engine, statement, parameters, index, "job")


def test_live_runs_counts_a_pipelines_runs_under_way_up_to_its_cap(live, users):
    """What the configuration page's pipeline form says: runs of the pipeline under way
    (their roots, not their steps), none once they ended; more than the cap reads cap + 1."""
    from app import runs

    pid = _pipeline_id("fan")
    assert runs.live_runs(pid) == 0
    _run("alice"), _run("bob"), _run("alice", "open fan")
    assert runs.live_runs(pid) == 2
    assert runs.live_runs(pid, cap=1) == 2 and runs.live_runs(_pipeline_id("open fan")) == 1
    run_workers()
    assert runs.live_runs(pid) == 0


def test_live_run_list_names_a_pipelines_or_a_tasks_runs_under_way_newest_first(live, users):
    """What the configuration page's forms list: the runs under way of a pipeline, or
    whose plan has a task (a step not yet lodged counts), newest first, `first` of them
    and the count."""
    from app import pipelines, runs

    pid = _pipeline_id("fan")
    tasks = {t.name: t.id for t in pipelines.list_tasks(actor=users["root"])}
    assert runs.live_run_list(pipeline_id=pid) == ([], 0)
    a, b, c = _run("alice"), _run("bob"), _run("alice", "open fan")
    shown, n = runs.live_run_list(pipeline_id=pid, first=1)
    assert n == 2 and [r.id for r in shown] == [b] and shown[0].name == "fan on fruit.txt"
    assert [r.id for r in runs.live_run_list(pipeline_id=pid)[0]] == [b, a]
    # "head" is order 2 of fan: not lodged yet, but in the runs' plans.
    assert sorted(r.id for r in runs.live_run_list(task_id=tasks["head"])[0]) == sorted([a, b])
    assert runs.live_run_list(task_id=tasks["sort"])[1] == 3 and c
    assert runs.live_run_list(task_id=tasks["sort"], cap=1)[1] == 2
    run_workers()
    assert runs.live_run_list(task_id=tasks["sort"]) == ([], 0)
