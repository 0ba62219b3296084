"""The garbage collector held off by bulk requests: resumed when the last of them ends,
and left off when it was off before the first came."""

from __future__ import annotations

import gc
import threading

import pytest

from app import gcpause


@pytest.fixture(autouse=True)
def _collector_on():
    gc.enable()
    yield
    gc.enable()


def test_overlapping_holders_resume_the_collector_when_the_last_ends():
    first_in, second_out = threading.Event(), threading.Event()
    seen = []

    def first():
        with gcpause.paused():
            first_in.set()
            second_out.wait(10)
            seen.append(gc.isenabled())  # the second ended: still held by this one

    t = threading.Thread(target=first)
    t.start()
    first_in.wait(10)
    with gcpause.paused():
        assert not gc.isenabled()
    second_out.set()
    t.join(10)
    assert seen == [False]
    assert gc.isenabled()


def test_the_collector_resumes_after_a_refusal():
    with pytest.raises(ValueError):
        with gcpause.paused():
            raise ValueError("a bad record")
    assert gc.isenabled()


def test_a_collector_switched_off_before_stays_off():
    gc.disable()
    with gcpause.paused():
        pass
    assert not gc.isenabled()
