"""Per-owner and everyone's status counts are kept by every change (app.counts) and
always equal a full recount: lodging, running, failing, retrying, cancelling, deleting,
and on PostgreSQL with several writers committing at once."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import sqlalchemy as sa

from app import counts, launch, lifecycle, queries, registry, submissions
from app.db import get_engine
from app.lifecycle import JobStatus
from tests.conftest import ROOT, run_workers


def _exact() -> dict:
    with get_engine().connect() as conn:
        kept, full = counts.kept(conn), counts.recount(conn)
    assert kept == full, f"kept {kept} != recount {full}"
    return full


def test_counts_follow_every_change(users):
    alice, bob, root = users["alice"], users["bob"], users["root"]
    item, _ = registry.create_item(actor=alice, subtype="DATASET", display_name="rain")
    failing = launch.launch_job(actor=root, job_type="SYSTEM", job_subtype="NOOP", payload={"outcome": "fail"},
                                owner="bob")
    waiting = launch.launch_job(actor=root, job_type="SYSTEM", job_subtype="NOOP", payload={}, owner="bob")
    batch = launch.launch_batch(actor=root, job_type="SYSTEM", job_subtype="NOOP", payloads=[{}] * 4)
    assert queries.status_counts(viewer=bob)["PENDING"] == 2
    _exact()
    launch.cancel_job(actor=root, job_id=waiting.id)
    run_workers()
    full = _exact()
    assert full[("bob", "FAILED")] == 1 and full[("bob", "CANCELLED")] == 1
    assert full[(counts.EVERYONE, "SUCCEEDED")] == 4 + 2  # the batch, and the item's create and lodge
    launch.retry_job(actor=root, job_id=failing.id)
    assert queries.status_counts(viewer=bob) == {**{s.value: 0 for s in JobStatus}, "PENDING": 1, "CANCELLED": 1}
    run_workers()
    _exact()
    assert queries.status_counts(viewer=root, all_users=True)["FAILED"] == 1
    assert queries.status_counts(viewer=root, owner="alice")["SUCCEEDED"] == 2
    assert queries.status_counts(viewer=alice, all_users=True) == queries.status_counts(viewer=alice)  # a user sees hers
    submissions.delete_submission(actor=root, submission_id=batch.id)
    full = _exact()
    assert full.get((root.username, "SUCCEEDED"), 0) == 0 and full[(counts.EVERYONE, "SUCCEEDED")] == 2


def test_rebuild_recounts_and_a_refused_transition_counts_nothing(users):
    root = users["root"]
    job = launch.launch_job(actor=root, job_type="SYSTEM", job_subtype="NOOP", payload={})
    run_workers()
    try:
        lifecycle.transition(job.id, JobStatus.FAILED, message="late write")
    except Exception:
        pass
    _exact()
    with get_engine().begin() as conn:
        conn.execute(sa.text("UPDATE jobcount SET n = n + 7"))  # damaged
    assert counts.rebuild() == 1
    assert _exact() == {(root.username, "SUCCEEDED"): 1, (counts.EVERYONE, "SUCCEEDED"): 1}


def test_rebuild_command_refuses_a_database_it_does_not_know(tmp_path):
    foreign = tmp_path / "other.db"
    eng = sa.create_engine(f"sqlite:///{foreign}")
    with eng.begin() as conn:
        conn.execute(sa.text("CREATE TABLE job (id TEXT)"))
    env = {**os.environ, "JOBDECK_DATABASE_URL": f"sqlite:///{foreign}", "JOBDECK_DATA_DIR": str(tmp_path)}
    out = subprocess.run([sys.executable, "-m", "app.manage", "rebuild-counts"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2, out
    assert "no Jobdeck job tables" in out.stderr
    with eng.connect() as conn:
        assert sa.inspect(conn).get_table_names() == ["job"]  # nothing written


def test_counts_exact_with_concurrent_writers_on_postgres(postgres_db):
    from app.db import migrate
    from app import auth

    migrate()
    root = auth.create_user(username="root2", password="root-password", role="admin")
    batch = launch.launch_batch(actor=root, job_type="SYSTEM", job_subtype="NOOP", payloads=[{}] * 120)
    ids = [j.id for j in queries.batch_jobs(viewer=root, batch_id=batch.id, limit=500).jobs]
    errors: list[BaseException] = []

    def work(mine: list[str]) -> None:  # what a worker's transitions do, four at once
        try:
            for jid in mine:
                lifecycle.transition_steps(jid, [lifecycle.Move(JobStatus.DEQUEUED, "taken"),
                                                 lifecycle.Move(JobStatus.IN_PROGRESS, "started")], publish=False)
                lifecycle.transition(jid, JobStatus.SUCCEEDED, message="done", publish=False)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(ids[i::4],)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    full = _exact()
    assert full[("root2", "SUCCEEDED")] == 120 and full[(counts.EVERYONE, "SUCCEEDED")] == 120
