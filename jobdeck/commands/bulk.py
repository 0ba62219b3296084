"""`jobdeck bulk cancel|retry|delete`: act on many jobs at once, named by their ids, by
a filter (every job matching it, done by a bulk job whose progress is followed), or as
one submission (a batch or pipeline run). The count is stated and confirmed first."""

from __future__ import annotations

import sys
from typing import Optional

import typer
from rich.markup import escape

from jobdeck.base import OK, REFUSED, Usage, client, run
from jobdeck.client import Client
from jobdeck.commands.jobs import SUBTYPE_HELP, TIMEOUT_HELP, TYPE_HELP, parse_time
from jobdeck.render import STATUSES, err, out, print_json
from jobdeck.watching import watch_bulk

app = typer.Typer(help="Cancel, retry or delete many jobs at once: by ids, by a filter, or a whole submission.",
                  no_args_is_help=True)

MAX_IDS = 1000  # per request (the server's bound); more ids are sent in parts
_VERB = {"cancel": "Cancel", "retry": "Retry", "delete": "Delete"}


def _ids(given: list[str]) -> list[str]:
    """The ids as given; `-` reads more from standard input, one per line."""
    out_: list[str] = []
    for g in given:
        if g == "-":
            out_ += [line.strip() for line in sys.stdin if line.strip()]
        else:
            out_.append(g)
    return list(dict.fromkeys(out_))


def _statuses(given: list[str]) -> list[str]:
    wanted = []
    for s in given:
        for part in s.split(","):
            if part.strip().upper() not in STATUSES:
                raise Usage(f"--status takes {', '.join(STATUSES)} (any case, repeat it or join with commas), "
                            f"not {part!r}.")
            wanted.append(part.strip().upper())
    return wanted


def _confirm(question: str, yes: bool) -> None:
    if not yes and not typer.confirm(question, err=True):
        raise typer.Abort()


def _summary_line(s: dict) -> str:
    return escape(s["summary"])


def _act(action: str, ids: list[str], statuses: list[str], job_type: Optional[str], job_subtype: Optional[str],
         batch: Optional[str], workflow: Optional[str], user: Optional[str], all_users: bool, since: Optional[str],
         until: Optional[str], every: bool, submission: Optional[str], yes: bool, follow: bool,
         timeout: Optional[float], as_json: bool) -> None:
    def body():
        filt = {k: v for k, v in {
            "status": _statuses(statuses) or None, "job_type": job_type.upper() if job_type else None,
            "job_subtype": job_subtype.upper() if job_subtype else None, "batch_id": batch,
            "workflow_id": workflow, "owner": user, "all_users": True if all_users else None,
            "since": parse_time(since, "--since"), "until": parse_time(until, "--until")}.items() if v is not None}
        named = _ids(ids)
        forms = [f for f, given in (("ids", named), ("a filter", filt or every), ("--submission", submission))
                 if given]
        if len(forms) != 1:
            raise Usage("Name the jobs one way: ids, filter options (--status, --type, --batch… or --every for "
                        "every job of yours), or --submission" + (f"; not {' and '.join(forms)}" if forms else "")
                        + ".")
        with client() as c:
            if named:
                return _on_ids(c, action, named, yes, as_json)
            if submission:
                n = c.post("/api/jobs/bulk", json={"action": action, "submission": submission,
                                                   "dry_run": True})["count"]
                _confirm(f"{_VERB[action]} {n} {'live ' if action == 'cancel' else ''}job{'s' if n != 1 else ''} "
                         f"of submission {submission}?", yes)
                got = c.post("/api/jobs/bulk", json={"action": action, "submission": submission})
                print_json(got) if as_json else out.print(f"Submission {escape(submission)}: "
                                                          f"{_summary_line(got['summary'])}.")
                return OK
            return _on_filter(c, action, filt, yes, follow, timeout, as_json)
    run(body)


def _on_ids(c: Client, action: str, ids: list[str], yes: bool, as_json: bool) -> int:
    _confirm(f"{_VERB[action]} {len(ids)} job{'s' if len(ids) != 1 else ''}?", yes)
    answers = []
    for start in range(0, len(ids), MAX_IDS):
        part = ids[start:start + MAX_IDS]
        got = c.post("/api/jobs/bulk", json={"action": action, "ids": part})
        answers.append(got)
        if not as_json:
            where = f"ids {start + 1}-{start + len(part)}: " if len(ids) > MAX_IDS else ""
            out.print(f"{where}{_summary_line(got['summary'])}.")
    if as_json:
        print_json(answers[0] if len(answers) == 1 else answers)
    acted = sum(a["summary"]["acted"] for a in answers)
    return OK if acted == len(ids) else REFUSED


def _on_filter(c: Client, action: str, filt: dict, yes: bool, follow: bool, timeout: Optional[float],
               as_json: bool) -> int:
    dry = c.post("/api/jobs/bulk", json={"action": action, "filter": filt, "dry_run": True})
    n = dry["count"] if dry["count_exact"] else f"at least {dry['count']}"
    if dry["count_exact"] and dry["count"] == 0:
        print_json(dry) if as_json else out.print(f"No jobs match ({escape(dry['filter'])}); nothing to {action}.")
        return OK
    _confirm(f"{_VERB[action]} {n} job{'s' if n != 1 else ''} ({dry['filter']})?", yes)
    got = c.post("/api/jobs/bulk", json={"action": action, "filter": filt})
    if got["job_id"] is None:  # none left since the count
        print_json(got) if as_json else out.print(f"No jobs match any more; nothing to {action}.")
        return OK
    job_id = got["job_id"]
    if not as_json:
        n = got["count"] if got["count_exact"] else f"at least {got['count']}"
        out.print(f"Bulk job [bold]{escape(job_id)}[/] lodged: {action} {n} jobs ({escape(got['filter'])}).")
    if not follow:
        if as_json:
            print_json(got)
        else:
            out.print(f"`jobdeck status {job_id}` shows how far it is.")
        return OK
    code, job = watch_bulk(c, job_id, count=got["count"], exact=got["count_exact"], timeout=timeout,
                           quiet=as_json)
    if as_json:
        print_json({**got, "job": job})
    return code


def _command(action: str, doc: str):
    def command(
        ids: list[str] = typer.Argument(None, metavar="ID", help="Job ids ('-': read them from standard input, "
                                                                      "one a line); more than 1000 go in parts"),
        status: list[str] = typer.Option([], "--status", help=f"Only jobs in this status ({', '.join(STATUSES)}; "
                                                              f"repeat it or join with commas)"),
        job_type: Optional[str] = typer.Option(None, "--type", help=TYPE_HELP),
        job_subtype: Optional[str] = typer.Option(None, "--subtype", help=SUBTYPE_HELP),
        batch: Optional[str] = typer.Option(None, "--batch", help="The jobs of this batch"),
        workflow: Optional[str] = typer.Option(None, "--workflow", help="The jobs of this workflow (a pipeline "
                                                                        "run: its root job's id)"),
        user: Optional[str] = typer.Option(None, "--user", help="This user's jobs (admins)"),
        all_users: bool = typer.Option(False, "--all", help="Every user's jobs (admins)"),
        since: Optional[str] = typer.Option(None, help="Only jobs created at or after: ISO 8601 or a time ago "
                                                       "(30m, 2h, 3d)"),
        until: Optional[str] = typer.Option(None, help="Only jobs created before (as --since)"),
        every: bool = typer.Option(False, "--every", help="Every job of yours the action can act on (no other "
                                                          "filter)"),
        submission: Optional[str] = typer.Option(None, "--submission", help="A batch or pipeline run as one unit "
                                                                            "(cancel, delete)"),
        yes: bool = typer.Option(False, "--yes", "-y", help="Do it without asking (the count is not confirmed)"),
        follow: bool = typer.Option(True, "--follow/--no-follow", help="Follow a filter's bulk job until it ends"),
        timeout: Optional[float] = typer.Option(None, min=0.1, help=TIMEOUT_HELP),
        as_json: bool = typer.Option(False, "--json", help="Print the outcome as JSON"),
    ):
        _act(action, ids or [], status, job_type, job_subtype, batch, workflow, user, all_users, since, until,
             every, submission, yes, follow, timeout, as_json)

    command.__doc__ = doc
    return command


app.command("cancel")(_command("cancel", "Cancel many jobs that have not ended: by ids, every job matching a "
                                         "filter (live ones), or a whole submission."))
app.command("retry")(_command("retry", "Retry many FAILED, CRASHED or CANCELLED jobs: by ids or every job "
                                       "matching a filter."))
app.command("delete")(_command("delete", "Delete many jobs (admins): live ones are cancelled first. By ids, a "
                                         "filter or a whole submission."))

__all__ = ["app", "err"]
