"""How the console looks to a person: every page fits a phone's width (nothing to scroll
sideways), and dark mode switches the whole page and stays after a reload."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import shot

pytestmark = pytest.mark.e2e

PHONE = {"width": 390, "height": 844}


def _some_ids(console) -> dict[str, str]:
    """A job, an item and a batch of alice's demo data, to open their pages."""
    from app import auth, queries, registry

    with console.domain():
        alice = auth.get_user("alice")
        job = queries.list_jobs(viewer=alice, limit=1).jobs[0]
        item = registry.list_items(owner="alice", limit=1).items[0]
        batches, _ = queries.list_batches(viewer=alice, limit=1)
    return {"job": job.id, "item": item.id, "batch": batches[0].id if batches else ""}


def test_every_page_fits_a_phone(alice_page, console):
    page = alice_page
    ids = _some_ids(console)
    page.set_viewport_size(PHONE)
    # Each page with the content that arrives after it loads (rows, graphs, forms), which
    # is what could make it wider than the screen: measured once that is there.
    pages = {"/jobs": ".job-row", f"/jobs/{ids['job']}": ".timeline .message-text", "/items": ".item-row",
             f"/items/{ids['item']}": ".react-flow__node.wf-node",
             "/batches": ".batch-row" if ids["batch"] else ".page-title",
             "/model-runs/new": ".download-template", "/pipelines": ".pipeline-card", "/profile": ".role-badge"}
    if ids["batch"]:
        pages[f"/batches/{ids['batch']}"] = ".batch-jobs-table .job-row"
    for path, late in pages.items():
        page.goto(console.url(path))
        expect(page.locator(".navbar")).to_be_visible()
        expect(page.locator(late).first).to_be_visible()
        overflow = page.evaluate("() => document.scrollingElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, f"{path} is {overflow} px wider than a phone's screen"
    page.goto(console.url("/jobs"))
    expect(page.locator(".job-row").first).to_be_visible()
    shot(page, "jobs-panel-phone")


def test_dark_mode_switches_the_page_and_stays(alice_page, console):
    page = alice_page
    page.emulate_media(color_scheme="light")
    page.reload()
    expect(page.locator(".job-row").first).to_be_visible()
    light_bg = page.evaluate("() => getComputedStyle(document.querySelector('.navbar')).backgroundColor")
    page.get_by_role("button", name="Dark mode").click()
    expect(page.locator("html")).to_have_class("dark")
    dark_bg = page.evaluate("() => getComputedStyle(document.querySelector('.navbar')).backgroundColor")
    assert dark_bg != light_bg
    shot(page, "jobs-panel-dark")
    page.reload()
    expect(page.locator("html")).to_have_class("dark")
    page.get_by_role("button", name="Dark mode").click()
    expect(page.locator("html")).not_to_have_class("dark")
