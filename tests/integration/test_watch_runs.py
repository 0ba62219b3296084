"""A worker's watch thread acts on what it read only within the run it read it in: a
look that began while one job ran and ended after the next one had started (whose start
it may have read uncommitted, as PENDING) halts nothing. Found under load: the next job
was halted as "gone", its outcome dropped, and it was crashed by the reaper 20 s later."""

import os

import pytest

from worker import heartbeat
from worker.heartbeat import HALT_SIGNAL, Life


@pytest.fixture
def life(jobdeck, monkeypatch):
    signals: list[tuple[int, int]] = []
    monkeypatch.setattr(os, "kill", lambda pid, sig: signals.append((pid, sig)))
    life = Life(backend="system", max_workers=-1, name="system-watch-test@here")
    life.signals, life.held = signals, []
    return life


def _start(life: Life, job_id: str):
    life.taking(job_id, 1)
    life.took(1)
    run = life.running(None)
    run.__enter__()
    life.held.append(run)  # kept: a collected one would leave the run (its finally)
    return run


def test_a_look_that_outlives_its_run_halts_nothing(life, monkeypatch):
    first = _start(life, "job-x")

    def read_while_the_next_job_starts(job_id, attempt):
        # Meanwhile on the main thread: job x ends, job y is taken, started and running.
        first.__exit__(None, None, None)
        life.finished("succeeded")
        _start(life, "job-y")
        return "gone"  # what a read of y's row before its start committed says

    monkeypatch.setattr(heartbeat, "_still_ours", read_while_the_next_job_starts)
    life._watch(now=1e9, next_sql=0.0)
    assert life.job_id == "job-y" and life.phase == "running"
    assert life.halt_reason is None and life.signals == []


def test_a_look_within_its_run_halts_it(life, monkeypatch):
    _start(life, "job-x")
    monkeypatch.setattr(heartbeat, "_still_ours", lambda job_id, attempt: "gone")
    life._watch(now=1e9, next_sql=0.0)
    assert life.halt_reason == "gone" and life.signals == [(os.getpid(), HALT_SIGNAL)]
