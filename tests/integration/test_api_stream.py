"""The Server-Sent Events streams, against build_api() served by uvicorn on a real port,
with real RQ workers moving the jobs: the current state first, then each transition
once and in order, then the end."""

from __future__ import annotations


import httpx
import pytest

from tests.conftest import run_workers
from tests.integration.api_live import EventReader, LiveServer, token_for

ORDER = ["DEQUEUED", "IN_PROGRESS"]


@pytest.fixture
def live(jobdeck):
    server = LiveServer().start()
    yield server
    server.stop()


def _noop(root, **payload):
    from app import launch

    return launch.launch_job(actor=root, job_type="SYSTEM", job_subtype="NOOP", payload=payload)


def transitions(events, job_id=None):
    return [(d["status"], d["attempt"]) for n, d in events
            if n == "transition" and (job_id is None or d["job_id"] == job_id)]


def test_job_stream_sends_state_then_each_transition_once_in_order(live, users):
    root = users["root"]
    job = _noop(root, sleep_s=0.2)
    reader = EventReader(f"{live.url}/api/jobs/{job.id}/events", token_for("root")).start()
    reader.wait_for("snapshot")
    run_workers()
    events = reader.join()
    assert reader.status == 200
    names = [n for n, _ in events]
    assert names[0] == "snapshot" and names[-1] == "end"
    assert events[0][1]["status"] == "PENDING" and events[0][1]["id"] == job.id
    assert transitions(events) == [("DEQUEUED", 1), ("IN_PROGRESS", 1), ("SUCCEEDED", 1)]
    prevs = [d["prev_status"] for n, d in events if n == "transition"]
    assert prevs == ["PENDING", "DEQUEUED", "IN_PROGRESS"]
    assert events[-1][1] == {"job_id": job.id, "status": "SUCCEEDED", "attempt": 1}


def test_stream_of_a_final_job_ends_at_once_and_a_retry_streams_the_new_attempt(live, users):
    from app import launch

    root = users["root"]
    job = _noop(root, outcome="fail")
    run_workers()
    token = token_for("root")
    first = EventReader(f"{live.url}/api/jobs/{job.id}/events", token).start().join()
    assert [n for n, _ in first] == ["snapshot", "end"] and first[-1][1]["status"] == "FAILED"

    launch.retry_job(actor=root, job_id=job.id)
    second = EventReader(f"{live.url}/api/jobs/{job.id}/events", token).start()
    second.wait_for("snapshot")
    run_workers()
    events = second.join()
    assert events[0][1]["attempt"] == 2 and events[0][1]["status"] == "PENDING"
    assert transitions(events) == [("DEQUEUED", 2), ("IN_PROGRESS", 2), ("FAILED", 2)]


def test_late_duplicate_events_and_notes_are_not_sent_twice(live, users):
    """Pub/sub is only a wake-up: a repeated event or a history note adds no transition."""
    from app import events as ev, lifecycle
    from app.lifecycle import JobStatus

    root = users["root"]
    job = _noop(root)
    reader = EventReader(f"{live.url}/api/jobs/{job.id}/events", token_for("root")).start()
    reader.wait_for("snapshot")
    done = lifecycle.transition(job.id, JobStatus.DEQUEUED, message="taken by hand")
    reader.wait_for("transition", 1)
    for _ in range(3):  # the same event again, as a late or duplicate publish would bring it
        ev.publish(done.event())
    lifecycle.add_message(job.id, "a note, not a transition")
    ev.publish(done.event())
    lifecycle.transition(job.id, JobStatus.CANCELLED, message="stopped")
    events = reader.join()
    assert transitions(events) == [("DEQUEUED", 1), ("CANCELLED", 1)]


def test_stream_reads_the_database_when_redis_is_away(live, users, redis_server):
    from app import lifecycle
    from app.lifecycle import JobStatus

    root = users["root"]
    job = _noop(root)  # queued while Redis is up; moved by hand below
    redis_server.stop()
    try:
        reader = EventReader(f"{live.url}/api/jobs/{job.id}/events", token_for("root")).start()
        reader.wait_for("snapshot", timeout=10)
        lifecycle.transition(job.id, JobStatus.DEQUEUED, message="taken")
        lifecycle.transition(job.id, JobStatus.IN_PROGRESS, message="started")
        lifecycle.transition(job.id, JobStatus.SUCCEEDED, message="done")
        events = reader.join(timeout=20)
    finally:
        redis_server.start()
    assert transitions(events) == [("DEQUEUED", 1), ("IN_PROGRESS", 1), ("SUCCEEDED", 1)]


def test_batch_stream_tells_every_job_once_in_order_and_ends_when_all_are_final(live, users):
    from app import launch

    root = users["root"]
    batch = launch.launch_batch(actor=root, job_type="SYSTEM", job_subtype="NOOP",
                                payloads=[{"outcome": "succeed"}] * 11 + [{"outcome": "fail"}])
    reader = EventReader(f"{live.url}/api/batches/{batch.id}/events", token_for("root")).start()
    reader.wait_for("snapshot")
    run_workers()
    events = reader.join()
    snap = events[0][1]
    assert events[0][0] == "snapshot" and snap["total"] == 12 and snap["counts"]["PENDING"] == 12
    by_job: dict[str, list[str]] = {}
    for n, d in events:
        if n == "transition":
            by_job.setdefault(d["job_id"], []).append(d["status"])
    assert len(by_job) == 12
    ends = sorted(v[-1] for v in by_job.values())
    assert ends == ["FAILED"] + ["SUCCEEDED"] * 11
    assert all(v == ORDER + [v[-1]] for v in by_job.values()), by_job
    last_counts = [d for n, d in events if n == "batch"][-1]
    assert last_counts["done"] and last_counts["counts"]["SUCCEEDED"] == 11 and last_counts["counts"]["FAILED"] == 1
    assert events[-1][0] == "end" and events[-1][1]["counts"] == last_counts["counts"]


def test_stream_of_another_users_job_is_404_before_any_event(live, users):
    from app import launch

    job = launch.launch_job(actor=users["root"], job_type="SYSTEM", job_subtype="NOOP", payload={}, owner="alice")
    r = httpx.get(f"{live.url}/api/jobs/{job.id}/events", headers={"Authorization": f"Bearer {token_for('bob')}"})
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json")


def test_progress_reaches_the_stream(live, users):
    """A handler's progress report arrives as a `progress` event while the job runs."""
    from app import lifecycle
    from app.lifecycle import JobStatus
    from worker.context import JobContext

    root = users["root"]
    job = _noop(root)
    reader = EventReader(f"{live.url}/api/jobs/{job.id}/events", token_for("root")).start()
    reader.wait_for("snapshot")
    lifecycle.transition(job.id, JobStatus.DEQUEUED, message="taken")
    lifecycle.transition(job.id, JobStatus.IN_PROGRESS, message="started")
    ctx = JobContext(job_id=job.id, attempt=1, owner="root", job_type="SYSTEM", job_subtype="NOOP",
                     workflow_id=job.id, batch_id=None, entity_id=None, worker="test")
    reader.wait_for("transition", 2)  # the stream knows the job runs: a progress report is for it
    ctx.progress(0.5, "half way")
    reader.wait_for("progress")
    lifecycle.transition(job.id, JobStatus.SUCCEEDED, message="done")
    events = reader.join()
    prog = [d for n, d in events if n == "progress"]
    assert prog[0]["progress"] == 0.5 and prog[0]["message"] == "half way"
    assert transitions(events) == [("DEQUEUED", 1), ("IN_PROGRESS", 1), ("SUCCEEDED", 1)]


def test_missing_and_reordered_events_are_told_from_the_history(live, users):
    """An event that skips steps (its predecessors were never published, or arrive
    later) makes the stream read the job's history: nothing is lost or reordered."""
    from app import events as ev, launch, lifecycle, queries
    from app.lifecycle import JobStatus

    root = users["root"]
    job = _noop(root)
    batch = launch.launch_batch(actor=root, job_type="SYSTEM", job_subtype="NOOP", payloads=[{}])
    member = queries.batch_jobs(viewer=root, batch_id=batch.id).jobs[0]
    token = token_for("root")
    one = EventReader(f"{live.url}/api/jobs/{job.id}/events", token).start()
    many = EventReader(f"{live.url}/api/batches/{batch.id}/events", token).start()
    one.wait_for("snapshot")
    many.wait_for("snapshot")
    for jid in (job.id, member.id):
        a = lifecycle.transition(jid, JobStatus.DEQUEUED, message="taken", publish=False)
        b = lifecycle.transition(jid, JobStatus.IN_PROGRESS, message="started", publish=False)
        ev.publish(b.event())  # DEQUEUED's event is missing here...
        ev.publish(a.event())  # ...and arrives after its successor
        lifecycle.transition(jid, JobStatus.SUCCEEDED, message="done")
    assert transitions(one.join()) == [("DEQUEUED", 1), ("IN_PROGRESS", 1), ("SUCCEEDED", 1)]
    events = many.join()
    assert transitions(events) == [("DEQUEUED", 1), ("IN_PROGRESS", 1), ("SUCCEEDED", 1)]
    assert events[-1][1]["counts"]["SUCCEEDED"] == 1


def test_a_disabled_users_open_stream_ends_at_once(live, users):
    from app import launch
    from app import users as accounts

    job = launch.launch_job(actor=users["root"], job_type="SYSTEM", job_subtype="NOOP", payload={}, owner="alice")
    token = token_for("alice")
    reader = EventReader(f"{live.url}/api/jobs/{job.id}/events", token).start()
    reader.wait_for("snapshot")
    accounts.disable_user(actor=users["root"], username="alice")
    events = reader.join(timeout=20)  # the job is still PENDING: only the disabling ends it
    assert [n for n, _ in events] == ["snapshot"]
    r = httpx.get(f"{live.url}/api/jobs/{job.id}/events", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401 and "disabled" in r.json()["detail"]
