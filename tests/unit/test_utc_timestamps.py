"""UTC timestamps as bound to either database: each value converted as itself, though
the conversion of the last one is remembered (a batch's rows share one timestamp)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from app.db import UTCDateTime


@pytest.mark.parametrize("dialect", [sqlite.dialect(), postgresql.dialect()], ids=["sqlite", "postgresql"])
def test_each_timestamp_is_bound_as_itself(dialect):
    process = UTCDateTime().dialect_impl(dialect).bind_processor(dialect) or (lambda v: v)
    a = datetime(2026, 1, 2, 3, 4, 5, 6000, tzinfo=timezone.utc)
    b = datetime(2026, 1, 2, 5, 4, 5, tzinfo=timezone(timedelta(hours=2)))  # the same instant as 03:04:05 UTC
    equal_to_a = datetime(2026, 1, 2, 3, 4, 5, 6000, tzinfo=timezone.utc)
    ours = UTCDateTime().process_bind_param
    drivers = sa.DateTime().dialect_impl(dialect).bind_processor(dialect) or (lambda v: v)  # SQLite's: text
    values = (a, a, b, a, equal_to_a, None, b)
    assert [process(v) for v in values] == [drivers(ours(v, dialect)) for v in values]
    got = [process(v) for v in values]
    assert got[2] != got[0]


def test_a_naive_timestamp_is_refused_however_often():
    process = UTCDateTime().dialect_impl(sqlite.dialect()).bind_processor(sqlite.dialect())
    naive = datetime(2026, 1, 2)
    for _ in range(2):
        with pytest.raises(ValueError):
            process(naive)
