"""The short form of bench/chaos.py: jobs lodged through the REST API while workers are
killed with SIGKILL about every second, Redis restarts once (losing its data) and the web
backend restarts once. Every job must end in exactly one final state, none lost, no PROV
edge duplicated or missing, every kill that hit a job recorded on it.

In the PostgreSQL pass the job database is a PostgreSQL server of the run's own, with 4
workers a backend, and it is restarted in the middle of the lodging as well: lodging
answers 503 meanwhile, and the same checks must pass."""

from bench import chaos
from tests.conftest import TEST_DB

ON_POSTGRES = TEST_DB == "postgresql"


def test_chaos_short(tmp_path):
    report = chaos.run(workdir=tmp_path / "chaos", creates=12, versions=6, model_runs=16, batches=2,
                       batch_size=4, slow=6, kill_every=1.0, seed=7, settle_timeout_s=90,
                       env={"JOBDECK_PENDING_GRACE_S": "2"}, postgres=ON_POSTGRES, restart_postgres=ON_POSTGRES,
                       workers=4 if ON_POSTGRES else None)
    print("\n".join(report.lines()))
    assert report.problems == []
    assert report.jobs >= 70 and report.session_ids == 12 + 6 + 16 + 2 + 6 + 7  # the 7 items every run names
    assert set(report.by_status) <= {"SUCCEEDED", "CRASHED"}  # CRASHED: killed on every attempt
    assert report.kills >= 5 and report.kills_on_jobs >= 1
    assert report.crashes_recorded >= 1
    assert report.redis_recover_s is not None and report.recover_s is not None
    assert report.web_downtime_s is not None  # lodging saw the web backend go and come back
    if ON_POSTGRES:
        assert report.database == "PostgreSQL" and report.pg_downtime_s is not None
