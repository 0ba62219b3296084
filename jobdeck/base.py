"""What every command shares: the client of the profile in use, and `run`, which turns
every problem into one line on standard error and an exit status (never a traceback;
JOBDECK_DEBUG=1 shows one for an unexpected error)."""

from __future__ import annotations

import os
import sys
import traceback
from typing import Callable, Optional, TypeVar

import typer
from rich.markup import escape

from jobdeck import config
from jobdeck.client import ApiError, Client, NotJobdeck, Unreachable, normalize
from jobdeck.render import err

T = TypeVar("T")

# Exit statuses (the module docstring of jobdeck.cli says what each means).
OK, REFUSED, USAGE, TIMED_OUT, INTERRUPTED = 0, 1, 2, 124, 130


class Failed(Exception):
    """A message for the person, then exit status 1."""


class Usage(Failed):
    """A value the command does not take: one line, then exit status 2."""


class Stopped(Exception):
    """The person stopped a command that waits (Ctrl-C): say what goes on, exit 130."""


def client(*, need_token: bool = True) -> Client:
    cfg = config.load()
    server = normalize(cfg.get("server") or config.DEFAULT_SERVER)
    token = cfg.get("token")
    if need_token and not token:
        raise Failed(f"Not signed in: run `jobdeck login --server {server}` first "
                     f"(or set JOBDECK_TOKEN to a token from your profile page).")
    return Client(server, token)


def is_admin() -> bool:
    """What login learnt of the profile's role (no request)."""
    return config.load().get("role") in ("admin", "service")


def _say(text: str) -> None:
    err.print(text, highlight=False)


def api_error_line(e: ApiError, *, signing_in: bool = False) -> str:
    hint = ""
    if e.status == 401 and not signing_in:
        hint = " Sign in again with `jobdeck login`."
    elif e.status == 429:
        after = e.body.get("retry_after")
        hint = f" Try again in {after} s." if after else ""
    return f"[bold red]{escape(e.title)}[/] ({e.status}): {escape(e.detail)}{hint}"


def run(fn: Callable[[], Optional[int]], *, signing_in: bool = False) -> None:
    """Run a command body; its return value (or 0) is the exit status."""
    try:
        code = fn()
    except ApiError as e:
        _say(api_error_line(e, signing_in=signing_in))
        for extra in (e.body.get("errors") or [])[1:]:
            where = f"Line {extra['line']}, " if extra.get("line") else ""
            _say(f"  {escape(where)}{escape(str(extra.get('field')))}: {escape(str(extra.get('message')))}")
        raise typer.Exit(REFUSED)
    except Usage as e:
        _say(f"[bold red]Usage error:[/] {escape(str(e))}")
        raise typer.Exit(USAGE)
    except (Unreachable, NotJobdeck, Failed, config.ConfigProblem) as e:
        _say(f"[bold red]Error:[/] {escape(str(e))}")
        raise typer.Exit(REFUSED)
    except Stopped as e:
        _say(escape(str(e)))
        raise typer.Exit(INTERRUPTED)
    except KeyboardInterrupt:
        _say("Interrupted.")
        raise typer.Exit(INTERRUPTED)
    except BrokenPipeError:
        # The reader of the output went away (`| head`): nothing more to say to anyone.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise typer.Exit(REFUSED)
    except (typer.Exit, typer.Abort):
        raise
    except Exception as e:  # a bug of this client: still one line
        if os.environ.get("JOBDECK_DEBUG"):
            traceback.print_exc()
        _say(f"[bold red]Error:[/] an unexpected error in jobdeck ({escape(type(e).__name__)}: "
             f"{escape(str(e))}); JOBDECK_DEBUG=1 shows where.")
        raise typer.Exit(REFUSED)
    raise typer.Exit(code or OK)


def read_file(path: str, what: str) -> bytes:
    """A file the person named, or one line saying why it cannot be read."""
    try:
        with open(path, "rb") as f:
            return f.read()
    except IsADirectoryError:
        raise Failed(f"The {what} {path} is a directory, not a file.") from None
    except OSError as e:
        raise Failed(f"Cannot read the {what} {path}: {e.strerror}.") from None


def write_file(path: str, data: bytes, what: str) -> None:
    try:
        with open(path, "wb") as f:
            f.write(data)
    except OSError as e:
        raise Failed(f"Cannot write the {what} to {path}: {e.strerror}.") from None
