"""The chaos run's checker (bench/chaos.py `check`) on record sets made by hand: a
sound one passes, and each broken promise it is meant to catch is reported."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from bench import chaos
from app.models import Activity, Item, Job, JobMessage, ProvEdge

KILLED_AT = datetime(2026, 1, 5, 12, 0, 0, tzinfo=timezone.utc)
WORKER = "prov_lodge-101.1-ab12@host1"


def _lines(job_id: str, final: str, *, final_at: datetime, worker: str = WORKER, text: str = "") -> list[JobMessage]:
    at = final_at - timedelta(seconds=3)
    return [
        JobMessage(job_id=job_id, at=at, status="PENDING", attempt=1, text="Lodged by alice"),
        JobMessage(job_id=job_id, at=at + timedelta(seconds=1), status="DEQUEUED", attempt=1,
                   text=f"Taken by worker {worker}"),
        JobMessage(job_id=job_id, at=at + timedelta(seconds=2), status="IN_PROGRESS", attempt=1, text="Started"),
        JobMessage(job_id=job_id, at=final_at, status=final, attempt=1, text=text or final.capitalize()),
    ]


def _created_item(*, record_status: str = "LODGED", lodge_final: str = "SUCCEEDED",
                  lodge_ended: datetime = KILLED_AT - timedelta(seconds=5), lodge_text: str = ""):
    """One item's create workflow, run to its end: register the activity, then lodge it."""
    item = Item(id="item-1", subtype="MODEL", display_name="a model", owner="alice", record_status=record_status)
    act = Activity(id="act-1", kind="Create", item_id=item.id, agent="user/alice")
    register = Job(id="job-reg", owner="alice", job_type="REGISTRY", job_subtype="REGISTER_CREATE_ACTIVITY",
                   status="SUCCEEDED", payload={"item_id": item.id}, entity_id=item.id)
    lodge = Job(id="job-lodge", owner="alice", job_type="PROV_LODGE", job_subtype="LODGE_CREATE_ACTIVITY",
                status=lodge_final, parent_job_id=register.id, entity_id=item.id,
                payload={"item_id": item.id, "activity_id": act.id})
    edges = [ProvEdge(subject=a, relation=r, object=b, record_id=act.id) for a, r, b in
             ((item.id, "wasGeneratedBy", act.id), (act.id, "wasAssociatedWith", "user/alice"),
              (item.id, "wasAttributedTo", "user/alice"))] if lodge_final == "SUCCEEDED" else []
    records = chaos.Records(
        jobs={register.id: register, lodge.id: lodge},
        msgs={register.id: _lines(register.id, "SUCCEEDED", final_at=lodge_ended - timedelta(seconds=5),
                                  worker="registry-100.1-cd34@host1"),
              lodge.id: _lines(lodge.id, lodge_final, final_at=lodge_ended, text=lodge_text)},
        batches={}, items={item.id: item}, edges=edges, activities=[act])
    return records, [register.id, lodge.id]


def _kill_of_the_lodge() -> chaos.Kill:
    return chaos.Kill(at=0.0, worker=WORKER, pid=101, job_id="job-lodge", attempt=1, wall=KILLED_AT.timestamp())


def _problems(records, session_ids, kills=()) -> list[str]:
    report = chaos.Report()
    chaos.check(report, records, session_ids, list(kills), explain=lambda j: "not asked")
    return report.problems


def test_a_sound_run_has_no_problems():
    records, ids = _created_item()
    assert _problems(records, ids) == []


def test_an_item_whose_lodge_succeeded_but_is_not_lodged_is_reported():
    records, ids = _created_item(record_status="COMPLETE")
    assert _problems(records, ids) == ["item item-1 lodged by job-lodge is COMPLETE, not LODGED"]


def test_a_lodge_of_an_item_that_does_not_exist_is_reported():
    records, ids = _created_item()
    records.items.clear()
    assert "item item-1 lodged by job-lodge does not exist" in _problems(records, ids)


def test_a_job_that_ended_before_its_worker_was_killed_is_no_problem():
    # The kill chose a worker whose job had just ended (the worker list lags behind).
    records, ids = _created_item(lodge_ended=KILLED_AT - timedelta(milliseconds=5))
    assert _problems(records, ids, [_kill_of_the_lodge()]) == []


def test_a_success_recorded_after_its_worker_was_killed_is_reported():
    # Even a fraction of a second late: a SIGKILLed worker writes nothing.
    records, ids = _created_item(lodge_ended=KILLED_AT + timedelta(milliseconds=300))
    problems = _problems(records, ids, [_kill_of_the_lodge()])
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"job job-lodge ended SUCCEEDED 0.300 s after its worker {WORKER} was killed")


def test_a_crash_recorded_after_the_kill_naming_the_worker_is_no_problem():
    records, ids = _created_item(lodge_final="CRASHED", lodge_ended=KILLED_AT + timedelta(seconds=0.8),
                                 lodge_text=f"Crashed: worker {WORKER} on host host1 died while running the job")
    report = chaos.Report()
    chaos.check(report, records, ids, [_kill_of_the_lodge()], explain=lambda j: "not asked")
    assert report.problems == []
    assert report.kills_on_jobs == 1 and [round(s, 3) for s in report.detect_s] == [0.8]


def test_status_counts_that_differ_from_a_recount_are_reported():
    records, ids = _created_item()
    records.kept_counts = {("alice", "SUCCEEDED"): 2, ("*", "SUCCEEDED"): 2}
    assert _problems(records, ids) == []
    records.kept_counts = {("alice", "SUCCEEDED"): 1, ("*", "SUCCEEDED"): 2}
    assert [p for p in _problems(records, ids) if "status counts differ" in p]
