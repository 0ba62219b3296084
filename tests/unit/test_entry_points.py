"""Every process that moves jobs to their end has the state machine's end hooks: the
mail of a run or batch that ended (app.notify) is registered by importing the process's
entry point, whatever it imports first."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import ROOT

ENTRY_POINTS = ["worker.pool", "worker.process", "worker.reaper", "worker.runner", "app.api", "app.app",
                "app.manage"]


@pytest.mark.parametrize("module", ENTRY_POINTS)
def test_an_entry_point_registers_the_mail_of_an_end(module):
    code = f"import {module}, app.lifecycle as l; print(sorted(h.__module__ for h in l.ended_hooks()))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "['app.notify']"
