"""What a handler knows about the job it runs, and the few things it may do with it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Optional

import sqlalchemy as sa

from app import events, lifecycle
from app.db import utcnow, write_conn
from app.models import Job
from worker.heartbeat import JobHalted

if TYPE_CHECKING:
    from worker.early import EarlyStart


@dataclass(frozen=True)
class JobContext:
    job_id: str
    attempt: int
    owner: str
    job_type: str
    job_subtype: str
    workflow_id: Optional[str]
    batch_id: Optional[str]
    entity_id: Optional[str]
    worker: str
    # The job's start when not recorded yet (worker/early.py): recorded before any progress.
    early: Optional["EarlyStart"] = field(default=None, compare=False, repr=False)
    # The last tenth reported by count(), so that a loop over many rows writes ~10 times.
    _reported: list = field(default_factory=lambda: [-1], compare=False, repr=False)

    def message(self, text: str, *, level: str = "info") -> None:
        """Add a line to the job's history (and its last message)."""
        self._seen_running()
        lifecycle.add_message(self.job_id, text, level=level)

    def _seen_running(self) -> None:
        # A line or progress of a run whose start is unrecorded would come before its
        # take in the history: the start is recorded first. Refused, the run halts.
        if self.early is not None:
            why = self.early.settle()
            if why is not None:
                raise JobHalted(why)

    def progress(self, fraction: float, text: Optional[str] = None) -> None:
        """Report progress between 0 and 1; the console shows it live."""
        fraction = max(0.0, min(1.0, fraction))
        self._seen_running()
        t = Job.__table__
        with write_conn() as conn:
            conn.execute(sa.update(t).where(t.c.id == self.job_id, t.c.attempt == self.attempt)
                         .values(progress=fraction, updated_at=utcnow()))
            if text:
                lifecycle.add_message(self.job_id, text, conn=conn)
        events.publish({"kind": "progress", "job_id": self.job_id, "owner": self.owner,
                        "batch_id": self.batch_id, "workflow_id": self.workflow_id,
                        "progress": fraction, "message": text})

    def count(self, done: int, total: int, what: str) -> None:
        """Progress of a loop over `total` things (`done` of them so far), reported at
        each tenth: a handler may call it on every row at no cost."""
        if total <= 0:
            return
        tenth = min(10, done * 10 // total)
        if tenth > self._reported[0]:
            self._reported[0] = tenth
            self.progress(done / total, f"{done} of {total} {what}")
