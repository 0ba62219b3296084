"""Items: create one and watch its workflow graph go green without a reload; version it."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import at, shot

pytestmark = pytest.mark.e2e


def test_create_an_item_and_watch_its_workflow_then_version_it(alice_page, console):
    page = alice_page
    page.get_by_role("link", name="Items").first.click()
    expect(page.locator(".item-row").first).to_be_visible()
    shot(page, "items")

    page.get_by_role("button", name="New item").click()
    page.get_by_role("button", name="Create", exact=True).click()
    expect(page.locator(".form-error")).to_have_text("Give the item a name.")
    page.get_by_label("Name").fill("Soil moisture 2024")
    page.get_by_label("Description").fill("Daily soil moisture at 40 stations.")
    with console.paused("registry"):  # its first job waits, so all that follows arrives live
        page.get_by_role("button", name="Create", exact=True).click()
        expect(page).to_have_url(re.compile(r"/items/[0-9a-f-]{36}/?$"))
        first_url = page.url
        expect(page.locator(".item-name")).to_have_text("Soil moisture 2024")
        expect(page.locator(".react-flow__node.wf-node")).to_have_count(1)
        expect(page.locator(".react-flow__node.status-PENDING")).to_have_count(1)
        expect(page.locator(".workflow-overall")).not_to_have_attribute("data-overall", "SUCCEEDED")
        # Its job's page says why it waits.
        page.locator(".react-flow__node.wf-node").first.click()
        expect(page).to_have_url(re.compile(r"/jobs/[0-9a-f-]{36}/?$"))
        expect(page.locator(".job-stuck")).to_contain_text("Backend 'registry' is set to 0 workers",
                                                           timeout=30_000)
        shot(page, "job-stuck")
        page.go_back()
        expect(page.locator(".react-flow__node.status-PENDING")).to_have_count(1)

    # Resumed: the create workflow's two jobs, chained, succeed while the page stays open.
    nodes = page.locator(".react-flow__node.wf-node")
    expect(nodes).to_have_count(2, timeout=20_000)
    expect(page.locator(".react-flow__node.status-SUCCEEDED")).to_have_count(2, timeout=20_000)
    expect(page.locator(".workflow-graph .react-flow__edge")).to_have_count(1)
    expect(page.locator(".workflow-overall")).to_have_attribute("data-overall", "SUCCEEDED")
    expect(page.locator(".item-name ~ * .record-badge, .record-badge").first).to_have_text("LODGED")
    shot(page, "item")

    # Collapse and expand the graph.
    page.get_by_role("button", name="Collapse").click()
    expect(page.locator(".workflow-graph")).to_have_count(0)
    page.get_by_role("button", name="Expand").click()
    expect(page.locator(".react-flow__node.status-SUCCEEDED")).to_have_count(2)

    # A new version needs a reason.
    page.get_by_role("button", name="New version").click()
    page.get_by_role("button", name="Create version").click()
    expect(page.locator(".form-error")).to_have_text("A reason for the new version is required.")
    page.get_by_label("Reason").fill("Two stations were moved.")
    page.get_by_role("button", name="Create version").click()
    expect(page).not_to_have_url(first_url)
    expect(page.locator(".item-version")).to_have_text("version 2")
    # Its graph holds the create workflow and the version workflow, all green in the end.
    expect(page.locator(".react-flow__node.status-SUCCEEDED")).to_have_count(4, timeout=20_000)
    expect(page.locator(".version-row")).to_have_count(2)
    expect(page.get_by_text("Two stations were moved.").first).to_be_visible()
    shot(page, "item-version-2")

    # A node opens its job.
    page.locator(".react-flow__node.wf-node", has_text="Register version").click()
    expect(page).to_have_url(re.compile(r"/jobs/[0-9a-f-]{36}/?$"))
    expect(page.get_by_role("heading", name="Register version")).to_be_visible()
    expect(page.locator(".job-inputs")).to_contain_text("Two stations were moved.")

    # The first version now points to the newer one and cannot be versioned again.
    page.goto(first_url)
    expect(page.get_by_role("link", name="open the newer version")).to_be_visible()
    expect(page.get_by_role("button", name="New version")).to_have_count(0)


def test_another_users_item_shows_without_its_jobs(page, console):
    from tests.e2e.conftest import sign_in

    sign_in(page, console, "bob", "/items")
    page.locator(".item-link", has_text="Daily rainfall 1990-2020").click()
    expect(page.locator(".item-name")).to_have_text("Daily rainfall 1990-2020")
    expect(page.get_by_text("The jobs of this item's workflow belong to alice.")).to_be_visible()
    expect(page.get_by_role("button", name="New version")).to_have_count(0)
    page.goto(console.url("/items/no-such-item"))
    expect(page.get_by_role("heading", name="Item not found")).to_be_visible()
    assert at(console, "/items/no-such-item").match(page.url)


def test_the_item_search_takes_percent_and_control_characters_as_they_are(alice_page, console):
    from app import auth, registry

    with console.domain():
        registry.create_item(actor=auth.get_user("alice"), subtype="DATASET", display_name="Runoff 100%")
    page = alice_page
    page.goto(console.url("/items"))
    expect(page.locator(".item-row").first).to_be_visible()
    search = page.get_by_label("Find items")
    search.fill("0%")  # a wildcard would also find "Daily rainfall 1990-2020"
    page.get_by_role("button", name="Find").click()
    expect(page.locator(".item-row")).to_have_count(1)
    expect(page.locator(".item-row")).to_contain_text("Runoff 100%")
    for q, rows in (("runoff 2*", 0), ("100% RUNOFF", 1), ("100 runoffs", 0), ("runoff 1*", 1)):
        # words of the name in any order and case; the start of the name, from the name index
        search.fill(q)
        page.get_by_role("button", name="Find").click()
        expect(page.locator(".item-row")).to_have_count(rows)
    search.fill("runoff 1*")
    page.get_by_role("button", name="Find").click()
    expect(page.locator(".item-row")).to_have_count(1)
    expect(page.locator(".item-row")).to_contain_text("Runoff 100%")
    search.fill("rain\x01fall")
    page.get_by_role("button", name="Find").click()
    expect(page.get_by_text("Search: q must not contain the control character U+0001.")).to_be_visible()


def test_an_items_kind_asks_for_its_fields_and_a_blank_required_one_makes_a_seed(alice_page, console):
    page = alice_page
    page.goto(console.url("/items"))
    for email, seed in (("", True), ("grace@example.org", False)):
        page.get_by_role("button", name="New item").click()
        page.get_by_label("Kind of item").click()
        page.get_by_role("option", name="Person").click()
        page.get_by_label("Name", exact=True).fill(f"Grace {'seed' if seed else 'complete'}")
        page.get_by_label("First name").fill("Grace")
        page.get_by_label("Last name").fill("Hopper")
        page.get_by_label("Email").fill(email)
        page.get_by_role("button", name="Create", exact=True).click()
        expect(page).to_have_url(re.compile(r"/items/[0-9a-f-]{36}/?$"))
        expect(page.locator(".kind-field").first).to_have_text("Grace")
        expect(page.locator(".seed-badge")).to_have_count(1 if seed else 0)
        if not seed:
            expect(page.locator(".kind-field", has_text="grace@example.org")).to_have_count(1)
        page.goto(console.url("/items"))
    # A value of the wrong form is refused in the form, naming the field.
    page.get_by_role("button", name="New item").click()
    page.get_by_label("Kind of item").click()
    page.get_by_role("option", name="Person").click()
    page.get_by_label("Name", exact=True).fill("Bad email")
    page.get_by_label("Email").fill("not an email")
    page.get_by_role("button", name="Create", exact=True).click()
    expect(page.locator(".form-error")).to_contain_text("record.email: 'not an email' is not an email address.")
