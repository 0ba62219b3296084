"""A job's effect commits with its success: a registration whose job is cancelled while
its handler runs (the outcome is dropped) has registered nothing, and one that succeeds
has registered everything, so a job's status never belies the provenance it wrote."""

import sqlalchemy as sa

from app import launch, provenance
from app.db import session
from app.models import Activity, Item, ProvEdge
from tests.conftest import model_run_record, run_workers


def _written(run_id: str) -> tuple:
    with session() as s:
        conn = s.connection()
        item = conn.execute(sa.select(Item.id).where(Item.id == run_id)).first()
        acts = conn.execute(sa.select(sa.func.count()).where(Activity.id == run_id)).scalar()
        edges = conn.execute(sa.select(sa.func.count()).where(ProvEdge.record_id == run_id)).scalar()
    return item is not None, acts, edges


def test_a_model_run_cancelled_while_its_handler_ran_registers_nothing(world, users, monkeypatch):
    alice = users["alice"]
    kept = launch.launch_job(actor=alice, job_type="PROV_LODGE", job_subtype="MODEL_RUN_PROV_LODGE",
                             payload={"record": model_run_record(world, display_name="kept")})
    run_workers()
    assert launch.get_job(kept.id).status == "SUCCEEDED"
    assert _written(provenance.model_run_id(kept.id)) == (True, 1, 6) and launch.get_job(kept.id).result["edges"] == 6

    job = launch.launch_job(actor=alice, job_type="PROV_LODGE", job_subtype="MODEL_RUN_PROV_LODGE",
                            payload={"record": model_run_record(world, display_name="cancelled")})
    real = provenance.lodge_model_run

    def then_cancelled(**kw):
        out = real(**kw)  # validated, its write handed back, not yet run
        launch.cancel_job(actor=alice, job_id=job.id)
        return out

    monkeypatch.setattr(provenance, "lodge_model_run", then_cancelled)
    run_workers()
    assert launch.get_job(job.id).status == "CANCELLED"
    assert _written(provenance.model_run_id(job.id)) == (False, 0, 0)
