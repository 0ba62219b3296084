"""The configuration page's YAML round trip as an admin does it: download the document, upload
a bad one (refused, naming the path of the bad value), upload a changed one, check it (the
dry run's summary of what would be created and changed), apply it and see the change."""

from __future__ import annotations

import pytest
import yaml
from playwright.sync_api import expect

from tests.e2e.conftest import shot, sign_in

pytestmark = pytest.mark.e2e


def _choose(page, name: str, text: str) -> None:
    page.locator(".config-drop input[type=file]").set_input_files(
        files=[{"name": name, "mimeType": "application/yaml", "buffer": text.encode()}])


def test_admin_downloads_changes_checks_and_applies_the_configuration(page, console, request):
    page.set_default_timeout(15_000)
    page.set_viewport_size({"width": 1280, "height": 900})
    sign_in(page, console, "admin", "/admin/configuration")
    expect(page.locator(".config-task-row[data-task='line count']")).to_be_visible()

    with page.expect_download() as dl:
        page.get_by_role("button", name="Download YAML").click()
    assert dl.value.suggested_filename == "jobdeck-config.yaml"
    original = open(dl.value.path(), encoding="utf-8").read()

    def restore():
        from app import auth, config_import

        with console.domain():
            config_import.import_configuration(actor=auth.get_user("admin"), content=original)
    request.addfinalizer(restore)  # the console serves the other tests of the package

    doc = yaml.safe_load(original)
    tasks = [t["name"] for t in doc["tasks"]]
    assert "line count" in tasks and [p["name"] for p in doc["pipelines"]][:1]

    # A bad document: refused on Check, naming the path of the bad value; Apply stays off.
    i = tasks.index("line count")
    bad = yaml.safe_load(original)
    bad["tasks"][i]["parameters"] = [{"name": "lines", "flag": "lines"}]
    _choose(page, "bad.yaml", yaml.safe_dump(bad, sort_keys=False))
    expect(page.locator(".config-drop")).to_contain_text("bad.yaml")
    page.get_by_role("button", name="Check").click()
    error = page.locator(".config-import-error")
    expect(error).to_contain_text(f"tasks[{i}].parameters[0].flag: Flag 'lines' of parameter lines must look like")
    expect(page.get_by_role("button", name="Apply")).to_be_disabled()

    # A changed one: the check says what would change, and applying it changes it.
    doc["tasks"][i]["description"] = "Counts the lines of a file (imported)."
    doc["pipelines"].append({"name": "Imported count", "description": "From a YAML document.",
                             "steps": [{"order": 1, "task": "line count"}]})
    _choose(page, "changed.yaml", yaml.safe_dump(doc, sort_keys=False))
    expect(page.locator(".config-drop")).to_contain_text("changed.yaml")
    expect(error).to_have_count(0)
    page.get_by_role("button", name="Check").click()
    expect(page.locator(".config-check-summary")).to_contain_text("1 to create, 1 to change, 0 to remove")
    expect(page.locator(".config-change[data-action=create][data-kind=pipeline][data-name='Imported count']")
           ).to_be_visible()
    expect(page.locator(".config-change[data-action=change][data-kind=task][data-name='line count']")
           ).to_contain_text("description")
    shot(page, "admin-configuration-check")
    # Nothing is written by a check.
    expect(page.locator(".config-pipeline-row[data-pipeline='Imported count']")).to_have_count(0)

    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_text("Configuration imported from changed.yaml: 1 created, 1 changed, 0 removed")
           ).to_be_visible()
    expect(page.locator(".config-pipeline-row[data-pipeline='Imported count']")).to_contain_text("1. line count")
    expect(page.locator(".config-task-row[data-task='line count']")).to_contain_text(
        "Counts the lines of a file (imported).")
    expect(page.locator(".config-check-summary")).to_have_count(0)
    page.reload()
    expect(page.locator(".config-pipeline-row[data-pipeline='Imported count']")).to_be_visible()
    with page.expect_download() as dl:
        page.get_by_role("button", name="Download YAML").click()
    after = yaml.safe_load(open(dl.value.path(), encoding="utf-8").read())
    assert [p for p in after["pipelines"] if p["name"] == "Imported count"] == [doc["pipelines"][-1]]
