"""New jobs are announced on the events channel once their queue holds them, so open
jobs panels show them before a worker takes them; a retry announces itself by its
transition only."""

from __future__ import annotations

import json
import time

from app import keys, launch, queues
from tests.conftest import run_workers


def _events(pubsub, wait_s: float = 2.0) -> list[dict]:
    out, deadline = [], time.monotonic() + wait_s
    while time.monotonic() < deadline:
        msg = pubsub.get_message(ignore_subscribe_messages=True, timeout=0.1)
        if msg:
            out.append(json.loads(msg["data"]))
        elif out:
            break
    return out


def test_lodging_announces_new_jobs_by_owner_and_batch(users):
    ps = queues.redis_conn().pubsub()
    ps.subscribe(keys.events_channel())
    ps.get_message(timeout=1)  # the subscribe confirmation
    job = launch.launch_job(actor=users["root"], job_type="SYSTEM", job_subtype="NOOP", payload={},
                            owner="alice")
    batch = launch.launch_batch(actor=users["root"], job_type="SYSTEM", job_subtype="NOOP",
                                payloads=[{}, {}, {}], owner="bob")
    got = [e for e in _events(ps) if e["kind"] == "lodged"]
    assert got[0] == {"kind": "lodged", "owner": "alice", "batch_id": None, "count": 1, "job_ids": [job.id]}
    assert got[1]["owner"] == "bob" and got[1]["batch_id"] == batch.id and got[1]["count"] == 3
    assert len(got[1]["job_ids"]) == 3

    launch.cancel_job(actor=users["root"], job_id=job.id)
    _events(ps, 0.5)
    launch.retry_job(actor=users["root"], job_id=job.id)
    after = _events(ps)
    assert [e["kind"] for e in after] == ["job"] and after[0]["status"] == "PENDING"
    run_workers()
    ps.close()
