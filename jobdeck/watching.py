"""Following a job, a batch or a pipeline run live until it ends, with a progress bar.

The job or batch is read first, so that a wrong id or an unreachable server is one
line before any bar is drawn. A stream that breaks off after it was open is opened
again (RECONNECTS times in a row at most; the server then sends a fresh snapshot, so
nothing is missed). While the stream is idle the token is checked, so that a token
revoked meanwhile ends the watch. Ctrl-C and --timeout stop watching, not the job."""

from __future__ import annotations

import contextlib
import signal
import time
from typing import Iterator, Optional

from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TaskProgressColumn, TextColumn, \
    TimeElapsedColumn

from jobdeck.base import OK, REFUSED, TIMED_OUT, Failed, Stopped
from jobdeck.client import Client, Event, Unreachable
from jobdeck.render import FINAL, batch_line, job_line, out, status

RECONNECTS = 5
# The bar of a job: the stages before it runs, then what its handler reports.
STAGE = {"PENDING": 0, "DEQUEUED": 5, "IN_PROGRESS": 10}
RUNNING_SPAN = 90


class TimedOut(Exception):
    pass


@contextlib.contextmanager
def deadline(seconds: Optional[float]):
    """Raise TimedOut in the main thread after `seconds` (also inside a blocking read)."""
    if not seconds:
        yield
        return

    def ring(_sig, _frame):
        raise TimedOut()

    before = signal.signal(signal.SIGALRM, ring)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, before)


def _progress(*, percent: bool) -> Progress:
    count = TaskProgressColumn() if percent else MofNCompleteColumn()
    return Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), count, TimeElapsedColumn(),
                    console=out, transient=False)


def events(c: Client, path: str, say) -> Iterator[Event]:
    failures, opened = 0, False
    while True:
        try:
            for ev in c.events(path):
                opened, failures = True, 0
                if ev.event == "keep-alive":  # every 15 s of quiet: is the token still good?
                    c.get("/api/me")  # revoked: ApiError 401 ends the watch
                    continue
                yield ev
                if ev.event == "end":
                    return
            why = "the server closed the stream"
        except Unreachable as e:
            if not opened:
                raise
            why = str(e)
        failures += 1
        if failures > RECONNECTS:
            raise Failed(f"The event stream broke off and could not be opened again {RECONNECTS} times in a "
                         f"row ({why}); watch again later.")
        wait = min(8.0, 0.5 * 2 ** (failures - 1))
        say(f"[yellow]Stream interrupted[/] ({escape(why)}); reconnecting in {wait:.1f} s "
            f"(try {failures} of {RECONNECTS}).")
        time.sleep(wait)


def _stopped(what: str, ident: str, cancel: str) -> Stopped:
    return Stopped(f"Stopped watching; {what} {ident} keeps running (`{cancel}` stops it).")


def watch_job(c: Client, job_id: str, *, timeout: Optional[float] = None) -> int:
    job = c.get(f"/api/jobs/{job_id}")  # a 404 or an unreachable server before any bar
    final, st = None, job["status"]
    try:
        with deadline(timeout), _progress(percent=True) as bar:
            task = bar.add_task(f"{job_id[:8]} {status(st)}", total=100)
            for ev in events(c, f"/api/jobs/{job_id}/events", lambda m: bar.console.print(m)):
                d = ev.data
                if ev.event == "snapshot":
                    bar.console.print(job_line(d))
                    st = d["status"]
                    frac = d.get("progress") or 0
                elif ev.event == "transition":
                    st, frac = d["status"], 0
                    bar.console.print(f"{escape(d['at'][11:19])}  {status(st)}  {escape(d['message'])}")
                elif ev.event == "progress":
                    if d.get("message"):
                        bar.console.print(f"          {escape(d['message'])}")
                    frac = d.get("progress") or 0
                elif ev.event == "end":
                    final = d["status"]
                    break
                else:
                    continue
                done = 100 if st in FINAL else STAGE.get(st, 0) + (RUNNING_SPAN * min(1.0, frac)
                                                                    if st == "IN_PROGRESS" else 0)
                bar.update(task, completed=done, description=f"{job_id[:8]} {status(st)}")
    except TimedOut:
        out.print(f"Job {job_id} is still {status(st)} after {timeout:g} s; it keeps running.")
        return TIMED_OUT
    except KeyboardInterrupt:
        raise _stopped("job", job_id, f"jobdeck cancel {job_id}") from None
    if final is None:
        raise Failed("The event stream ended before the job did; watch again.")
    out.print(f"Job {job_id} ended {status(final)}.")
    return OK if final == "SUCCEEDED" else REFUSED


def watch_batch(c: Client, batch_id: str, *, timeout: Optional[float] = None) -> int:
    c.get(f"/api/batches/{batch_id}")
    counts: dict[str, int] = {}
    ended = False
    try:
        with deadline(timeout), _progress(percent=False) as bar:
            task = None
            for ev in events(c, f"/api/batches/{batch_id}/events", lambda m: bar.console.print(m)):
                d = ev.data
                if ev.event in ("snapshot", "batch"):
                    counts = d["counts"]
                    finished = sum(counts.get(s, 0) for s in FINAL)
                    desc = "batch " + " ".join(f"{status(k)} {v}" for k, v in counts.items() if v)
                    if task is None:
                        bar.console.print(batch_line(d))
                        task = bar.add_task(desc, total=d["total"] or 1)
                    bar.update(task, total=d["total"] or 1, completed=finished if d["total"] else 1,
                               description=desc)
                elif ev.event == "transition" and d["status"] in ("FAILED", "CRASHED"):
                    bar.console.print(f"{escape(d['at'][11:19])}  job {escape(d['job_id'])} {status(d['status'])}  "
                                      f"{escape(d['message'])}")
                elif ev.event == "end":
                    counts, ended = d["counts"], True
                    break
    except TimedOut:
        done = sum(counts.get(s, 0) for s in FINAL)
        out.print(f"Batch {batch_id}: {done} of {sum(counts.values())} jobs ended after {timeout:g} s; "
                  f"the rest keep running.")
        return TIMED_OUT
    except KeyboardInterrupt:
        raise _stopped("batch", batch_id, f"jobdeck cancel --batch {batch_id}") from None
    if not ended:
        raise Failed("The event stream ended before the batch did; watch again.")
    bad = sum(counts.get(s, 0) for s in ("FAILED", "CRASHED", "CANCELLED"))
    good = counts.get("SUCCEEDED", 0)
    out.print(f"Batch {batch_id} ended: {good} succeeded, {bad} did not.")
    return OK if bad == 0 else REFUSED


POLL_S = 0.5


def watch_run(c: Client, root_id: str, *, timeout: Optional[float] = None) -> int:
    """A pipeline run: its steps done of its steps, read from its root job until the run
    as a whole has ended (its steps are jobs of their own)."""
    job = c.get(f"/api/jobs/{root_id}")
    run = job.get("run") or {}
    try:
        with deadline(timeout), _progress(percent=False) as bar:
            task = bar.add_task(f"run {status(run.get('status', job['status']))}", total=run.get("steps") or 1)
            said = ""
            while True:
                run = job.get("run") or {"status": job["status"], "final": job["final"], "steps": 1,
                                         "finished": int(job["final"]), "summary": job.get("last_message") or ""}
                if run.get("summary") and run["summary"] != said:
                    said = run["summary"]
                    bar.console.print(f"{status(run['status'])}  {escape(said)}")
                bar.update(task, total=run.get("steps") or 1, completed=run.get("finished") or 0,
                           description=f"run {status(run['status'])}")
                if run.get("final"):
                    break
                time.sleep(POLL_S)
                job = c.get(f"/api/jobs/{root_id}")
    except TimedOut:
        out.print(f"Run {root_id} is still {status(run.get('status', '?'))} after {timeout:g} s; it keeps running.")
        return TIMED_OUT
    except KeyboardInterrupt:
        raise _stopped("run", root_id, f"jobdeck cancel {root_id}") from None
    out.print(f"Run {root_id} ended {status(run['status'])}.")
    return OK if run["status"] == "SUCCEEDED" else REFUSED



def watch_bulk(c: Client, job_id: str, *, count: int, exact: bool, timeout: Optional[float] = None,
               quiet: bool = False) -> tuple[int, dict]:
    """A bulk job (JOBS/BULK_ACTION): a bar of the jobs it has gone through of the count
    it stated, each report it makes, then its summary. Returns the exit status and the
    job as it ended (or stands, after a timeout)."""
    job = c.get(f"/api/jobs/{job_id}")
    total = max(count, 1)
    final = None
    try:
        with deadline(timeout), (contextlib.nullcontext() if quiet else _progress(percent=False)) as bar:
            task = bar.add_task(f"bulk {job['job_subtype'].lower()} {status(job['status'])}", total=total) \
                if bar else None
            for ev in events(c, f"/api/jobs/{job_id}/events", (lambda m: bar.console.print(m)) if bar else
                             (lambda m: None)):
                d = ev.data
                if ev.event == "end":
                    final = d["status"]
                    break
                if bar is None:
                    continue
                if ev.event == "progress":
                    if d.get("message"):
                        bar.console.print(f"  {escape(d['message'])}")
                    bar.update(task, completed=round(total * min(1.0, d.get("progress") or 0)))
                elif ev.event in ("snapshot", "transition"):
                    bar.update(task, description=f"bulk job {status(d['status'])}",
                               completed=total if d["status"] in FINAL else None)
    except TimedOut:
        job = c.get(f"/api/jobs/{job_id}")
        if not quiet:
            out.print(f"Bulk job {job_id} is still {status(job['status'])} after {timeout:g} s; it keeps going "
                      f"(`jobdeck status {job_id}` shows how far).")
        return TIMED_OUT, job
    except KeyboardInterrupt:
        raise _stopped("bulk job", job_id, f"jobdeck cancel {job_id}") from None
    if final is None:
        raise Failed("The event stream ended before the bulk job did; `jobdeck status` it again.")
    job = c.get(f"/api/jobs/{job_id}")
    if not quiet:
        what = job.get("info") or job.get("last_message") or ""
        out.print(f"Bulk job {job_id} ended {status(final)}: {escape(what)}")
    return (OK if final == "SUCCEEDED" else REFUSED), job
