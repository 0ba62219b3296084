"""The jobs panel and job details, as a person uses them."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import at, new_user, shot, sign_in

pytestmark = pytest.mark.e2e


def _lodge_noops(console, owner: str, n: int, **payload) -> list[str]:
    from app import auth, launch

    with console.domain():
        admin = auth.get_user("admin")
        return [launch.launch_job(actor=admin, job_type="SYSTEM", job_subtype="NOOP", payload=payload,
                                  owner=owner).id for _ in range(n)]


def test_job_details_show_inputs_outputs_and_messages(alice_page, console):
    page = alice_page
    rows = page.locator(".job-row")
    expect(rows.first).to_be_visible()
    expect(page.locator(".job-row[data-status=SUCCEEDED]").first).to_be_visible()
    shot(page, "jobs-panel")
    page.locator(".job-row[data-status=SUCCEEDED] .job-link", has_text="Register creation").first.click()
    expect(page).to_have_url(re.compile(r"/jobs/[0-9a-f-]{36}$"))
    expect(page.get_by_role("heading", name="Register creation")).to_be_visible()
    expect(page.locator(".job-inputs")).to_contain_text('"item_id"')
    expect(page.locator(".job-outputs")).to_contain_text('"activity_id"')
    expect(page.locator(".job-outputs")).to_contain_text('"lodge_session_id"')
    messages = page.locator(".timeline .message-text")
    expect(messages.first).to_contain_text("Lodged by alice")
    expect(messages.filter(has_text="Started")).to_have_count(1)
    expect(messages.last).to_contain_text("Succeeded")
    expect(page.locator(".status-badge").first).to_have_text("SUCCEEDED")
    shot(page, "job-details")
    # Its next step is linked, and leads to that job's page.
    page.get_by_role("link", name="Lodge creation provenance").click()
    expect(page.get_by_role("heading", name="Lodge creation provenance")).to_be_visible()
    page.get_by_role("link", name="All jobs").click()
    expect(page).to_have_url(at(console, "/jobs"))


def test_new_jobs_appear_live_then_load_more_pages_by_keyset(page, console):
    username, password = new_user(console, "lena")
    sign_in(page, console, username, password=password)
    expect(page.get_by_text("No jobs yet")).to_be_visible()
    shot(page, "jobs-panel-empty")
    ids = _lodge_noops(console, username, 30)
    # Without a reload: the newest job is at the top, and the workers' moves show. The
    # list keeps its page of 25; the older ones drop off the bottom, behind Load more.
    expect(page.locator(".job-row").first).to_have_attribute("data-job-id", ids[-1])
    created = page.locator(".job-row").first.locator(".col-created .when")
    expect(created).to_have_text("a few seconds ago")  # relative, the exact time on hover
    expect(created).to_have_attribute("title", re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$"))
    expect(page.locator(".job-row[data-status=SUCCEEDED]")).to_have_count(25, timeout=30_000)
    expect(page.locator(".job-row")).to_have_count(25)
    expect(page.locator("[data-count-status=SUCCEEDED] .rt-Badge")).to_have_text("30")
    page.get_by_role("button", name="Load more").click()
    expect(page.locator(".job-row")).to_have_count(30)
    expect(page.get_by_text("That is all.")).to_be_visible()
    shown = page.locator(".job-row").evaluate_all("rows => rows.map(r => r.dataset.jobId)")
    assert shown == ids[::-1]  # the cursor left by the live list: newest first, none twice, none missing
    # After Load more the list keeps 30: a new job pushes only the oldest off.
    late = _lodge_noops(console, username, 1)
    expect(page.locator(".job-row").first).to_have_attribute("data-job-id", late[0])
    expect(page.locator(".job-row")).to_have_count(30)
    expect(page.locator(".load-more")).to_be_visible()
    # A fresh read pages by keyset: 25, then the 5 older ones.
    page.get_by_role("button", name="Refresh").click()
    expect(page.locator(".job-row")).to_have_count(25)
    page.get_by_role("button", name="Load more").click()
    expect(page.locator(".job-row")).to_have_count(31)
    expect(page.get_by_text("That is all.")).to_be_visible()
    shown = page.locator(".job-row").evaluate_all("rows => rows.map(r => r.dataset.jobId)")
    assert shown == (ids + late)[::-1]  # newest first, none twice, none missing
    # Filters: a status with no job empties the list and says so.
    page.locator("[data-count-status=FAILED]").click()
    expect(page.get_by_text("No jobs match these filters")).to_be_visible()
    page.get_by_role("button", name="Clear filters").first.click()
    expect(page.locator(".job-row")).to_have_count(25)
    shot(page, "jobs-panel-paged")


def test_a_job_that_lodges_its_next_step_shows_as_a_workflow_live_and_the_type_filter(page, console):
    username, password = new_user(console, "wren")
    sign_in(page, console, username, password=password)
    with console.paused("registry"):
        with console.domain():
            from app import auth, registry

            _, job = registry.create_item(actor=auth.get_user(username), subtype="DATASET",
                                          display_name="Wren's transects")
        row = page.locator(f".job-row[data-job-id='{job.id}']")
        expect(row).to_have_attribute("data-status", "PENDING")
        expect(row).to_have_attribute("data-marker", "standalone")  # nothing lodged by it yet
    # Resumed: it succeeds and lodges its next step; both rows say workflow, no reload.
    expect(row).to_have_attribute("data-status", "SUCCEEDED", timeout=30_000)
    expect(row).to_have_attribute("data-marker", "workflow")
    rows = page.locator(".job-row")
    expect(rows).to_have_count(2)
    expect(rows.first).to_have_attribute("data-marker", "workflow")
    expect(rows.first).to_contain_text("PROV_LODGE / LODGE_CREATE_ACTIVITY")
    # The type filter keeps one type's jobs.
    page.get_by_role("combobox", name="Type filter").click()
    page.get_by_role("option", name="REGISTRY", exact=True).click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-job-id", job.id)
    page.get_by_role("combobox", name="Status filter").click()
    page.get_by_role("option", name="failed", exact=True).click()
    expect(page.get_by_text("No jobs match these filters")).to_be_visible()


def test_an_admin_sees_all_users_or_one_user(page, console):
    sign_in(page, console, "admin")
    ids = {who: _lodge_noops(console, who, 1)[0] for who in ("alice", "bob")}
    page.get_by_role("switch", name="All users").click()
    for who, jid in ids.items():
        row = page.locator(f".job-row[data-job-id='{jid}']")
        expect(row).to_be_visible()
        expect(row).to_contain_text(who)  # the owner column shows whose it is
    page.get_by_label("Username filter").fill("bob")
    page.get_by_role("button", name="Show user").click()
    expect(page.locator(f".job-row[data-job-id='{ids['bob']}']")).to_be_visible()
    expect(page.locator(f".job-row[data-job-id='{ids['alice']}']")).to_have_count(0)
    owners = page.locator(".job-row td.col-owner").all_inner_texts()
    assert owners and set(owners) == {"bob"}
    page.get_by_role("button", name="Only my jobs").click()
    expect(page.locator(f".job-row[data-job-id='{ids['bob']}']")).to_have_count(0)


def test_search_finds_a_job_by_its_session_id(alice_page, console):
    page = alice_page
    [job_id] = _lodge_noops(console, "alice", 1)
    page.get_by_label("Search").fill(job_id)
    page.get_by_role("button", name="Find").click()
    expect(page.locator(".job-row")).to_have_count(1)
    expect(page.locator(".job-row")).to_have_attribute("data-job-id", job_id)
    page.get_by_label("Search").fill("no-such-id")
    page.get_by_role("button", name="Find").click()
    expect(page.get_by_text("No job or batch with that id")).to_be_visible()


def test_another_users_job_reads_as_not_found(alice_page, console):
    page = alice_page
    [bobs] = _lodge_noops(console, "bob", 1)
    page.goto(console.url(f"/jobs/{bobs}"))
    expect(page.get_by_role("heading", name="Job not found")).to_be_visible()
    expect(page.get_by_text("There is no job with this session id that you may see")).to_be_visible()
    shot(page, "job-not-found")
    page.goto(console.url("/jobs/00000000-0000-0000-0000-000000000000"))
    expect(page.get_by_role("heading", name="Job not found")).to_be_visible()
    # The owner sees it (signing out is the sign-in tests' business: forget alice here).
    page.evaluate("() => localStorage.clear()")
    sign_in(page, console, "bob", f"/jobs/{bobs}")
    expect(page.get_by_role("heading", name="Diagnostic no-op")).to_be_visible()


def test_cancel_a_pending_job_then_retry_it(alice_page, console):
    page = alice_page
    from tests.conftest import free_port

    # Lodged while its queue does not answer, the job stays PENDING (the console's
    # reconciler waits an hour here), as it would behind busy workers.
    with console.domain(JOBDECK_REDIS_URL=f"redis://127.0.0.1:{free_port()}/0"):
        from app import auth, launch

        job = launch.launch_job(actor=auth.get_user("admin"), job_type="SYSTEM", job_subtype="NOOP",
                                payload={}, owner="alice")
    page.goto(console.url(f"/jobs/{job.id}"))
    expect(page.locator(".status-badge").first).to_have_text("PENDING")
    expect(page.get_by_role("button", name="Retry")).to_have_count(0)
    page.get_by_role("button", name="Cancel").click()
    page.get_by_role("button", name="Cancel the job").click()
    expect(page.locator(".status-badge").first).to_have_text("CANCELLED")
    expect(page.get_by_text("Job cancelled (it was pending)")).to_be_visible()
    expect(page.locator(".timeline .message-text").last).to_have_text("Cancelled by alice")
    shot(page, "job-cancelled")
    # Retry queues a new attempt on the live Redis: the workers run it, the page follows.
    page.get_by_role("button", name="Retry").click()
    expect(page.locator(".status-badge").first).to_have_text("SUCCEEDED", timeout=20_000)
    expect(page.get_by_text("Retry requested by alice: attempt 2")).to_be_visible()


def test_a_tab_that_lost_its_connection_is_right_again_once_back(page, console):
    # Hold new websockets back on demand, to cut the tab off and let it come back.
    page.add_init_script("""
        window.__cutOff = false;
        window.__sockets = [];
        const NativeWebSocket = window.WebSocket;
        window.WebSocket = function (...args) {
          // While cut off, new connections go nowhere and fail as a lost network would.
          const ws = window.__cutOff ? new NativeWebSocket('ws://127.0.0.1:9/') : new NativeWebSocket(...args);
          window.__sockets.push(ws);
          return ws;
        };
        window.WebSocket.prototype = NativeWebSocket.prototype;
    """)
    username, password = new_user(console, "omar")
    sign_in(page, console, username, password=password)
    expect(page.get_by_text("No jobs yet")).to_be_visible()
    page.evaluate("() => { window.__cutOff = true; window.__sockets.forEach(ws => ws.close()); }")
    [job_id] = _lodge_noops(console, username, 1)
    import time

    from app import launch

    with console.domain():
        deadline = time.monotonic() + 20
        while (status := launch.get_job(job_id).status) != "SUCCEEDED" and time.monotonic() < deadline:
            time.sleep(0.2)
    # The job ran to its end while the tab was cut off: what the tab shows next is news to it.
    assert status == "SUCCEEDED", f"the job did not succeed within 20 s while the tab was cut off: {status}"
    expect(page.locator(".job-row")).to_have_count(0)  # nothing reached the tab meanwhile
    page.evaluate("() => { window.__cutOff = false; }")
    row = page.locator(f".job-row[data-job-id='{job_id}']")
    expect(row).to_have_attribute("data-status", "SUCCEEDED", timeout=20_000)


def test_a_file_a_job_produced_downloads_from_its_page(alice_page, console):
    import hashlib

    from app.db import session
    from app.models import JobFile
    from app.settings import get_settings

    page = alice_page
    [job_id] = _lodge_noops(console, "alice", 1)
    body = b"gauge,flow\n410001,12.5\n"
    with console.domain():
        folder = get_settings().files_dir / job_id
        folder.mkdir(parents=True)
        (folder / "flow.csv").write_bytes(body)
        with session(write=True) as s:
            s.add(JobFile(job_id=job_id, name="flow.csv", size=len(body), sha256=hashlib.sha256(body).hexdigest(),
                          stored_path=f"{job_id}/flow.csv"))
    page.goto(console.url(f"/jobs/{job_id}"))
    expect(page.get_by_text("flow.csv")).to_be_visible()
    with page.expect_download() as dl:
        page.get_by_role("button", name="Download").click()
    assert dl.value.suggested_filename == "flow.csv"
    assert open(dl.value.path(), "rb").read() == body
