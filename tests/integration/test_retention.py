"""Retention: final jobs past their retention go with their history and files, in
bounded chunks, by the housekeeper; counts stay exact; provenance stays."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app import counts, launch, registry, retention
from app.db import get_engine, session, utcnow
from app.models import Activity, Batch, Item, Job, JobFile, JobMessage, ProvEdge
from app.settings import reload_settings
from tests.conftest import run_workers

_job = Job.__table__


def _age(job_ids, days: float) -> None:
    with get_engine().begin() as conn:
        conn.execute(sa.update(_job).where(_job.c.id.in_(list(job_ids)))
                     .values(finished_at=utcnow() - timedelta(days=days)))


def _rows(model, *where) -> int:
    with get_engine().connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(model.__table__).where(*where)).scalar_one()


def _ids(*where) -> set[str]:
    with get_engine().connect() as conn:
        return set(conn.execute(sa.select(_job.c.id).where(*where)).scalars())


def _exact() -> None:
    with get_engine().connect() as conn:
        assert counts.kept(conn) == counts.recount(conn)


@pytest.fixture
def retain(monkeypatch):
    def set_(days: str, by_type: str = "") -> None:
        monkeypatch.setenv("JOBDECK_RETAIN_DAYS", days)
        monkeypatch.setenv("JOBDECK_RETAIN_DAYS_BY_TYPE", by_type)
        reload_settings()
    return set_


def test_old_final_jobs_go_with_history_and_files_and_counts_stay_exact(users, jobdeck, retain):
    root, alice = users["root"], users["alice"]
    item, _ = registry.create_item(actor=alice, subtype="DATASET", display_name="kept forever")
    old = launch.launch_job(actor=root, job_type="SYSTEM", job_subtype="NOOP", payload={}, owner="alice")
    batch = launch.launch_batch(actor=root, job_type="SYSTEM", job_subtype="NOOP", payloads=[{}] * 3)
    gone_batch = launch.launch_batch(actor=root, job_type="SYSTEM", job_subtype="NOOP", payloads=[{}] * 2)
    run_workers()
    waiting = launch.launch_job(actor=root, job_type="SYSTEM", job_subtype="NOOP", payload={}, owner="bob")
    with get_engine().begin() as conn:  # an odd old stamp on a job still waiting: it must stay
        conn.execute(sa.update(_job).where(_job.c.id == waiting.id).values(finished_at=utcnow() - timedelta(days=30)))
    stored = jobdeck.files_dir / old.id / "out.txt"
    stored.parent.mkdir(parents=True)
    stored.write_bytes(b"rain\n")
    with session(write=True) as s:
        s.add(JobFile(job_id=old.id, name="out.txt", size=5, sha256=hashlib.sha256(b"rain\n").hexdigest(),
                      stored_path=str(stored)))
    in_batch = sorted(_ids(_job.c.batch_id == batch.id))
    item_jobs = _ids(_job.c.entity_id == item.id)
    prov_before = (_rows(Activity), _rows(ProvEdge), _rows(Item))
    assert prov_before[0] and prov_before[1]
    aged = {old.id, in_batch[0], *item_jobs, *_ids(_job.c.batch_id == gone_batch.id)}
    _age(aged | {waiting.id}, days=2)

    assert retention.prune().jobs == 0  # retention is off by default: nothing goes
    retain("1")
    done = retention.prune()
    assert (done.jobs, done.files, done.batches) == (len(aged), 1, 1)
    assert not _ids(_job.c.id.in_(aged)) and _rows(JobMessage, JobMessage.job_id.in_(aged)) == 0
    assert not stored.exists() and _rows(JobFile) == 0
    assert waiting.id in _ids() and set(in_batch[1:]) <= _ids()
    with session() as s:
        b = s.get(Batch, batch.id)
        assert (b.total, b.succeeded) == (2, 2)
        assert s.get(Batch, gone_batch.id) is None  # emptied, so gone with its last job
    assert (_rows(Activity), _rows(ProvEdge), _rows(Item)) == prov_before  # provenance is never touched
    _exact()
    assert retention.prune().jobs == 0  # nothing more is due


def test_per_type_retention_and_bounded_chunks(users, retain):
    root = users["root"]
    system = launch.launch_batch(actor=root, job_type="SYSTEM", job_subtype="NOOP", payloads=[{}] * 5)
    item, _ = registry.create_item(actor=users["alice"], subtype="DATASET", display_name="d")
    run_workers()
    registry_jobs = _ids(_job.c.entity_id == item.id)
    _age(_ids(), days=3)
    retain("2", "SYSTEM=0")  # SYSTEM jobs kept forever, every other type two days
    assert retention.prune().jobs == len(registry_jobs)
    assert len(_ids(_job.c.batch_id == system.id)) == 5
    retain("0", "SYSTEM=1")  # only SYSTEM jobs go, two per chunk, one chunk per call
    assert retention.prune(chunk=2, max_chunks=1).jobs == 2
    assert retention.prune(chunk=2, max_chunks=10).jobs == 3
    _exact()
    assert "SYSTEM: 1 days" in retention.policy().describe()


def test_the_housekeeper_prunes(users, retain):
    from worker.reaper import Housekeeper

    job = launch.launch_job(actor=users["root"], job_type="SYSTEM", job_subtype="NOOP", payload={})
    run_workers()
    _age([job.id], days=10)
    retain("7")
    keeper = Housekeeper("retention-test")
    keeper.tick()  # every duty is due on the first tick
    assert job.id not in _ids()
    _exact()


def test_a_bad_per_type_setting_is_named():
    with pytest.raises(ValueError, match="'PIPELINE=soon'"):
        retention.parse_by_type("SYSTEM=1, PIPELINE=soon")
    assert retention.parse_by_type(" system=1.5 ,") == {"SYSTEM": 1.5}
