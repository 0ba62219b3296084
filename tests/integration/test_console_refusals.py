"""Refusals of console actions in the audit log, each once, via console: what the
domain records itself (another user's job cancelled through a forged event, a backend
deleted while a task runs on it, a backend's invalid value) is not recorded again by
the event's `refused`; what only the event (or a domain function without its own
entry, such as a model-run CSV's batch) refuses is one "request" entry `console <event>`
with the signed-in user and the tab's address; the same again and again is one entry,
its repeats counted on the next; the chain verifies. An admin page's changing event
fired by a signed-in non-admin (run on the tab's own Reflex states) is one such entry
each, folded when repeated; its reads are none."""

from __future__ import annotations

import pytest

from app import audit, backends, launch, manage, registry
from app.errors import InvalidInput, JobdeckError, NotFound
from app.pipelines import config
from app.state.base import refused
from tests.integration.console_tab import TAB, Tab
from tests.integration.test_audit import _log
from tests.integration.test_audit_refusals import _forget_windows

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
        # the domain's own refusal (an item's create is audited): its entry, not a request
        _event("items.create", lambda: registry.create_item(actor=alice, subtype="NO-SUCH-KIND", display_name="rain"))
        refused(InvalidInput("Give the item a name.", field="display_name"), "items.create")
        refused(InvalidInput("The file has 3 problems; nothing was lodged."), "bulk.lodge")
        refused(NotFound("No such job."), "job.open")  # not a refusal of a change's input: not recorded
    got = [(e.action, e.target, e.actor, e.via, e.address, e.outcome) for e in _log(action="request")]
    assert got == [("request", "console bulk.lodge", "alice", "console", TAB, "refused"),
                   ("request", "console items.create", "alice", "console", TAB, "refused")], got
    newest, first = _log(action="request")
    assert first.message == "422 invalid input: Give the item a name."
    assert newest.message == "422 invalid input: The file has 3 problems; nothing was lodged."
    assert [(e.target, e.via) for e in _log(action="item.create")] == [("NO-SUCH-KIND 'rain'", "console")]
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


# --- an admin page's changing event fired by a signed-in non-admin -----------------------


def _admin_events():
    from app.state.admin import AdminState
    from app.state.admin_config_backends import BackendEditState
    from app.state.admin_config_edit import ConfigDeleteState
    from app.state.admin_pipeline_edit import PipelineEditState
    from app.state.admin_task_edit import TaskEditState
    from app.state.admin_configuration import AdminConfigurationState
    from app.state.admin_queues import AdminQueuesState
    from app.state.admin_schedules import AdminSchedulesState
    from app.state.admin_submissions import AdminSubmissionsState
    from app.state.admin_users import AdminUsersState

    changing = [(AdminState, "wake", ("default",), "backend.wake"),
                (AdminState, "save_edit", ({"max_workers": "9"},), "backend.save"),
                (BackendEditState, "save_backend", (), "backend.save"),
                (BackendEditState, "confirm_delete", (), "backend.delete"),
                (TaskEditState, "save_task", (), "task.save"),
                (PipelineEditState, "save_pipeline", (), "pipeline.save"),
                (ConfigDeleteState, "confirm_delete", (), "pipeline.delete"),
                (AdminConfigurationState, "apply", (), "config.import"),
                (AdminQueuesState, "pause", (False,), "backend.pause"),
                (AdminQueuesState, "pause", (True,), "backend.resume"),
                (AdminQueuesState, "purge", (), "backend.purge"),
                (AdminSchedulesState, "set_paused", (1, True), "schedule.pause"),
                (AdminSchedulesState, "delete", (), "schedule.delete"),
                (AdminSchedulesState, "create", ({"name": "x", "cron": "* * * * *"},), "schedule.create"),
                (AdminSubmissionsState, "confirm", (), "submission.change"),
                (AdminUsersState, "disable", ("bob",), "user.disable"),
                (AdminUsersState, "enable", ("bob",), "user.enable"),
                (AdminUsersState, "end_sign_ins", ("bob",), "user.end-sign-ins"),
                (AdminUsersState, "add", ({"username": "mallory", "password": "x" * 12},), "user.add"),
                (AdminUsersState, "save_password", ({"password": "y" * 12},), "user.password-reset"),
                (AdminUsersState, "revoke", (1,), "user.token-revoke")]
    reads = [(AdminState, "load", ()), (AdminState, "tick", ()), (TaskEditState, "new_task", ()),
             (TaskEditState, "edit_task", ("t",)), (ConfigDeleteState, "ask_delete", ("task", "t")),
             (BackendEditState, "edit_backend", ("default",)), (AdminConfigurationState, "load", ()),
             (AdminConfigurationState, "download", ()), (AdminConfigurationState, "check", ()),
             (AdminQueuesState, "select", ("default",)), (AdminSchedulesState, "show", (1,)),
             (AdminUsersState, "show_tokens", ("bob",)), (AdminUsersState, "load", ())]
    return changing, reads


def test_a_non_admin_firing_an_admin_pages_changing_event_is_recorded_once_and_reads_are_not(users, capsys):
    from app import users as accounts

    changing, reads = _admin_events()
    tab = Tab("alice")
    for cls, handler, args in reads:
        tab.fire(cls, handler, *args)
    assert _log(action="request") == [], "a read is no change tried"
    for cls, handler, args, _ in changing:
        tab.fire(cls, handler, *args)
    got = [(e.target, e.actor, e.via, e.address, e.outcome, e.message) for e in reversed(_log(action="request"))]
    # two events save a backend (the overview's and the editor's): the same refusal, folded
    targets = list(dict.fromkeys(f"console {doing}" for *_, doing in changing))
    assert got == [(t, "alice", "console", TAB, "refused", "403 not allowed: The admin console is for admins.")
                   for t in targets], got
    # the guard stood before the domain: nothing changed, no domain refusal either
    assert not accounts.user_summary(actor=users["root"], username="bob").disabled
    assert [e.action for e in _log(outcome="refused")] == ["request"] * len(targets)
    assert manage.main(["verify-audit"]) == 0
    assert "audit log intact" in capsys.readouterr().out


def test_a_non_admins_repeated_admin_event_is_folded_and_an_admin_is_not_refused(users):
    from app.state.admin_users import AdminUsersState

    tab = Tab("alice")
    for _ in range(6):
        tab.fire(AdminUsersState, "disable", "bob")
    assert len(_log(action="request")) == 1
    _forget_windows()
    tab.fire(AdminUsersState, "disable", "bob")
    newest = _log(action="request")[0]
    assert newest.message.endswith("(and 5 more like it before)"), newest.message

    # an admin's same event is done, and its entry is the domain's own "ok"
    Tab("root").fire(AdminUsersState, "disable", "bob")
    assert [(e.action, e.actor, e.target, e.via) for e in _log(action="user.disable")] == [
        ("user.disable", "root", "bob", "console")]
    assert len(_log(action="request")) == 2
