"""The audit log's tables (app.audit): the append-only, hash-chained entries and the
chain's one-row head. On the same metadata as app.models, which imports this module so
that every table is made and migrated together."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.columns import created as _created

class AuditEntry(SQLModel, table=True):
    """One action that changed something (or was refused), as app.audit records it:
    append-only, each entry's hash covering its content and the previous entry's hash.
    `id` is the entry's place in the chain (1, 2, …), given by app.audit, never reused.
    Each filter of the audit page has its index, ending in id for keyset paging."""

    __tablename__ = "auditentry"
    __table_args__ = (sa.Index("ix_audit_actor", "actor", "id"),
                      sa.Index("ix_audit_action", "action", "id"),
                      sa.Index("ix_audit_target", "target", "id"),
                      sa.Index("ix_audit_outcome", "outcome", "id"),
                      sa.Index("ix_audit_created", "created_at", "id"))

    id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    created_at: datetime = _created()
    actor: str = Field(max_length=64)
    address: str = Field(default="", max_length=64)
    via: str = Field(max_length=16)  # api | console | operator
    action: str = Field(max_length=64)
    target: str = Field(default="", max_length=256)
    outcome: str = Field(max_length=16)  # ok | refused
    message: str = Field(default="", max_length=1024)
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class AuditHead(SQLModel, table=True):
    """The chain's head, one row: the last entry's id and hash. Writers lock it, so
    entries get their ids and previous hashes one after another across processes; the
    verify command checks the log ends where the head says (a removed last entry)."""

    __tablename__ = "audithead"

    id: int = Field(default=1, primary_key=True, sa_column_kwargs={"autoincrement": False})
    seq: int = 0
    hash: str = Field(max_length=64)
