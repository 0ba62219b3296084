"""The audit chain, written with changes in their own transactions: each entry's hash
covers its predecessor's and its own content, so an altered field, a removed, inserted
or reordered entry, or a head out of step is named by verify."""

from __future__ import annotations

import sqlalchemy as sa

from app import audit
from app.db import get_engine, write_conn
from app.audit_tables import AuditEntry


def _sql(text: str, **params) -> None:
    with get_engine().begin() as conn:
        conn.execute(sa.text(text), params)


def _chain(n: int) -> None:
    for i in range(n):
        with write_conn():  # an audited change's transaction appends its entry last
            pass
        audit.record(action="job.lodge", target=f"job-{i}", actor="alice")


def test_a_hash_covers_its_predecessor_and_every_field():
    e = {"id": 1, "created_at": "2026-12-02T00:00:00+00:00", "actor": "a", "address": "", "via": "api",
         "action": "job.lodge", "target": "t", "outcome": "ok", "message": ""}
    h = audit.chain_hash(audit.GENESIS, e)
    assert audit.chain_hash("1" * 64, e) != h
    for field in ("id", "actor", "address", "via", "action", "target", "outcome", "message", "created_at"):
        assert audit.chain_hash(audit.GENESIS, {**e, field: "changed"}) != h, field


def test_an_intact_chain_verifies(jobdeck):
    _chain(4)
    assert audit.verify() == audit.Verdict(True, 4)


def test_an_altered_entry_is_named(jobdeck):
    _chain(4)
    _sql("UPDATE auditentry SET outcome = 'refused' WHERE id = 3")
    v = audit.verify()
    assert (v.ok, v.bad_entry) == (False, 3) and "altered" in v.problem


def test_a_removed_entry_is_named(jobdeck):
    _chain(4)
    _sql("DELETE FROM auditentry WHERE id = 2")
    v = audit.verify()
    assert (v.ok, v.bad_entry) == (False, 2) and "missing" in v.problem


def test_a_rewritten_entry_with_a_good_hash_breaks_its_successor(jobdeck):
    _chain(4)
    with get_engine().connect() as conn:
        t = AuditEntry.__table__
        row = dict(conn.execute(sa.select(t).where(t.c.id == 2)).mappings().one())
    forged = {**row, "actor": "mallory"}
    _sql("UPDATE auditentry SET actor = 'mallory', hash = :h WHERE id = 2",
         h=audit.chain_hash(row["prev_hash"], forged))
    v = audit.verify()
    assert (v.ok, v.bad_entry) == (False, 3) and "does not follow" in v.problem


def test_the_head_out_of_step_is_named(jobdeck):
    _chain(3)
    _sql("DELETE FROM auditentry WHERE id = 3")
    v = audit.verify()
    assert (v.ok, v.bad_entry) == (False, 3) and "the log ends at 2" in v.problem
