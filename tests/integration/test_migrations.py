"""The committed migrations build exactly the schema of app.models, on SQLite and on
PostgreSQL, and the engine's workflows run on both."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
import sqlalchemy as sa

from app.db import dispose_engines, get_engine, migrate
from app.models import TABLES
from app.settings import reload_settings
from tests.conftest import run_workers


# Indexes on an expression: alembic reads them back as text in the database's own words
# (PostgreSQL's `lower((display_name)::text) COLLATE "C"`), never equal to the model's,
# so they are checked by name instead.
EXPRESSION_INDEXES = {"ix_item_name_key"}


def _skip_expression_indexes(obj, name, type_, reflected, compare_to):
    return not (type_ == "index" and name in EXPRESSION_INDEXES)


def _diff(url):
    with get_engine(url).connect() as conn:
        have = set(conn.execute(sa.text(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'item'" if conn.dialect.name == "postgresql"
            else "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'item'")).scalars())
        missing = [("missing index", n) for n in sorted(EXPRESSION_INDEXES - have)]
        return missing + compare_metadata(
            MigrationContext.configure(conn, opts={"include_object": _skip_expression_indexes}), TABLES)


def test_sqlite_migrations_match_the_models(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'm.db'}"
    monkeypatch.setenv("JOBDECK_DATABASE_URL", url)
    reload_settings()
    migrate()
    migrate()  # a second run is a no-op
    assert _diff(url) == []
    dispose_engines()
    reload_settings()


def test_postgres_migrations_and_workflows(postgres_db):
    from app import auth, launch, registry

    migrate()
    assert _diff(postgres_db) == []
    alice = auth.create_user(username="alice", password="alice-password")
    root = auth.create_user(username="root", password="root-password", role="admin")
    item, job = registry.create_item(actor=alice, subtype="DATASET", display_name="On PostgreSQL")
    v2, vjob = None, None
    run_workers()
    v2, vjob = registry.version_item(actor=alice, item_id=item.id, reason="second")
    batch = launch.launch_batch(actor=root, job_type="SYSTEM", job_subtype="NOOP", payloads=[{}] * 5)
    run_workers()
    assert registry.get_item(item.id).record_status == "LODGED"
    assert registry.get_item(v2.id).record_status == "LODGED"
    from app.db import session
    from app.models import Batch
    with session() as s:
        assert s.get(Batch, batch.id).succeeded == 5
