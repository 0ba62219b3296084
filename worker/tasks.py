"""Handlers, one per job subtype: `handler(ctx, payload) -> Outcome`. They are thin:
the work lives in the domain (registry, provenance, launch), and every one is
idempotent, because execution is at least once.

Raise JobFailed to end a job FAILED with a message for its owner; any other exception
ends it CRASHED.
"""

from __future__ import annotations

import os
import socket
import time

from app import provenance
from app.db import session
from app.errors import JobFailed
from app.jobtypes import NextJob, Outcome, child_job_id, spec_for
from app.payloads import (BatchSubmitResult, BulkAction, BulkActionResult, Flaky, FlakyResult, KeptFile,
                          LodgeCreateActivity, LodgeResult, LodgeVersionActivity, ModelRunBatchSubmit,
                          ModelRunLodgeResult, ModelRunProvLodge, ModelRunUpdate, ModelRunUpdateResult, Noop,
                          NoopResult, RegisterActivityResult, RegisterCreateActivity, RegisterVersionActivity, RunTask,
                          RunTaskResult, SendEmail, SendEmailResult, WakeUp, WakeUpResult)
from app.launch import _row, create_batch
from app.models import Item
from worker.context import JobContext


def register_create_activity(ctx: JobContext, p: RegisterCreateActivity) -> Outcome:
    aid, write = provenance.record_create_activity(item_id=p.item_id, job_id=ctx.job_id, owner=ctx.owner)
    nxt = NextJob("PROV_LODGE", "LODGE_CREATE_ACTIVITY", LodgeCreateActivity(item_id=p.item_id, activity_id=aid),
                  key="lodge", entity_id=p.item_id)
    return Outcome(RegisterActivityResult(activity_id=aid, lodge_session_id=child_job_id(ctx.job_id, "lodge")),
                   info="Create activity recorded; lodging its provenance.", next_jobs=[nxt], writes=write)


def register_version_activity(ctx: JobContext, p: RegisterVersionActivity) -> Outcome:
    aid, write = provenance.record_version_activity(from_item_id=p.from_item_id, to_item_id=p.to_item_id,
                                                    reason=p.reason, version=p.version, job_id=ctx.job_id,
                                                    owner=ctx.owner)
    nxt = NextJob("PROV_LODGE", "LODGE_VERSION_ACTIVITY",
                  LodgeVersionActivity(from_item_id=p.from_item_id, to_item_id=p.to_item_id, activity_id=aid),
                  key="lodge", entity_id=p.to_item_id)
    return Outcome(RegisterActivityResult(activity_id=aid, lodge_session_id=child_job_id(ctx.job_id, "lodge")),
                   info="Version activity recorded; lodging its provenance.", next_jobs=[nxt], writes=write)


def lodge_create_activity(ctx: JobContext, p: LodgeCreateActivity) -> Outcome:
    n, write = provenance.lodge_create(item_id=p.item_id, activity_id=p.activity_id, owner=ctx.owner)
    return Outcome(LodgeResult(activity_id=p.activity_id, edges=n), info=f"Lodged {n} provenance relations.",
                   writes=write)


def lodge_version_activity(ctx: JobContext, p: LodgeVersionActivity) -> Outcome:
    n, write = provenance.lodge_version(from_item_id=p.from_item_id, to_item_id=p.to_item_id,
                                        activity_id=p.activity_id, owner=ctx.owner)
    return Outcome(LodgeResult(activity_id=p.activity_id, edges=n), info=f"Lodged {n} provenance relations.",
                   writes=write)


def model_run_prov_lodge(ctx: JobContext, p: ModelRunProvLodge) -> Outcome:
    run_id, n, _, write = provenance.lodge_model_run(record=p.record, job_id=ctx.job_id, owner=ctx.owner)
    return Outcome(ModelRunLodgeResult(record_id=run_id, edges=n), entity_id=run_id,
                   info=f"Model run {p.record.display_name!r} registered with {n} provenance relations.",
                   writes=write)


def model_run_update(ctx: JobContext, p: ModelRunUpdate) -> Outcome:
    with session() as s:
        prev = s.get(Item, p.model_run_id)
    if prev is None or prev.subtype != "MODEL_RUN":
        raise JobFailed(f"No model run {p.model_run_id}.")
    if prev.owner != ctx.owner:
        raise JobFailed(f"Model run {p.model_run_id} belongs to another user.")
    # Only the newest version can be updated; a repeat of this very job is fine.
    if prev.next_version_id and prev.next_version_id != provenance.model_run_id(ctx.job_id):
        raise JobFailed(f"Model run {p.model_run_id} was already updated; update its newest version.")
    run_id, n, version, write = provenance.lodge_model_run(record=p.record, job_id=ctx.job_id, owner=ctx.owner,
                                                           previous=prev, reason=p.reason)
    return Outcome(ModelRunUpdateResult(record_id=run_id, version=version), entity_id=run_id,
                   info=f"Model run updated to version {version}.", writes=write)


def model_run_batch_submit(ctx: JobContext, p: ModelRunBatchSubmit) -> Outcome:
    """Fan out one MODEL_RUN_PROV_LODGE per record into a batch, in the transaction that
    records this job's success: a job cancelled or reaped meanwhile fans out nothing.
    Batch and child ids derive from this job, so a repeat lodges nothing twice."""
    spec = spec_for("PROV_LODGE", "MODEL_RUN_PROV_LODGE")
    batch_id = child_job_id(ctx.job_id, "batch")
    rows = []
    for i, record in enumerate(p.records):
        ctx.count(i, len(p.records), "model runs prepared")
        jid = child_job_id(ctx.job_id, f"record/{i}")
        rows.append(_row(job_id=jid, owner=ctx.owner, spec=spec, payload=ModelRunProvLodge(record=record),
                         batch_id=batch_id, workflow_id=jid, parent_job_id=ctx.job_id, step=i,
                         lineage_key=f"{ctx.job_id}/record/{i}"))
    ctx.progress(0.95, f"Lodging {len(rows)} model run registrations in batch {batch_id}")
    def fan_out(conn, done):
        return create_batch(conn, batch_id=batch_id, owner=ctx.owner,
                            label=p.label or f"{len(rows)} model runs", submission_job_id=ctx.job_id,
                            rows=rows, text=f"Lodged in batch {batch_id} by job {ctx.job_id}")

    return Outcome(BatchSubmitResult(batch_id=batch_id, jobs=len(rows)),
                   info=f"Lodged {len(rows)} model run registrations in batch {batch_id}.", also=fan_out)


def noop(ctx: JobContext, p: Noop) -> Outcome:
    if p.sleep_s:
        parts = 4 if p.sleep_s >= 1 else 1  # a long diagnostic sleep reports its progress
        for k in range(parts):
            _sleep(p.sleep_s / parts, ignore_halt=p.ignore_halt)
            if parts > 1 and k + 1 < parts:
                ctx.progress((k + 1) / parts)
    if p.outcome == "fail":
        raise JobFailed("Asked to fail (diagnostic job).")
    if p.outcome == "crash":
        raise RuntimeError("asked to crash (diagnostic job)")
    if p.then:
        nxt = NextJob("SYSTEM", "NOOP", Noop(sleep_s=p.sleep_s, then=p.then - 1), key="then")
        return Outcome(NoopResult(slept_s=p.sleep_s), next_jobs=[nxt])
    return Outcome(NoopResult(slept_s=p.sleep_s))


def _sleep(seconds: float, *, ignore_halt: bool) -> None:
    from worker.heartbeat import JobHalted

    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        try:
            time.sleep(left)
        except JobHalted:
            if not ignore_halt:
                raise


def flaky(ctx: JobContext, p: Flaky) -> Outcome:
    if p.sleep_s:
        time.sleep(p.sleep_s)
    if ctx.attempt <= p.fail_attempts:
        if p.outcome == "crash":
            raise RuntimeError(f"asked to crash on attempt {ctx.attempt} (diagnostic job)")
        raise JobFailed(f"Asked to fail on attempt {ctx.attempt} of the first {p.fail_attempts} (diagnostic job).")
    return Outcome(FlakyResult(attempt=ctx.attempt), info=f"Succeeded on attempt {ctx.attempt}.")


def send_email(ctx: JobContext, p: SendEmail) -> Outcome:
    """One email through the configured SMTP server (app.notify); a server that does not
    answer fails the attempt and the type's retry policy tries again."""
    from app import notify

    message_id = notify.send(p, job_id=ctx.job_id)
    return Outcome(SendEmailResult(to=p.to, message_id=message_id), info=f"Email sent to {p.to}.")


def wake_up(ctx: JobContext, p: WakeUp) -> Outcome:
    return Outcome(WakeUpResult(worker=ctx.worker), info=f"Worker {ctx.worker} is awake on {socket.gethostname()} "
                                                         f"(pid {os.getpid()}).")


def run_task(ctx: JobContext, p: RunTask) -> Outcome:
    """One step of a pipeline run (app.pipelines): run its task's command or handler, as
    its run keeps the task (app.pipelines.snapshot), within the task's time limit. Its kept files, and the next order when it is the last
    of its order to succeed, are written in the transaction that records its success;
    a cancelled step's outcome is dropped, so nothing is kept or lodged."""
    from app import pipelines
    from worker import heartbeat
    from worker.heartbeat import JobHalted

    task = pipelines.task_for_step(p)  # its run's version of the task, whatever was saved since
    limit = pipelines.time_limit_of(task)
    changed = pipelines.changed_since(p)
    if changed:
        ctx.message(changed)
    life = heartbeat.current()
    if life is not None and life.phase == "running":
        # The worker's watch also stops a step (a Python handler) past its task's limit.
        deadline = time.monotonic() + limit + pipelines.TIMEOUT_GRACE_S
        if life.deadline is None or deadline < life.deadline:
            life.deadline, life.limit_s = deadline, limit
    ctx.progress(0.05, f"Running task {task.name!r}")
    try:
        run = pipelines.execute_step(payload=p, task=task, job_id=ctx.job_id, attempt=ctx.attempt,
                                     workflow_id=ctx.workflow_id, note=ctx.message)
    except pipelines.TaskTimedOut as exc:
        raise JobHalted("timeout", exc.limit_s) from None
    ctx.progress(0.9, f"Task {task.name!r} exited {run.exit_code}; keeping {len(run.files)} file(s)")
    result = RunTaskResult(task=task.name, exit_code=run.exit_code, stdout=run.stdout,
                           files=[KeptFile(name=f.name, size=f.size, sha256=f.sha256) for f in run.files])
    return Outcome(result, info=run.summary,
                   also=lambda conn, done: pipelines.finish_step(conn, done, payload=p, files=run.files))


def bulk_action(ctx: JobContext, p: BulkAction) -> Outcome:
    """Cancel, retry or delete every job matching a filter, a chunk at a time, as the
    job's owner (app.bulk_actions); the summary is its info and result."""
    from app import bulk_actions

    done = bulk_actions.carry_out(job_id=ctx.job_id, owner=ctx.owner, payload=p, report=ctx.progress)
    return Outcome(BulkActionResult(**done.result()), info=done.text)
