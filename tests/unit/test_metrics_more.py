"""The per-minute aggregates past the finished jobs', as their keepers write them on a
database of the test's own: deltas of one transaction gathered into one row a key and
written before its commit; a wait's and a run's histogram bucket; failures only for
FAILED and CRASHED, by worker; an owner's row per minute and type with the statuses as
columns; the user's series and the admin's busy and idle means summed from those rows."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

T0 = datetime(2026, 12, 2, 10, 30, 15, tzinfo=timezone.utc)


@pytest.fixture
def db(tmp_path, monkeypatch):
    from app.db import dispose_engines, get_engine
    from app.models import TABLES
    from app.settings import reload_settings

    monkeypatch.setenv("JOBDECK_DATABASE_URL", f"sqlite:///{tmp_path / 'm.db'}")
    dispose_engines()
    reload_settings()
    TABLES.create_all(get_engine())
    yield get_engine()
    dispose_engines()
    reload_settings()


def _rows(engine, table) -> list[dict]:
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.select(table))]


def test_one_transactions_deltas_are_one_row_a_key_written_at_commit(db):
    from app import waits
    from app.db import write_conn
    from app.metrics import TOTAL
    from app.minute_tables import job_wait_minute

    with write_conn() as conn:
        waits.started(conn, job_id="a", backend="system", lodged_at=T0 - timedelta(seconds=2), at=T0)
        waits.started(conn, job_id="a", backend="system", lodged_at=T0 - timedelta(seconds=4), at=T0)
        waits.started(conn, job_id="a", backend="system", lodged_at=None, at=T0)  # unknown: not observed
        assert _rows(db, job_wait_minute) == []  # nothing before the commit
    rows = {r["minute"]: r for r in _rows(db, job_wait_minute)}
    assert set(rows) == {T0.replace(second=0), TOTAL}
    for r in rows.values():
        assert (r["backend"], r["n"], r["wait_s"]) == ("system", 2, 6.0)
        # 2 s and 4 s are both in (1.0, 2.5] and (2.5, 5.0]: buckets 10 and 11
        assert (r["b10"], r["b11"], sum(r[f"b{i}"] for i in range(20))) == (1, 1, 2)
    # A second transaction adds to the same rows.
    with write_conn() as conn:
        waits.started(conn, job_id="a", backend="system", lodged_at=T0, at=T0 + timedelta(seconds=1))
    assert {r["n"] for r in _rows(db, job_wait_minute)} == {3}


def test_waits_by_backend_read_the_span_only(db):
    from app import waits
    from app.db import write_conn

    with write_conn() as conn:
        for i, backend in enumerate(("system", "system", "registry")):
            waits.started(conn, job_id=str(i), backend=backend, lodged_at=T0 - timedelta(seconds=0.5 * (i + 1)),
                          at=T0)
        waits.started(conn, job_id="old", backend="system", lodged_at=T0 - timedelta(hours=2, seconds=100),
                      at=T0 - timedelta(hours=2))
    got = {w["backend"]: w for w in waits.by_backend(since=T0 - timedelta(minutes=59))}
    assert (got["system"]["started"], got["registry"]["started"]) == (2, 1)
    assert got["system"]["mean_s"] == pytest.approx(0.75)
    assert 0.25 < got["system"]["p50_s"] <= got["system"]["p95_s"] <= 1.0
    totals = waits.totals()
    assert totals["system"][2] == 3 and totals["system"][1] == pytest.approx(101.5)


def test_failures_are_kept_by_worker_and_only_for_failed_and_crashed(db):
    from app import worker_metrics
    from app.db import write_conn
    from app.metrics import TOTAL
    from app.minute_tables import worker_failure_minute

    with write_conn() as conn:
        for status, worker in (("FAILED", "w1"), ("FAILED", "w1"), ("CRASHED", "w1"), ("SUCCEEDED", "w1"),
                               ("CANCELLED", "w2"), ("CRASHED", None), ("FAILED", "w2")):
            worker_metrics.failed(conn, worker=worker, backend="system", status=status, at=T0)
    got = worker_metrics.failures_by_worker(since=T0 - timedelta(hours=1))
    assert [(f["worker"], f["FAILED"], f["CRASHED"], f["total"]) for f in got] == [
        ("w1", 2, 1, 3), ("(no worker)", 0, 1, 1), ("w2", 1, 0, 1)]
    assert sorted(worker_metrics.failure_totals()) == [
        ("(no worker)", "system", "CRASHED", 1), ("w1", "system", "CRASHED", 1), ("w1", "system", "FAILED", 2),
        ("w2", "system", "FAILED", 1)]
    # Pruned past the kept days, the minutes go and so do the totals of workers with none left.
    from app import minutes

    with write_conn() as conn:
        worker_metrics.failed(conn, worker="w3", backend="system", status="FAILED", at=T0 + timedelta(days=3))
    assert minutes.prune(now=T0 + timedelta(days=3), keep_days=1) > 0
    assert {(r["worker"], r["minute"] == TOTAL) for r in _rows(db, worker_failure_minute)} == {
        ("w3", True), ("w3", False)}


def test_an_owners_row_per_minute_and_type_and_their_series(db):
    from app import my_metrics
    from app.db import write_conn
    from app.errors import PermissionDenied
    from app.minute_tables import owner_job_minute
    from app.models import User

    with write_conn() as conn:
        for i, status in enumerate(("SUCCEEDED", "SUCCEEDED", "FAILED", "CRASHED")):
            my_metrics.finished(conn, owner="ada", job_type="SYSTEM", status=status, at=T0,
                                started_at=T0 - timedelta(seconds=i + 1))
        my_metrics.finished(conn, owner="ada", job_type="SYSTEM", status="CANCELLED", at=T0, started_at=None)
        my_metrics.finished(conn, owner="ada", job_type="PIPELINE", status="SUCCEEDED",
                            at=T0 - timedelta(hours=3), started_at=T0 - timedelta(hours=3, seconds=40))
        my_metrics.finished(conn, owner="bob", job_type="SYSTEM", status="FAILED", at=T0, started_at=None)
    rows = _rows(db, owner_job_minute)
    assert len(rows) == 3  # (ada, 10:30, SYSTEM), (ada, 07:30, PIPELINE), (bob, 10:30, SYSTEM)
    (ada_now,) = [r for r in rows if r["owner"] == "ada" and r["job_type"] == "SYSTEM"]
    assert (ada_now["succeeded"], ada_now["failed"], ada_now["crashed"], ada_now["cancelled"], ada_now["ran"],
            ada_now["run_s"]) == (2, 1, 1, 1, 4, 10.0)

    ada, bob = User(username="ada", role="user"), User(username="bob", role="user")
    m = my_metrics.read(viewer=ada, now=T0 + timedelta(minutes=5))
    assert len(m.last_hour) == 60 and m.last_hour[-1]["minute"] == (T0 + timedelta(minutes=5)).replace(
        second=0).isoformat()
    assert m.finished_last_hour == {"SUCCEEDED": 2, "FAILED": 1, "CRASHED": 1, "CANCELLED": 1}
    assert m.finished_last_day == {"SUCCEEDED": 3, "FAILED": 1, "CRASHED": 1, "CANCELLED": 1}
    assert sum(x["SUCCEEDED"] for x in m.last_day) == 3 and len(m.last_day) == 144
    assert [(r["job_type"], r["ran"]) for r in m.run_times] == [("PIPELINE", 1), ("SYSTEM", 4)]
    assert m.run_times[1]["mean_s"] == pytest.approx(2.5)
    assert m.failures == [{"job_type": "SYSTEM", "FAILED": 1, "CRASHED": 1}]
    assert my_metrics.read(viewer=bob, now=T0).finished_last_hour["FAILED"] == 1
    with pytest.raises(PermissionDenied):
        my_metrics.read(viewer=bob, owner="ada")
    assert my_metrics.read(viewer=User(username="root", role="admin"), owner="ada",
                           now=T0).finished_last_hour["CANCELLED"] == 1


def test_busy_and_idle_are_means_of_a_minutes_samples(db):
    from app import worker_metrics

    worker_metrics.sampled({"system": {"busy": 2, "idle": 0}, "pipeline": {"busy": 0, "idle": 1}}, at=T0)
    worker_metrics.sampled({"system": {"busy": 1, "idle": 1}, "pipeline": {"busy": 0, "idle": 1, "other": 1}},
                           at=T0 + timedelta(seconds=10))
    series = worker_metrics.busy_series(since=T0 - timedelta(minutes=2), until=T0 + timedelta(minutes=1))
    assert [m["busy"] for m in series] == [None, None, 1.5, None]
    assert (series[2]["idle"], series[2]["other"]) == (1.5, 0.5)
