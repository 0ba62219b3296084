"""The turn at SQLite's single write lock, queued by the kernel.

SQLite lets one writer in at a time; the others wait in its busy handler, which sleeps
1, 2, 5, 10… ms between tries, so under contention the lock sits free while every
waiter sleeps (two workers took fewer jobs a second than one). Here a writer first takes
an exclusive flock on a file next to the database: the kernel wakes the next waiter the
moment the holder lets go, and its BEGIN IMMEDIATE then finds the lock free.

Writers that do not take the turn (a migration, a shell) stay correct: SQLite's own lock
and busy_timeout still decide; the turn only keeps cooperating writers from colliding.
The threads of one process queue on a lock of their own first, since a flock belongs to
an open file, not to a thread; a thread that already holds the turn (a write inside a
write) passes, and SQLite decides as before. A forked process opens the file afresh:
it must not share its parent's lock. PostgreSQL needs none of this."""

from __future__ import annotations

import fcntl
import os
import threading
from contextlib import contextmanager
from typing import Iterator


class WriteTurn:
    def __init__(self, path: str):
        self.path = path
        self._pid = -1
        self._fresh()

    def _fresh(self) -> None:
        # The parent's fd (and its lock, if a thread held it at the fork) is left alone:
        # unlocking it here would free the parent's turn.
        self._threads = threading.Lock()
        self._mine = threading.local()
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        self._pid = os.getpid()

    @contextmanager
    def held(self) -> Iterator[None]:
        if self._pid != os.getpid():
            self._fresh()
        if getattr(self._mine, "held", False):
            yield
            return
        with self._threads:
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            self._mine.held = True
            try:
                yield
            finally:
                self._mine.held = False
                fcntl.flock(self._fd, fcntl.LOCK_UN)
