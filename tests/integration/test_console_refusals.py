"""Refusals of console actions in the audit log, each once, via console: what the
domain records itself (another user's job cancelled through a forged event, a backend
deleted while a task runs on it, a backend's invalid value) is not recorded again by
the event's `refused`; what only the event (or a domain function without its own
entry, such as an item's create) refuses is one "request" entry `console <event>`
with the signed-in user and the tab's address; the same again and again is one entry,
its repeats counted on the next; the chain verifies."""

from __future__ import annotations

import pytest

from app import audit, backends, launch, manage, registry
from app.errors import InvalidInput, JobdeckError, NotFound
from app.pipelines import config
from app.state.base import refused
from tests.integration.test_audit import _log
from tests.integration.test_audit_refusals import _forget_windows

TAB = "198.51.100.7"
NOOP = dict(job_type="SYSTEM", job_subtype="NOOP", payload={"sleep_s": 0})


def _as_console(user):
    """What AuthState._viewer sets for each console event."""
    return audit.acting(via="console", address=TAB, actor=user.username)


def _event(doing: str, action) -> str:
    """A console event's try/except: the action, its refusal shown and recorded."""
    try:
        action()
    except JobdeckError as exc:
        return refused(exc, doing)
    raise AssertionError("not refused")


def _refusals() -> list:
    return [e for e in _log(outcome="refused")]


def test_refusals_the_domain_records_are_recorded_once(users):
    alice, bob, root = users["alice"], users["bob"], users["root"]
    job = launch.launch_job(actor=root, owner=alice.username, **NOOP)
    with _as_console(bob):
        shown = _event("job.cancel", lambda: launch.cancel_job(actor=bob, job_id=job.id))
    with _as_console(root):
        backends.create_backend(actor=root, name="gpu")
        config.create_task(actor=root, name="t", backend="gpu", command="true")
        _event("backend.delete", lambda: backends.delete_backend(actor=root, name="gpu"))
        _event("backend.save", lambda: backends.update_backend(actor=root, name="gpu", max_workers="many"))
    got = [(e.action, e.actor, e.via, e.address) for e in _refusals()]
    assert got == [("backend.update", "root", "console", TAB), ("backend.delete", "root", "console", TAB),
                   ("job.cancel", "bob", "console", TAB)], got
    assert shown and _log(action="request") == []


def test_refusals_only_the_event_sees_are_one_request_entry_each(users, capsys):
    alice = users["alice"]
    with _as_console(alice):
        shown = _event("items.create", lambda: registry.create_item(actor=alice, subtype="NO-SUCH-KIND",
                                                                   display_name="rain"))
        refused(InvalidInput("Give the item a name.", field="display_name"), "items.create")
        refused(NotFound("No such job."), "job.open")  # not a refusal of a change's input: not recorded
    got = [(e.action, e.target, e.actor, e.via, e.address, e.outcome) for e in _log(action="request")]
    assert got == [("request", "console items.create", "alice", "console", TAB, "refused")] * 2, got
    newest, first = _log(action="request")
    assert newest.message == "422 invalid input: Give the item a name."
    assert first.message == f"422 invalid input: {shown}"
    assert manage.main(["verify-audit"]) == 0
    assert "audit log intact" in capsys.readouterr().out


def test_an_exception_shown_twice_is_recorded_once_and_floods_are_folded(users):
    alice = users["alice"]
    with _as_console(alice):
        exc = InvalidInput("A variable of the environment is refused (see its row).", field="environment.rows")
        refused(exc, "task.save")
        refused(exc, "task.save")  # the same refusal, at its field and in a toast
        assert len(_log(action="request")) == 1
        for _ in range(9):
            refused(InvalidInput("A variable of the environment is refused (see its row)."), "task.save")
        assert len(_log(action="request")) == 1
        _forget_windows()
        refused(InvalidInput("A variable of the environment is refused (see its row)."), "task.save")
    newest = _log(action="request")[0]
    assert newest.message.endswith("(and 9 more like it before)"), newest.message
