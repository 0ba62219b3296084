"""Notices: a job, batch or pipeline run of yours that took a while has finished.

The console tells a person so (a toast with a link) when it finishes while their tab is
elsewhere: the live listener (app.state.live) passes each burst's final transitions
here, with what the burst read of their jobs and batches, and shows what comes back on
the owner's tabs that do not show the thing already. Only what took at least
JOBDECK_NOTICE_AFTER_S from lodging to its end is notable: a job done in a moment was
seen done where it was started.

A pipeline run is one notice when its last step ends (not one per step), a batch one
when its last job ends; a job of either is never a notice of its own. Mail jobs (lodged
by app.notify as a run or batch ends) are not news.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Iterable, Optional

from app import routes, runs
from app.jobtypes import SPECS
from app.lifecycle import FINAL

_FINAL = frozenset(s.value for s in FINAL)
VERB = {"SUCCEEDED": "succeeded", "FAILED": "failed", "CRASHED": "crashed", "CANCELLED": "was cancelled"}


@dataclass(frozen=True)
class Notice:
    key: str  # what ended, once: "run:<id>", "batch:<id>", "job:<id>:<attempt>"
    owner: str
    status: str  # of the job, of the run as a whole, or the batch's worst outcome
    text: str
    href: str
    job_ids: frozenset[str] = frozenset()  # a tab showing any of these sees the end itself
    batch_id: str = ""
    workflow_id: str = ""


def _seconds(start: Optional[datetime], end: Optional[datetime]) -> float:
    return (end - start).total_seconds() if start is not None and end is not None else 0.0


def _batch_status(b: Any) -> str:
    for status, n in (("CRASHED", b.crashed), ("FAILED", b.failed), ("CANCELLED", b.cancelled)):
        if n:
            return status
    return "SUCCEEDED"


def _batch_done(b: Any) -> bool:
    ended = b.succeeded + b.failed + b.crashed + b.cancelled
    return b.pending + b.dequeued + b.in_progress == 0 and ended >= b.total > 0


def _batch_text(b: Any) -> str:
    parts = [f"{n} {word}" for n, word in ((b.succeeded, "succeeded"), (b.failed, "failed"),
                                           (b.crashed, "crashed"), (b.cancelled, "cancelled")) if n]
    return f"Batch {b.label or b.id[:8]!r} finished: {', '.join(parts)}."


def _job_text(j: Any) -> str:
    spec = SPECS.get((j.job_type, j.job_subtype))
    what = spec.label if spec is not None else f"{j.job_type}/{j.job_subtype}"
    about = f" of {j.subject}" if j.subject else ""
    return f"{what}{about} {VERB.get(j.status, j.status.lower())}."


def notable(events: Iterable[dict[str, Any]], *, job: Callable[[str], Any], batch: Callable[[str], Any],
            run_state: Callable[[str], Optional[runs.RunState]], now: datetime,
            after_s: float) -> list[Notice]:
    """The notices a burst's events make (each thing once): `job` and `batch` give the
    rows the burst read, `run_state` a run's state by its root's id."""
    out: dict[str, Notice] = {}
    for ev in events:
        if ev.get("kind") != "job" or ev.get("status") not in _FINAL:
            continue
        j = job(ev.get("job_id") or "")
        if j is None or j.status not in _FINAL or j.parent_job_id:
            continue
        if j.job_type == runs.JOB_TYPE and j.job_subtype == runs.RUN_SUBTYPE:
            rid = runs.root_of(j) or j.id
            st = run_state(rid)
            if st is None or st.finished_at is None or f"run:{rid}" in out:
                continue
            if _seconds(st.started_at, st.finished_at) < after_s:
                continue
            out[f"run:{rid}"] = Notice(f"run:{rid}", j.owner, st.status,
                                       f"Pipeline run {st.name} {VERB.get(st.status, st.status.lower())}.",
                                       routes.job(rid), workflow_id=rid)
        elif j.batch_id:
            b = batch(j.batch_id)
            if b is None or not _batch_done(b) or f"batch:{b.id}" in out:
                continue
            if _seconds(b.created_at, now) < after_s:
                continue
            out[f"batch:{b.id}"] = Notice(f"batch:{b.id}", b.owner, _batch_status(b), _batch_text(b),
                                          routes.batch(b.id), batch_id=b.id)
        else:
            if _seconds(j.created_at, j.finished_at or now) < after_s:
                continue
            key = f"job:{j.id}:{j.attempt}"
            out[key] = Notice(key, j.owner, j.status, _job_text(j), routes.job(j.id), job_ids=frozenset({j.id}),
                              workflow_id=j.workflow_id or "")
    return list(out.values())
