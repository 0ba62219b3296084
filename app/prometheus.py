"""Jobdeck's metrics in Prometheus' text format, read from what is kept, never from a
scan of the jobs: finished jobs and their run times from the running totals of
app.metrics, queue waits per backend (app.waits), failures by worker
(app.worker_metrics), jobs per status from app.counts, queue depths from Redis (one round trip),
workers from their heartbeats. A custom collector reads them afresh at each scrape.

When Redis does not answer, the queue and worker families are left out and
`jobdeck_redis_up` says 0; the database's families are still served.
"""

from __future__ import annotations

import hmac
from typing import Iterator, Optional

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from app import counts, keys, metrics, queues, waits, worker_metrics
from app.backends import backend_configs
from app.minute_tables import RUN_BOUNDS
from app.settings import get_settings

CONTENT_TYPE = CONTENT_TYPE_LATEST
WORKER_STATES = ("starting", "idle", "busy", "stopping")


def token_matches(token: Optional[str]) -> bool:
    """Is this bearer token JOBDECK_METRICS_TOKEN (compared in constant time)?"""
    expected = get_settings().metrics_token
    return bool(expected and token) and hmac.compare_digest(expected.encode(), token.encode())


class JobdeckCollector:
    """What a scrape reads: every family below, each from its aggregate."""

    def collect(self) -> Iterator[Metric]:
        yield from self._finished()
        yield from self._waits()
        yield from self._worker_failures()
        jobs = GaugeMetricFamily("jobdeck_jobs", "Jobs in each status now (kept counts)", labels=["status"])
        for status, n in counts.read().items():
            jobs.add_metric([status], n)
        yield jobs
        yield from self._redis()

    def _finished(self) -> Iterator[Metric]:
        done = CounterMetricFamily("jobdeck_jobs_finished", "Jobs that ended, by final status, job type and "
                                   "backend (each attempt's end counts)", labels=["status", "job_type", "backend"])
        runs = HistogramMetricFamily("jobdeck_job_run_seconds", "Run time of finished jobs, start to end "
                                     "(jobs that never started are not observed)", labels=["job_type"])
        by_type: dict[str, tuple[list[int], float]] = {}
        for t in metrics.totals():
            done.add_metric([t.status, t.job_type, t.backend], t.n)
            buckets, total = by_type.get(t.job_type, ([0] * len(t.buckets), 0.0))
            by_type[t.job_type] = ([a + b for a, b in zip(buckets, t.buckets)], total + t.run_s)
        yield done
        for job_type, (buckets, total) in sorted(by_type.items()):
            runs.add_metric([job_type], _cumulative(buckets), sum_value=total)
        yield runs

    def _waits(self) -> Iterator[Metric]:
        wait = HistogramMetricFamily("jobdeck_job_wait_seconds", "Queue wait of started jobs, from lodging (this "
                                     "attempt's) to start, by backend", labels=["backend"])
        for backend, (buckets, total, _n) in sorted(waits.totals().items()):
            wait.add_metric([backend], _cumulative(buckets), sum_value=total)
        yield wait

    def _worker_failures(self) -> Iterator[Metric]:
        fails = CounterMetricFamily("jobdeck_worker_failures", "Jobs that ended FAILED or CRASHED, by the worker "
                                    "that ran them (a worker's series ends once its minutes are pruned)",
                                    labels=["worker", "backend", "status"])
        for worker, backend, status, n in sorted(worker_metrics.failure_totals()):
            fails.add_metric([worker, backend, status], n)
        yield fails

    def _redis(self) -> Iterator[Metric]:
        from app.workers import list_workers

        up = GaugeMetricFamily("jobdeck_redis_up", "1 when the queue server (Redis) answered this scrape")
        names = sorted(backend_configs())
        try:
            depths = queues.depths(names)
            live = list_workers(include_gone=False)
        except queues.REDIS_ERRORS:
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        depth = GaugeMetricFamily("jobdeck_queue_depth", "Jobs waiting on each backend's queue of each priority",
                                  labels=["backend", "priority"])
        for b in names:
            for pr in keys.PRIORITIES:
                depth.add_metric([b, pr], depths[b][pr])
        yield depth
        workers = GaugeMetricFamily("jobdeck_workers", "Live workers of each backend, by state (from their "
                                    "heartbeats)", labels=["backend", "state"])
        tally = {(b, s): 0 for b in names for s in WORKER_STATES}
        for w in live:
            tally[(w.backend, w.state)] = tally.get((w.backend, w.state), 0) + 1
        for (b, s), n in sorted(tally.items()):
            workers.add_metric([b, s], n)
        yield workers


def _cumulative(buckets: list[int]) -> list[tuple[str, int]]:
    """A histogram's buckets (each its own) as Prometheus' cumulative ones up to +Inf."""
    out, seen = [], 0
    for bound, n in zip((*(repr(b) for b in RUN_BOUNDS), "+Inf"), buckets):
        seen += n
        out.append((bound, seen))
    return out


def exposition() -> bytes:
    """The text a scrape gets."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(JobdeckCollector())
    return generate_latest(registry)
