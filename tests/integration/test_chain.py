"""The diagnostic NOOP's `then`: a sequential workflow, each step lodged by the one
before in the transaction that records its success."""

from app import launch, queries
from app.db import session
from app.models import Job
from tests.conftest import run_workers


def test_noop_then_runs_a_sequential_workflow(users):
    first = launch.launch_job(actor=users["root"], job_type="SYSTEM", job_subtype="NOOP", payload={"then": 3})
    run_workers()
    with session() as s:
        steps = list(s.exec(Job.__table__.select().where(Job.workflow_id == first.workflow_id)
                            .order_by(Job.created_at, Job.id)))
    assert [j.status for j in steps] == ["SUCCEEDED"] * 4
    assert [j.payload.get("then", 0) for j in steps] == [3, 2, 1, 0]
    assert [j.parent_job_id for j in steps[1:]] == [j.id for j in steps[:-1]]
    assert [c.id for c in queries.job_children(steps[0].id)] == [steps[1].id]
