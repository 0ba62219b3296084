"""An item's lineage graph: a dataset's page shows the model runs that used it and what
they generated; a node's "more" loads the next level; a node's link opens its item."""

from __future__ import annotations

import re
import secrets

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import shot
from tests.pools import wait_for

pytestmark = pytest.mark.e2e


def _chain(console) -> dict[str, str]:
    """rain → run A → flow → run B → forecast, registered by alice and run by the
    console's own workers; names carry a tag of the test's own."""
    from app import auth, launch, provenance, registry
    from app.db import session
    from app.models import Item

    tag = secrets.token_hex(3)
    with console.domain():
        from app.demo import model_run_world

        alice = auth.get_user("alice")
        # complete items (the registry's rules check what a model run names), named `<key> <tag>`
        world = model_run_world(alice, names={k: f"{k} {tag}" for k in ("person", "org", "template", "rain",
                                                                          "flow", "model", "wf")})
        made = {k: v.id for k, v in world.items()}
        made["forecast"] = registry.create_item(actor=alice, subtype="DATASET", display_name=f"forecast {tag}")[0].id

        def lodged(*ids):
            with session() as s:
                return all((s.get(Item, i) or Item(record_status="")).record_status == "LODGED" for i in ids)

        wait_for(lambda: lodged(*made.values()), timeout=60, message="the items' create workflows")
        runs = {}
        for name, source, target in (("A", "rain", "flow"), ("B", "flow", "forecast")):
            record = {"workflow_template_id": made["wf"], "display_name": f"run {name} {tag}",
                      "description": "a lineage test run",
                      "associations": {"modeller_id": made["person"], "requesting_organisation_id": made["org"]},
                      "inputs": [{"dataset_template_id": made["template"], "dataset_id": made[source]}],
                      "outputs": [{"dataset_template_id": made["template"], "dataset_id": made[target]}],
                      "start_time": 1_700_000_000, "end_time": 1_700_000_600}
            job = launch.launch_job(actor=alice, job_type="PROV_LODGE", job_subtype="MODEL_RUN_PROV_LODGE",
                                    payload={"record": record})
            runs[name] = provenance.model_run_id(job.id)
        wait_for(lambda: lodged(*runs.values()), timeout=60, message="the model runs")
    return {**made, "run A": runs["A"], "run B": runs["B"], "tag": tag}


def test_a_datasets_lineage_expands_a_level_and_links_to_its_items(alice_page, console):
    page = alice_page
    ids = _chain(console)
    tag = ids["tag"]
    page.goto(console.url(f"/items/{ids['rain']}"))
    graph = page.locator(".lineage-graph")
    node = lambda item_id: graph.locator(f".react-flow__node[data-id='{item_id}']")  # noqa: E731

    # Which model runs used it, and what they generated: two levels downstream at first.
    expect(node(ids["run A"])).to_contain_text(f"run A {tag}")
    expect(node(ids["run A"])).to_contain_text("Model run")
    expect(node(ids["flow"])).to_contain_text(f"flow {tag}")
    expect(node(ids["run B"])).to_have_count(0)
    # Upstream: who made it (its Create activity and alice).
    expect(graph.locator(".react-flow__node[data-id='user/alice']")).to_contain_text("alice")
    expect(graph.locator(".react-flow__edge")).not_to_have_count(0)
    shot(page, "lineage")

    # flow was used by run B, not shown yet: its "more" loads the next level.
    expect(node(ids["run A"]).locator(".lineage-more")).to_have_count(0)  # walked already
    node(ids["flow"]).get_by_role("button", name=re.compile("more")).click()
    expect(node(ids["run B"])).to_contain_text(f"run B {tag}")
    expect(node(ids["flow"]).locator(".lineage-more")).to_have_count(0)
    expect(node(ids["run B"]).locator(".lineage-more")).to_have_count(1)  # forecast lies beyond
    shot(page, "lineage-more")

    # Every node links to its item: run B's page, with its own lineage.
    node(ids["run B"]).get_by_role("link", name=f"run B {tag}").click()
    expect(page).to_have_url(re.compile(rf"/items/{ids['run B']}/?$"))
    expect(page.locator(".item-name")).to_have_text(f"run B {tag}")
    graph = page.locator(".lineage-graph")
    expect(graph.locator(f".react-flow__node[data-id='{ids['forecast']}']")).to_contain_text(f"forecast {tag}")
    expect(graph.locator(f".react-flow__node[data-id='{ids['flow']}']")).to_be_visible()
    expect(graph.locator(f".react-flow__node[data-id='{ids['run A']}']")).to_be_visible()  # two levels up
