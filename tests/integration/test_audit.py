"""The audit log: every changing action through the REST API is recorded with who,
from where, via what and its outcome (refusals too); the hash chain finds an altered,
removed, reordered or inserted entry (python -m app.manage verify-audit); writers at
once keep the chain whole; GET /api/admin/audit filters and pages, refuses a forged
cursor and non-admins."""

from __future__ import annotations

import threading

import sqlalchemy as sa

from app import audit, manage
from app.db import get_engine
from tests.conftest import run_workers

NOOP = {"job_type": "SYSTEM", "job_subtype": "NOOP", "payload": {"sleep_s": 0}}


def _log(**filters) -> list:
    rows, _ = audit.entries(viewer=_Admin(), filters=audit.AuditFilter(**filters), limit=500)
    return rows


class _Admin:
    role = "admin"
    username = "root"


def _one(action: str, **more):
    got = _log(action=action, **more)
    assert len(got) == 1, [(e.action, e.target, e.outcome) for e in got]
    return got[0]


def _verify(capsys) -> tuple[int, str]:
    code = manage.main(["verify-audit"])
    out = capsys.readouterr()
    return code, out.out + out.err


def _sql(text: str, **params) -> None:
    with get_engine().begin() as conn:
        conn.execute(sa.text(text), params)


def test_each_action_through_the_api_is_recorded_with_actor_address_and_outcome(api, users):
    root, alice = api.as_("root"), api.as_("alice")
    assert api.post("/api/jobs", json=NOOP, headers=alice).status_code == 403
    e = _one("job.lodge", actor="alice")
    assert (e.via, e.address, e.outcome, e.target) == ("api", "testclient", "refused", "SYSTEM/NOOP")
    assert e.message.startswith("Lodging SYSTEM/NOOP directly is for admins")
    job = api.post("/api/jobs", json=NOOP, headers=root).json()
    e = _one("job.lodge", target=job["id"])
    assert (e.actor, e.via, e.address, e.outcome) == ("root", "api", "testclient", "ok")

    assert api.post(f"/api/jobs/{job['id']}/cancel", headers=root).status_code == 200
    assert _one("job.cancel", target=job["id"]).outcome == "ok"
    assert api.post(f"/api/jobs/{job['id']}/retry", headers=root).status_code == 200
    assert _one("job.retry", target=job["id"]).actor == "root"
    assert api.post(f"/api/jobs/{job['id']}/cancel", headers=alice).status_code == 404
    e = _one("job.cancel", actor="alice")
    assert (e.outcome, e.target) == ("refused", job["id"])
    run_workers()
    refused = api.delete(f"/api/admin/submissions/{job['id']}", headers=alice)
    assert refused.status_code == 403
    assert api.delete(f"/api/admin/submissions/{job['id']}", headers=root).status_code == 200
    deletes = _log(action="submission.delete", target=job["id"])
    # alice's is refused before the route (admins only), so only root's reaches the domain
    assert [(d.actor, d.outcome) for d in deletes] == [("root", "ok")]

    assert api.patch("/api/admin/backends/system", json={"max_workers": 3}, headers=root).status_code == 200
    assert _one("backend.update", target="system").actor == "root"
    bad = api.patch("/api/admin/backends/system", json={"max_workers": -4}, headers=root)
    assert bad.status_code == 422
    e = _one("backend.update", outcome="refused")
    assert e.actor == "root" and "between" in e.message

    t = api.post("/api/tasks", json={"name": "line count", "command": "wc -l {input}"}, headers=root).json()
    assert _one("task.create", target="line count").outcome == "ok"
    assert api.put(f"/api/tasks/{t['id']}", json={"name": "line count", "command": "wc -w {input}"},
                   headers=root).status_code == 200
    assert _one("task.update", target=str(t["id"])).outcome == "ok"
    p = api.post("/api/pipelines", json={"name": "count", "steps": [{"order": 1, "task": "line count"}]},
                 headers=root).json()
    assert _one("pipeline.create", target="count").outcome == "ok"
    assert api.put(f"/api/pipelines/{p['id']}", json={"name": "count2", "steps": [{"order": 1, "task": "line count"}]},
                   headers=root).status_code == 200
    assert _one("pipeline.update", target=str(p["id"])).outcome == "ok"
    assert api.delete(f"/api/pipelines/{p['id']}", headers=root).status_code == 204
    assert _one("pipeline.delete", target=str(p["id"])).outcome == "ok"
    assert api.delete(f"/api/tasks/{t['id']}", headers=root).status_code == 204
    assert _one("task.delete", target=str(t["id"])).outcome == "ok"

    # a refusal reaching the domain: alice may not configure tasks
    assert api.post("/api/tasks", json={"name": "x", "command": "wc -l {input}"}, headers=alice).status_code == 403
    e = _one("task.create", actor="alice")
    assert (e.outcome, e.message) == ("refused", "Changing tasks and pipelines is for admins.")

    added = api.post("/api/admin/users", json={"username": "carol", "password": "carol-password"}, headers=root)
    assert added.status_code == 201
    assert _one("user.add", target="carol").actor == "root"
    assert api.post("/api/admin/users/carol/password", json={"password": "carol-new-pass"},
                    headers=root).status_code == 200
    assert _one("user.password-reset", target="carol").outcome == "ok"
    assert api.post("/api/admin/users/carol/end-sign-ins", headers=root).status_code == 200
    assert _one("user.end-sign-ins", target="carol").outcome == "ok"
    assert api.post("/api/admin/users/carol/disable", headers=root).status_code == 200
    assert _one("user.disable", target="carol").outcome == "ok"
    assert api.post("/api/admin/users/carol/enable", headers=root).status_code == 200
    assert _one("user.enable", target="carol").outcome == "ok"
    assert api.post("/api/admin/users/root/disable", headers=root).status_code == 422
    e = _one("user.disable", target="root")
    assert e.outcome == "refused" and "your own account" in e.message

    # sign-ins (a token for a password), failed and good; a token created and revoked
    assert api.post("/api/tokens", json={"username": "carol", "password": "wrong-one"}).status_code == 401
    e = _one("sign-in", outcome="refused")
    assert (e.actor, e.target, e.via, e.message) == ("carol", "carol", "api", "Wrong username or password.")
    tok = api.post("/api/tokens", json={"username": "carol", "password": "carol-new-pass"}).json()
    assert _one("sign-in", outcome="ok").actor == "carol"
    assert [x.target for x in _log(action="token.create", actor="carol")] == [f"carol/{tok['id']}"]
    assert api.delete(f"/api/tokens/{tok['id']}", headers={"Authorization": f"Bearer {tok['token']}"}).status_code == 204
    assert _one("token.revoke", target=f"carol/{tok['id']}").actor == "carol"
    mine = api.post("/api/tokens", json={"username": "carol", "password": "carol-new-pass"}).json()
    assert api.delete(f"/api/admin/users/carol/tokens/{mine['id']}", headers=root).status_code == 204
    assert _one("user.token-revoke", target=f"carol/{mine['id']}").actor == "root"

    # the test users' first tokens were made on the host (operator); all else came over the API
    assert {(e.via, e.address) for e in _log() if e.via != "operator"} == {("api", "testclient")}


def test_the_forwarded_address_of_a_trusted_proxy_is_recorded(api, users, monkeypatch):
    from app.settings import reload_settings
    monkeypatch.setenv("JOBDECK_TRUSTED_PROXIES", "0.0.0.0/0,::/0")
    reload_settings()
    # TestClient's peer is not an address, so the header is not taken from it
    api.post("/api/jobs", json=NOOP, headers={**api.as_("alice"), "X-Forwarded-For": "203.0.113.9"})
    assert _one("job.lodge").address == "testclient"


def test_an_intact_chain_verifies_and_every_kind_of_tampering_is_named(jobdeck, capsys):
    code, out = _verify(capsys)
    assert code == 0 and "0 entries" in out
    for i in range(6):
        audit.record(action="job.cancel", target=f"job-{i}", actor="alice")
    code, out = _verify(capsys)
    assert code == 0 and "6 entries" in out

    _sql("UPDATE auditentry SET actor = 'mallory' WHERE id = 3")
    code, out = _verify(capsys)
    assert code == 1 and "entry 3" in out and "altered" in out
    _sql("UPDATE auditentry SET actor = 'alice' WHERE id = 3")
    assert _verify(capsys)[0] == 0

    _sql("UPDATE auditentry SET outcome = 'refused' WHERE id = 5")
    code, out = _verify(capsys)
    assert code == 1 and "entry 5" in out
    _sql("UPDATE auditentry SET outcome = 'ok' WHERE id = 5")

    # reorder: entries 2 and 4 swap places
    _sql("UPDATE auditentry SET id = 1000 WHERE id = 2")
    _sql("UPDATE auditentry SET id = 2 WHERE id = 4")
    _sql("UPDATE auditentry SET id = 4 WHERE id = 1000")
    code, out = _verify(capsys)
    assert code == 1 and "entry 2" in out
    _sql("UPDATE auditentry SET id = 1000 WHERE id = 2")
    _sql("UPDATE auditentry SET id = 2 WHERE id = 4")
    _sql("UPDATE auditentry SET id = 4 WHERE id = 1000")
    assert _verify(capsys)[0] == 0


def test_removed_and_inserted_entries_are_named(jobdeck, capsys):
    for i in range(5):
        audit.record(action="task.delete", target=str(i))
    _sql("DELETE FROM auditentry WHERE id = 3")
    code, out = _verify(capsys)
    assert code == 1 and "entry 3 is missing" in out


def test_removing_the_last_entry_or_rewriting_the_tail_is_found(jobdeck, capsys):
    for i in range(4):
        audit.record(action="task.delete", target=str(i))
    _sql("DELETE FROM auditentry WHERE id = 4")
    code, out = _verify(capsys)
    assert code == 1 and "entry 4 is missing" in out


def test_an_entry_inserted_with_a_well_made_hash_is_still_found(jobdeck, capsys):
    for i in range(3):
        audit.record(action="job.retry", target=str(i))
    # someone who knows the scheme rewrites entry 2 whole and recomputes 2 and 3
    with get_engine().begin() as conn:
        rows = [dict(r) for r in conn.execute(sa.text("SELECT * FROM auditentry ORDER BY id")).mappings()]
    import datetime as dt
    forged = dict(rows[1], actor="mallory")
    for r in (forged,):
        at = r["created_at"]
        r["created_at"] = (at if isinstance(at, dt.datetime) else dt.datetime.fromisoformat(str(at))).replace(
            tzinfo=dt.timezone.utc)
    forged["hash"] = audit.chain_hash(rows[0]["hash"], forged)
    _sql("UPDATE auditentry SET actor = 'mallory', hash = :h WHERE id = 2", h=forged["hash"])
    code, out = _verify(capsys)
    assert code == 1 and "entry 3" in out  # 2 is self-consistent; 3 no longer follows it


def test_writers_at_once_keep_the_chain_whole(jobdeck, capsys):
    errors = []

    def write(n: int) -> None:
        try:
            for i in range(15):
                audit.record(action="job.lodge", target=f"{n}-{i}", actor=f"writer{n}")
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    code, out = _verify(capsys)
    assert code == 0 and "90 entries" in out, out


def test_writer_processes_at_once_keep_the_chain_whole(jobdeck, capsys):
    import os
    import subprocess
    import sys
    code = ("from app import audit\n"
            "for i in range(20): audit.record(action='job.lodge', target=str(i))\n")
    procs = [subprocess.Popen([sys.executable, "-c", code], env=dict(os.environ)) for _ in range(4)]
    assert [p.wait(timeout=300) for p in procs] == [0, 0, 0, 0]
    code, out = _verify(capsys)
    assert code == 0 and "80 entries" in out, out
    assert {e.via for e in _log()} == {"operator"}


def test_api_filters_paging_forged_cursor_and_who_may_read(api, users):
    root = api.as_("root")
    for i in range(7):
        audit.record(action="job.cancel", target=f"t{i % 2}", actor="alice" if i % 3 else "bob",
                     outcome="refused" if i == 4 else "ok", message="no" if i == 4 else "")
    r = api.get("/api/admin/audit", params={"action": "job.cancel", "limit": 3}, headers=root)
    assert r.status_code == 200, r.text
    page = r.json()
    seen = [e["target"] for e in page["entries"]]
    ids = [e["id"] for e in page["entries"]]
    while page["next_cursor"]:
        page = api.get("/api/admin/audit", params={"action": "job.cancel", "limit": 3,
                                                   "cursor": page["next_cursor"]}, headers=root).json()
        ids += [e["id"] for e in page["entries"]]
        seen += [e["target"] for e in page["entries"]]
    assert len(ids) == 7 and ids == sorted(ids, reverse=True)
    assert len(api.get("/api/admin/audit", params={"actor": "bob", "action": "job.cancel"},
                       headers=root).json()["entries"]) == 3
    assert len(api.get("/api/admin/audit", params={"target": "t1", "action": "job.cancel"},
                       headers=root).json()["entries"]) == 3
    refused = api.get("/api/admin/audit", params={"outcome": "refused"}, headers=root).json()["entries"]
    assert [(e["target"], e["message"]) for e in refused] == [("t0", "no")]
    first = api.get("/api/admin/audit", params={"action": "job.cancel"}, headers=root).json()["entries"]
    mid = first[3]["created_at"]
    newer = api.get("/api/admin/audit", params={"action": "job.cancel", "since": mid}, headers=root).json()
    older = api.get("/api/admin/audit", params={"action": "job.cancel", "until": mid}, headers=root).json()
    assert len(newer["entries"]) + len(older["entries"]) == 7 and len(newer["entries"]) >= 4

    for forged in ("not-a-cursor", "MjAyNi0wMS0wMVQwMDowMDowMCswMDowMHxhYmM=", "%%%"):
        bad = api.get("/api/admin/audit", params={"cursor": forged}, headers=root)
        assert bad.status_code == 400, (forged, bad.text)
        assert bad.json()["field"] == "cursor"
    assert api.get("/api/admin/audit", params={"outcome": "maybe"}, headers=root).status_code == 422
    naive = api.get("/api/admin/audit", params={"since": "2026-01-01T00:00:00"}, headers=root)
    assert naive.status_code == 422 and naive.json()["field"] == "since"
    edge = api.get("/api/admin/audit", params={"until": "9999-12-31T23:59:59-10:00"}, headers=root)
    assert edge.status_code == 422 and edge.json()["field"] == "until"
    assert api.get("/api/admin/audit", headers=api.as_("alice")).status_code == 403
    assert api.get("/api/admin/audit").status_code == 401


def test_the_operators_commands_are_recorded_via_operator(users):
    # what python -m app.manage create-user, disable-user and set-password call, outside
    # any request or event (the command itself migrates first; tests/unit/test_signin runs it)
    from app import users as people
    from app.errors import NotFound
    import pytest
    people.add_user(actor=people.OPERATOR, username="dave", password="dave-password", role="admin")
    people.disable_user(actor=people.OPERATOR, username="dave")
    with pytest.raises(NotFound):
        people.disable_user(actor=people.OPERATOR, username="nobody")
    people.reset_password(actor=people.OPERATOR, username="dave", password="dave-password2")
    got = [(e.action, e.target, e.actor, e.via, e.outcome) for e in reversed(_log(via="operator"))
           if e.action != "token.create"]
    assert got == [("user.add", "dave", "the operator", "operator", "ok"),
                   ("user.disable", "dave", "the operator", "operator", "ok"),
                   ("user.disable", "nobody", "the operator", "operator", "refused"),
                   ("user.password-reset", "dave", "the operator", "operator", "ok")]


def test_console_sign_in_and_sign_out_are_recorded_with_the_tabs_context(users):
    # what app.state.base sets for each console event: via console, the tab's address
    from app import signin
    with audit.acting(via="console", address="198.51.100.7"):
        import pytest
        from app.errors import AuthenticationFailed
        with pytest.raises(AuthenticationFailed):
            signin.sign_in("bob", "not-his-password", address="198.51.100.7")
        _, value = signin.sign_in("bob", "bob-password", address="198.51.100.7")
        assert signin.sign_out(value)
    got = [(e.action, e.actor, e.via, e.address, e.outcome) for e in reversed(_log(actor="bob"))]
    assert got == [("sign-in", "bob", "console", "198.51.100.7", "refused"),
                   ("sign-in", "bob", "console", "198.51.100.7", "ok"),
                   ("sign-out", "bob", "console", "198.51.100.7", "ok")]
    assert audit.current_context().via == "operator"  # the event's context ended with it
