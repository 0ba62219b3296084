"""A waiting job's page says why no worker takes it as soon as that is so, and follows
when it changes, with no event of the job itself: its backend paused while the page is
open, resumed, paused again, resumed."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import shot

pytestmark = pytest.mark.e2e

PAUSED = "Backend 'system' is set to 0 workers (paused)"
WAIT_MS = 15_000  # the page reads the reason again every 2 s; a bound on a busy machine, not a measure


def test_a_waiting_job_page_shows_live_that_its_backend_was_paused(alice_page, console):
    from app import auth, launch
    from app.backends import backend_config, update_backend
    from app.workers import list_workers

    page = alice_page
    with console.domain():
        admin = auth.get_user("admin")
        before = backend_config("system").max_workers
        update_backend(actor=admin, name="system", max_workers=1)
        # Idle workers past the new maximum (left by earlier tests) stop first: one worker
        # at most, or a second one would take alice's job while the first is busy.
        deadline = time.monotonic() + 30
        while len([w for w in list_workers(backend="system") if w.alive]) > 1:
            assert time.monotonic() < deadline, "idle workers past the maximum did not stop"
            time.sleep(0.1)
    try:
        with console.domain():
            # The backend's one worker is busy: alice's job waits its turn, a worker can take it.
            blocker = launch.launch_job(actor=admin, job_type="SYSTEM", job_subtype="NOOP",
                                        payload={"sleep_s": 120})
            deadline = time.monotonic() + 30
            while launch.get_job(blocker.id).status != "IN_PROGRESS":
                assert time.monotonic() < deadline, "the blocking job did not start"
                time.sleep(0.1)
            job = launch.launch_job(actor=admin, job_type="SYSTEM", job_subtype="NOOP", payload={},
                                    owner="alice")
        page.goto(console.url(f"/jobs/{job.id}"))
        expect(page.locator(".status-badge").first).to_have_text("PENDING")
        expect(page.locator(".job-stuck")).to_have_count(0)  # it waits for a busy worker, nothing is wrong

        # An admin pauses the backend: the page says so, though nothing happened to the job.
        with console.domain():
            update_backend(actor=admin, name="system", max_workers=0)
        waiting = page.locator(".job-stuck")
        expect(waiting).to_contain_text("No worker can take it now.", timeout=WAIT_MS)
        expect(waiting).to_contain_text(PAUSED, timeout=WAIT_MS)
        shot(page, "job-waiting-paused")

        # Resumed while the other job still runs: a worker can take it again, the reason goes;
        # paused again, it comes back (the warning in its history was given once, with the
        # first pause: neither change is an event of the job).
        with console.domain():
            update_backend(actor=admin, name="system", max_workers=1)
        expect(page.locator(".job-stuck")).to_have_count(0, timeout=WAIT_MS)
        with console.domain():
            update_backend(actor=admin, name="system", max_workers=0)
        expect(waiting).to_contain_text(PAUSED, timeout=WAIT_MS)

        # The running job ends; its worker stops (paused), and alice's job still waits.
        with console.domain():
            launch.cancel_job(actor=admin, job_id=blocker.id)
            deadline = time.monotonic() + 30
            while [w for w in list_workers(backend="system") if w.alive]:
                assert time.monotonic() < deadline, "the paused backend's worker did not stop"
                time.sleep(0.1)
            assert launch.get_job(job.id).status == "PENDING"
        expect(waiting).to_contain_text(PAUSED, timeout=WAIT_MS)

        # Resumed: the job runs and the reason goes.
        with console.domain():
            update_backend(actor=admin, name="system", max_workers=1)
        expect(page.locator(".status-badge").first).to_have_text("SUCCEEDED", timeout=20_000)
        expect(page.locator(".job-stuck")).to_have_count(0)
        shot(page, "job-waiting-resumed")
    finally:
        with console.domain():
            update_backend(actor=admin, name="system", max_workers=before or 2)
