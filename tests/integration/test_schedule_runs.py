"""A pipeline run as a schedule's firing (app.pipelines.scheduled): checked at creation as
a submission is (the field named, nothing kept), each firing one run of the schedule's
owner on a copy of its kept file, also with two housekeepers at once, run by real
workers; fair use applies; deleting it removes the kept file, not its runs; the REST
route's multipart form and hostile inputs."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app import pipelines, schedules
from app.db import session, utcnow, write_conn
from app.demo import DEMO_PIPELINES, DEMO_TASKS
from app.errors import Conflict, InvalidInput, JobdeckError, NotFound, PermissionDenied
from app.models import Job, Schedule, ScheduleFiring
from app.pipelines.scheduled import inputs_dir
from app.runs import run_dir
from tests.conftest import run_workers

TEXT = b"the cat sat\non the mat\nthe end\n"


def _demo(root) -> None:
    for t in DEMO_TASKS:
        pipelines.create_task(actor=root, **t)
    for name, description, steps in DEMO_PIPELINES:
        pipelines.create_pipeline(actor=root, name=name, description=description, steps=steps)


def _at(sched_id: int, when) -> None:
    with write_conn() as conn:
        conn.execute(sa.update(Schedule.__table__).where(Schedule.__table__.c.id == sched_id).values(next_at=when))


def _runs() -> list[Job]:
    """The runs lodged (their roots)."""
    with session() as s:
        return [j for j in s.exec(sa.select(Job).order_by(Job.created_at)).scalars() if j.id == j.workflow_id]


def _firings(sched_id: int) -> list[ScheduleFiring]:
    with session() as s:
        return list(s.exec(sa.select(ScheduleFiring).where(ScheduleFiring.schedule_id == sched_id)
                           .order_by(ScheduleFiring.due_at)).scalars())


def _kept() -> list[str]:
    return sorted(str(p.relative_to(inputs_dir())) for p in inputs_dir().rglob("*") if p.is_file()) \
        if inputs_dir().is_dir() else []


def _every_second(root, name="words", **kw):
    args = dict(actor=root, name=name, pipeline="Text summary", parameters={"top": "2"}, file_name="cat.txt",
                content=TEXT, cron="* * * * * *", owner="alice")
    return schedules.create_schedule(**(args | kw))


def test_a_pipeline_runs_schedule_is_checked_as_its_submission_would_be(users):
    root = users["root"]
    _demo(root)
    pipelines.create_task(actor=root, name="png only", command="wc -c {input}", input_glob="*.png")
    pipelines.create_pipeline(actor=root, name="Pictures", steps=[{"order": 1, "task": "png only"}],
                              validators=["png"])
    pipelines.create_pipeline(actor=root, name="Off", steps=[{"order": 1, "task": "line count"}], runnable=False)
    cases = [
        (dict(pipeline="No such pipeline"), NotFound, "pipeline"),
        (dict(pipeline="Off"), PermissionDenied, "pipeline"),
        (dict(parameters={"top": "many"}), InvalidInput, "parameters.top"),
        (dict(parameters={"lines": "3"}), InvalidInput, "parameters.lines"),
        (dict(parameters=["top"]), InvalidInput, "parameters"),
        (dict(content=b""), InvalidInput, "file"),
        (dict(content=None), InvalidInput, "file"),
        (dict(file_name="../.hidden"), InvalidInput, "file"),
        (dict(file_name="bad\x00name.txt"), InvalidInput, "file"),
        (dict(pipeline="Pictures", parameters={}, file_name="cat.txt"), InvalidInput, "file"),  # the glob
        (dict(pipeline="Pictures", parameters={}, file_name="cat.png"), InvalidInput, None),  # not a PNG: its validator
        (dict(cron="* * * * * * *"), InvalidInput, "cron"),
        (dict(owner="nobody"), InvalidInput, "owner"),
    ]
    for kw, error, field in cases:
        with pytest.raises(error) as refused:
            _every_second(root, **kw)
        got = getattr(refused.value, "field", None) or refused.value.detail.get("field")
        if field:
            assert got == field, (kw, refused.value.message)
        else:
            assert "png" in refused.value.message.lower(), refused.value.message
    with pytest.raises(PermissionDenied):
        _every_second(users["alice"])
    with session() as s:
        assert s.exec(sa.select(sa.func.count()).select_from(Schedule)).scalar() == 0
    assert _kept() == []  # nothing kept from a refusal
    made = _every_second(root)
    assert (made.pipeline, made.job_type, made.owner) == ("Text summary", "PIPELINE", "alice")
    assert made.payload["parameters"] == {"top": "2"} and made.payload["file"]["size"] == len(TEXT)
    with pytest.raises(Conflict):
        _every_second(root)
    assert len(_kept()) == 1  # the refused second one kept nothing


def test_each_firing_lodges_one_run_of_the_owner_with_two_housekeepers_at_once(users):
    root = users["root"]
    _demo(root)
    s = _every_second(root)
    t0 = utcnow().replace(microsecond=0) + timedelta(seconds=30)
    for k in range(4):
        _at(s.id, t0 + timedelta(seconds=k))
        now = t0 + timedelta(seconds=k, milliseconds=200)
        start = threading.Barrier(2)

        def fire():
            start.wait()
            schedules.fire_due(now=now)

        threads = [threading.Thread(target=fire) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    runs = _runs()
    assert len(runs) == 4
    assert [(f.outcome, f.job_id) for f in _firings(s.id)] == [("lodged", r.id) for r in runs]
    assert {(r.owner, r.lodged_by, r.job_type) for r in runs} == {("alice", "root", "PIPELINE")}
    # Only the winners' run folders are left: a loser removed its own copy, never the winner's.
    assert sorted(p.name for p in run_dir("x").parent.iterdir()) == sorted(r.id for r in runs)
    run_workers()
    with session() as ses:
        jobs = list(ses.exec(sa.select(Job)).scalars())
    assert len(jobs) == 12 and {j.status for j in jobs} == {"SUCCEEDED"}  # 3 steps a run
    for r in runs:
        assert (run_dir(r.id) / "upload" / "cat.txt").read_bytes() == TEXT
        assert r.payload["parameters"] == {"top": "2"}
    assert len(_kept()) == 1


def test_real_housekeepers_racing_fire_a_per_second_pipeline_schedule(users):
    from app.queues import redis_conn
    from worker.reaper import Housekeeper

    _demo(users["root"])
    s = _every_second(users["root"])
    keepers = [Housekeeper("keeper-a"), Housekeeper("keeper-b")]
    stop = time.monotonic() + 3.5
    start = threading.Barrier(2)

    def tick(keeper):
        start.wait()
        n = 0
        while time.monotonic() < stop:
            keeper.tick()
            n += 1
            if n == 6:  # one lets the lease go mid-way: the other takes the firings over
                keeper.release(redis_conn())
            time.sleep(0.2)
        keeper.release(redis_conn())

    threads = [threading.Thread(target=tick, args=(k,)) for k in keepers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lodged = [f for f in _firings(s.id) if f.outcome == "lodged"]
    runs = _runs()
    assert len(lodged) >= 2 and len({f.due_at for f in lodged}) == len(lodged)
    assert sorted(f.job_id for f in lodged) == sorted(r.id for r in runs)
    run_workers()
    with session() as ses:
        statuses = [j.status for j in ses.exec(sa.select(Job)).scalars()]
    assert len(statuses) == 3 * len(runs) and set(statuses) == {"SUCCEEDED"}


def test_fair_use_applies_to_a_schedules_runs_and_a_refusal_is_its_firings_outcome(users, monkeypatch):
    from app.settings import reload_settings

    monkeypatch.setenv("JOBDECK_QUEUE_HARD_LIMIT", "1")
    reload_settings()
    _demo(users["root"])
    s = _every_second(users["root"])
    t0 = utcnow().replace(microsecond=0) + timedelta(seconds=30)
    _at(s.id, t0)
    assert schedules.fire_due(now=t0 + timedelta(milliseconds=100)) == 1
    schedules.fire_due(now=t0 + timedelta(seconds=1, milliseconds=100))  # the first run still waits
    first, second = _firings(s.id)
    assert first.outcome == "lodged"
    assert second.outcome == "refused" and "Too many active submissions" in second.note and "alice" in second.note
    assert len(_runs()) == 1


def test_deleting_a_schedule_removes_its_file_not_its_runs(users):
    root = users["root"]
    _demo(root)
    s = _every_second(root)
    t0 = utcnow().replace(microsecond=0) + timedelta(seconds=30)
    _at(s.id, t0)
    schedules.fire_due(now=t0 + timedelta(milliseconds=100))
    (run,) = _runs()
    assert len(_kept()) == 1
    schedules.delete_schedule(actor=root, schedule_id=s.id)
    assert _kept() == []
    assert (run_dir(run.id) / "upload" / "cat.txt").read_bytes() == TEXT


def test_a_firing_whose_file_or_pipeline_is_gone_is_refused(users):
    root = users["root"]
    _demo(root)
    s = _every_second(root)
    info = pipelines.get_pipeline(actor=root, pipeline="Text summary")
    pipelines.delete_pipeline(actor=root, pipeline_id=info.id)
    t0 = utcnow().replace(microsecond=0) + timedelta(seconds=30)
    _at(s.id, t0)
    schedules.fire_due(now=t0 + timedelta(milliseconds=100))
    (f,) = _firings(s.id)
    assert f.outcome == "refused" and "pipeline" in f.note.lower()
    assert _runs() == []


# --- the REST route ------------------------------------------------------------------------------


def _form(**over):
    data = {"name": "nightly words", "pipeline": "Text summary", "parameters": json.dumps({"top": "3"}),
            "cron": "0 3 * * *", "timezone": "Australia/Sydney", "owner": "bob"}
    return {k: v for k, v in (data | over).items() if v is not None}


def _problem(r, status):
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    return r.json()


def test_the_rest_route_makes_a_pipeline_runs_schedule_from_a_form(api):
    from app import auth

    _demo(auth.get_user("root"))
    url, root = "/api/admin/schedules", api.as_("root")
    r = api.post(url, headers=root, data=_form(), files={"file": ("cat.txt", TEXT, "text/plain")})
    assert r.status_code == 201, r.text
    made = r.json()
    assert (made["pipeline"], made["owner"], made["job_type"]) == ("Text summary", "bob", "PIPELINE")
    assert made["payload"] == {"parameters": {"top": "3"},
                               "file": {"name": "cat.txt", "size": len(TEXT), "sha256": made["payload"]["file"]["sha256"]}}
    assert len(made["next_runs"]) == 3 and r.headers["location"] == f"/api/admin/schedules/{made['id']}"
    listed = api.get(url, headers=root).json()
    assert [(x["name"], x["pipeline"]) for x in listed] == [("nightly words", "Text summary")]

    txt = {"file": ("cat.txt", TEXT, "text/plain")}
    refusals = [
        (dict(data=_form(name="b", pipeline="Nope"), files=txt), 404, "pipeline"),
        (dict(data=_form(name="b", parameters='{"top": "lots"}'), files=txt), 400, "parameters.top"),
        (dict(data=_form(name="b", parameters="[1"), files=txt), 422, "parameters"),
        (dict(data=_form(name="b", parameters='"top"'), files=txt), 422, "parameters"),
        (dict(data=_form(name="b"), files={"file": ("cat.txt", b"", "text/plain")}), 422, "file"),
        (dict(data=_form(name="b"), files={"other": ("cat.txt", TEXT, "text/plain")}), 422, "file"),
        (dict(data=_form(name="b", cron="every day"), files=txt), 422, "cron"),
        (dict(data=_form(name="b", timezone="../../etc/passwd"), files=txt), 422, "timezone"),
        (dict(data=_form(name="b", owner="nobody"), files=txt), 422, "owner"),
        (dict(data=_form(name="b", colour="red"), files=txt), 422, "colour"),
        (dict(data=_form(name="b\x07"), files=txt), 422, "name"),
        (dict(data=_form(name="x" * 65), files=txt), 422, "name"),
        (dict(data=_form(name=None), files=txt), 422, "name"),
        (dict(data=_form(name="b"), files=[("file", ("a.txt", TEXT, "text/plain")),
                                           ("file", ("b.txt", TEXT, "text/plain"))]), 400, None),
        (dict(data=_form(), files=txt), 409, "name"),
    ]
    for kw, status, field in refusals:
        body = _problem(api.post(url, headers=root, **kw), status)
        if field:
            assert body.get("field") == field, (kw["data"], body)
    assert _problem(api.post(url, headers=root | {"content-type": "text/plain"}, content=b"hello"), 415)
    assert _problem(api.post(url, headers=root, json={"name": "j", "pipeline": "Text summary",
                                                      "job_type": "SYSTEM", "job_subtype": "NOOP",
                                                      "cron": "* * * * *"}), 422)["field"] == "body.pipeline"
    assert _problem(api.post(url, headers=root, json={"name": "j", "job_type": "SYSTEM", "job_subtype": "NOOP",
                                                      "cron": "* * * * *", "owner": "bob\x00"}), 422)["field"] == "owner"
    assert _problem(api.post(url, headers=api.as_("alice"), data=_form(name="mine"), files=txt), 403)
    assert [x["name"] for x in api.get(url, headers=root).json()] == ["nightly words"]
    assert len(_kept()) == 1  # nothing kept from any refusal
    assert api.delete(f"{url}/{made['id']}", headers=root).status_code == 204
    assert _kept() == []


def test_an_upload_past_the_limit_is_413_and_keeps_nothing(api, monkeypatch):
    from app import auth
    from app.settings import reload_settings

    monkeypatch.setenv("JOBDECK_MAX_UPLOAD_BYTES", "100")
    reload_settings()
    _demo(auth.get_user("root"))
    body = _problem(api.post("/api/admin/schedules", headers=api.as_("root"), data=_form(),
                             files={"file": ("cat.txt", b"x" * 101, "text/plain")}), 413)
    assert body["field"] == "file"
    assert _kept() == [] and not isinstance(body, JobdeckError)


def test_over_real_http_hostile_forms_are_4xx_and_keep_nothing(users):
    """Through uvicorn on a socket: a malformed multipart body, a form that never ends,
    a file name trying to leave its folder, a huge parameters field, fields twice, and
    the body limit; then a good one, whose run each firing lodges."""
    import httpx

    from tests.integration.api_live import LiveServer, token_for

    _demo(users["root"])
    server = LiveServer().start()
    auth_h = {"Authorization": f"Bearer {token_for('root')}"}
    url = f"{server.url}/api/admin/schedules"
    try:
        with httpx.Client(timeout=30) as http:
            def raw(body: bytes, boundary: str = "XyZ"):
                return http.post(url, content=body, headers=auth_h | {
                    "content-type": f"multipart/form-data; boundary={boundary}"})

            assert 400 <= raw(b"--XyZ\r\nnot a part at all").status_code < 500
            assert 400 <= raw(b"garbage without any boundary").status_code < 500
            assert 400 <= raw(b"", boundary="").status_code < 500
            base = {"name": "h", "pipeline": "Text summary", "cron": "* * * * *"}
            cases = [
                (dict(data=base, files={"file": ("../../../../etc/passwd", TEXT)}), None),
                (dict(data=base | {"parameters": "{" * 5000}, files={"file": ("a.txt", TEXT)}), "parameters"),
                (dict(data=base | {"parameters": "x" * 70_000}, files={"file": ("a.txt", TEXT)}), None),
                (dict(data=base | {"pipeline": "Text summary\x00"}, files={"file": ("a.txt", TEXT)}), "pipeline"),
                (dict(data=base | {"owner": "bob\x00"}, files={"file": ("a.txt", TEXT)}), "owner"),
                (dict(data={"name": ["a", "b"], "pipeline": "Text summary", "cron": "* * * * *"},
                      files={"file": ("a.txt", TEXT)}), "body"),
            ]
            made = []
            for i, (kw, field) in enumerate(cases):
                if not isinstance(kw["data"]["name"], list):
                    kw["data"] = kw["data"] | {"name": f"h{i}"}
                r = http.post(url, headers=auth_h, **kw)
                if r.status_code == 201:  # the name's folders are dropped: only "passwd" is kept, inside
                    made.append(r.json() | {"case": i})
                    continue
                assert 400 <= r.status_code < 500, (kw.get("data"), r.text)
                assert r.headers["content-type"].startswith("application/problem+json")
                if field:
                    assert r.json().get("field") == field, r.json()
            assert [(m["case"], m["payload"]["file"]["name"]) for m in made] == [(0, "passwd")], made
            assert _kept() == [f"{p.parent.name}/passwd" for p in inputs_dir().rglob("passwd")]
            huge = http.post(url, headers=auth_h, data=base, files={"file": ("a.txt", b"x" * (11 * 1024 * 1024))})
            assert huge.status_code == 413
            assert len(_kept()) == 1
    finally:
        server.stop()
