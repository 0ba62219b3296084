"""The admin console as an administrator uses it: the backends and workers of the running
pool, a backend changed (a bad value refused, a good one saved), submissions cancelled
and deleted while their jobs run; and a user who is no admin turned away."""

from __future__ import annotations

import re
import socket

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import shot, sign_in

pytestmark = pytest.mark.e2e

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}


@pytest.fixture
def admin_page(page, console):
    page.set_default_timeout(15_000)
    page.set_viewport_size(DESKTOP)
    sign_in(page, console, "admin", "/admin")
    return page


def _lodge_noops(console, owner: str, n: int, **payload) -> list[str]:
    from app import auth, launch

    with console.domain():
        admin = auth.get_user("admin")
        return [launch.launch_job(actor=admin, job_type="SYSTEM", job_subtype="NOOP", payload=payload,
                                  owner=owner).id for _ in range(n)]


def _restore_registry(console):
    """The settings of the registry backend as they are now, to put back afterwards (the
    console serves the other tests of the package)."""
    from app.backends import backend_configs

    with console.domain():
        before = backend_configs(refresh=True)["registry"]

    def restore():
        from app import auth
        from app.backends import update_backend

        with console.domain():
            update_backend(actor=auth.get_user("admin"), name="registry", max_workers=before.max_workers,
                           idle_timeout_s=before.idle_timeout_s, job_timeout_s=before.job_timeout_s or 0)
    return restore


def test_admin_sees_the_pool_and_changes_a_backend(admin_page, console, request):
    page = admin_page
    for name in ("prov", "registry", "system"):
        expect(page.locator(f".backend-card[data-backend={name}]")).to_be_visible()
    system = page.locator(".backend-card[data-backend=system]")
    expect(system).to_contain_text(socket.gethostname())  # served by the running pool
    expect(page.locator("[data-count-status=SUCCEEDED]")).to_be_visible()
    expect(page.locator(".no-stuck-jobs")).to_be_visible()
    # The console's server keeps every job (JOBDECK_RETAIN_DAYS unset): the overview says so.
    expect(page.locator(".retention-policy")).to_have_text(
        "Retention: Jobs are kept forever (JOBDECK_RETAIN_DAYS is 0).")

    # Wake a backend up: a worker starts and shows on the workers page.
    system.get_by_role("button", name="Wake up").click()
    expect(page.get_by_text("backend 'system'")).to_be_visible()
    page.locator(".admin-tab", has_text="Workers").click()
    worker = page.locator(".worker-row[data-backend=system]:is([data-state=idle], [data-state=busy])").first
    expect(worker).to_be_visible(timeout=20_000)
    expect(worker).to_contain_text(socket.gethostname())
    expect(worker.locator(".heartbeat")).to_have_text(re.compile(r"^\d+ s ago$"))
    expect(page.locator(".pool-row").first).to_contain_text(socket.gethostname())
    # The table is read again every few seconds: a job's worker shows it while it runs.
    [job_id] = _lodge_noops(console, "admin", 1, sleep_s=3)
    busy = page.locator(".worker-row[data-backend=system][data-state=busy]", has_text=job_id[:8])
    expect(busy).to_be_visible(timeout=10_000)
    shot(page, "admin-workers")
    expect(busy).to_have_count(0, timeout=10_000)
    page.set_viewport_size(PHONE)
    expect(worker).to_be_visible()
    shot(page, "admin-workers-phone")
    page.set_viewport_size(DESKTOP)

    # Change a backend: a value out of range is refused, naming the field; then saved.
    page.locator(".admin-tab", has_text="Overview").click()
    request.addfinalizer(_restore_registry(console))
    registry = page.locator(".backend-card[data-backend=registry]")
    registry.get_by_role("button", name="Change").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Max workers").fill("-1")
    dialog.get_by_role("button", name="Save").click()
    expect(dialog.locator(".form-error")).to_have_text("Max workers must be between 0 and 100; -1 is out of range.")
    expect(dialog.get_by_label("Max workers")).to_have_attribute("aria-invalid", "true")
    dialog.get_by_label("Max workers").fill("3")
    dialog.get_by_label("Idle timeout (seconds)").fill("45")
    dialog.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Backend registry saved: at most 3 workers")).to_be_visible()
    expect(dialog).to_have_count(0)
    expect(registry.locator("[data-field=max-workers]")).to_have_text("3")
    expect(registry.locator("[data-field=idle-timeout]")).to_have_text("45 s")
    page.reload()
    expect(page.locator(".backend-card[data-backend=registry] [data-field=max-workers]")).to_have_text("3")
    with console.domain():
        from app.backends import backend_configs

        saved = backend_configs(refresh=True)["registry"]
        assert (saved.max_workers, saved.idle_timeout_s) == (3, 45)
    shot(page, "admin-overview")
    page.set_viewport_size(PHONE)
    shot(page, "admin-overview-phone")
    page.set_viewport_size(DESKTOP)

    # The configuration page: backends, and the demo's tasks and pipeline.
    page.locator(".admin-tab", has_text="Configuration").click()
    expect(page.locator(".config-backend-row[data-backend=registry]")).to_contain_text("45 s")
    expect(page.locator(".config-task-row[data-task='line count']")).to_contain_text("wc -l")
    expect(page.locator(".config-pipeline-row[data-pipeline='Text summary']")).to_contain_text(
        "1. line count, sort lines (in parallel) → 2. word frequencies")
    shot(page, "admin-configuration")


def test_a_user_who_is_no_admin_is_refused(alice_page, console):
    page = alice_page
    expect(page.locator(".navbar").get_by_role("link", name="Admin")).to_have_count(0)
    for path in ("/admin", "/admin/submissions"):
        page.goto(console.url(path))
        expect(page.get_by_role("heading", name="Admins only")).to_be_visible()
        expect(page.locator(".admins-only")).to_contain_text("signed in as alice")
        expect(page.locator(".backend-card, .submission-row")).to_have_count(0)
    page.set_viewport_size(PHONE)
    shot(page, "admin-refused-phone")




def test_cancel_and_delete_submissions_while_they_run(admin_page, console):
    page = admin_page
    with console.domain():  # a user of this test's own: no other test's jobs in the list
        from app import auth

        auth.create_user(username="carol", password="carol-password")
    page.locator(".admin-tab", has_text="Submissions").click()
    page.get_by_label("Username filter").fill("carol")
    page.get_by_role("button", name="Show user").click()
    expect(page.locator(".submission-row")).to_have_count(0)
    expect(page.get_by_text("No submissions of this user")).to_be_visible()
    kept, doomed = _lodge_noops(console, "carol", 2, sleep_s=60)
    # Both appear without a reload and follow their workers live.
    rows = page.locator(".submission-row")
    expect(rows).to_have_count(2)
    expect(rows.first).to_have_attribute("data-submission-id", doomed)
    running = page.locator(f".submission-row[data-submission-id='{kept}']")
    expect(running).to_have_attribute("data-status", "IN_PROGRESS", timeout=20_000)
    expect(running.locator(".aa-status")).to_have_text("RUNNING")
    shot(page, "admin-submissions")

    running.locator(".cancel-submission").click()
    dialog = page.get_by_role("alertdialog")
    expect(dialog).to_contain_text("Cancel this submission?")
    dialog.get_by_role("button", name="Cancel the submission").click()
    expect(page.get_by_text("Submission cancelled: 1 job stopped (1 halted while running).")).to_be_visible()
    expect(running).to_have_attribute("data-status", "CANCELLED")
    expect(running.locator(".aa-status")).to_have_text("CANCELLED")
    expect(running.locator(".cancel-submission")).to_be_disabled()

    page.locator(f".submission-row[data-submission-id='{doomed}'] .delete-submission").click()
    dialog = page.get_by_role("alertdialog")
    expect(dialog).to_contain_text("Delete this submission?")
    page.set_viewport_size(PHONE)
    shot(page, "admin-submissions-delete-phone")
    dialog.get_by_role("button", name="Delete the submission").click()
    expect(page.get_by_text("Submission deleted: 1 job, 0 batches, 0 files removed; 1 live job cancelled "
                            "first.")).to_be_visible(timeout=20_000)
    expect(rows).to_have_count(1)
    with console.domain():
        from app import launch
        from app.errors import NotFound

        assert launch.get_job(kept).status == "CANCELLED"
        with pytest.raises(NotFound):
            launch.get_job(doomed)
