"""The queues page in Chromium: a backend paused with one click, the jobs lodged then
wait in its queue in order; one purged, then the rest; each ends CANCELLED with the
purge's reason; the backend resumed to the maximum it had."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import shot, sign_in

pytestmark = pytest.mark.e2e


def test_pause_purge_and_resume(page, console):
    from app import auth, launch
    from app.backends import backend_configs, update_backend

    page.set_default_timeout(15_000)
    with console.domain():
        before = backend_configs(refresh=True)["system"].max_workers
    sign_in(page, console, "admin", "/admin")
    page.locator(".admin-tab", has_text="Queues").click()
    expect(page.get_by_role("combobox")).to_contain_text("system")
    try:
        page.locator(".pause-backend").click()
        expect(page.locator(".backend-paused")).to_be_visible()
        with console.domain():
            admin = auth.get_user("admin")
            ids = [launch.launch_job(actor=admin, job_type="SYSTEM", job_subtype="NOOP", payload={},
                                     owner="admin").id for _ in range(3)]
        rows = page.locator(".queue-row")
        expect(rows).to_have_count(3)  # read again within seconds
        for i, job_id in enumerate(ids):
            expect(rows.nth(i)).to_have_attribute("data-job-id", job_id)
            expect(rows.nth(i)).to_have_attribute("data-position", str(i + 1))
        expect(rows.nth(0).locator(".job-link")).to_have_attribute("href", f"/jobs/{ids[0]}")
        shot(page, "admin-queues")

        page.locator(f".queue-row[data-job-id='{ids[1]}'] .purge-job").click()
        expect(rows).to_have_count(2)
        page.locator(".purge-queue").click()
        page.locator(".confirm-purge").click()
        expect(rows).to_have_count(0)
        expect(page.get_by_text("No job is waiting").first).to_be_visible()
        with console.domain():
            for job_id in ids:
                job = launch.get_job(job_id)
                assert job.status == "CANCELLED", job_id
                assert job.last_message == "Purged from the queue by admin admin"

        page.locator(".resume-backend").click()
        expect(page.locator(".pause-backend")).to_be_visible()
        with console.domain():
            assert backend_configs(refresh=True)["system"].max_workers == before
    finally:
        with console.domain():
            update_backend(actor=auth.get_user("admin"), name="system", max_workers=before)
