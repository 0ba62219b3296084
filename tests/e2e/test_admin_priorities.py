"""The admin overview shows each backend's queue by priority (high, normal, low, the order
its workers take them), and the configuration shows each pipeline's fair-use limits."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import shot, sign_in

pytestmark = pytest.mark.e2e

DESKTOP = {"width": 1280, "height": 800}


@pytest.fixture
def admin_page(page, console):
    page.set_default_timeout(15_000)
    page.set_viewport_size(DESKTOP)
    sign_in(page, console, "admin", "/admin")
    return page


def _set_system(console, **values):
    from app import auth
    from app.backends import backend_configs, update_backend

    with console.domain():
        before = backend_configs(refresh=True)["system"]
        update_backend(actor=auth.get_user("admin"), name="system", **values)
    return before


def test_admin_sees_each_backends_queue_by_priority(admin_page, console, request):
    from app import auth, launch

    page = admin_page
    # paused, so that the jobs wait on their queues while we look
    before = _set_system(console, max_workers=0)
    lodged: list[str] = []

    def restore():
        with console.domain():
            admin = auth.get_user("admin")
            for job_id in lodged:
                try:
                    launch.cancel_job(actor=admin, job_id=job_id)
                except Exception:
                    pass  # already ended
        _set_system(console, max_workers=before.max_workers, idle_timeout_s=before.idle_timeout_s,
                    job_timeout_s=before.job_timeout_s or 0)

    request.addfinalizer(restore)
    system = page.locator(".backend-card[data-backend=system]")
    expect(system.locator("[data-field=max-workers]")).to_have_text("0")
    with console.domain():
        admin = auth.get_user("admin")
        for priority, n in (("low", 3), ("normal", 2), ("high", 1)):
            lodged += [launch.launch_job(actor=admin, job_type="SYSTEM", job_subtype="NOOP", payload={},
                                         priority=priority).id for _ in range(n)]
    # the page's timer reads the queues again
    expect(system.locator("[data-field=queued-high]")).to_have_text("1", timeout=20_000)
    expect(system.locator("[data-field=queued-normal]")).to_have_text("2")
    expect(system.locator("[data-field=queued-low]")).to_have_text("3")
    expect(system.locator("[data-field=queued]")).to_have_text("6")
    expect(system).to_contain_text("high · normal · low")
    shot(page, "admin-queue-priorities")

    # the configuration names each pipeline's fair-use limits (the demo's: the global ones)
    page.locator(".admin-tab", has_text="Configuration").click()
    expect(page.locator(".config-pipeline-row[data-pipeline='Text summary'] .config-fair-use")).to_have_text(
        "lower priority from 10, refused at 15 (global)")
