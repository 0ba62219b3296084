"""Fair use and input validators as Analytics Automated's clients meet them, over HTTP:
an anonymous submitter past the soft limit runs at a lower priority, at the hard limit
gets A_A's 429 (nothing lodged); an upload that fails its pipeline's validator gets
A_A's 400 on input_data (nothing stored); a valid one is accepted."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app import pipelines
from app.db import session
from app.models import Job
from tests.integration.aa_live import AAClient, configure, lodged_jobs, stored_runs
from tests.integration.api_live import LiveServer

FASTA = b">query\n" + b"MKTAYIAKQRQISFVKSHFSRQLEERLGLIEVQAPILSRVGDGTQDNLSGAEKAVQVKVKALPDAQ\n"


@pytest.fixture
def aa(jobdeck, users):
    root = users["root"]
    configure(root)
    pipelines.create_pipeline(actor=root, name="limited", public=True, queue_hog_size=1, queue_hard_limit=2,
                              steps=[{"order": 1, "task": "sort"}])
    pipelines.create_pipeline(actor=root, name="psipred", public=True, validators=["seq"],
                              steps=[{"order": 1, "task": "sort"}])
    server = LiveServer().start()
    client = AAClient(server.url)
    try:
        yield client
    finally:
        client.close()
        server.stop()


def _priorities() -> list[str]:
    with session() as s:
        return list(s.exec(sa.select(Job.priority).where(Job.parent_job_id.is_(None))
                           .order_by(Job.created_at)).scalars())


def test_an_anonymous_submitter_is_lowered_then_refused_with_aa_words(aa):
    for _ in range(2):  # no worker runs: both stay live
        r = aa.submit("limited", sort_reverse="FALSE")
        assert r.status_code == 201, r.text
    assert _priorities() == ["normal", "low"]  # anonymous: normal; past the soft limit (1): one lower
    before = lodged_jobs()
    r = aa.submit("limited", sort_reverse="FALSE")
    assert r.status_code == 429, r.text
    assert r.json() == {"error": "You have no authority to post jobs.Either you are not logged in you have too "
                                 "many, 2, concurrent jobs running"}
    assert lodged_jobs() == before and len(stored_runs()) == 2


def test_an_upload_that_fails_its_validator_is_refused_on_input_data(aa):
    r = aa.submit("psipred", sort_reverse="FALSE", content=b"\x89PNG\r\n\x1a\n binary, not a sequence")
    assert r.status_code == 400, r.text
    assert r.json() == {"error": {"input_data": ["Input data could not be validated"]}}
    r = aa.submit("psipred", sort_reverse="FALSE", content=b"banana\napple\n")
    assert r.status_code == 400 and r.json()["error"] == {"input_data": ["Input data could not be validated"]}
    assert lodged_jobs() == 0 and stored_runs() == []
    r = aa.submit("psipred", sort_reverse="FALSE", content=FASTA)
    assert r.status_code == 201, r.text
    assert lodged_jobs() == 1
