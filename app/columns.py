"""Columns every table module shares: the id a row is given, UTC timestamps, JSON, and a
partial index's condition written for SQLite and PostgreSQL alike."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field

from app.db import UTCDateTime, utcnow


def new_id() -> str:
    return str(uuid.uuid4())


def ts(nullable: bool = False, index: bool = False):
    return Field(default=None if nullable else None, sa_type=UTCDateTime, nullable=nullable, index=index)


def created():
    return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


def json_column(nullable: bool = True):
    return Field(default=None, sa_type=sa.JSON, nullable=nullable)


def where(condition: str) -> dict[str, Any]:
    """A partial index's condition, on SQLite and PostgreSQL alike."""
    return {"sqlite_where": sa.text(condition), "postgresql_where": sa.text(condition)}
