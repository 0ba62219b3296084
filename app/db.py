"""The one database engine, sessions, and schema migrations.

SQLite is the default and PostgreSQL the choice at scale; the code uses only what both
support. On SQLite, write transactions start with BEGIN IMMEDIATE: a deferred transaction
that reads and then writes fails at once with SQLITE_BUSY when another writer committed
in between (WAL mode), whereas IMMEDIATE waits its turn under busy_timeout.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager, nullcontext
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.ext.compiler import compiles
from sqlmodel import Session

from app.settings import get_settings
from app.write_turn import WriteTurn

_lock = threading.Lock()
_engines: dict[str, sa.Engine] = {}


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


LIKE_ESCAPE = "\\"


def like_literal(text: str) -> str:
    """`text` for a LIKE pattern, matching only itself: its % and _ (and the escape
    character) escaped. Use with `escape=LIKE_ESCAPE`."""
    return text.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2).replace("%", LIKE_ESCAPE + "%").replace("_", LIKE_ESCAPE + "_")


def contains_pattern(text: str) -> str:
    """A LIKE pattern for "contains `text`" (escaped; use with `escape=LIKE_ESCAPE`)."""
    return f"%{like_literal(text)}%"


class UTCDateTime(sa.types.TypeDecorator):
    """Timestamps are stored as naive UTC and always come back timezone-aware."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use app.db.utcnow()")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def bind_processor(self, dialect):
        # SQLAlchemy's own conversion (process_bind_param, then the driver type's),
        # remembering the last value: a batch's rows share one timestamp object (created,
        # lodged, updated), converted once rather than 30,000 times for 10,000 jobs, a
        # tenth of lodging them. The pair is swapped whole, so a thread racing another
        # reads a matching pair or converts again.
        process = super().bind_processor(dialect)
        if process is None:
            return None
        last = [(object(), None)]

        def remembered(value):
            seen, converted = last[0]
            if value is seen:
                return converted
            converted = process(value)
            last[0] = (value, converted)
            return converted

        return remembered

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc)


class ms_between(sa.sql.functions.FunctionElement):
    """Milliseconds from one timestamp to a later one, as SQL on either database (a
    job's run time, written by the statement that ends it); NULL when either is."""

    type = sa.BigInteger()
    inherit_cache = True
    name = "ms_between"


@compiles(ms_between, "sqlite")
def _ms_sqlite(element, compiler, **kw):
    start, end = (compiler.process(c, **kw) for c in element.clauses)
    return f"CAST(ROUND((julianday({end}) - julianday({start})) * 86400000.0) AS INTEGER)"


@compiles(ms_between, "postgresql")
def _ms_postgresql(element, compiler, **kw):
    start, end = (compiler.process(c, **kw) for c in element.clauses)
    return f"CAST(ROUND(EXTRACT(EPOCH FROM ({end} - {start})) * 1000) AS BIGINT)"


def _make_engine(url: str) -> sa.Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn, _record):
            # Take transaction control away from pysqlite so BEGIN is ours to emit.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=30000")
            # A bigger page cache than SQLite's 2 MiB: a batch of thousands of jobs touches
            # every index of the job table, and with the small cache the transaction spilled
            # dirty pages to the WAL and wrote the same pages again (pages are allocated
            # only as used, so an idle connection costs nothing).
            cur.execute("PRAGMA cache_size=-65536")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn):
            mode = conn.get_execution_options().get("jobdeck_write")
            conn.exec_driver_sql("BEGIN IMMEDIATE" if mode else "BEGIN")

        return engine
    return sa.create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def get_engine(url: str | None = None) -> sa.Engine:
    url = url or get_settings().database_url
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            engine = _engines[url] = _make_engine(url)
        return engine


def _turn_of(engine: sa.Engine):
    """The write turn of a SQLite file's engine (app.write_turn), None for PostgreSQL."""
    if engine.dialect.name != "sqlite" or not engine.url.database or engine.url.database == ":memory:":
        return None
    turn = _turns.get(engine.url.database)
    if turn is None:
        with _lock:
            turn = _turns.setdefault(engine.url.database, WriteTurn(engine.url.database + "-turn"))
    return turn


_turns: dict[str, WriteTurn] = {}


@contextmanager
def write_turn() -> Iterator[None]:
    """Wait for this process's turn at the database's write lock (SQLite; none on PostgreSQL)."""
    turn = _turn_of(get_engine())
    if turn is None:
        yield
        return
    with turn.held():
        yield


def write_engine() -> sa.Engine:
    """The engine whose transactions take the write lock up front on SQLite (made once
    per engine: every transition asks for it)."""
    engine = get_engine()
    writer = _writers.get(engine)
    if writer is None:
        with _lock:
            writer = _writers[engine] = engine.execution_options(jobdeck_write=True)
    return writer


_writers: dict[sa.Engine, sa.Engine] = {}


def dispose_engines() -> None:
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()
        _writers.clear()


@contextmanager
def session(*, write: bool = False) -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    done: list = []
    with write_turn() if write else nullcontext(), \
            Session(write_engine() if write else get_engine(), expire_on_commit=False) as s:
        try:
            yield s
            if write and s.in_transaction():
                s.flush()
                done = [fn(s.connection()) for fn in _LAST_BEFORE_COMMIT]
            s.commit()
        except BaseException:
            s.rollback()
            raise
    _committed(done)


# Run with each write_conn transaction's connection just before it commits (app.counts
# applies its deltas there: the last locks a transaction takes, so never part of a cycle).
_BEFORE_COMMIT: list = []
WRITE_SCRATCH = "jobdeck_write"  # conn.info key: what a write transaction keeps until its commit


# Run after every other hook, in write_conn and write sessions alike: app.audit appends
# the entry of the change under way there, so the change and its entry commit together
# (the chain's head is the last lock taken). Each returns what to call once the
# transaction has committed (or None); nothing is called when it rolls back.
_LAST_BEFORE_COMMIT: list = []


def before_commit(fn):
    _BEFORE_COMMIT.append(fn)
    return fn


def last_before_commit(fn):
    _LAST_BEFORE_COMMIT.append(fn)
    return fn


def _committed(done: list) -> None:
    for fn in done:
        if fn is not None:
            fn()


@contextmanager
def write_conn() -> Iterator[sa.Connection]:
    """A Core connection in one write transaction, for the hot paths."""
    done: list = []
    with write_turn(), write_engine().begin() as conn:
        conn.info[WRITE_SCRATCH] = {}
        try:
            yield conn
            for fn in _BEFORE_COMMIT:
                fn(conn)
            done = [fn(conn) for fn in _LAST_BEFORE_COMMIT]
        finally:
            # An invalidated connection (the database went away) cannot be touched before
            # its rollback, and its info goes with it: popping there would replace the
            # database's error (a 503) with SQLAlchemy's PendingRollbackError (a 500).
            if not conn.invalidated:
                conn.info.pop(WRITE_SCRATCH, None)
    _committed(done)


def dialect_insert(table: sa.Table, dialect_name: str):
    """The database's own INSERT of `table`, the one that has ON CONFLICT."""
    if dialect_name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table)


def insert_ignore(table: sa.Table, dialect_name: str):
    """INSERT … ON CONFLICT DO NOTHING on either database: handlers repeat safely."""
    return dialect_insert(table, dialect_name).on_conflict_do_nothing()


def alembic_config():
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    cfg.set_main_option("sqlalchemy.url", get_settings().database_url.replace("%", "%%"))
    return cfg


def migrate() -> None:
    """Bring the schema to the newest migration."""
    from alembic import command

    command.upgrade(alembic_config(), "head")
    optimize()


def optimize() -> None:
    """Give SQLite's query planner statistics (PostgreSQL's autovacuum keeps its own).

    Without them SQLite guesses, and with one index per filter it can guess wrong: a
    workflow's steps read through the job-type index read every job of that type. With
    `analysis_limit`, ANALYZE samples each index instead of reading it whole (under a
    second at 1M jobs); `PRAGMA optimize` runs it only where the statistics are missing
    or stale. Run after migrations and by the housekeeper every few minutes."""
    engine = get_engine()
    if engine.dialect.name != "sqlite":
        return
    # A write transaction from its BEGIN: a deferred one read sqlite_master first, and its
    # write then failed at once ("database is locked") whenever a worker had committed
    # meanwhile, which a pool just started (its first jobs running) showed on every start.
    with write_engine().begin() as conn:  # committed: ANALYZE writes its statistics
        conn.exec_driver_sql("PRAGMA analysis_limit=1000")
        stats = conn.exec_driver_sql("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'").first()
        # A database never analysed has no statistics to find stale: analyse it once.
        conn.exec_driver_sql("PRAGMA optimize" if stats else "ANALYZE")


class name_key(sa.sql.functions.GenericFunction):
    """A name folded for prefix search: `lower(name)`, compared byte by byte (PostgreSQL's
    "C" collation; SQLite's default BINARY). The item-name index is built on this same
    expression and a prefix is a range of it, so the prefix search reads only that range
    in order, whatever the database's own collation would sort it by."""

    type = sa.String()
    inherit_cache = True
    name = "name_key"


@compiles(name_key)
def _name_key_default(element, compiler, **kw):
    return f"lower({compiler.process(element.clauses, **kw)})"


@compiles(name_key, "postgresql")
def _name_key_postgresql(element, compiler, **kw):
    return f'lower({compiler.process(element.clauses, **kw)}) COLLATE "C"'
