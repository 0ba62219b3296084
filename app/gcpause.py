"""Python's cyclic garbage collector held off while a bulk request builds a great many
objects that all live until it ends (10,000 model runs: the parsed body, each record as
checked, each job's row). Every full collection walks every object the process holds,
and the interpreter starts one each time the survivors grow by a quarter: such a request
set off three, a fifth of its CPU. Reference counting still frees whatever each step lets
go; only cycles made meanwhile wait, until the last holder ends (seconds).

Held by a count, so requests that overlap hold it together and the collector resumes
when the last ends; one that was off before (a caller's own choice) stays off.
"""

from __future__ import annotations

import gc
import threading
from contextlib import contextmanager
from typing import Iterator

_lock = threading.Lock()
_holders = 0
_resume = False  # whether the collector was on when the first holder came


@contextmanager
def paused() -> Iterator[None]:
    global _holders, _resume
    with _lock:
        if _holders == 0:
            _resume = gc.isenabled()
            gc.disable()
        _holders += 1
    try:
        yield
    finally:
        with _lock:
            _holders -= 1
            if _holders == 0 and _resume:
                gc.enable()
