"""Jobs: lodge, show, list, cancel, retry (one job or a batch's), the history, job types,
and a job's files."""

from __future__ import annotations

import hashlib
import json
import re
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator, Optional
from urllib.parse import quote

import typer
from rich.markup import escape

from jobdeck.base import OK, REFUSED, Failed, Stopped, Usage, client, is_admin, read_file, run
from jobdeck.client import ApiError, Client
from jobdeck.render import (
    STATUSES, Column, batch_line, err, job_line, out, print_json, print_table, short_time, status, table,
)
from jobdeck.watching import watch_job

app = typer.Typer()

TYPE_HELP = "Only jobs of this type, e.g. PROV_LODGE (`jobdeck types` lists them)"
SUBTYPE_HELP = "Only jobs of this subtype, e.g. MODEL_RUN_PROV_LODGE (`jobdeck types` lists them)"
TIMEOUT_HELP = "Stop watching after this many seconds (exit 124; the job keeps running)"


def _parse_value(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def parse_sets(sets: list[str]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for s in sets:
        key, sep, value = s.partition("=")
        if not sep or not key:
            raise Failed(f"--set takes key=value, not {s!r}.")
        data[key] = _parse_value(value)
    return data


def _payload(payload: Optional[str], payload_file: Optional[str], sets: list[str]) -> dict:
    data: Any = {}
    if payload_file is not None:
        raw = sys.stdin.buffer.read() if payload_file == "-" else read_file(payload_file, "payload file")
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError) as e:
            raise Failed(f"The payload file {payload_file} is not valid JSON: {e}.") from None
        if not isinstance(data, dict):
            raise Failed(f"The payload file {payload_file} must hold a JSON object.")
    if payload:
        try:
            more = json.loads(payload)
        except (ValueError, RecursionError) as e:
            raise Failed(f"The payload is not valid JSON: {e}.") from None
        if not isinstance(more, dict):
            raise Failed("The payload must be a JSON object, e.g. '{\"sleep_s\": 1}'.")
        data.update(more)
    data.update(parse_sets(sets))
    return data


@app.command()
def submit(
    job_type: str = typer.Argument(..., help="e.g. PROV_LODGE (`jobdeck types` lists them)"),
    job_subtype: str = typer.Argument(..., help="e.g. MODEL_RUN_PROV_LODGE"),
    payload: Optional[str] = typer.Argument(None, help="The payload as a JSON object"),
    payload_file: Optional[str] = typer.Option(None, "--payload-file", "-f",
                                               help="Read the payload from a JSON file ('-': stdin)"),
    sets: list[str] = typer.Option([], "--set", "-s", help="key=value added to the payload (value read as JSON "
                                                           "when it is)"),
    batch: Optional[str] = typer.Option(None, help="Add the job to this batch of yours"),
    key: Optional[str] = typer.Option(None, "--idempotency-key", "-k", help="A repeat with the same key returns "
                                                                            "the same job"),
    owner: Optional[str] = typer.Option(None, help="Lodge for another user (admins and services)"),
    watch_: bool = typer.Option(False, "--watch", "-w", help="Then watch it until it ends"),
    timeout: Optional[float] = typer.Option(None, min=0.1, help=TIMEOUT_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the job as JSON"),
):
    """Lodge a job."""
    def body():
        data = _payload(payload, payload_file, sets)
        headers = {"Idempotency-Key": key} if key else {}
        with client() as c:
            r = c.request("POST", "/api/jobs", headers=headers,
                          json={"job_type": job_type.upper(), "job_subtype": job_subtype.upper(), "payload": data,
                                "batch_id": batch, "owner": owner})
            job = c.json(r)
            if as_json:
                print_json(job)
            else:
                again = " (the same job as before: the idempotency key was used already)" if r.status_code == 200 else ""
                out.print(f"Lodged: {job_line(job)}{again}")
            if watch_:
                return watch_job(c, job["id"], timeout=timeout)
    run(body)


def _job(c: Client, job_id: str) -> dict:
    """A job; for admins as admins see it (worker, traceback of a crash)."""
    if is_admin():
        try:
            return c.get(f"/api/admin/jobs/{quote(job_id, safe='')}")
        except ApiError as e:
            if e.status != 403:
                raise
    return c.get(f"/api/jobs/{quote(job_id, safe='')}")


@app.command("status")
def status_(
    job_id: str = typer.Argument(..., help="The job's session id"),
    messages: bool = typer.Option(False, "--messages", "-m", help="Show its message history too"),
    as_json: bool = typer.Option(False, "--json", help="Print the job as JSON"),
):
    """Show one job (for admins also its worker and, when it CRASHED, the traceback)."""
    def body():
        with client() as c:
            job = _job(c, job_id)
            msgs = c.get(f"/api/jobs/{quote(job_id, safe='')}/messages") if messages else None
        if as_json:
            print_json({**job, "messages": msgs} if msgs is not None else job)
            return
        out.print(job_line(job))
        rows = [("owner", job["owner"]), ("subject", job.get("subject")), ("created", job["created_at"]),
                ("started", job.get("started_at")), ("finished", job.get("finished_at")),
                ("last message", job.get("last_message")), ("info", job.get("info")),
                ("progress", f"{job['progress']:.0%}" if job.get("progress") is not None else None),
                ("waiting", job.get("waiting_reason")),
                ("result", json.dumps(job["result"]) if job.get("result") else None),
                ("workflow", job.get("workflow_id")), ("item", job.get("entity_id")), ("worker", job.get("worker"))]
        for k, v in rows:
            if v not in (None, ""):
                out.print(f"  {k:<13}{escape(str(v))}")
        if job.get("error_detail"):
            out.print("  traceback")
            for line in job["error_detail"].rstrip().splitlines():
                out.print(f"    {escape(line)}")
        for m in msgs or []:
            out.print(f"  {escape(m['at'][:19])}  {status(m['status'] or '')}  {escape(m['text'])}")
    run(body)


_RELATIVE = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_time(value: Optional[str], option: str) -> Optional[str]:
    """ISO 8601 (UTC unless it says), or a time ago: 90s, 30m, 2h, 3d, 1w."""
    if not value:
        return None
    m = _RELATIVE.match(value.strip().lower())
    if m:
        t = datetime.now(timezone.utc) - timedelta(**{_UNITS[m.group(2)]: float(m.group(1))})
    else:
        try:
            t = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise Failed(f"{option} takes an ISO 8601 time (2026-05-01, 2026-05-01T12:00) or a time ago "
                         f"(30m, 2h, 3d), not {value!r}.") from None
        t = t.replace(tzinfo=timezone.utc) if t.tzinfo is None else t
    return t.astimezone(timezone.utc).isoformat()


def _status_value(given: Optional[str]) -> Optional[str]:
    if given is None:
        return None
    if given.strip().upper() not in STATUSES:
        raise Usage(f"--status takes one of {', '.join(STATUSES)} (any case), not {given!r}.")
    return given.strip().upper()


def job_columns(*, owners: bool) -> list[Column]:
    cols = [Column("session id", lambda j: j["id"], keep=True),
            Column("status", lambda j: j["status"], keep=True, colour=status),
            Column("type/subtype", lambda j: f"{j['job_type']}/{j['job_subtype']}", most=28),
            Column("created (UTC)", lambda j: short_time(j["created_at"])),
            Column("try", lambda j: str(j["attempt"]))]
    if owners:
        cols.append(Column("owner", lambda j: j["owner"], most=16))
    cols += [Column("name", lambda j: j.get("subject") or "", most=16),
             Column("last message", lambda j: j.get("last_message") or "", flex=True)]
    return cols


@app.command("list")
def list_(
    status_opt: Optional[str] = typer.Option(None, "--status", help=f"Only jobs in this status: "
                                                                    f"{', '.join(STATUSES)} (any case)"),
    job_type: Optional[str] = typer.Option(None, "--type", help=TYPE_HELP),
    job_subtype: Optional[str] = typer.Option(None, "--subtype", help=SUBTYPE_HELP),
    since: Optional[str] = typer.Option(None, help="Only jobs created at or after: ISO 8601 (UTC unless it "
                                                   "says) or a time ago (30m, 2h, 3d)"),
    until: Optional[str] = typer.Option(None, help="Only jobs created before (as --since)"),
    batch: Optional[str] = typer.Option(None, help="The jobs of this batch, with its counts"),
    all_users: bool = typer.Option(False, "--all", help="Every user's jobs (admins)"),
    user: Optional[str] = typer.Option(None, "--user", help="This user's jobs (admins)"),
    limit: int = typer.Option(25, min=1, max=500),
    cursor: Optional[str] = typer.Option(None, help="Continue from a previous page"),
    wide: bool = typer.Option(False, "--wide", help="Every column in full, however wide"),
    as_json: bool = typer.Option(False, "--json", help="Print the page as JSON"),
):
    """List jobs, newest first (yours; a batch's; or, for admins, everyone's). The table
    fits the terminal: the message is shortened first, the id and status never."""
    def body():
        params = {k: v for k, v in {
            "status": _status_value(status_opt), "job_type": job_type.upper() if job_type else None,
            "job_subtype": job_subtype.upper() if job_subtype else None, "since": parse_time(since, "--since"),
            "until": parse_time(until, "--until"), "limit": limit, "cursor": cursor}.items() if v is not None}
        with client() as c:
            head = None
            if batch:
                head = c.get(f"/api/batches/{quote(batch, safe='')}")
                page = c.get(f"/api/batches/{quote(batch, safe='')}/jobs", params=params)
            elif all_users or user:
                page = c.get("/api/admin/jobs", params={**params, **({"username": user} if user else {})})
            else:
                page = c.get("/api/jobs", params=params)
        if as_json:
            print_json({**page, **({"batch": head} if head else {})})
            return
        if head:
            out.print(batch_line(head))
        if not page["jobs"]:
            out.print("No jobs.")
        else:
            owners = bool(all_users or batch) or len({j["owner"] for j in page["jobs"]}) > 1
            print_table(table(page["jobs"], job_columns(owners=owners), wide=wide), wide=wide)
        if page.get("next_cursor"):
            out.print(f"More: --cursor {escape(page['next_cursor'])}")
    run(body)


def _batch_jobs(c: Client, batch_id: str, **params) -> Iterator[dict]:
    cursor = None
    while True:
        page = c.get(f"/api/batches/{quote(batch_id, safe='')}/jobs",
                     params={**params, "limit": 500, **({"cursor": cursor} if cursor else {})})
        yield from page["jobs"]
        cursor = page.get("next_cursor")
        if not cursor:
            return


@app.command()
def cancel(ident: str = typer.Argument(..., metavar="ID", help="The job's session id (a batch id with --batch)"),
           batch: bool = typer.Option(False, "--batch", "-b", help="ID is a batch: cancel each of its live jobs"),
           as_json: bool = typer.Option(False, "--json", help="Print the outcome as JSON")):
    """Cancel a job that has not ended (or every live job of a batch)."""
    def body():
        with client() as c:
            if not batch:
                job = c.post(f"/api/jobs/{quote(ident, safe='')}/cancel")
                print_json(job) if as_json else out.print(f"Cancelled: {job_line(job)}")
                return
            c.get(f"/api/batches/{quote(ident, safe='')}")
            live = [j["id"] for s in ("PENDING", "DEQUEUED", "IN_PROGRESS")
                    for j in _batch_jobs(c, ident, status=s)]
            done, ended = _each(c, live, "cancel")
        if as_json:
            print_json({"batch_id": ident, "cancelled": done, "ended_already": ended})
        else:
            out.print(f"Cancelled {len(done)} job(s) of batch {escape(ident)}"
                      + (f"; {len(ended)} had ended meanwhile." if ended else "."))
    run(body)


def _each(c: Client, ids: list[str], action: str) -> tuple[list[str], list[str]]:
    """Do `action` to each job; a job whose state changed meanwhile (409) is counted apart."""
    done, skipped = [], []
    for jid in ids:
        try:
            c.post(f"/api/jobs/{quote(jid, safe='')}/{action}")
            done.append(jid)
        except ApiError as e:
            if e.status != 409:
                raise
            skipped.append(jid)
    return done, skipped


@app.command()
def retry(ident: str = typer.Argument(..., metavar="ID", help="The job's session id (a batch id with --batch)"),
          batch: bool = typer.Option(False, "--batch", "-b", help="ID is a batch (with --failed)"),
          failed: bool = typer.Option(False, "--failed", help="With --batch: retry its FAILED and CRASHED jobs"),
          watch_: bool = typer.Option(False, "--watch", "-w", help="Then watch the new attempt (or the batch)"),
          timeout: Optional[float] = typer.Option(None, min=0.1, help=TIMEOUT_HELP),
          as_json: bool = typer.Option(False, "--json", help="Print the outcome as JSON")):
    """Retry a FAILED, CRASHED or CANCELLED job (a new attempt, history kept), or with
    --failed --batch every failed job of a batch."""
    from jobdeck.watching import watch_batch

    def body():
        if batch != failed:
            raise Usage("Retry a batch's failed jobs with both --batch and --failed.")
        with client() as c:
            if not batch:
                job = c.post(f"/api/jobs/{quote(ident, safe='')}/retry")
                print_json(job) if as_json else out.print(f"Retrying: {job_line(job)}")
                return watch_job(c, ident, timeout=timeout) if watch_ else OK
            c.get(f"/api/batches/{quote(ident, safe='')}")
            ids = [j["id"] for j in _batch_jobs(c, ident, failures_only="true")]
            done, moved = _each(c, ids, "retry")
            if as_json:
                print_json({"batch_id": ident, "retried": done, "changed_meanwhile": moved})
            else:
                out.print(f"Retrying {len(done)} failed job(s) of batch {escape(ident)}"
                          + (f"; {len(moved)} had changed meanwhile." if moved else "."))
            return watch_batch(c, ident, timeout=timeout) if watch_ else OK
    run(body)


@app.command()
def logs(job_id: str = typer.Argument(..., help="The job's session id"),
         follow: bool = typer.Option(False, "--follow", "-f", help="Keep printing new messages until the job ends"),
         as_json: bool = typer.Option(False, "--json", help="One JSON object per message (JSON lines)")):
    """A job's message history, oldest first; with --follow, as it grows."""
    def body():
        after = 0
        with client() as c:
            job = c.get(f"/api/jobs/{quote(job_id, safe='')}")
            while True:
                msgs = c.get(f"/api/jobs/{quote(job_id, safe='')}/messages", params={"after": after})
                for m in msgs:
                    after = max(after, m["id"])
                    if as_json:
                        print(json.dumps(m), flush=True)
                    else:
                        out.print(f"{escape(m['at'][:19].replace('T', ' '))}  try {m['attempt']}  "
                                  f"{status(m['status'] or m['level'])}  {escape(m['text'])}")
                if not follow or (job["final"] and not msgs):
                    break
                if not msgs:
                    time.sleep(1.0)
                    job = c.get(f"/api/jobs/{quote(job_id, safe='')}")
            if follow:
                return OK if job["status"] == "SUCCEEDED" else REFUSED
    def following():
        try:
            return body()
        except KeyboardInterrupt:
            raise Stopped(f"Stopped following; job {job_id} keeps running.") from None
    run(following)


def _fields(schema: dict) -> list[str]:
    required = set(schema.get("required") or [])
    out_ = []
    for name, prop in (schema.get("properties") or {}).items():
        kind = prop.get("type") or "/".join(sorted({p.get("type", "object") for p in prop.get("anyOf", [])})) \
            or "object"
        out_.append(f"{name}{'*' if name in required else ''}:{kind}")
    return out_


@app.command()
def types(as_json: bool = typer.Option(False, "--json", help="Print them with their payload schemas as JSON")):
    """The job types, their payload fields (* required) and whether you may lodge them."""
    def body():
        with client() as c:
            found = c.get("/api/job-types")
        if as_json:
            print_json(found)
            return
        cols = [Column("type/subtype", lambda t: f"{t['job_type']}/{t['job_subtype']}", keep=True),
                Column("you", lambda t: "yes" if t["you_may_launch"] else "no"),
                Column("backend", lambda t: t["backend"]),
                Column("label", lambda t: t["label"], most=30),
                Column("payload fields", lambda t: ", ".join(_fields(t["payload_schema"])) or "-", flex=True)]
        print_table(table(found, cols))
    run(body)


@app.command()
def files(job_id: str = typer.Argument(..., help="The job's session id"),
          as_json: bool = typer.Option(False, "--json", help="Print them as JSON")):
    """The data files a job produced."""
    def body():
        with client() as c:
            found = c.get(f"/api/jobs/{quote(job_id, safe='')}/files")
        if as_json:
            print_json(found)
            return
        if not found:
            out.print(f"Job {escape(job_id)} has no files.")
            return
        cols = [Column("name", lambda f: f["name"], keep=True), Column("size", lambda f: str(f["size"])),
                Column("created (UTC)", lambda f: short_time(f["created_at"])),
                Column("sha256", lambda f: f["sha256"], flex=True)]
        print_table(table(found, cols))
    run(body)


@app.command()
def download(job_id: str = typer.Argument(..., help="The job's session id"),
             name: str = typer.Argument(..., help="The file's name (`jobdeck files ID` lists them)"),
             output: Optional[str] = typer.Option(None, "--output", "-o",
                                                  help="Write here (default: NAME in this directory; '-': stdout)")):
    """Download one of a job's files (its SHA-256 checked)."""
    def body():
        with client() as c:
            r = c.request("GET", f"/api/jobs/{quote(job_id, safe='')}/files/{quote(name, safe='')}")
        data = r.content
        want = r.headers.get("X-Content-SHA256")
        if want and hashlib.sha256(data).hexdigest() != want:
            raise Failed(f"The download of {name} is damaged (SHA-256 differs); download it again.")
        if output == "-":
            sys.stdout.buffer.write(data)
            return
        target = Path(output) if output else Path(Path(name).name)
        if target.is_dir():
            target = target / Path(name).name
        try:
            target.write_bytes(data)
        except OSError as e:
            raise Failed(f"Cannot write {target}: {e.strerror}.") from None
        err.print(f"Wrote {escape(str(target))} ({len(data)} bytes, SHA-256 checked).")
    run(body)
