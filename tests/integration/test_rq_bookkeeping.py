"""A Jobdeck worker does RQ's bookkeeping of a Jobdeck job in fewer round trips
(worker/process.py): what it leaves in Redis must be what RQ's own path leaves, and a
job that is not a Jobdeck job (another function, a result kept) still takes RQ's path."""

from __future__ import annotations

from rq.job import Job as RQJob
from rq.registry import FinishedJobRegistry, StartedJobRegistry

from tests.conftest import run_workers


def _keys(conn, pattern: str) -> list[str]:
    return [k.decode() for k in conn.scan_iter(pattern)]


def test_a_succeeded_job_leaves_no_rq_keys_and_another_function_keeps_rqs_path(jobdeck, users):
    from app import keys, launch, queues

    conn = queues.redis_conn()
    jobs = [launch.launch_job(actor=users["root"], job_type="SYSTEM", job_subtype="NOOP", payload={})
            for _ in range(3)]
    rq_ids = [keys.rq_job_id(j.id, 1) for j in jobs]
    q = queues.queue("system")
    other = q.enqueue("builtins.len", [1, 2], result_ttl=600)
    run_workers()

    assert [launch.get_job(j.id).status for j in jobs] == ["SUCCEEDED"] * 3
    for rq_id in rq_ids:
        assert not conn.exists(f"rq:job:{rq_id}", f"rq:executions:{rq_id}")
        assert not _keys(conn, f"rq:execution:{rq_id}:*")
    assert StartedJobRegistry(queue=q).get_job_ids() == []
    # RQ's own path for a job that is not Jobdeck's: its result is kept where RQ keeps it.
    kept = RQJob.fetch(other.id, connection=conn)
    assert kept.get_status() == "finished" and kept.return_value() == 2
    assert other.id in FinishedJobRegistry(queue=q).get_job_ids()


def test_a_failed_job_takes_rqs_failure_path(jobdeck, users):
    from app import keys, launch, queues

    job = launch.launch_job(actor=users["root"], job_type="SYSTEM", job_subtype="NOOP",
                            payload={"outcome": "fail"})
    run_workers()
    got = launch.get_job(job.id)
    assert got.status == "FAILED", got.status
    conn = queues.redis_conn()
    rq_id = keys.rq_job_id(job.id, 1)
    # The handler's failure is Jobdeck's outcome; RQ saw the runner return normally.
    assert not conn.exists(f"rq:job:{rq_id}")
    assert StartedJobRegistry(queue=queues.queue("system")).get_job_ids() == []
