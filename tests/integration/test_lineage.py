"""Lineage, upstream and downstream: Provena's own client (`provenaclient`) against a
running Jobdeck, Jobdeck's REST API, the bounds of the walk and the indexes that serve it.

The graph is made the way users make it: items created and versioned, model runs
registered, every job run by the project's own workers."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from provenaclient.utils.exceptions import AuthException, BadRequestException, NotFoundException

from app import bulk, lineage, registry
from app.db import get_engine
from tests.conftest import TEST_DB, model_run_record, run_workers
from tests.integration.test_provena import connect, run, server_url  # noqa: F401 (fixtures)


def _register_runs(world, names: list[str], **over) -> dict[str, str]:
    """Model runs of `world` (rain in, flow out), registered by alice; name -> run id."""
    batch = bulk.register_model_runs(actor=_alice(), records=[model_run_record(world, display_name=n, **over)
                                                              for n in names], label="runs")
    run_workers()
    with get_engine().connect() as conn:
        rows = conn.execute(sa.text("SELECT id, display_name FROM item WHERE subtype = 'MODEL_RUN'")).all()
    assert batch.total == len(names)
    return {name: id_ for id_, name in rows}


def _alice():
    from app import auth

    return auth.get_user("alice")


@pytest.fixture
def runs(world):
    return _register_runs(world, ["run 1"])


def _links(graph) -> set[tuple[str, str, str]]:
    return {(link.source, link.type, link.target) for link in graph.links}


# --- Provena's client -----------------------------------------------------------------------


def test_provenas_client_explores_both_ways(world, runs, connect):
    rain, flow, run1 = world["rain"].id, world["flow"].id, runs["run 1"]
    bob = connect("bob")  # the items are alice's: every signed-in user reads them and their lineage

    # Which model runs used this dataset: one hop downstream.
    down = run(bob.prov_api.explore_downstream(starting_id=rain, depth=1))
    assert down.status.success and down.graph.directed and not down.graph.multigraph
    assert _links(down.graph) == {(run1, "used", rain)}
    kinds = {n.id: (n.item_category.value, n.item_subtype.value) for n in down.graph.nodes}
    assert kinds == {run1: ("ACTIVITY", "MODEL_RUN"), rain: ("ENTITY", "DATASET")}
    assert down.record_count == 2

    # What was derived from it: the run's output, a hop further.
    down2 = run(bob.prov_api.explore_downstream(starting_id=rain, depth=2))
    assert (flow, "wasGeneratedBy", run1) in _links(down2.graph)
    assert {n.id for n in down2.graph.nodes} == {rain, run1, flow}

    # Upstream of the output: the run, then what the run used and who ran it.
    up1 = run(bob.prov_api.explore_upstream(starting_id=flow, depth=1))
    assert (flow, "wasGeneratedBy", run1) in _links(up1.graph)
    assert rain not in {n.id for n in up1.graph.nodes}
    up = run(bob.prov_api.explore_upstream(starting_id=flow, depth=2))
    links = _links(up.graph)
    assert {(run1, "used", rain), (run1, "used", world["wf"].id),
            (run1, "wasAssociatedWith", world["person"].id),
            (run1, "wasAssociatedWith", world["org"].id)} <= links
    kinds = {n.id: (n.item_category.value, n.item_subtype.value) for n in up.graph.nodes}
    assert kinds[world["person"].id] == ("AGENT", "PERSON") and kinds[world["org"].id] == ("AGENT", "ORGANISATION")
    assert kinds[world["wf"].id] == ("ENTITY", "MODEL_RUN_WORKFLOW_TEMPLATE")
    # flow was created by alice: its Create activity and alice (a Jobdeck user, a person to Provena)
    assert kinds["user/alice"] == ("AGENT", "PERSON")
    assert "CREATE" in {sub for _, sub in kinds.values()}
    assert up.record_count == len(up.graph.nodes)
    # The default depth (3) goes past the inputs to their own creation.
    assert len(run(bob.prov_api.explore_upstream(starting_id=flow)).graph.nodes) > len(up.graph.nodes)


def test_provenas_client_depth_limits_unknown_ids_and_tokens(world, runs, connect):
    alice, rain = connect("alice"), world["rain"].id
    assert run(alice.prov_api.explore_upstream(starting_id=rain, depth=10)).status.success
    for depth in (0, 11, -1):
        for explore in (alice.prov_api.explore_upstream, alice.prov_api.explore_downstream):
            with pytest.raises(BadRequestException) as bad:
                run(explore(starting_id=rain, depth=depth))
            assert bad.value.error_code == 400 and "depth" in bad.value.message
    for explore in (alice.prov_api.explore_upstream, alice.prov_api.explore_downstream):
        with pytest.raises(NotFoundException) as unknown:
            run(explore(starting_id="no-such-item", depth=2))
        assert "no-such-item" in unknown.value.message
    with pytest.raises(AuthException):
        run(connect("alice", token="jdk_not-a-token").prov_api.explore_downstream(starting_id=rain, depth=1))


def test_an_item_without_links_is_an_empty_graph_to_provena(users, connect):
    lone, _ = registry.create_item(actor=users["bob"], subtype="DATASET", display_name="not lodged yet")
    # Its create workflow has not run: no edges yet, so no nodes, as Provena answers.
    answer = run(connect("alice").prov_api.explore_upstream(starting_id=lone.id, depth=3))
    assert answer.record_count == 0 and answer.graph.nodes == [] and answer.graph.links == []


# --- Jobdeck's API ----------------------------------------------------------------------------


def _lineage(api, item_id, who="alice", **params):
    return api.get(f"/api/items/{item_id}/lineage", params=params, headers=api.as_(who))


def test_jobdeck_api_both_ways_with_levels_labels_and_links(api, world, runs):
    rain, flow, run1 = world["rain"].id, world["flow"].id, runs["run 1"]
    newer, _ = registry.version_item(actor=_alice(), item_id=rain, reason="recalibrated")
    run_workers()

    r = _lineage(api, rain, direction="downstream", depth=2)
    assert r.status_code == 200, r.text
    body = r.json()
    nodes = {n["id"]: n for n in body["nodes"]}
    assert body["start_id"] == rain and body["direction"] == "downstream" and not body["capped"]
    assert nodes[rain]["level"] == 0 and nodes[run1]["level"] == 1 and nodes[flow]["level"] == 2
    assert nodes[run1] | {"more": None} == {"id": run1, "category": "ACTIVITY", "subtype": "MODEL_RUN",
                                            "label": "run 1", "level": 1, "item_id": run1, "more": None}
    # The newer version was derived from it; its Version activity used it.
    assert nodes[newer.id]["level"] == 1 and nodes[newer.id]["label"] == "demo rain (v2)"
    edges = {(e["source"], e["relation"], e["target"]) for e in body["edges"]}
    assert {(run1, "used", rain), (newer.id, "wasDerivedFrom", rain), (flow, "wasGeneratedBy", run1)} <= edges
    version = [n for n in body["nodes"] if n["subtype"] == "VERSION"]
    assert len(version) == 1 and version[0]["item_id"] == newer.id  # an activity links to the item it made
    assert not any("job" in k for n in body["nodes"] for k in n)  # lineage names no jobs

    up = _lineage(api, flow, direction="upstream", depth=1).json()
    assert {n["id"] for n in up["nodes"]} >= {flow, run1, "user/alice"}
    more = {n["id"]: n["more"] for n in up["nodes"]}
    assert more[run1] is True  # it used more than is shown at depth 1
    assert more["user/alice"] is False and more[flow] is False  # nothing upstream of a user; flow was walked
    user = next(n for n in up["nodes"] if n["id"] == "user/alice")
    assert user["category"] == "AGENT" and user["subtype"] == "USER" and user["item_id"] is None

    # Expanding a node a level: explore from it, one hop.
    nxt = _lineage(api, run1, direction="upstream", depth=1).json()
    assert {world["rain"].id, world["wf"].id, world["person"].id} <= {n["id"] for n in nxt["nodes"]}


def test_jobdeck_api_refuses_bad_requests_naming_them(api, world, runs):
    rain = world["rain"].id
    for params, field in (({"direction": "downstream", "depth": 0}, "depth"),
                          ({"direction": "downstream", "depth": 11}, "depth"),
                          ({"direction": "upstream", "depth": -3}, "depth"),
                          ({"direction": "sideways", "depth": 1}, "direction"),
                          ({"direction": "upstream", "max_nodes": 0}, "max_nodes"),
                          ({"direction": "upstream", "max_nodes": 100_000}, "max_nodes")):
        r = _lineage(api, rain, **params)
        assert r.status_code == 400, (params, r.text)
        assert r.json()["field"] == field and field in r.json()["detail"]
    r = _lineage(api, rain, depth=2)
    assert r.status_code == 422 and r.json()["field"].endswith("direction")
    r = _lineage(api, rain, direction="upstream", depth="deep")
    assert r.status_code == 422
    r = _lineage(api, "no-such-item", direction="upstream")
    assert r.status_code == 404 and "no-such-item" in r.json()["detail"]
    assert api.get(f"/api/items/{rain}/lineage", params={"direction": "upstream"}).status_code == 401
    # Someone else's item: read as the item is, by any signed-in user.
    assert _lineage(api, rain, who="bob", direction="downstream").json() == \
        _lineage(api, rain, who="alice", direction="downstream").json()


def test_the_walk_is_capped_with_a_note(api, world):
    runs = _register_runs(world, [f"run {i}" for i in range(12)])
    rain = world["rain"].id
    body = _lineage(api, rain, direction="downstream", depth=3, max_nodes=5).json()
    assert body["capped"] and "Capped at 5 nodes" in body["note"]
    assert len(body["nodes"]) == 5
    ids = {n["id"] for n in body["nodes"]}
    assert all(e["source"] in ids and e["target"] in ids for e in body["edges"])
    # The first links in index order: the nearest level first, never one of a level further.
    assert {n["level"] for n in body["nodes"]} == {0, 1}
    assert next(n for n in body["nodes"] if n["id"] == rain)["more"]  # it has more runs than shown
    full = _lineage(api, rain, direction="downstream", depth=1).json()
    assert not full["capped"] and full["note"] == ""
    assert set(runs.values()) <= {n["id"] for n in full["nodes"]}
    # Provena's answer says so in its details.
    answer = lineage.provena_answer(lineage.explore(start_id=rain, direction="downstream", depth=2,
                                                    max_nodes=5))
    assert "Capped at 5 nodes" in answer["status"]["details"] and answer["record_count"] <= 5


# --- the indexes that serve it ---------------------------------------------------------------


def _seed_hub(n: int) -> None:
    """A dataset used by n model runs, each with an output: a hub for the walk."""
    from app.db import utcnow
    from app.models import Item, ProvEdge

    now = utcnow()
    rows = [dict(subject=f"run{i}", relation="used", object="hub", record_id="r", created_at=now) for i in range(n)]
    rows += [dict(subject=f"out{i}", relation="wasGeneratedBy", object=f"run{i}", record_id="r", created_at=now)
             for i in range(n)]
    with get_engine().begin() as conn:
        conn.execute(sa.insert(ProvEdge.__table__), rows)
        conn.execute(sa.insert(Item.__table__), [dict(id=i, subtype="DATASET", display_name=i, owner="x", record={},
                                                      created_at=now, updated_at=now) for i in ("hub", "out7")])
        conn.exec_driver_sql("ANALYZE")


def _plans(direction: str, start: str) -> list[str]:
    """The plan of every statement a walk sends to the edge table."""
    engine, seen = get_engine(), []

    def record(conn, cursor, statement, params, context, many):
        if "provedge" in statement and not statement.startswith("EXPLAIN"):
            seen.append((statement, params))

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        found = lineage.explore(start_id=start, direction=direction, depth=3, max_nodes=50)
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    assert found.capped if direction == "downstream" else not found.capped
    plans = []
    with engine.connect() as conn:
        for statement, params in seen:
            if TEST_DB == "postgresql":
                rows = conn.exec_driver_sql("EXPLAIN " + statement, params).all()
            else:
                rows = [(r[-1],) for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params)]
            plans.append(" | ".join(r[0] for r in rows))
    return plans


@pytest.mark.parametrize("direction", lineage.DIRECTIONS)
def test_every_read_of_a_walk_is_an_index_probe(jobdeck, direction):
    _seed_hub(3000)
    plans = _plans(direction, "hub" if direction == "downstream" else "out7")
    assert len(plans) >= 2  # the walk's reads, and which nodes have more
    index = "ix_prov_edge_object_relation_subject" if direction == "downstream" else \
        ("uq_prov_edge" if TEST_DB == "postgresql" else "sqlite_autoindex_provedge_1")
    for plan in plans:
        assert "Seq Scan" not in plan and "SCAN provedge" not in plan, plan
        assert "Sort" not in plan and "TEMP B-TREE" not in plan, plan  # read in the index's order
        assert index in plan, plan
