"""A job run before its start is recorded: one commit for a quick job, not two.

A job whose type writes all it does in the transaction that records its outcome
(JobTypeSpec.effects_with_outcome: the provenance jobs, the diagnostic ones) need not
wait for its start to commit. Its worker reads the row, runs the handler at once, and a
run that ends within EARLY_S records its take, start and end in the one commit of its
end, each stamped when it happened; on SQLite every commit is a turn at the single
write lock, and the start's was a third of a quick job's cost. A run still going after
EARLY_S has its start recorded by the worker's watch thread (or at once when it reports
progress, or fails), and from then on is a job like any other.

Every commit stays guarded by the job's status and attempt: a job cancelled, deleted or
reaped while its start was unrecorded refuses the commit, and since the handler wrote
nothing outside it, nothing is left behind; a run still going is halted. A worker killed
before either commit leaves the job PENDING and out of its queue, as one killed just
after taking a job: the reaper queues it again.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime
from typing import Callable, Optional

from app.errors import NotFound, TransitionRejected
from app.lifecycle import JobStatus, Move
from worker.outcomes import DATABASE_AWAY

log = logging.getLogger(__name__)

EARLY_S = 0.2  # a run longer than this shows IN_PROGRESS within another watch tick (0.2 s)


def start_moves(worker: str, at: Optional[datetime] = None) -> list[Move]:
    """A job's take and start: two history lines, recorded in one commit (early or not)."""
    return [Move(JobStatus.DEQUEUED, f"Taken by worker {worker}", values={"worker": worker}, at=at),
            Move(JobStatus.IN_PROGRESS, "Started", at=at)]


class EarlyStart:
    """The unrecorded start of one job: `moves` (its take and start, stamped `at`) are
    committed by `record`, by whichever of the worker's threads gets there first."""

    def __init__(self, *, worker: str, at: datetime, record: Callable[[list[Move]], object]):
        self.moves = start_moves(worker, at)
        self._record = record
        self._lock = threading.Lock()
        self.due = time.monotonic() + EARLY_S
        # deferred → started (recorded alone), refused (the job was not ours any more), or
        # ending (its end records it too: no thread may record it now)
        self.state = "deferred"
        self.why: Optional[str] = None  # when refused: "cancelled" or "gone", as JobHalted says

    def record_if_due(self, now: float) -> Optional[str]:
        """The watch thread's look: record the start once it is due. Returns why the run
        must halt when the start was refused, else None."""
        if self.state != "deferred" or now < self.due:
            return None
        return self.settle()

    def settle(self) -> Optional[str]:
        """Record the start now if it is still unrecorded (the run reports progress, fails
        or is halted: from here on it is seen running). Returns why the run must halt when
        the start was refused (it may have been refused before), else None."""
        with self._lock:
            if self.state == "deferred":
                try:
                    self._record(self.moves)
                except TransitionRejected as exc:
                    cancelled = exc.detail.get("status") == "CANCELLED"
                    self.state, self.why = "refused", "cancelled" if cancelled else "gone"
                except NotFound:
                    self.state, self.why = "refused", "gone"
                except DATABASE_AWAY as exc:  # looked at again on a later tick
                    self.due = time.monotonic() + 1.0
                    log.warning("the start of a job could not be recorded yet: %s", type(exc).__name__)
                else:
                    self.state = "started"
            return self.why if self.state == "refused" else None

    def claim_for_end(self) -> list[Move]:
        """The run ended well: the moves its end must record before it (none when the
        start was recorded). Raises TransitionRejected when the start was refused."""
        with self._lock:
            if self.state == "refused":
                raise TransitionRejected(f"the job was {self.why} before its start was recorded")
            if self.state == "deferred":
                self.state = "ending"
                return self.moves
            return []
