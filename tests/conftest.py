"""Shared fixtures: a real Redis server started for the test run, a fresh database per
test (SQLite; `postgres_db` for a PostgreSQL one), and the project's RQ worker (burst
mode) to run what was lodged.

Every test gets its own SQLite file and an empty Redis database (flushed before and
after), so tests never see each other's jobs.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import redis

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    """A redis-server process of the tests' own, on a free port, keeping nothing on disk."""

    def __init__(self, workdir: Path):
        self.binary = shutil.which("redis-server")
        if not self.binary:
            raise RuntimeError("redis-server is not installed: run ./scripts/test, which installs it")
        self.port = free_port()
        self.workdir = workdir
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        r = redis.Redis(port=self.port)
        for _ in range(200):
            try:
                if r.ping():
                    return
            except redis.ConnectionError:
                time.sleep(0.02)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


# The job database of the run: "sqlite" (a file per test) or "postgresql" (one database
# on the tests' PostgreSQL for the run, emptied before each test). ./scripts/test runs
# the integration and end-to-end tests once on each.
TEST_DB = os.environ.get("JOBDECK_TEST_DB", "sqlite")


def pytest_configure(config):
    config.addinivalue_line("markers", "sqlite_only: runs in the SQLite run only: it reaches into SQLite "
                                       "itself (its file, locks, planner) or picks its own database")
    config.addinivalue_line("markers", "postgresql_only: runs in the PostgreSQL run only: several processes "
                                       "(web backends, hosts) against one database server, as deployed")


def pytest_collection_modifyitems(config, items):
    other = "sqlite_only" if TEST_DB == "postgresql" else "postgresql_only"
    kept = [i for i in items if i.get_closest_marker(other) is None]
    if len(kept) != len(items):
        config.hook.pytest_deselected(items=[i for i in items if i not in kept])
        items[:] = kept


@pytest.fixture(scope="session")
def suite_postgres():
    """The run's PostgreSQL job database (JOBDECK_TEST_DB=postgresql): schema made once."""
    from app.db import get_engine
    from app.models import TABLES

    url = new_postgres_database("jobdeck_suite")
    TABLES.create_all(get_engine(url))
    yield url
    drop_postgres_database(url)


def _empty_tables(url: str) -> None:
    import sqlalchemy as sa

    from app.db import get_engine
    from app.models import TABLES

    names = ", ".join(f'"{t.name}"' for t in TABLES.sorted_tables)
    with get_engine(url).begin() as conn:
        conn.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture
def jobdeck(tmp_path, redis_server, monkeypatch, request):
    """A configured Jobdeck: fresh schema, empty Redis, settings pointing at both."""
    from app import queues
    from app.db import dispose_engines, get_engine
    from app.models import TABLES
    from app.settings import reload_settings

    if redis_server.proc is None or redis_server.proc.poll() is not None:
        redis_server.start()  # a test may have stopped it
    pg = request.getfixturevalue("suite_postgres") if TEST_DB == "postgresql" else None
    monkeypatch.setenv("JOBDECK_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("JOBDECK_DATABASE_URL", pg or f"sqlite:///{tmp_path / 'data' / 'jobdeck.db'}")
    monkeypatch.setenv("JOBDECK_REDIS_URL", redis_server.url)
    monkeypatch.setenv("JOBDECK_PENDING_GRACE_S", "0")
    dispose_engines()
    queues.reset_connections()
    settings = reload_settings()
    if pg:
        _empty_tables(pg)
    else:
        TABLES.create_all(get_engine())
    queues.redis_conn().flushdb()
    yield settings
    try:
        queues.redis_conn().flushdb()
    except queues.REDIS_ERRORS:
        pass
    dispose_engines()
    queues.reset_connections()
    reload_settings()


# An admin URL of the tests' PostgreSQL; ./scripts/test starts a server of its own when
# none answers here (scripts/lib.sh ensure_test_postgres).
PG_ADMIN_URL = os.environ.get("JOBDECK_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def postgres_admin():
    """An engine on the tests' PostgreSQL server. No server there fails the test: a
    PostgreSQL test that skips would count as passing while proving nothing."""
    import sqlalchemy as sa

    eng = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})
    try:
        with eng.connect() as c:
            c.execute(sa.text("select 1"))
    except Exception as exc:
        eng.dispose()
        pytest.fail(f"PostgreSQL does not answer at {PG_ADMIN_URL} (JOBDECK_TEST_DATABASE_URL): "
                    f"{exc.__class__.__name__}: {exc}. ./scripts/test starts one when none answers.",
                    pytrace=False)
    return eng


@pytest.fixture
def postgres_db(monkeypatch, jobdeck):
    """A fresh, empty PostgreSQL database as the job database (no tables yet), dropped
    at the end; the rest as `jobdeck` sets it up."""
    from app.db import dispose_engines
    from app.settings import reload_settings

    url = new_postgres_database("jobdeck_test")
    monkeypatch.setenv("JOBDECK_DATABASE_URL", url)
    dispose_engines()
    reload_settings()
    yield url
    dispose_engines()
    drop_postgres_database(url)


def new_postgres_database(prefix: str) -> str:
    """A new, empty database on the tests' PostgreSQL; its URL."""
    import sqlalchemy as sa

    admin = postgres_admin()
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with admin.connect() as c:
        c.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


def drop_postgres_database(url: str) -> None:
    import sqlalchemy as sa

    from app.db import dispose_engines

    dispose_engines()
    admin = postgres_admin()
    with admin.connect() as c:
        c.execute(sa.text(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)'))
    admin.dispose()


@contextlib.contextmanager
def module_jobdeck(tmp_path_factory, redis_server, name: str):
    """A Jobdeck set up once for a whole module (its own SQLite file, an empty Redis, no
    rate limit), for tests that share one API server and its data; undone at the end."""
    from app import queues
    from app.db import dispose_engines, get_engine
    from app.models import TABLES
    from app.settings import reload_settings

    if redis_server.proc is None or redis_server.proc.poll() is not None:
        redis_server.start()
    d = tmp_path_factory.mktemp(name)
    mp = pytest.MonkeyPatch()
    mp.setenv("JOBDECK_DATA_DIR", str(d / "data"))
    mp.setenv("JOBDECK_DATABASE_URL", f"sqlite:///{d / 'data' / 'jobdeck.db'}")
    mp.setenv("JOBDECK_REDIS_URL", redis_server.url)
    mp.setenv("JOBDECK_API_RATE_LIMIT", "0")
    dispose_engines()
    queues.reset_connections()
    reload_settings()
    TABLES.create_all(get_engine())
    queues.redis_conn().flushdb()
    try:
        yield
    finally:
        queues.redis_conn().flushdb()
        dispose_engines()
        queues.reset_connections()
        mp.undo()
        reload_settings()


def run_workers(max_rounds: int = 20) -> None:
    """Run every queue dry with the project's own worker (worker/process.py in burst
    mode: RQ's SimpleWorker with the heartbeat, halting and time limits, as the pool
    runs it), again while work keeps arriving (a workflow lodges its next step when a
    job succeeds). The worker installs signal handlers in the test process; they are
    put back afterwards, so that Ctrl-C still stops pytest."""
    import signal

    from app import queues
    from app.jobtypes import BACKENDS
    from worker.pool import work

    qs = [q for b in BACKENDS for q in queues.backend_queues(b)]  # high, normal and low
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1)}
    try:
        for _ in range(max_rounds):
            if not any(q.count for q in qs):
                return
            work(burst=True, backends=BACKENDS)
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)
    raise AssertionError("queues did not run dry")


@pytest.fixture
def users(jobdeck):
    """alice and bob (users) and root (admin); passwords are '<name>-password'."""
    from app import auth

    return {name: auth.create_user(username=name, password=f"{name}-password", role=role)
            for name, role in (("alice", "user"), ("bob", "user"), ("root", "admin"))}


@pytest.fixture
def world(users):
    """Registry items a model run can name (complete and consistent: the workflow
    template names the model and the dataset template), lodged and run."""
    from app.demo import model_run_world

    made = model_run_world(users["alice"])
    run_workers()
    return made


def model_run_record(world, **over) -> dict:
    rec = {
        "workflow_template_id": world["wf"].id,
        "inputs": [{"dataset_template_id": world["template"].id, "dataset_id": world["rain"].id}],
        "outputs": [{"dataset_template_id": world["template"].id, "dataset_id": world["flow"].id}],
        "display_name": "run 1", "description": "a test run",
        "associations": {"modeller_id": world["person"].id,
                         "requesting_organisation_id": world["org"].id},
        "start_time": 1_700_000_000, "end_time": 1_700_000_600,
    }
    rec.update(over)
    return rec
