"""PostgreSQL restarted while a job runs: the worker holds the job's outcome until the
database answers again, so the job ends as it ran (not left IN_PROGRESS, not crashed),
and lodging answers 503 while it is away. A PostgreSQL server of the test's own
(bench/pgserver.py), so stopping it touches no one else's."""

import threading
import time

import pytest
import sqlalchemy as sa

from app import auth, launch
from app.db import dispose_engines, get_engine, session
from app.models import TABLES, Job, JobMessage
from app.settings import reload_settings
from bench.pgserver import PgServer
from tests.conftest import run_workers
from tests.pools import wait_for

pytestmark = pytest.mark.sqlite_only  # it picks its own database (a PostgreSQL server it can stop): once is enough


@pytest.fixture
def own_postgres(jobdeck, monkeypatch):
    with PgServer(dbname="away") as pg:
        monkeypatch.setenv("JOBDECK_DATABASE_URL", pg.url)
        dispose_engines()
        reload_settings()
        TABLES.create_all(get_engine())
        yield pg
        dispose_engines()


def _status(job_id: str) -> str:
    with session() as s:
        return s.get(Job, job_id).status


def test_a_worker_holds_its_outcome_while_postgres_restarts(own_postgres):
    admin = auth.create_user(username="root", password="root-password-1", role="admin")
    job = launch.launch_job(actor=admin, job_type="SYSTEM", job_subtype="FLAKY",
                            payload={"fail_attempts": 0, "sleep_s": 2.0})
    down: dict = {}

    def restart_while_it_runs() -> None:
        wait_for(lambda: _status(job.id) == "IN_PROGRESS", timeout=60, every=0.02)
        t = time.monotonic()
        own_postgres.stop()  # the job's 2 s end while the database is away
        down["at"] = t
        time.sleep(5.0)
        own_postgres.start()
        down["back"] = time.monotonic()

    restarter = threading.Thread(target=restart_while_it_runs)
    restarter.start()
    run_workers()  # the worker's outcome waits for the database
    restarter.join(60)
    assert "back" in down, "the database was never stopped while the job ran"
    with session() as s:
        row = s.get(Job, job.id)
        texts = [m.text for m in s.exec(sa.select(JobMessage).where(JobMessage.job_id == job.id)).scalars()]
    assert row.status == "SUCCEEDED" and row.attempt == 1, (row.status, row.attempt, texts)
    assert not any("CRASHED" in t or "internal error" in t for t in texts), texts


def test_lodging_answers_503_while_postgres_is_away(own_postgres):
    from fastapi.testclient import TestClient

    from app.api import build_api

    auth.create_user(username="root", password="root-password-1", role="admin")
    token, _ = auth.create_token(owner="root", name="t")
    client = TestClient(build_api(), raise_server_exceptions=False)
    headers = {"Authorization": f"Bearer {token}"}
    body = {"job_type": "SYSTEM", "job_subtype": "NOOP", "payload": {}}
    own_postgres.stop()
    try:
        r = client.post("/api/jobs", json=body, headers=headers)
        assert r.status_code == 503, r.text
        assert "database" in r.json()["detail"].lower() and r.headers.get("Retry-After")
    finally:
        own_postgres.start()
    r = wait_for(lambda: (lambda r: r if r.status_code == 201 else None)(
        client.post("/api/jobs", json=body, headers=headers)), timeout=30, every=0.2)
    assert _status(r.json()["id"]) == "PENDING"
