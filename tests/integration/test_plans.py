"""SQLite's planner gets statistics (after migrations, and from the housekeeper), and the
reads of a workflow's jobs go through the workflow's index whatever the statistics say."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app import pipelines, runs
from app.db import get_engine, migrate, optimize
from app.settings import reload_settings

pytestmark = pytest.mark.sqlite_only


def test_migrate_and_the_housekeeper_give_sqlite_statistics(tmp_path, monkeypatch):
    from worker.reaper import Housekeeper

    monkeypatch.setenv("JOBDECK_DATABASE_URL", f"sqlite:///{tmp_path / 'p.db'}")
    reload_settings()
    migrate()
    with get_engine().connect() as conn:
        assert conn.exec_driver_sql("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'").first()
    optimize()  # again, with statistics present: PRAGMA optimize
    assert "optimize" in dict(Housekeeper.DUTIES)
    reload_settings()


def test_a_workflows_jobs_are_read_through_its_index(jobdeck):
    seen: list[str] = []

    def record(conn, cursor, statement, params, context, many):
        if "FROM job" in statement and "workflow_id" in statement and not statement.startswith("EXPLAIN"):
            seen.append(" ".join(r[-1] for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params)))

    sa.event.listen(get_engine(), "before_cursor_execute", record)
    try:
        pipelines.run_steps("some-run")
        runs.run_states(["some-run", "another"])
    finally:
        sa.event.remove(get_engine(), "before_cursor_execute", record)
    assert len(seen) == 2 and all("ix_job_workflow" in plan for plan in seen), seen
