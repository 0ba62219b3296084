"""Periodic jobs (app.schedules): a cron schedule checked at the door, each firing lodged
exactly once (also with two housekeepers at the same moment), a downtime's firings
reported as missed rather than run late, pause and resume, a firing whose admin is gone
refused; through the domain with a fast clock, the real housekeeper, and the REST API."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app import auth, schedules
from app.db import session, utcnow, write_conn
from app.errors import Conflict, InvalidInput, PermissionDenied, UnknownJobType
from app.models import Job, Schedule, ScheduleFiring


def _at(sched_id: int, when) -> None:
    """Move a schedule's next firing (the fast clock)."""
    with write_conn() as conn:
        conn.execute(sa.update(Schedule.__table__).where(Schedule.__table__.c.id == sched_id).values(next_at=when))


def _jobs() -> list[Job]:
    with session() as s:
        return list(s.exec(sa.select(Job).order_by(Job.created_at)).scalars())


def _firings(sched_id: int) -> list[ScheduleFiring]:
    with session() as s:
        return list(s.exec(sa.select(ScheduleFiring).where(ScheduleFiring.schedule_id == sched_id)
                           .order_by(ScheduleFiring.due_at)).scalars())


def _every_second(root, name="tick", **kw):
    return schedules.create_schedule(actor=root, name=name, job_type="SYSTEM", job_subtype="NOOP", payload={},
                                     cron="* * * * * *", **kw)


def test_a_schedule_is_checked_whole_before_it_is_kept(users):
    root = users["root"]
    cases = [
        (dict(cron="61 * * * *"), "cron"),
        (dict(cron="* * *"), "cron"),
        (dict(cron="0 0 30 2 *"), "cron"),  # 30 February: never fires
        (dict(cron="*/5 * * * *", timezone_name="Mars/Olympus"), "timezone"),
        (dict(cron="*/5 * * * *", timezone_name="../../etc/passwd"), "timezone"),
        (dict(cron="*/5 * * * *", owner="nobody"), "owner"),
        (dict(cron="*/5 * * * *", payload={"sleep_s": "long"}), None),
    ]
    for kw, field in cases:
        with pytest.raises(InvalidInput) as refused:
            schedules.create_schedule(actor=root, name="bad", job_type="SYSTEM", job_subtype="NOOP",
                                      **{"payload": {}, **kw})
        if field:
            assert refused.value.field == field, (kw, refused.value.message)
    assert "never fires" in _refusal(root, cron="0 0 30 2 *")
    with pytest.raises(UnknownJobType):
        schedules.create_schedule(actor=root, name="bad", job_type="NOPE", job_subtype="NOOP", cron="* * * * *")
    with pytest.raises(PermissionDenied):
        schedules.create_schedule(actor=users["alice"], name="mine", job_type="SYSTEM", job_subtype="NOOP",
                                  cron="* * * * *")
    made = schedules.create_schedule(actor=root, name="nightly", job_type="SYSTEM", job_subtype="NOOP",
                                     cron="0 3 * * *", timezone_name="Australia/Sydney", owner="alice")
    assert made.next_at > utcnow() and made.next_at.astimezone(
        __import__("zoneinfo").ZoneInfo("Australia/Sydney")).hour == 3
    with pytest.raises(Conflict):
        schedules.create_schedule(actor=root, name="nightly", job_type="SYSTEM", job_subtype="NOOP", cron="* * * * *")
    assert [s.name for s in schedules.list_schedules(actor=root)] == ["nightly"]


def _refusal(root, **kw) -> str:
    with pytest.raises(InvalidInput) as refused:
        schedules.create_schedule(actor=root, name="bad", job_type="SYSTEM", job_subtype="NOOP", **kw)
    return refused.value.message


def test_each_firing_is_lodged_once_for_its_owner(users):
    root = users["root"]
    s = _every_second(root, owner="alice")
    t0 = utcnow().replace(microsecond=0) + timedelta(seconds=30)
    _at(s.id, t0)
    assert schedules.fire_due(now=t0 - timedelta(seconds=1)) == 0  # not yet
    assert schedules.fire_due(now=t0 + timedelta(milliseconds=500)) == 1
    assert schedules.fire_due(now=t0 + timedelta(milliseconds=900)) == 0  # the same second: nothing more
    assert schedules.fire_due(now=t0 + timedelta(seconds=1, milliseconds=100)) == 1
    jobs = _jobs()
    assert [(j.owner, j.job_subtype, j.lodged_by) for j in jobs] == [("alice", "NOOP", "root")] * 2
    f = _firings(s.id)
    assert [(x.due_at, x.outcome) for x in f] == [(t0, "lodged"), (t0 + timedelta(seconds=1), "lodged")]
    assert {x.job_id for x in f} == {j.id for j in jobs}
    got = schedules.get_schedule(actor=root, schedule_id=s.id)
    assert got.next_at == t0 + timedelta(seconds=2) and got.last_job_id == jobs[-1].id


def test_two_housekeepers_at_the_same_moment_lodge_each_firing_once(users):
    s = _every_second(users["root"])
    t0 = utcnow().replace(microsecond=0) + timedelta(seconds=30)
    for k in range(5):
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
    assert len(_jobs()) == 5
    assert [x.outcome for x in _firings(s.id)] == ["lodged"] * 5


def test_a_downtimes_firings_are_reported_missed_not_run(users):
    root = users["root"]
    s = _every_second(root)
    now = utcnow().replace(microsecond=0) + timedelta(seconds=600)
    _at(s.id, now - timedelta(seconds=100))  # no housekeeper for 100 s
    n = schedules.fire_due(now=now)
    assert n == 11  # the last GRACE_S seconds' firings (90..100 s) are late, not missed; 0..89 s were
    missed = [x for x in _firings(s.id) if x.outcome == "missed"]
    assert len(missed) == 1 and missed[0].note.startswith("90 firing(s) missed from")
    got = schedules.get_schedule(actor=root, schedule_id=s.id)
    assert got.missed == 90 and got.next_at == now + timedelta(seconds=1)
    assert len(_jobs()) == 11


def test_pause_resume_and_a_firing_whose_admin_is_gone(users):
    root = users["root"]
    s = _every_second(root)
    t0 = utcnow().replace(microsecond=0) + timedelta(seconds=30)
    _at(s.id, t0)
    schedules.set_paused(actor=root, schedule_id=s.id, paused=True)
    assert schedules.fire_due(now=t0 + timedelta(seconds=5)) == 0
    resumed = schedules.set_paused(actor=root, schedule_id=s.id, paused=False)
    assert resumed.next_at > utcnow() - timedelta(seconds=1)  # from now on, not the paused seconds
    assert _firings(s.id) == []
    auth.create_user(username="temp-admin", password="temp-admin-pw", role="admin")
    temp = auth.get_user("temp-admin")
    other = _every_second(temp, name="theirs")
    with session(write=True) as ses:
        u = ses.exec(sa.select(type(temp)).where(type(temp).username == "temp-admin")).scalars().one()
        u.role = "user"
    t1 = utcnow().replace(microsecond=0) + timedelta(seconds=60)
    _at(other.id, t1)
    schedules.fire_due(now=t1 + timedelta(milliseconds=100))
    [f] = _firings(other.id)
    assert f.outcome == "refused" and "no longer an active admin" in f.note
    assert not [j for j in _jobs() if j.lodged_by == "temp-admin"]


def test_the_housekeeper_fires_a_per_second_schedule(users):
    from worker.reaper import Housekeeper

    s = _every_second(users["root"])
    keeper = Housekeeper("test-keeper")
    deadline = time.monotonic() + 3.5
    while time.monotonic() < deadline:
        keeper.tick()
        time.sleep(0.2)
    keeper.release(__import__("app.queues", fromlist=["x"]).redis_conn())
    lodged = [x for x in _firings(s.id) if x.outcome == "lodged"]
    assert 2 <= len(lodged) <= 5 and len({x.due_at for x in lodged}) == len(lodged)
    assert len(_jobs()) == len(lodged)


def test_the_rest_routes(api):
    r = api.post("/api/admin/schedules", headers=api.as_("root"),
                 json={"name": "hourly", "job_type": "SYSTEM", "job_subtype": "NOOP", "cron": "0 * * * *",
                       "timezone": "Europe/Berlin", "owner": "bob"})
    assert r.status_code == 201, r.text
    made = r.json()
    assert made["owner"] == "bob" and len(made["next_runs"]) == 3 and made["paused"] is False
    sid = made["id"]
    for bad, status in (({"name": "x", "job_type": "SYSTEM", "job_subtype": "NOOP", "cron": "0 0 30 2 *"}, 422),
                        ({"name": "x", "job_type": "SYSTEM", "job_subtype": "NOOP", "cron": "* * * * *",
                          "extra": 1}, 422),
                        ({"name": "hourly", "job_type": "SYSTEM", "job_subtype": "NOOP", "cron": "* * * * *"}, 409)):
        got = api.post("/api/admin/schedules", headers=api.as_("root"), json=bad)
        assert got.status_code == status, got.text
    assert api.post("/api/admin/schedules", headers=api.as_("alice"),
                    json={"name": "x", "job_type": "SYSTEM", "job_subtype": "NOOP", "cron": "* * * * *"}
                    ).status_code == 403
    assert api.get("/api/admin/schedules", headers=api.as_("alice")).status_code == 403
    paused = api.post(f"/api/admin/schedules/{sid}/pause", headers=api.as_("root")).json()
    assert paused["paused"] is True and paused["next_at"] is None and paused["next_runs"] == []
    assert api.post(f"/api/admin/schedules/{sid}/resume", headers=api.as_("root")).json()["paused"] is False
    one = api.get(f"/api/admin/schedules/{sid}", headers=api.as_("root")).json()
    assert one["firings"] == []
    assert api.get("/api/admin/schedules/999999", headers=api.as_("root")).status_code == 404
    assert api.get("/api/admin/schedules/0", headers=api.as_("root")).status_code == 422
    assert api.delete(f"/api/admin/schedules/{sid}", headers=api.as_("root")).status_code == 204
    assert api.get("/api/admin/schedules", headers=api.as_("root")).json() == []
