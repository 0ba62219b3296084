"""Refusals before the domain, over real HTTP (uvicorn on a real port): a changing
request refused with 401, 403 or 422 is one audit entry ("request", its method and
path, outcome refused, the reason); a read is none; a domain refusal is recorded once,
not again by the API; the same refusal from one address again and again is one entry,
its repeats counted on the next; the chain verifies throughout."""

from __future__ import annotations

import httpx
import pytest

from app import audit, keys, manage, queues
from tests.integration.api_live import LiveServer, token_for
from tests.integration.test_audit import _log

NOOP = {"job_type": "SYSTEM", "job_subtype": "NOOP", "payload": {"sleep_s": 0}}


@pytest.fixture
def live(jobdeck, users):
    server = LiveServer().start()
    yield server
    server.stop()


def _bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def _requests() -> list:
    return _log(action="request")


def _verified(capsys) -> str:
    assert manage.main(["verify-audit"]) == 0
    return capsys.readouterr().out


def _forget_windows() -> None:
    """The flood window over for every refusal, as WINDOW_S seconds later."""
    r = queues.redis_conn()
    for key in r.scan_iter(match=keys.refusal_window("*")):
        r.delete(key)


def test_each_refusal_before_the_domain_is_one_entry_and_reads_are_none(live, capsys):
    root, alice = token_for("root"), token_for("alice")
    url = live.url

    # 401: no token, a token of no one, a revoked token (its owner is who it claims)
    assert httpx.post(f"{url}/api/jobs", json=NOOP).status_code == 401
    assert httpx.post(f"{url}/api/jobs", json=NOOP, headers=_bearer("jdk_nobody")).status_code == 401
    revoked = token_for("bob")
    assert httpx.delete(f"{url}/api/tokens/current", headers=_bearer(revoked)).status_code == 204
    assert httpx.post(f"{url}/api/jobs", json=NOOP, headers=_bearer(revoked)).status_code == 401
    got = [(e.actor, e.target, e.outcome, e.via) for e in _requests()]
    assert got == [("bob", "POST /api/jobs", "refused", "api"),
                   ("anonymous", "POST /api/jobs", "refused", "api"),
                   ("anonymous", "POST /api/jobs", "refused", "api")], got
    newest = _requests()[0]
    assert newest.message.startswith("401 not signed in: The token is unknown or was revoked")
    assert newest.address == "127.0.0.1"

    # 403: a user on an admins-only route, before the route runs
    r = httpx.delete(f"{url}/api/admin/submissions/nothing-here", headers=_bearer(alice))
    assert r.status_code == 403
    e = _requests()[0]
    assert (e.actor, e.target, e.outcome) == ("alice", "DELETE /api/admin/submissions/nothing-here", "refused")
    assert e.message.startswith("403 not allowed: This route is for admins")

    # 422: a body the route's model refuses
    r = httpx.patch(f"{url}/api/admin/backends/system", json={"max_workers": "many"}, headers=_bearer(root))
    assert r.status_code == 422
    e = _requests()[0]
    assert (e.actor, e.target) == ("root", "PATCH /api/admin/backends/system")
    assert e.message.startswith("422 invalid input: body.max_workers")
    assert len(_requests()) == 5

    # Reads refused are not recorded; nor is a refusal the domain recorded itself.
    assert httpx.get(f"{url}/api/admin/audit").status_code == 401
    assert httpx.get(f"{url}/api/admin/audit", headers=_bearer(alice)).status_code == 403
    assert httpx.get(f"{url}/api/jobs?limit=0", headers=_bearer(root)).status_code == 422
    assert httpx.post(f"{url}/api/jobs", json=NOOP, headers=_bearer(alice)).status_code == 403
    assert [e.outcome for e in _log(action="job.lodge", actor="alice")] == ["refused"]
    assert len(_requests()) == 5
    assert "audit log intact" in _verified(capsys)


def test_a_failed_sign_in_is_recorded_once(live):
    r = httpx.post(f"{live.url}/api/tokens", json={"username": "alice", "password": "wrong"})
    assert r.status_code == 401, r.text
    assert [(e.actor, e.outcome) for e in _log(action="sign-in")] == [("alice", "refused")]
    assert _requests() == []


def test_the_same_refusal_again_and_again_is_one_entry_and_its_repeats_are_counted(live, capsys):
    url = live.url
    for _ in range(25):
        assert httpx.post(f"{url}/api/jobs", json=NOOP, headers=_bearer("jdk_stolen")).status_code == 401
    assert len(_requests()) == 1
    # Another target, or another claimed user, is another refusal.
    assert httpx.post(f"{url}/api/jobs/x/cancel", headers=_bearer("jdk_stolen")).status_code == 401
    alice = token_for("alice")
    for _ in range(3):
        assert httpx.delete(f"{url}/api/admin/submissions/x", headers=_bearer(alice)).status_code == 403
    assert [(e.actor, e.target) for e in _requests()] == [
        ("alice", "DELETE /api/admin/submissions/x"), ("anonymous", "POST /api/jobs/x/cancel"),
        ("anonymous", "POST /api/jobs")]
    # The window over, the next one is written again, saying how many it stood for.
    _forget_windows()
    assert httpx.post(f"{url}/api/jobs", json=NOOP, headers=_bearer("jdk_stolen")).status_code == 401
    e = _requests()[0]
    assert e.target == "POST /api/jobs" and e.message.endswith("(and 24 more like it before)"), e.message
    # A domain refusal (a wrong password) goes through the same guard.
    for _ in range(4):
        assert httpx.post(f"{url}/api/tokens", json={"username": "bob", "password": "x"}).status_code == 401
    assert len(_log(action="sign-in", actor="bob")) == 1
    assert "audit log intact: 6 entries" in _verified(capsys)


def test_the_flood_guard_writes_every_refusal_while_redis_is_away(live, monkeypatch):
    def away():
        raise ConnectionError("redis is away")

    monkeypatch.setattr(queues, "redis_conn", away)
    for _ in range(3):
        audit.record_refusal(action="request", target="POST /api/jobs", message="401", actor="anonymous")
    assert len(_requests()) == 3
