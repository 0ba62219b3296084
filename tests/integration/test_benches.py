"""Every benchmark in bench/ runs to its figures: each is started as `python -m bench.X`
with its smallest sizes (its own options) and must exit 0 having printed them. The
figures themselves are not judged here (the machine is shared); that they come is.
bench.push_latency needs the console and Chromium: its run is with the end-to-end
tests (tests/e2e/test_bench_push_latency.py), on their console."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tests.conftest import ROOT

NUM = r"[\d.]+"
# Each bench makes a database of its own: once, in the SQLite run, is enough.
pytestmark = pytest.mark.sqlite_only

SMOKE = {
    "admin": (["--roots", "300", "--batches", "2", "--batch-size", "20"], {}, [
        r"seeded 640 jobs \(300 submissions of 2 jobs, 2 batches of 20\)",
        rf"submissions of everyone \(302\): first page {NUM} ms, page at 90 % {NUM} ms, ratio deep/first {NUM}",
        rf"submissions of alice \(\d+\): first page {NUM} ms",
        rf"overview refresh: status counts {NUM} ms, stuck jobs {NUM} ms, backend status {NUM} ms",
    ]),
    "audit": (["--jobs", "20", "--threads", "2", "--refusals", "30"], {}, [
        r"jobs=20 threads=2 database=sqlite",
        rf"lodge, entry in its transaction : {NUM} ms per job",
        rf"lodge, entry after, on its own  : {NUM} ms per job; ratio together/apart {NUM}",
        rf"flood of 30 identical refusals: 1 entries written, {NUM} ms per refusal",
        rf"verify: \d+ entries intact in {NUM} ms",
    ]),
    "api": (["--requests", "20", "--streams", "2", "--jobs", "5"], {}, [
        rf"POST /api/jobs +{NUM} +{NUM} +\d+",
        rf"GET /api/jobs/\{{id\}} +{NUM} +{NUM} +\d+",
        r"SSE: 2 streams on a batch of 5 jobs, 20/20 transitions delivered",
        rf"commit -> client +p50 {NUM} ms +p95 {NUM} ms",
    ]),
    "throughput": (["--jobs", "100", "--workers", "1"], {}, [
        r"jobs=100 workers=1 database=sqlite",
        rf"bare RQ +: +{NUM} s +{NUM} jobs/s",
        rf"Jobdeck +: +{NUM} s +{NUM} jobs/s +\(lodging 100 took {NUM} s\)",
        rf"ratio Jobdeck/bare = {NUM}",
    ]),
    "pipelines": (["--rounds", "1", "--runs", "2", "--workers", "1"], {}, [
        rf"upload -> last step finished +median {NUM} ms",
        rf"join \(last of order 1 finished -> order 2 lodged\) +median {NUM} ms",
        rf"ratio +{NUM}x",
        r"runs all succeeded: 2/2; join steps per run: \[1\]",
    ]),
    "fairuse": (["--runs", "200", "--finished", "200", "--repeat", "3"], {}, [
        r"seeded 1,000 jobs in",
        rf"count up to 15: one user {NUM} ms, one address {NUM} ms, a submitter with none {NUM} ms",
        rf"full count of the user's 200 live runs: {NUM} ms",
        rf"ratio full/bounded = {NUM}",
    ]),
    # A worker's time-to-live of 5 s, not 20: the vanished host is noticed sooner.
    "pool": (["--rounds", "1"], {"JOBDECK_WORKER_TTL_S": "5"}, [
        r"worker time-to-live 5 s",
        rf"cold start \(no worker\) -> DEQUEUED : median {NUM} s",
        rf"cancel -> running job halted +: median {NUM} s",
        rf"kill -9 -> CRASHED recorded +: median {NUM} s",
        rf"vanished host -> CRASHED recorded +: {NUM} s",
    ]),
    "scale": (["--jobs", "10000", "--repeat", "1"], {}, [
        r"seeded 10,000 jobs in",
        rf"status counts, one user +{NUM}ms +{NUM}ms +{NUM}ms +{NUM}ms +{NUM}",
        rf"listener, one burst \(10 jobs, 20 owners\) +{NUM}ms",
        rf"jobs by run time: first page +{NUM}ms",
        rf"words of a subject, bounded \(2,000 looked at\) +{NUM}ms",
        rf"N = 10,000: worst ratio N/10k {NUM} \(goal <= 1.5\); slowest first page {NUM} ms",
    ]),
    "lineage": (["--edges", "20000", "--repeat", "1"], {}, [
        r"seeded 9,996 edges in",
        rf"upstream of a run's output, depth 10 +{NUM}ms +{NUM}ms +{NUM}ms +{NUM}ms +\d+ +{NUM}",
        rf"downstream of the hub, depth 3 +{NUM}ms +{NUM}ms +{NUM}ms +{NUM}ms +\d+ +{NUM}",
        rf"N = 19,998: worst ratio N/10k {NUM} \(goal <= 1.5\)",
    ]),
    "estimates": (["--runs", "20000", "--pipelines", "2"], {}, [
        rf"runs=10,000 pipelines=2: one estimate {NUM} ms \(kept {NUM} ms\), jobtimes {NUM} ms",
        rf"runs=20,000 pipelines=2: one estimate {NUM} ms \(kept {NUM} ms\), jobtimes {NUM} ms",
        rf"ratio N/10k: one estimate {NUM}, kept {NUM}, jobtimes {NUM}",
    ]),
    "metrics": (["--jobs", "60", "--rounds", "2"], {}, [
        r"jobs=60 rounds=2 database=sqlite",
        rf"transitions without the aggregate : {NUM} ms per job",
        rf"transitions with the aggregate +: {NUM} ms per job; ratio with/without {NUM}",
        rf"transitions with finished only +: {NUM} ms per job; ratio all/finished {NUM}",
        rf"scrape of /metrics {NUM} ms \([\d,]+ bytes\); admin page's series {NUM} ms",
    ]),
    "chain": (["--steps", "20"], {}, [
        r"steps=20 database=sqlite, one worker each",
        rf"bare RQ depends_on chain +: +{NUM} s +{NUM} ms per step",
        rf"Jobdeck workflow +: +{NUM} s +{NUM} ms per step",
        rf"ratio Jobdeck/bare per step = {NUM}",
    ]),
    "bulk": (["--jobs", "50", "--runs", "20", "--big", "200"], {}, [
        rf"batch of NOOP jobs +50 jobs +{NUM} s +{NUM} jobs/s +bare RQ +{NUM} s +ratio +{NUM}x",
        rf"model runs from JSON +20 jobs +{NUM} s",
        rf"model runs from CSV +20 jobs +{NUM} s",
        rf"batch of NOOP jobs \(big\) +200 jobs",
        rf"peak memory of the process +{NUM} MB before, {NUM} MB after",
    ]),
    "bulk_actions": (["--live", "300", "--finished", "300", "--act", "20", "--chunk", "10", "--by-filter", "40"], {}, [
        r"seeded 600 jobs in",
        rf"count of a filter: kept counts {NUM} ms \(300\), index read up to 10,000 {NUM} ms",
        rf"a chunk of 10 PENDING jobs: first {NUM} ms, at 90 % {NUM} ms, ratio deep/first {NUM}",
        rf"cancel 20 jobs: one by one {NUM} ms per job, bulk in chunks of 10 {NUM} ms per job \(20 cancelled\); "
        rf"ratio bulk/single {NUM}",
        rf"retry 20 jobs: one by one {NUM} ms per job, bulk in chunks of 10 {NUM} ms per job \(20 retried\); "
        rf"ratio bulk/single {NUM}",
        rf"delete 20 jobs: one by one {NUM} ms per job, bulk in chunks of 10 {NUM} ms per job \(20 deleted \(20 "
        rf"cancelled first\)\); ratio bulk/single {NUM}",
        rf"cancel 40 queued jobs by a filter, end to end \(bulk job lodged, run, ended; chunks of 10\): "
        rf"per job {NUM} s \(40 cancelled\), set-based {NUM} s \(40 cancelled\); ratio per-job/set-based {NUM}",
        rf"retry 40 jobs by a filter, end to end \(bulk job lodged, run, ended; chunks of 10\): "
        rf"per job {NUM} s \(40 retried\), set-based {NUM} s \(40 retried\); ratio per-job/set-based {NUM}",
        # the users' own two bulk jobs go with their jobs
        rf"delete 40 jobs by a filter, end to end \(bulk job lodged, run, ended; chunks of 10\): per job {NUM} s "
        rf"\(42 deleted \(40 cancelled first\)\), set-based {NUM} s \(42 deleted \(40 cancelled first\)\); "
        rf"ratio per-job/set-based {NUM}",
    ]),
    "records": (["--steps", "20"], {}, [
        r"steps=20 database=sqlite, one worker",
        rf"workflow step without a record : +{NUM} ms per step",
        rf"workflow step, record included : +{NUM} ms per step; ratio {NUM}",
        rf"record write +: new +{NUM} ms, rewritten +{NUM} ms per job",
        rf"PROV-JSON of the workflow +: built +{NUM} ms, read back by prov +{NUM} ms \(20 activities\)",
    ]),
    "chaos": (["--creates", "2", "--versions", "1", "--model-runs", "2", "--batches", "1", "--batch-size", "2",
               "--slow", "1"], {}, [
        r"jobs +: \d+ \(",
        r"workers killed \(-9\) +: \d+",
        r"Redis restart +: jobs flowed again",
        rf"time to recover +: {NUM} s",
        r"problems +: none",
    ]),
}


def test_every_bench_has_a_smoke_run():
    benches = {p.stem for p in (ROOT / "bench").glob("*.py")} - {"__init__", "common", "noop", "pgserver", "per_job"}
    assert benches == set(SMOKE) | {"push_latency"}


@pytest.mark.parametrize("name", sorted(SMOKE))
def test_bench_prints_its_figures(name):
    args, extra_env, figures = SMOKE[name]
    # The bench's own settings only: none of a test's or the caller's JOBDECK_* leak in.
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOBDECK_")} | extra_env
    run = subprocess.run([sys.executable, "-m", f"bench.{name}", *args], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=150)
    out = run.stdout
    assert run.returncode == 0, f"bench.{name} exited {run.returncode}\n{out}\n{run.stderr[-3000:]}"
    for figure in figures:
        assert re.search(figure, out), f"bench.{name} did not print /{figure}/:\n{out}"


def test_scale_bench_refuses_a_database_it_did_not_seed(tmp_path):
    import sqlalchemy as sa

    url = f"sqlite:///{tmp_path / 'someone.db'}"
    with sa.create_engine(url).begin() as conn:
        conn.execute(sa.text("CREATE TABLE job (id TEXT)"))
        conn.execute(sa.text("INSERT INTO job VALUES ('precious')"))
    run = subprocess.run([sys.executable, "-m", "bench.scale", "--jobs", "10000", "--database-url", url], cwd=ROOT,
                         env={k: v for k, v in os.environ.items() if not k.startswith("JOBDECK_")},
                         capture_output=True, text=True, timeout=60)
    assert run.returncode != 0 and "did not create" in run.stderr + run.stdout
    with sa.create_engine(url).connect() as conn:
        assert conn.execute(sa.text("SELECT id FROM job")).scalars().all() == ["precious"]
