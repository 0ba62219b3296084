"""The tests' PostgreSQL: a PostgreSQL test fails (never skips) when no server answers,
and ./scripts/test starts a server of its own when none answers at
JOBDECK_TEST_DATABASE_URL (scripts/lib.sh), then stops and removes it."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests import conftest
from tests.conftest import ROOT, free_port


def _answers(url: str) -> bool:
    eng = sa.create_engine(url, connect_args={"connect_timeout": 2})
    try:
        with eng.connect() as c:
            return c.execute(sa.text("select 1")).scalar() == 1
    except sa.exc.OperationalError:
        return False
    finally:
        eng.dispose()


def test_a_postgres_test_fails_when_no_server_answers(monkeypatch):
    nowhere = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/postgres"
    monkeypatch.setattr(conftest, "PG_ADMIN_URL", nowhere)
    with pytest.raises(pytest.fail.Exception, match="PostgreSQL does not answer at .*JOBDECK_TEST_DATABASE_URL"):
        conftest.postgres_admin()


def test_the_test_script_starts_its_own_postgres_when_none_answers():
    """What ./scripts/test does before pytest, with nothing listening at the URL it is
    given (the machine's own server is left alone): a server of its own, as the postgres
    user when run as root, whose URL is exported; stopped and removed at the end."""
    nowhere = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/postgres"
    base = Path(tempfile.mkdtemp(prefix="jobdeck-pg-test.", dir="/tmp"))
    base.chmod(0o755)  # the postgres user must reach it
    script = ('source scripts/lib.sh; trap stop_test_postgres EXIT; ensure_test_postgres; '
              'echo "URL=$JOBDECK_TEST_DATABASE_URL"; echo "RUN=$TEST_PG_RUN_DIR"; '
              'echo "OWNER=$(ps -o user= -p "$(head -1 "$TEST_PG_RUN_DIR/data/postmaster.pid")")"; '
              '"$VENV/bin/python" -c "import os, sqlalchemy as sa; '
              'e = sa.create_engine(os.environ[\'JOBDECK_TEST_DATABASE_URL\']); '
              'print(\'SERVER\', e.connect().execute(sa.text(\'show port\')).scalar())"')
    env = {**os.environ, "JOBDECK_TEST_DATABASE_URL": nowhere, "JOBDECK_TEST_PG_DIR": str(base)}
    try:
        done = subprocess.run(["bash", "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=180)
        assert done.returncode == 0, done.stdout + done.stderr
        lines = dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)
        url, run_dir = lines["URL"], lines["RUN"]
        assert url != nowhere and url.startswith("postgresql+psycopg://postgres@127.0.0.1:")
        port = url.rsplit(":", 1)[1].split("/")[0]
        assert f"SERVER {port}" in done.stdout  # pytest would have reached it
        assert run_dir.startswith(str(base))
        if os.geteuid() == 0:
            assert lines["OWNER"].strip() == "postgres"  # postgres refuses to run as root
        assert not Path(run_dir).exists() and not _answers(url)  # stopped and removed at the end
    finally:
        shutil.rmtree(base, ignore_errors=True)
