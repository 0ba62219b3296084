"""A pipeline's input validators and its email field as a person meets them on the
Pipelines page: what the upload must be is said before it is chosen; a file that fails
shows the validator's own message in the form (the same words the REST API answers) and
starts nothing; a bad email address is refused there too; an admin sees the validators
on the configuration page."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import at, new_user, shot, sign_in

pytestmark = pytest.mark.e2e

PROTEIN = b"MKTAYIAKQRQISFVKSHFSRQLEERLGLIEVQAPILSRVGDGTQDNLSGAEKAVQVKVKALPDAQ"
BAD = b">query\n" + PROTEIN[:40] + b"\n" + PROTEIN[40:50] + b"J" + PROTEIN[50:] + b"\n"
NAME = "Validated sequences"


def _pipeline(console) -> int:
    from app import auth, pipelines

    with console.domain():
        admin = auth.get_user("admin")
        found = [p for p in pipelines.list_pipelines(actor=admin) if p.name == NAME]
        if found:
            return found[0].id
        pipelines.create_task(actor=admin, name="residue count", command="wc -c {input}")
        return pipelines.create_pipeline(actor=admin, name=NAME, steps=[{"order": 1, "task": "residue count"}],
                                         validators=["seq"]).id


def _choose_file(page, name: str, content: bytes) -> None:
    page.locator(".pipeline-drop input[type=file]").set_input_files(
        files=[{"name": name, "mimeType": "text/plain", "buffer": content}])
    expect(page.locator(".chosen-file")).to_have_text(name)


def test_the_form_shows_the_validators_message_and_starts_nothing(page, console):
    page.set_default_timeout(15_000)
    pid = _pipeline(console)
    username, password = new_user(console, "seq")
    sign_in(page, console, username, path=f"/pipelines?pipeline={pid}", password=password)
    expect(page.locator(".run-card")).to_contain_text(NAME)
    expect(page.locator(".pipeline-accepts")).to_contain_text("a protein sequence or alignment")

    _choose_file(page, "query.fasta", BAD)
    page.get_by_role("button", name=f"Run {NAME}").click()
    error = page.locator(".run-error")
    expect(error).to_contain_text("seq: line 3 has characters that are not residues: 'J'.")
    expect(page).to_have_url(at(console, "/pipelines"))
    shot(page, "pipeline-validator-refused")

    page.get_by_role("button", name="Choose another").click()
    _choose_file(page, "query.fasta", b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    page.get_by_role("button", name=f"Run {NAME}").click()
    expect(error).to_contain_text("seq: the file is not UTF-8 text (byte 0x89 at offset 0)")

    page.get_by_role("button", name="Choose another").click()
    _choose_file(page, "query.fasta", PROTEIN)
    page.get_by_label("Email").fill("not-an-address")
    page.get_by_role("button", name=f"Run {NAME}").click()
    expect(error).to_contain_text("email 'not-an-address' is not a valid address")

    from app import queries  # nothing was lodged by any of the refusals
    from app.auth import get_user

    with console.domain():
        assert queries.list_jobs(viewer=get_user(username)).jobs == []

    page.get_by_label("Email").fill(f"{username}@example.org")
    page.get_by_role("button", name=f"Run {NAME}").click()
    expect(page).to_have_url(re.compile(r"/jobs/[0-9a-f-]{36}/?$"))


def test_an_admin_sees_a_pipelines_validators(page, console):
    page.set_default_timeout(15_000)
    _pipeline(console)
    sign_in(page, console, "admin", path="/admin/configuration")
    expect(page.locator(f".config-pipeline-row[data-pipeline='{NAME}'] .config-validators")).to_have_text("seq")
    expect(page.locator(".config-pipeline-row[data-pipeline='Text summary'] .config-validators")).to_have_text("none")
