"""The metrics past finished jobs, from jobs run by real RQ workers: queue wait per
backend (kept as each job starts), failures by worker, workers busy and idle (sampled
by the housekeeper's duty), a user's own jobs (kept by owner); `GET /metrics` parsed
with prometheus_client's parser; every chart's read planned over its table's primary
key on SQLite and PostgreSQL; old minutes pruned, a gone worker's total with them."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
import sqlalchemy as sa

from tests.conftest import run_workers
from tests.integration.test_metrics import lodge, live, samples, scrape  # noqa: F401 (live is a fixture)
from tests.plans import assert_reads_index
from tests.pools import pools, wait_for  # noqa: F401 (pools is a fixture)


def test_waits_failures_and_own_metrics_after_real_jobs(live, users):  # noqa: F811
    from app import dashboard, my_metrics, waits, worker_metrics
    from app.db import utcnow
    from app.errors import PermissionDenied

    for _ in range(3):
        lodge(live)
    for _ in range(2):
        lodge(live, outcome="fail")
    lodge(live, outcome="crash")
    gone = lodge(live)
    assert live.post(f"/api/jobs/{gone}/cancel", headers=live.as_("root")).status_code == 200
    # alice's own (lodged for her by an admin): one ran and one failed
    from app import launch

    for payload in ({}, {"outcome": "fail"}):
        launch.launch_job(actor=users["root"], job_type="SYSTEM", job_subtype="NOOP", payload=payload, owner="alice")
    time.sleep(0.3)  # every one of these waits at least this long in its queue
    run_workers()

    # Queue wait per backend: eight started (the cancelled one never did), each after ≥ 0.3 s.
    (system,) = [w for w in waits.by_backend(since=utcnow() - timedelta(hours=1)) if w["backend"] == "system"]
    assert system["started"] == 8 and system["mean_s"] >= 0.3
    assert 0.25 <= system["p50_s"] <= system["p95_s"]
    got = scrape(live)
    assert got[("jobdeck_job_wait_seconds_count", (("backend", "system"),))] == 8
    assert got[("jobdeck_job_wait_seconds_bucket", (("backend", "system"), ("le", "+Inf")))] == 8
    assert got[("jobdeck_job_wait_seconds_bucket", (("backend", "system"), ("le", "0.25")))] == 0
    assert got[("jobdeck_job_wait_seconds_sum", (("backend", "system"),))] >= 8 * 0.3

    # Failures by worker: the burst worker ran all of them: three failed, one crashed.
    (worker,) = worker_metrics.failures_by_worker(since=utcnow() - timedelta(hours=1))
    assert (worker["FAILED"], worker["CRASHED"], worker["total"], worker["backend"]) == (3, 1, 4, "system")
    by_worker = {dict(k[1])["status"]: v for k, v in got.items()
                 if k[0] == "jobdeck_worker_failures_total" and dict(k[1])["worker"] == worker["worker"]}
    assert by_worker == {"FAILED": 3, "CRASHED": 1}

    # A user's own: alice sees her two, root his seven; neither sees the other's.
    mine = my_metrics.read(viewer=users["alice"])
    assert mine.finished_last_hour == {"SUCCEEDED": 1, "FAILED": 1, "CRASHED": 0, "CANCELLED": 0}
    assert mine.finished_last_day == mine.finished_last_hour and len(mine.last_hour) == 60
    assert mine.failures == [{"job_type": "SYSTEM", "FAILED": 1, "CRASHED": 0}]
    assert [(r["job_type"], r["ran"]) for r in mine.run_times] == [("SYSTEM", 2)]
    root = my_metrics.read(viewer=users["root"])
    assert root.finished_last_hour == {"SUCCEEDED": 3, "FAILED": 2, "CRASHED": 1, "CANCELLED": 1}
    assert [(r["job_type"], r["ran"]) for r in root.run_times] == [("SYSTEM", 6)]
    assert my_metrics.read(viewer=users["root"], owner="alice").finished_last_hour == mine.finished_last_hour
    with pytest.raises(PermissionDenied):
        my_metrics.read(viewer=users["bob"], owner="alice")
    assert my_metrics.read(viewer=users["bob"]).finished_last_day == {s: 0 for s in mine.finished_last_day}
    r = live.get("/api/metrics/me", headers=live.as_("alice"))
    assert r.status_code == 200, r.text
    assert r.json()["finished_last_hour"] == mine.finished_last_hour and r.json()["owner"] == "alice"

    # The admin page's series carry the same.
    d = dashboard.read(viewer=users["root"])
    assert [w["backend"] for w in d.waits] == ["system"] and d.waits[0]["started"] == 8
    assert d.worker_failures[0]["total"] == 4

    # Old minutes go; the wait totals stay, and a worker whose minutes all went is forgotten.
    from app import minutes

    assert minutes.prune(now=utcnow() + timedelta(days=3)) > 0
    assert waits.by_backend(since=utcnow() - timedelta(hours=1)) == []
    assert worker_metrics.failures_by_worker(since=utcnow() - timedelta(hours=1)) == []
    assert my_metrics.read(viewer=users["alice"]).finished_last_day["SUCCEEDED"] == 0
    got = scrape(live)
    assert got[("jobdeck_job_wait_seconds_count", (("backend", "system"),))] == 8
    assert not [k for k in got if k[0] == "jobdeck_worker_failures_total"]


def test_workers_busy_and_idle_are_sampled(live, pools):  # noqa: F811
    from app import worker_metrics
    from app.db import utcnow
    from app.launch import get_job
    from worker.reaper import sample_workers

    pools("--backends", "system")
    job = lodge(live, sleep_s=3)
    wait_for(lambda: get_job(job).status == "IN_PROGRESS", timeout=60, message="the pool started the job")
    then = utcnow() - timedelta(minutes=30)  # a minute of this test's own samples only
    tally = sample_workers(at=then)
    assert tally["system"]["busy"] == 1
    wait_for(lambda: get_job(job).status == "SUCCEEDED", timeout=60, message="the job ended")
    wait_for(lambda: sample_workers(at=utcnow() - timedelta(minutes=40))["system"]["idle"] == 1, timeout=30,
             message="its worker idle")
    sample_workers(at=then)
    now = utcnow()
    series = {m["minute"]: m for m in worker_metrics.busy_series(since=now - timedelta(minutes=59), until=now)}
    assert len(series) == 60
    mine = series[then.replace(second=0, microsecond=0).isoformat()]
    assert (mine["busy"], mine["idle"], mine["other"]) == (0.5, 0.5, 0.0)  # busy in one of two samples
    # The pool's housekeeper samples on its own (every 10 s): its minutes show the idle worker.
    # A minute's figure is the mean of its samples, so a minute that began with the worker
    # busy (or not yet started) reads less than 1 until the next minute: any idle counts.
    wait_for(lambda: any((m["idle"] or 0) > 0 for k, m in worker_metrics_recent(worker_metrics).items()),
             timeout=40, message="a housekeeper's sample")


def worker_metrics_recent(worker_metrics) -> dict:
    from app.db import utcnow

    now = utcnow()
    return {m["minute"]: m for m in worker_metrics.busy_series(since=now - timedelta(minutes=2), until=now)}


def test_chart_reads_use_the_primary_keys(live, users):  # noqa: F811
    """Each chart's statement, as the database plans it: a range of its table's primary
    key (no scan, no sort), on SQLite and PostgreSQL."""
    from app import dashboard, my_metrics
    from app.db import get_engine

    lodge(live)
    run_workers()
    engine = get_engine()
    seen: list[tuple[str, object]] = []

    def grab(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT") and "minute" in statement:
            seen.append((statement, parameters))

    sa.event.listen(engine, "before_cursor_execute", grab)
    try:
        dashboard.read(viewer=users["root"])
        my_metrics.read(viewer=users["alice"])
    finally:
        sa.event.remove(engine, "before_cursor_execute", grab)
    tables = ("jobwaitminute", "workerfailureminute", "workerbusyminute", "ownerjobminute")
    checked = set()
    for statement, parameters in seen:
        table = next((t for t in tables if f"FROM {t}" in statement), None)
        if table is None:
            continue
        index = f"sqlite_autoindex_{table}_1" if engine.dialect.name == "sqlite" else f"{table}_pkey"
        assert_reads_index(engine, statement, parameters, index, table, no_scan=True)
        checked.add(table)
    assert checked == set(tables)

    # The housekeeper's prune of a user's minutes finds them by minute, past every owner.
    from app import minutes
    from app.db import utcnow

    seen.clear()

    def grab_prune(conn, cursor, statement, parameters, context, executemany):
        if "ownerjobminute" in statement and "minute" in statement:
            seen.append((statement, parameters))

    sa.event.listen(engine, "before_cursor_execute", grab_prune)
    try:
        minutes.prune(now=utcnow() + timedelta(days=3))
    finally:
        sa.event.remove(engine, "before_cursor_execute", grab_prune)
    assert [s.split()[0] for s, _ in seen] == ["SELECT", "DELETE", "SELECT"]  # an hour of minutes, then none left
    for statement, parameters in seen:
        assert_reads_index(engine, statement, parameters, "ix_ownerjobminute_minute", "ownerjobminute")
