"""The schedules page as an admin uses it: a refusal shown at its field, then a pipeline
run scheduled every second (a 6-field cron, seconds last) on an uploaded file; its next
run shows, then its firings appear (the page reads them again by itself), each linking
to the run it lodged; paused, it fires no more; resumed, it fires again; deleted after
its confirmation, it is gone while its runs stay. And a job type's schedule: its payload
refused at the field, a name with markup shown as typed, a downtime's firings shown as
missed."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import shot, sign_in

pytestmark = pytest.mark.e2e

TEXT = b"the cat sat\non the mat\nthe end\n"


def _firings(console, name: str) -> int:
    with console.domain():
        from app import auth, schedules

        admin = auth.get_user("admin")
        (s,) = [x for x in schedules.list_schedules(actor=admin) if x.name == name]
        return len([f for f in schedules.firings(actor=admin, schedule_id=s.id, limit=200) if f.outcome == "lodged"])


def test_an_admin_schedules_a_pipeline_run_every_second_pauses_resumes_and_deletes_it(page, console):
    page.set_default_timeout(30_000)
    page.set_viewport_size({"width": 1360, "height": 900})
    sign_in(page, console, "admin", "/admin")
    page.get_by_role("link", name="Schedules").click()
    expect(page.get_by_text("No schedules")).to_be_visible()
    page.locator(".new-schedule").click()
    form = page.locator(".schedule-form")
    form.get_by_label("Name", exact=True).fill("every second words")
    form.get_by_text("a pipeline run").click()
    expect(form.get_by_label("Pipeline", exact=True)).to_contain_text("Text summary")
    form.locator(".schedule-drop input[type=file]").set_input_files(
        files=[{"name": "cat.txt", "mimeType": "text/plain", "buffer": TEXT}])
    expect(form.locator(".chosen-file")).to_have_text("cat.txt")

    # refusals at their field: a cron of 7 fields, then a parameter out of its rule
    form.get_by_label("Cron", exact=True).fill("* * * * * * *")
    form.get_by_label("Parameters", exact=True).fill('{"top": "0"}')
    page.locator(".schedule-create").click()
    expect(form.locator('.field-error[data-field="cron"]')).to_contain_text("5 fields")
    form.get_by_label("Cron", exact=True).fill("* * * * * *")
    page.locator(".schedule-create").click()
    expect(form.locator('.field-error[data-field="parameters"]')).to_contain_text("top")
    shot(page, "admin-schedules-refused")
    form.get_by_label("Parameters", exact=True).fill('{"top": "2"}')
    page.locator(".schedule-create").click()

    row = page.locator('.schedule-row[data-schedule="every second words"]')
    expect(row).to_contain_text("pipeline run")
    expect(row).to_contain_text("Text summary")
    expect(row).to_contain_text("Every second")
    expect(row.locator(".schedule-next")).to_contain_text(re.compile(r"in \d+ seconds?|now"))
    expect(row.locator(".schedule-next")).to_contain_text("UTC")
    detail = page.locator(".schedule-detail")
    expect(detail.locator('.firing-row[data-outcome="lodged"]').first).to_be_visible()  # without a reload
    expect(detail.locator('.firing-row[data-outcome="lodged"]').nth(1)).to_be_visible()
    # A schedule that fires every second last fired a moment ago: "now" or "N seconds ago".
    expect(row.locator(".schedule-last")).to_contain_text(re.compile(r"ago|now"))
    shot(page, "admin-schedules-firing")

    row.locator(".schedule-pause").click()
    expect(row.locator(".schedule-paused")).to_be_visible()
    expect(row.locator(".schedule-next")).to_contain_text("paused")
    paused_at = _firings(console, "every second words")
    page.wait_for_timeout(3000)  # three firings' worth of time: none comes while paused
    assert _firings(console, "every second words") == paused_at
    shot(page, "admin-schedules-paused")

    row.locator(".schedule-resume").click()
    expect(row.locator(".schedule-active")).to_be_visible()
    expect(detail.locator('.firing-row[data-outcome="lodged"]').nth(paused_at)).to_be_visible()  # fires again
    row.locator(".schedule-pause").click()  # no more runs while the rest is checked
    expect(row.locator(".schedule-paused")).to_be_visible()

    job_link = detail.locator(".firing-job").first
    job_id = job_link.inner_text().strip()
    job_link.click()
    expect(page).to_have_url(re.compile(rf"/jobs/{job_id}/?$"))
    expect(page.get_by_text("Text summary").first).to_be_visible()
    page.go_back()

    row = page.locator('.schedule-row[data-schedule="every second words"]')
    row.locator(".schedule-delete").click()
    dialog = page.get_by_role("alertdialog")
    expect(dialog).to_contain_text("every second words")
    shot(page, "admin-schedules-delete")
    dialog.get_by_role("button", name="Keep it").click()
    expect(row).to_be_visible()
    row.locator(".schedule-delete").click()
    page.locator(".confirm-delete").click()
    expect(page.locator(".schedule-row")).to_have_count(0)
    expect(page.get_by_text("No schedules")).to_be_visible()
    with console.domain():
        from app.db import session
        from app.models import Job
        import sqlalchemy as sa

        with session() as s:
            assert s.exec(sa.select(Job.id).where(Job.id == job_id)).first() is not None  # its runs stay


def test_a_job_types_schedule_its_payload_refused_at_the_field_and_a_downtimes_firings_missed(page, console):
    page.set_default_timeout(30_000)
    page.set_viewport_size({"width": 1360, "height": 900})
    sign_in(page, console, "admin", "/admin/schedules")
    page.locator(".new-schedule").click()
    form = page.locator(".schedule-form")
    form.get_by_label("Name", exact=True).fill("noop <b>every</b> minute")
    expect(form.get_by_label("Job type", exact=True)).to_contain_text("SYSTEM/NOOP")
    form.get_by_label("Payload", exact=True).fill('{"sleep_s": "long"}')
    form.get_by_label("Cron", exact=True).fill("* * * * *")
    form.get_by_label("Owner", exact=True).fill("bob")
    page.locator(".schedule-create").click()
    expect(form.locator('.field-error[data-field="payload"]')).to_contain_text("sleep_s")
    form.get_by_label("Payload", exact=True).fill("{}")
    page.locator(".schedule-create").click()
    row = page.locator(".schedule-row", has_text="noop <b>every</b> minute")  # shown as typed, not as markup
    expect(row).to_contain_text("SYSTEM / NOOP")
    expect(row).to_contain_text("for bob")
    expect(row).to_contain_text("Every minute")
    expect(page.locator(".schedule-detail .no-firings")).to_contain_text("the first is due in")

    with console.domain():  # no housekeeper for five minutes: its firings are missed, not run late
        import sqlalchemy as sa
        from datetime import timedelta

        from app.db import utcnow, write_conn
        from app.models import Schedule

        t = Schedule.__table__
        with write_conn() as conn:
            conn.execute(sa.update(t).where(t.c.name == "noop <b>every</b> minute")
                         .values(next_at=utcnow().replace(microsecond=0) - timedelta(seconds=300)))
    expect(row.locator(".schedule-missed")).to_contain_text(re.compile(r"[1-9] missed"))
    missed = page.locator('.schedule-detail .firing-row[data-outcome="missed"]')
    expect(missed).to_contain_text("missed from")
    shot(page, "admin-schedules-missed")
    row.locator(".schedule-delete").click()
    page.locator(".confirm-delete").click()
    expect(page.locator(".schedule-row", has_text="noop <b>every</b> minute")).to_have_count(0)
