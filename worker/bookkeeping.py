"""RQ's bookkeeping of a Jobdeck job, in fewer round trips.

A Jobdeck job's state is its SQL row; RQ's hash of it is a ticket (result_ttl 0,
no dependents: Jobdeck lodges a workflow's next steps itself, no group, no repeat).
RQ's generic paths pay about ten round trips per job to find that out; these pay
one, and leave RQ's keys as RQ's own would (the hash, the execution and its
registries gone, the worker's counters kept). Any other job takes RQ's own path.

Counted with one burst worker running NOOP jobs: 31 Redis round trips a job before, 8 after
(4 of them Jobdeck's own: the life line twice, the start's events, the backend's settings).
"""

from __future__ import annotations

import time

from rq import SimpleWorker
from rq.executions import Execution
from rq.job import Job, _job_stack
from rq.utils import now
from rq.worker.base import WorkerStatus

from app.queues import RUNNER

# RQ's own worker heartbeat (its `rq:worker:*` key, which expires after worker_ttl, 420 s)
# is sent at most this often between jobs: RQ sends it two or three times per job, and a
# Jobdeck worker's liveness is its life line (worker/heartbeat.py), not this key.
RQ_HEARTBEAT_S = 10.0


def _plain(job) -> bool:
    """A Jobdeck job as the lodging enqueues it (app/queues.py: enqueue)."""
    return (job.func_name == RUNNER and not job.group_id and not job.repeats_left
            and not job._dependency_ids)


class JobdeckJob(Job):
    _persisted = False

    def perform(self):
        if not self._persisted:
            return super().perform()
        # RQ's perform less its `persist` round trip, which the worker's preparation of a
        # Jobdeck job did (rq is pinned: this follows 2.12's perform line for line).
        _job_stack.push(self)
        try:
            self._result = self._execute()
        finally:
            assert self is _job_stack.pop()
        return self._result


class LeanBookkeeping(SimpleWorker):
    """RQ's SimpleWorker whose per-job Redis writes for a Jobdeck job go in two
    transactions (its start, its success) instead of RQ's dozen calls."""

    job_class = JobdeckJob

    def heartbeat(self, timeout=None, pipeline=None):
        if (timeout is None and pipeline is None and self.last_heartbeat is not None
                and (now() - self.last_heartbeat).total_seconds() < RQ_HEARTBEAT_S):
            return
        if pipeline is None:
            with self.connection.pipeline() as pipe:  # one round trip, not two
                super().heartbeat(timeout, pipeline=pipe)
                pipe.execute()
            return
        super().heartbeat(timeout, pipeline=pipeline)

    def check_for_suspension(self, burst: bool) -> None:
        # RQ's suspension (`rq suspend`) is looked at between jobs once a second at most:
        # Jobdeck pauses a backend with its own setting, looked at before each wait.
        t = time.monotonic()
        if t - getattr(self, "_suspension_seen_at", 0.0) < 1.0:
            return
        self._suspension_seen_at = t
        super().check_for_suspension(burst)

    def set_state(self, state, pipeline=None):
        if pipeline is None and state == self._state:
            return  # RQ sets "idle" after a job and again before the next wait
        super().set_state(state, pipeline=pipeline)

    def execute_job(self, job, queue):
        if not _plain(job):
            return super().execute_job(job, queue)
        # RQ's prepare_execution, prepare_job_execution and perform's persist, one round trip
        ttl = self.get_heartbeat_ttl(job)
        with self.connection.pipeline() as pipe:
            self.execution = Execution.create(job, ttl, pipeline=pipe, worker_name=self.name)
            self.set_state(WorkerStatus.BUSY, pipeline=pipe)
            self.set_current_job_id(job.id, pipeline=pipe)
            self.set_current_job_working_time(0, pipeline=pipe)
            self.heartbeat(ttl, pipeline=pipe)
            job.heartbeat(now(), ttl, pipeline=pipe)
            job.prepare_for_execution(self.name, pipeline=pipe)
            if len(self.queues) == 1:
                pipe.lrem(queue.intermediate_queue_key, 1, job.id)
            pipe.persist(job.key)
            pipe.execute()
        job._persisted = True
        self._prepared = job.id
        try:
            self.perform_job(job, queue)
        finally:
            self._prepared = None
        self.set_state(WorkerStatus.IDLE)

    def prepare_job_execution(self, job, remove_from_intermediate_queue=False):
        if getattr(self, "_prepared", None) == job.id:
            return
        super().prepare_job_execution(job, remove_from_intermediate_queue)

    def handle_execution_ended(self, job, queue, heartbeat_ttl):
        if not _plain(job):
            return super().handle_execution_ended(job, queue, heartbeat_ttl)
        job.ended_at = now()  # RQ's last job heartbeat is skipped: the hash goes next

    def handle_job_success(self, job, queue, started_job_registry):
        if not _plain(job) or job.get_result_ttl(self.default_result_ttl) != 0:
            return super().handle_job_success(job, queue, started_job_registry)
        with self.connection.pipeline() as pipe:  # MULTI: all of it or none
            self.increment_successful_job_count(pipeline=pipe)
            self.increment_total_working_time(job.ended_at - job.started_at, pipe)
            if self.execution is not None:
                self.execution.delete(job=job, pipeline=pipe)
            pipe.delete(job.key, job.dependents_key, job.dependencies_key, job.execution_registry.key)
            self.set_current_job_id(None, pipeline=pipe)
            self.set_state(WorkerStatus.IDLE, pipeline=pipe)
            pipe.execute()
        self.execution = None
