"""Refusals of Analytics Automated's submission route in the audit log, over HTTP: each
is one "request" entry (method and path, outcome refused, A_A's reason) as the REST
API's refusals are, read back through GET /api/admin/audit; the answer on the wire is
A_A's unchanged; a refusal the domain recorded (a task's parameter rule, inside the run
being lodged) is not recorded again; the same refusal again and again is one entry,
its repeats counted on the next; the chain verifies."""

from __future__ import annotations

import httpx
import pytest

from app import manage
from tests.integration.aa_live import SORTER, AAClient, configure
from tests.integration.api_live import LiveServer, token_for
from tests.integration.test_audit import _log
from tests.integration.test_audit_refusals import _forget_windows

PATH = "POST /analytics_automated/submission.json"


@pytest.fixture
def live(jobdeck, users):
    configure(users["root"])
    server = LiveServer().start()
    client = AAClient(server.url)
    try:
        yield server, client
    finally:
        client.close()
        server.stop()


def _audit(url: str, **query) -> list[dict]:
    r = httpx.get(f"{url}/api/admin/audit", params={"action": "request", **query},
                  headers={"Authorization": f"Bearer {token_for('root')}"})
    assert r.status_code == 200, r.text
    return r.json()["entries"]


def test_aa_refusals_are_recorded_once_in_aa_words(live, capsys):
    server, aa = live
    r = aa.submit("nosuch", **SORTER)
    assert (r.status_code, r.json()) == (400, {"error": "Job name supplied does not exist"})
    r = aa.submit(content=None, **SORTER)
    assert r.status_code == 400 and "input_data" in r.json()["error"], r.text
    r = aa.submit("private", **SORTER)
    assert r.status_code == 401, r.text
    bad = AAClient(server.url, token="jdk_nobody")
    try:
        assert bad.submit(**SORTER).status_code == 401
    finally:
        bad.close()

    got = [(e["actor"], e["target"], e["outcome"], e["via"], e["message"].split(":")[0])
           for e in _audit(server.url, outcome="refused")]
    assert got == [("anonymous", PATH, "refused", "api", "401 not signed in"),
                   ("anonymous", PATH, "refused", "api", "401 not signed in"),
                   ("anonymous", PATH, "refused", "api", "400 invalid input"),
                   ("anonymous", PATH, "refused", "api", "400 invalid input")], got
    messages = [e["message"] for e in _audit(server.url)]
    assert messages[-1] == "400 invalid input: Job name supplied does not exist"
    assert messages[-2].startswith("400 invalid input: input_data: ")
    assert messages[0].startswith("401 not signed in: The token is unknown")

    # Refused by the task's rule while the run is lodged: the domain's entry, not the route's.
    r = aa.submit(**{**SORTER, "split_lines": "many"})
    assert r.status_code == 400, r.text
    assert [e.outcome for e in _log(action="pipeline.run")] == ["refused"]
    assert len(_audit(server.url)) == 4
    # Reads refused are not recorded.
    assert aa.get("/submission/not-a-uuid").status_code == 404
    assert len(_audit(server.url)) == 4
    assert manage.main(["verify-audit"]) == 0
    assert "audit log intact" in capsys.readouterr().out


def test_the_same_aa_refusal_again_and_again_is_one_entry(live):
    server, aa = live
    for _ in range(12):
        assert aa.submit("nosuch", **SORTER).status_code == 400
    assert len(_audit(server.url)) == 1
    _forget_windows()
    assert aa.submit("nosuch", **SORTER).status_code == 400
    entries = _audit(server.url)
    assert len(entries) == 2
    assert entries[0]["message"].endswith("(and 11 more like it before)"), entries[0]["message"]
