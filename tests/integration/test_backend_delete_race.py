"""A task written on a backend while the backend is being deleted, on PostgreSQL: two
transactions at once, each in its own thread and connection. Both take the backend's
row FOR UPDATE (app.backends.lock_backend), so one waits for the other: a delete that
locked first commits and the task's write is refused (422, the backend named); a task
that locked first commits and the delete is refused (409, naming the task). Either way
no task runs on a backend that is gone. (SQLite's write transactions serialise the two
already.)"""

from __future__ import annotations

import threading
import time

import pytest
from sqlmodel import select

from app import backends
from app.db import session
from app.errors import Conflict, InvalidInput
from app.models import Backend, Task
from app.pipelines import config

pytestmark = pytest.mark.postgresql_only


def _orphans() -> list[str]:
    """Tasks whose backend is neither built in nor has a row."""
    with session() as s:
        rows = {b.name for b in s.exec(select(Backend))}
        return [t.name for t in s.exec(select(Task)) if t.backend not in backends.BACKENDS and t.backend not in rows]


def _in_thread(fn) -> tuple[threading.Thread, dict]:
    out: dict = {}

    def run():
        try:
            out["value"] = fn()
        except Exception as exc:  # what the test checks
            out["error"] = exc

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, out


def _held(monkeypatch, module, name: str) -> tuple[threading.Event, threading.Event]:
    """Pause the first call of module.name after it ran (its transaction still open)."""
    reached, go = threading.Event(), threading.Event()
    original = getattr(module, name)

    def paused(*a, **kw):
        result = original(*a, **kw)
        if not reached.is_set():
            reached.set()
            assert go.wait(30)
        return result

    monkeypatch.setattr(module, name, paused)
    return reached, go


def _race(monkeypatch, module, held: str, first, second) -> tuple[dict, dict]:
    """`first` runs until it reaches `module.held` and waits there, holding what it
    locked; `second` starts and must wait on the backend's row; then both finish.
    Returns what each gave (its "error", if it raised)."""
    reached, go = _held(monkeypatch, module, held)
    one, one_out = _in_thread(first)
    assert reached.wait(30)
    two, two_out = _in_thread(second)
    time.sleep(0.5)
    assert two.is_alive(), two_out  # waiting on the backend's row
    go.set()
    one.join(30)
    two.join(30)
    return one_out, two_out


def test_a_delete_that_locked_first_refuses_the_task_written_meanwhile(users, monkeypatch):
    root = users["root"]
    backends.create_backend(actor=root, name="gpu")
    d_out, c_out = _race(monkeypatch, backends, "backend_users",  # checked, not yet deleted
                         lambda: backends.delete_backend(actor=root, name="gpu"),
                         lambda: config.create_task(actor=root, name="late", backend="gpu", command="true"))
    assert "error" not in d_out, d_out
    exc = c_out.get("error")
    assert isinstance(exc, InvalidInput) and exc.status_code == 422 and exc.field == "backend", c_out
    assert "'gpu'" in exc.message and "deleted" in exc.message
    assert _orphans() == []
    with session() as s:
        assert s.exec(select(Task).where(Task.name == "late")).first() is None


def test_a_task_that_locked_first_refuses_the_delete(users, monkeypatch):
    root = users["root"]
    backends.create_backend(actor=root, name="gpu")
    c_out, d_out = _race(monkeypatch, config, "_save_parameters",  # written, not yet committed
                         lambda: config.create_task(actor=root, name="early", backend="gpu", command="true"),
                         lambda: backends.delete_backend(actor=root, name="gpu"))
    assert "error" not in c_out, c_out
    exc = d_out.get("error")
    assert isinstance(exc, Conflict) and exc.status_code == 409 and "early" in exc.message, d_out
    assert _orphans() == []
    assert "gpu" in backends.backend_configs(refresh=True)


def test_an_edit_moving_a_task_onto_a_backend_being_deleted_is_refused(users, monkeypatch):
    root = users["root"]
    backends.create_backend(actor=root, name="gpu")
    task = config.create_task(actor=root, name="mover", command="true")
    d_out, e_out = _race(monkeypatch, backends, "backend_users",
                         lambda: backends.delete_backend(actor=root, name="gpu"),
                         lambda: config.update_task(actor=root, task_id=task.id, name="mover", backend="gpu",
                                                    command="true"))
    assert "error" not in d_out, d_out
    assert isinstance(e_out.get("error"), InvalidInput), e_out
    assert _orphans() == []
    assert config.get_task(actor=root, task_id=task.id).backend == task.backend  # where it was
