"""A pipeline run's graph as the job page draws it: an order per row, its parallel
steps side by side as lanes, the join (every step of an order to every step of the
next), steps not lodged yet drawn as planned from the run's plan, each lodged step a
link to its page; a plan drawn before it is saved; and the names of a run's files in its zip."""

from __future__ import annotations

from app.models import Job
from app.runfiles import step_folder
from app.state.runview import graph_of

ROOT = "r" * 8
PLAN = [{"order": 1, "task": "sort", "task_id": 1}, {"order": 1, "task": "count", "task_id": 2},
        {"order": 1, "task": "sort", "task_id": 1}, {"order": 2, "task": "join", "task_id": 3},
        {"order": 3, "task": "report", "task_id": 4}, {"order": 3, "task": "plot", "task_id": 5}]


def _step(jid: str, order: int, index: int, task: str, status: str) -> Job:
    payload = {"pipeline": "P", "task": task, "order": order, "index": index, "upload": {"name": "a.txt"}}
    if jid == ROOT:
        payload["plan"] = PLAN
    return Job(id=jid, owner="alice", job_type="PIPELINE", job_subtype="RUN_TASK", status=status, step=order,
               workflow_id=ROOT, payload=payload)


def test_lanes_the_join_and_planned_steps():
    steps = [_step(ROOT, 1, 0, "sort", "SUCCEEDED"), _step("b", 1, 1, "count", "SUCCEEDED"),
             _step("c", 1, 2, "sort", "SUCCEEDED"), _step("d", 2, 0, "join", "IN_PROGRESS")]
    nodes, edges, height = graph_of(steps, current_id="b")
    by_id = {n["id"]: n for n in nodes}
    assert [n["id"] for n in nodes] == [ROOT, "b", "c", "d", "planned/3/0", "planned/3/1"]
    # a row per order, lanes side by side and centred under one another
    rows = {}
    for n in nodes:
        rows.setdefault(n["data"]["order"], []).append(n["position"])
    assert [len(r) for r in rows.values()] == [3, 1, 2]
    assert all(len({p["y"] for p in r}) == 1 for r in rows.values())
    assert rows[1][0]["y"] < rows[2][0]["y"] < rows[3][0]["y"]
    assert [p["x"] for p in rows[1]] == sorted(p["x"] for p in rows[1]) and rows[2][0]["x"] == rows[1][1]["x"] == 0
    assert sum(p["x"] for p in rows[3]) == 0
    # statuses, links, the page's own step, planned ones
    assert [by_id[i]["data"]["status"] for i in (ROOT, "d", "planned/3/0")] == ["SUCCEEDED", "IN_PROGRESS", "PLANNED"]
    assert by_id["b"]["data"]["href"] == "/jobs/b" and by_id["planned/3/1"]["data"]["href"] == ""
    assert "run-node-current" in by_id["b"]["className"] and "run-node-current" not in by_id["c"]["className"]
    assert [by_id[i]["data"]["lane"] for i in (ROOT, "b", "c")] == [1, 2, 3]
    assert by_id[ROOT]["data"]["parallel"] and not by_id["d"]["data"]["parallel"]
    # the join: 3 x 1, then 1 x 2; the edge into a running step moves, into a planned one is dashed
    assert sorted((e["source"], e["target"]) for e in edges) == sorted(
        [(ROOT, "d"), ("b", "d"), ("c", "d"), ("d", "planned/3/0"), ("d", "planned/3/1")])
    assert {e["animated"] for e in edges if e["target"] == "d"} == {True}
    assert {e["className"] for e in edges if e["source"] == "d"} == {"run-edge-planned"}
    assert 220 <= height <= 560


def test_a_run_of_one_step_and_an_empty_one():
    nodes, edges, _ = graph_of([_step(ROOT, 1, 0, "sort", "PENDING")])
    assert len(nodes) == 6 and len(edges) == 3 * 1 + 1 * 2
    assert graph_of([]) == ([], [], 220)


def test_step_folders_in_the_zip_are_plain_names():
    assert step_folder(1, "line count") == "1-line-count"
    assert step_folder(2, "../../etc/passwd") == "2-etc-passwd"
    assert step_folder(3, "...") == "3-step"


def test_a_plan_drawn_before_it_is_saved():
    """The configuration page's preview: steps as typed (orders out of turn), all planned."""
    from app.state.runview import plan_graph

    nodes, edges, height = plan_graph([(2, "join"), (1, "sort"), (1, "count"), (5, "report")])
    assert [(n["data"]["order"], n["data"]["lane"], n["data"]["task"]) for n in nodes] == [
        (1, 1, "sort"), (1, 2, "count"), (2, 1, "join"), (5, 1, "report")]
    assert {n["data"]["status"] for n in nodes} == {"PLANNED"} and not any(n["data"]["href"] for n in nodes)
    assert sorted((e["source"], e["target"]) for e in edges) == [
        ("planned/1/0", "planned/2/0"), ("planned/1/1", "planned/2/0"), ("planned/2/0", "planned/5/0")]
    assert plan_graph([])[:2] == ([], [])
