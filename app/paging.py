"""Keyset paging, the one way lists are paged: newest first by `(created_at, id)`,
with an opaque cursor, so a page costs the same at any depth (never OFFSET)."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime, timezone
from typing import Any, Optional

import sqlalchemy as sa

from app.db import session
from app.errors import InvalidCursor, InvalidInput
from app.shapes import text_problem

MAX_LIMIT = 500


def sort_key(created_at: datetime, id_: str) -> str:
    """A row's place in the keyset order, as a string that sorts the same way (lists
    that follow pushes keep these); a cursor is one of these, encoded."""
    return f"{created_at.isoformat()}|{id_}"


def encode_cursor(created_at: datetime, id_: str) -> str:
    return cursor_of_key(sort_key(created_at, id_))


def cursor_of_key(key: str) -> str:
    """The cursor after the row whose `sort_key` this is."""
    return base64.urlsafe_b64encode(key.encode()).decode()


def decode_cursor(cursor: str, *, field: str = "cursor") -> tuple[datetime, str]:
    """The (created_at, id) a cursor stands for, as the database compares them: a
    timezone-aware UTC time and an id. Anything else (a time without a timezone, one
    past year 9999 once in UTC, an id with control characters) is refused as a 400
    naming `field`, never handed to the database."""
    bad = InvalidCursor("The cursor is not one this server gave out: send back the next_cursor "
                        "of the previous page unchanged.", field=field)
    try:
        text = base64.urlsafe_b64decode(cursor.encode("ascii")).decode("utf-8")
        ts, id_ = text.split("|", 1)
        at = datetime.fromisoformat(ts)
        if at.tzinfo is None or at.utcoffset() is None:
            raise bad
        at = at.astimezone(timezone.utc)
    except (ValueError, TypeError, OverflowError, binascii.Error, UnicodeError):
        raise bad from None
    if not id_ or len(id_) > 64 or text_problem(id_):
        raise bad
    return at, id_


def newest_first(stmt: Any, model: Any, *, cursor: Optional[str], limit: int) -> tuple[list[Any], Optional[str]]:
    """One page of `stmt` (a select of `model`) and the cursor of the next, if any."""
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}.", field="limit")
    stmt = stmt.order_by(model.created_at.desc(), model.id.desc()).limit(limit + 1)
    if cursor:
        stmt = stmt.where(sa.tuple_(model.created_at, model.id) < decode_cursor(cursor))
    with session() as s:
        rows = list(s.exec(stmt))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (encode_cursor(rows[-1].created_at, rows[-1].id) if more else None)


def in_order(stmt: Any, model: Any, column: Any, *, cursor: Optional[str],
             limit: int) -> tuple[list[Any], Optional[str]]:
    """One page of `stmt` in ascending `(column, id)` order (a batch's jobs by their row),
    keyset-paged the same way, and the cursor of the next page, if any."""
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}.", field="limit")
    stmt = stmt.order_by(column.asc(), model.id.asc()).limit(limit + 1)
    if cursor:
        try:
            n, id_ = base64.urlsafe_b64decode(cursor.encode()).decode().removeprefix("row:").split("|", 1)
            after = (int(n), id_)
        except Exception:
            raise InvalidInput("The cursor is not one this server gave out.", field="cursor") from None
        stmt = stmt.where(sa.tuple_(column, model.id) > after)
    with session() as s:
        rows = list(s.exec(stmt))
    more = len(rows) > limit
    rows = rows[:limit]
    if not more:
        return rows, None
    last = rows[-1]
    key = f"row:{getattr(last, column.key) or 0}|{last.id}"
    return rows, base64.urlsafe_b64encode(key.encode()).decode()
