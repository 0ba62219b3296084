"""The push latency benchmark runs to its figures: a tiny run (2 tabs, 3 jobs) against
the end-to-end tests' console, so the console is not built a second time. Its browsers
keep the tests' priority: the figures do not matter here, only that they come."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.e2e


def test_push_latency_prints_its_figures(console):
    run = subprocess.run([sys.executable, "-m", "bench.push_latency", "--console", console.base, "--tabs", "2",
                          "--jobs", "3", "--every", "0.3", "--browser-nice", "0"], cwd=ROOT, env=console.env, capture_output=True,
                         text=True, timeout=240)
    out = run.stdout
    assert run.returncode == 0, f"exit {run.returncode}\n{out}\n{run.stderr[-3000:]}"
    # every tab showed every job's end: 2 tabs x 3 jobs, IN_PROGRESS (unless one push
    # carried both) and SUCCEEDED
    head = re.search(r"push latency, worker commit -> DOM, 2 tabs x 3 jobs, one every 0.3 s "
                     r"\((\d+) row updates measured, 0 SUCCEEDED never shown", out)
    assert head and 6 <= int(head.group(1)) <= 12, out
    assert re.search(r"p50 +[\d.]+ ms +p95 +[\d.]+ ms +p99 +[\d.]+ ms", out), out
    assert re.search(r"SUCCEEDED +n=6 +p50 +[\d.]+ ms", out), out
    assert re.search(r"p95 / target \(150 ms\) = [\d.]+", out), out
    assert "CPU while the jobs ran" in out and "browser renderer" in out, out
