"""An audited change and its entry commit in one transaction: an entry that cannot be
written takes the change with it, a change whose transaction rolls back leaves no
entry, and a refusal is one "refused" entry. Writer processes lodging at once (each
entry appended in its lodge's transaction, the chain's head locked last) keep the chain
whole, on SQLite and on PostgreSQL (JOBDECK_TEST_DB=postgresql)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import sqlalchemy as sa

from app import audit, db, launch
from app.db import get_engine
from app.models import Job
from tests.integration.test_audit import _log, _verify

NOOP = dict(job_type="SYSTEM", job_subtype="NOOP", payload={"sleep_s": 0})


def _jobs() -> int:
    with get_engine().connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(Job.__table__)).scalar()


def test_the_entry_commits_with_the_change(users, capsys):
    job = launch.launch_job(actor=users["root"], **NOOP)
    e = _log(action="job.lodge")
    assert [(x.target, x.outcome, x.actor) for x in e] == [(job.id, "ok", "root")]
    code, out = _verify(capsys)
    assert code == 0 and "1 entries" in out


def test_an_entry_that_cannot_be_written_takes_its_change_with_it(users, monkeypatch, capsys):
    def broken(conn, values):
        raise RuntimeError("the audit log is full")

    monkeypatch.setattr(audit, "_append", broken)
    with pytest.raises(RuntimeError, match="the audit log is full"):
        launch.launch_job(actor=users["root"], **NOOP)
    monkeypatch.undo()
    assert _jobs() == 0 and _log() == []


def test_a_change_rolled_back_after_its_entry_leaves_no_entry(users, monkeypatch, capsys):
    def fails_at_commit(conn):
        raise sa.exc.OperationalError("COMMIT", {}, Exception("the database went away"))

    monkeypatch.setattr(db, "_LAST_BEFORE_COMMIT", [*db._LAST_BEFORE_COMMIT, fails_at_commit])
    with pytest.raises(sa.exc.OperationalError):
        launch.launch_job(actor=users["root"], **NOOP)
    monkeypatch.undo()
    assert _jobs() == 0 and _log(action="job.lodge") == []
    job = launch.launch_job(actor=users["root"], **NOOP)  # the head did not move: the next entry is 1
    assert [(x.id, x.target) for x in _log()] == [(1, job.id)]
    code, out = _verify(capsys)
    assert code == 0 and "1 entries" in out


def test_a_refused_change_is_one_refused_entry(users, capsys):
    from app.errors import PermissionDenied

    with pytest.raises(PermissionDenied):
        launch.launch_job(actor=users["alice"], **NOOP)
    assert [(x.outcome, x.actor) for x in _log()] == [("refused", "alice")]
    assert _jobs() == 0


def test_lodging_processes_at_once_keep_the_chain_whole(users, capsys):
    code = ("from app import auth, launch\n"
            "root = auth.get_user('root')\n"
            "for i in range(15):\n"
            "    launch.launch_job(actor=root, job_type='SYSTEM', job_subtype='NOOP', payload={'sleep_s': 0})\n")
    procs = [subprocess.Popen([sys.executable, "-c", code], env=dict(os.environ)) for _ in range(4)]
    assert [p.wait(timeout=300) for p in procs] == [0, 0, 0, 0]
    entries = _log(action="job.lodge")
    with get_engine().connect() as conn:
        ids = set(conn.execute(sa.select(Job.__table__.c.id)).scalars())
    assert len(entries) == 60 and {e.target for e in entries} == ids
    code, out = _verify(capsys)
    assert code == 0 and "60 entries" in out, out
