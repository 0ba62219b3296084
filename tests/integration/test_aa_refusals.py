"""Every refusal of Analytics Automated's submission route, over HTTP: its status and
body as A_A answers (the field or parameter named), and nothing lodged or stored."""

from __future__ import annotations

import pytest

from tests.integration.aa_live import SORTER, AAClient, configure, lodged_jobs, stored_runs
from tests.integration.api_live import LiveServer

HINT = ". GET /analytics_automated/endpoints to discover all required options"


@pytest.fixture
def aa(jobdeck, users):
    configure(users["root"])
    server = LiveServer().start()
    client = AAClient(server.url)
    try:
        yield client
    finally:
        client.close()
        server.stop()


def refused(r, status: int, error) -> None:
    assert r.status_code == status, r.text
    assert r.json() == {"error": error}
    assert lodged_jobs() == 0 and stored_runs() == []


def param_error(job: str, why: str) -> str:
    return f"Required Parameter for {job} Missing.{why}{HINT}"


def test_missing_fields_and_unknown_jobs(aa):
    for missing in ("job", "submission_name", "email"):
        refused(aa.submit(**{missing: None}, **SORTER), 400, "Input does not contain all required fields")
    refused(aa.submit("nosuch", **SORTER), 400, "Job name supplied does not exist")
    refused(aa.submit("sorter,nosuch", **SORTER), 400, "Job name supplied does not exist")
    refused(aa.submit("sorter, broken", **SORTER), 400, "Job name supplied does not exist")  # no spaces


@pytest.mark.parametrize("value,why", [
    ("a;b", "punctuation: a;b"),
    ("$(rm -rf /)", "punctuation: $(rm -rf /)"),
    ("`id`", "punctuation: `id`"),
    ("-1", "punctuation: -1"),
    ("--output=/etc/passwd", "punctuation: --output=/etc/passwd"),
    ("a b", "punctuation: a b"),
    ("2\n3", "punctuation: 2?3"),
    ("None", "python keyords: None"),
    ("True", "python keyords: True"),
    ("c", "R keywords: c"),
    ("format.packageInfo", "R keywords: format.packageInfo"),
    ("bash", "unix commands: bash"),
])
def test_hostile_values_name_the_field(aa, value, why):
    r = aa.submit(**{**SORTER, "split_lines": value})
    refused(r, 400, param_error("sorter", f"Incoming data can not contain {why} in split_lines"))


def test_unknown_fields_are_checked_too_and_huge_values_refused(aa):
    refused(aa.submit(**SORTER, extra="x|y"), 400,
            param_error("sorter", "Incoming data can not contain punctuation: x|y in extra"))
    refused(aa.submit(**{**SORTER, "split_lines": "9" * 5000}), 400,
            param_error("sorter", "Incoming data can not be longer than 1000 characters: split_lines"))


def test_missing_and_mistyped_parameters(aa):
    refused(aa.submit(sort_reverse="TRUE"), 400, param_error(
        "sorter", "You are missing a required parameter in your web form submission: split_lines"))
    # A_A's check passes; Jobdeck's rule of the task (a whole number) refuses, naming it.
    r = aa.submit(**{**SORTER, "split_lines": "many"})
    assert r.status_code == 400 and "Parameter lines must be a whole number" in r.json()["error"]
    assert r.json()["error"].startswith("Required Parameter for sorter Missing.")
    assert lodged_jobs() == 0 and stored_runs() == []


def test_a_later_job_of_a_batch_refused_lodges_none(aa):
    refused(aa.submit("sorter,disabled", **SORTER), 403, "disabled is present but currently disabled.")
    refused(aa.submit("broken,sorter", sort_reverse="TRUE"), 400, param_error(
        "sorter", "You are missing a required parameter in your web form submission: split_lines"))


def test_the_form_fields(aa):
    refused(aa.submit(email="not-an-address", **SORTER), 400, {"email": ["Enter a valid email address."]})
    refused(aa.submit(email="", **SORTER), 400, {"email": ["This field is required."]})
    refused(aa.submit(name="", **SORTER), 400, {"submission_name": ["This field is required."]})
    refused(aa.submit(name="x" * 65, **SORTER), 400,
            {"submission_name": ["Ensure this value has at most 64 characters (it has 65)."]})
    refused(aa.submit(content=None, **SORTER), 400, {"input_data": ["This field is required."]})
    refused(aa.submit(content=b"", **SORTER), 400, {"input_data": ["The submitted file is empty."]})
    refused(aa.submit(name="", email="x", content=None, **SORTER), 400,
            {"submission_name": ["This field is required."], "email": ["Enter a valid email address."],
             "input_data": ["This field is required."]})


def test_bodies_that_are_not_a_form(aa):
    r = aa.http.post("/submission/", json={"job": "sorter"})
    assert (r.status_code, r.json()) == (415, {"detail": 'Unsupported media type "application/json" in request.'})
    r = aa.http.post("/submission/", content=b"--x\r\nbroken", headers={"Content-Type": "multipart/form-data"})
    assert r.status_code == 400 and r.json()["detail"].startswith("Multipart form parse error")
    assert lodged_jobs() == 0


def test_any_file_name_is_taken(aa):
    r = aa.submit(file_name="../../etc/my seqs;rm.fa", **SORTER)
    assert r.status_code == 201, r.text
    sub = aa.batch(r.json()["UUID"])["submissions"][0]
    assert sub["input_file"] == f"/submissions/{sub['UUID']}_my_seqs_rm.fa"
