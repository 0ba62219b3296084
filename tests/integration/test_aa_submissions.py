"""Analytics Automated's clients against a running Jobdeck over HTTP: a submission and a
batch polled until Complete and Error, every result file downloaded, switches and
values reaching the command, the answers' keys in A_A's order."""

from __future__ import annotations

import pytest

from tests.integration.aa_live import SORTER, TEXT, AAClient, configure, run_workers
from tests.integration.api_live import LiveServer

SUBMISSION_KEYS = ["submission_name", "job_name", "UUID", "state", "last_message", "email", "input_file", "results"]


@pytest.fixture
def aa(jobdeck, users):
    configured = configure(users["root"])
    server = LiveServer().start()
    client = AAClient(server.url)
    client.pipelines = configured
    try:
        yield client
    finally:
        client.close()
        server.stop()


def test_a_submission_is_polled_to_complete_and_its_files_download(aa):
    r = aa.submit(**SORTER)  # send_fasta.py's route: submission.json
    assert r.status_code == 201, r.text
    assert list(r.json()) == ["UUID", "submission_name"] and r.json()["submission_name"] == "my run"
    assert r.text.startswith('{"UUID":"') and ", " not in r.text  # compact
    batch_id = r.json()["UUID"]

    b = aa.batch(batch_id)
    assert list(b) == ["UUID", "state", "submissions"] and b["UUID"] == batch_id and b["state"] == 0
    (sub,) = b["submissions"]
    assert list(sub) == SUBMISSION_KEYS
    assert (sub["job_name"], sub["state"], sub["last_message"], sub["email"], sub["results"]) == (
        "sorter", 0, "Submitted", "someone@example.org", [])
    assert sub["UUID"] != batch_id

    run_workers()
    b = aa.batch(batch_id)
    assert b["state"] == 2
    single = aa.get(f"/submission/single/{sub['UUID']}")
    assert single.status_code == 200
    sub = single.json()
    assert list(sub) == SUBMISSION_KEYS
    assert (sub["state"], sub["last_message"], sub["submission_name"]) == (2, "Completed job at step #2", "my run")
    assert sub == b["submissions"][0]
    # Every kept file, each named once, flat under /submissions/, keeping the tool's name.
    assert [(x["name"], x["step"], x["message"]) for x in sub["results"]] == [
        ("sort", 1, "Result"), ("split", 2, "Result"), ("split", 2, "Result")]
    assert [list(x) for x in sub["results"]] == [["task", "name", "message", "step", "data_path"]] * 3
    assert all(isinstance(x["task"], int) for x in sub["results"])
    got = {}
    for x in sub["results"]:
        path = x["data_path"]
        assert path.startswith("/submissions/") and path.count("/") == 2
        f = aa.get(path)
        assert f.status_code == 200, path
        got[path.split("/")[2]] = f.content
    u = sub["UUID"]
    # -r reached sort as its own argument (TRUE), 2 reached split's -l.
    assert got == {f"{u}_sorted.txt": b"date\ncherry\nbanana\napple\n", f"{u}_part_aa": b"date\ncherry\n",
                   f"{u}_part_ab": b"banana\napple\n"}
    assert sub["input_file"] == f"/submissions/{u}_input.txt"
    assert aa.get(sub["input_file"]).content == TEXT


def test_a_switch_sent_false_is_left_out(aa):
    r = aa.submit(sort_reverse="FALSE", split_lines="4")
    assert r.status_code == 201, r.text
    run_workers()
    (sub,) = aa.batch(r.json()["UUID"])["submissions"]
    sorted_file = next(x["data_path"] for x in sub["results"] if x["data_path"].endswith("_sorted.txt"))
    assert aa.get(sorted_file).content == b"apple\nbanana\ncherry\ndate\n"


def test_a_batch_errs_when_one_submission_does_and_completes_the_other(aa):
    r = aa.submit("sorter,broken", **SORTER)
    assert r.status_code == 201, r.text
    b = aa.batch(r.json()["UUID"])
    assert sorted(s["job_name"] for s in b["submissions"]) == ["broken", "sorter"]
    assert {s["state"] for s in b["submissions"]} == {0}
    run_workers()
    b = aa.batch(r.json()["UUID"])
    assert b["state"] == 3
    subs = {s["job_name"]: s for s in b["submissions"]}
    assert (subs["sorter"]["state"], subs["sorter"]["last_message"]) == (2, "Completed job at step #2")
    # The failed step and its exit status; never the command line.
    assert (subs["broken"]["state"], subs["broken"]["last_message"]) == (3, "Failed at step: 2: fail with "
                                                                            "exit status 1")
    assert [x["name"] for x in subs["broken"]["results"]] == ["sort"]  # what ran before it
    for s in b["submissions"]:
        assert aa.get(f"/submission/single/{s['UUID']}").json() == s
        # a submission's UUID on the batch route, a batch's on the single route: 404
        nf = aa.get(f"/submission/{s['UUID']}")
        assert (nf.status_code, nf.json()) == (404, {"detail": "Not found."})
    assert aa.get(f"/submission/single/{r.json()['UUID']}").status_code == 404


def test_suffixes_formats_and_slashes(aa):
    r = aa.submit(path="/submission/", **SORTER)
    assert r.status_code == 201
    u = r.json()["UUID"]
    sub = aa.batch(u)["submissions"][0]["UUID"]
    for path in (f"/submission/{u}", f"/submission/{u}.json", f"/submission/{u}?format=json",
                 f"/submission/single/{sub}", f"/submission/single/{sub}.json", "/job/", "/job.json",
                 "/job/?format=json", "/endpoints/", "/endpoints.json", "/jobtimes/", "/jobtimes.json",
                 "/job/sorter"):
        got = aa.get(path, headers={"Accept": "*/*"})
        assert got.status_code == 200 and got.headers["content-type"] == "application/json", path
    for path in (f"/submission/{u}/", f"/submission/single/{sub}/", "/job/sorter/", "/job/sorter.json",
                 "/submission/.json", f"/submission/{u}?format=xml", "/job/?format=api", "/job/nosuch",
                 "/submission/not-a-uuid", "/nothing/here"):
        got = aa.get(path)
        assert (got.status_code, got.json()) == (404, {"detail": "Not found."}), path
    for path in ("/job", "/endpoints", "/jobtimes", "/submission"):
        got = aa.get(path)
        assert got.status_code == 301 and got.headers["location"].endswith(path + "/"), path
    assert aa.http.post("/submission", data={"job": "sorter"}, files={"x": ("", b"")}).status_code == 301
