"""A pipeline's input validators through the REST API: admins name them (an unknown
name is refused naming it), a run on an upload that fails one answers 400 naming the
validator and the problem, and nothing of it is stored: no run directory, no job."""

from __future__ import annotations

from app.runs import runs_dir

from tests.conftest import run_workers

PROTEIN = b"MKTAYIAKQRQISFVKSHFSRQLEERLGLIEVQAPILSRVGDGTQDNLSGAEKAVQVKVKALPDAQ"


def _pipeline(api, validators):
    r = api.post("/api/tasks", json={"name": "count", "command": "wc -c {input}"}, headers=api.as_("root"))
    assert r.status_code == 201, r.text
    r = api.post("/api/pipelines", json={"name": "Sequence check", "steps": [{"order": 1, "task": "count"}],
                                         "validators": validators}, headers=api.as_("root"))
    assert r.status_code == 201, r.text
    return r.json()


def _stored_runs() -> set[str]:
    folder = runs_dir()
    return {p.name for p in folder.iterdir()} if folder.exists() else set()


def test_admins_name_validators_and_unknown_ones_are_refused(api):
    p = _pipeline(api, ["seq"])
    assert p["validators"] == ["seq"]
    assert api.get(f"/api/pipelines/{p['id']}", headers=api.as_("alice")).json()["validators"] == ["seq"]
    body = {"name": "Sequence check", "steps": [{"order": 1, "task": "count"}]}
    r = api.put(f"/api/pipelines/{p['id']}", json=body, headers=api.as_("root"))
    assert r.status_code == 200 and r.json()["validators"] == ["seq"]  # left out: unchanged
    r = api.put(f"/api/pipelines/{p['id']}", json=body | {"validators": ["png", "gif"]}, headers=api.as_("root"))
    assert r.json()["validators"] == ["png", "gif"]
    r = api.put(f"/api/pipelines/{p['id']}", json=body | {"validators": ["png", "fasta"]}, headers=api.as_("root"))
    assert r.status_code == 422 and r.json()["field"] == "validators.1"
    assert "Unknown validator 'fasta'" in r.json()["detail"]
    r = api.post("/api/pipelines", json={"name": "Other", "steps": [{"order": 1, "task": "count"}],
                                         "validators": ["imghdr"]}, headers=api.as_("root"))
    assert r.status_code == 422 and "Unknown validator 'imghdr'" in r.json()["detail"]
    names = [x["name"] for x in api.get("/api/pipelines", headers=api.as_("root")).json()]
    assert names == ["Sequence check"]  # the refused one was not created
    assert api.get(f"/api/pipelines/{p['id']}", headers=api.as_("root")).json()["validators"] == ["png", "gif"]


def test_a_run_on_an_upload_that_fails_a_validator_is_a_400_and_stores_nothing(api):
    p = _pipeline(api, ["none", "seq"])
    url = f"/api/pipelines/{p['id']}/runs"
    before = _stored_runs()
    cases = [
        (b">one\n" + PROTEIN[:40] + b"\n" + PROTEIN[40:50] + b"J" + PROTEIN[50:] + b"\n",
         "seq: line 3 has characters that are not residues: 'J'."),
        (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 64, "seq: the file is not UTF-8 text (byte 0x89 at offset 0)"),
        (b"ACGT" * 30, "seq: the sequence looks like DNA or RNA"),
        (PROTEIN[:10], "seq: the sequence has 10 residues; at least 30 are needed."),
    ]
    for content, message in cases:
        r = api.post(url, headers=api.as_("alice"), files={"file": ("query.fasta", content, "text/plain")})
        assert r.status_code == 400, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        body = r.json()
        assert body["detail"].startswith(message) and body["validator"] == "seq" and body["field"] == "file"
    assert _stored_runs() == before
    assert api.get("/api/jobs", headers=api.as_("alice")).json()["jobs"] == []
    assert api.get("/api/admin/jobs", headers=api.as_("root")).json()["jobs"] == []

    r = api.post(url, headers=api.as_("alice"), files={"file": ("query.fasta", PROTEIN, "text/plain")})
    assert r.status_code == 201, r.text
    run_workers()
    (job,) = api.get("/api/jobs", headers=api.as_("alice")).json()["jobs"]
    assert job["status"] == "SUCCEEDED" and _stored_runs() == before | {job["id"]}


def test_image_validators_through_the_api(api):
    p = _pipeline(api, ["png"])
    url = f"/api/pipelines/{p['id']}/runs"
    r = api.post(url, headers=api.as_("alice"), files={"file": ("picture.png", b"GIF89a" + b"\0" * 30, "image/png")})
    assert r.status_code == 400 and r.json()["validator"] == "png"
    assert r.json()["detail"].startswith("png: the file is not a PNG image (it starts with bytes 47 49 46 38")
    r = api.post(url, headers=api.as_("alice"),
                 files={"file": ("picture.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 30, "image/png")})
    assert r.status_code == 201, r.text
