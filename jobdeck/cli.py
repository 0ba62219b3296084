"""`jobdeck`: lodge, watch and manage Jobdeck jobs from a terminal or a script.

Exit status: 0 when it worked (for watch: the job, or every job of the batch,
SUCCEEDED), 1 when the server refused or a job ended otherwise, 2 for a usage error,
124 when --timeout ended a watch, 130 when Ctrl-C did. A refusal is one line on
standard error; every command takes --json for scripts.
"""

from __future__ import annotations

import sys
from typing import Optional

import typer
from typer._click import exceptions as click  # the click typer runs on (its own copy)
from rich.markup import escape

from jobdeck import config
from jobdeck.base import INTERRUPTED, USAGE
from jobdeck.commands import admin, backends, bulk, jobs, metrics, pipelines, registry, schedules, session
from jobdeck.render import err

app = typer.Typer(help=__doc__, no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  rich_markup_mode=None)


@app.callback()
def _options(profile: Optional[str] = typer.Option(None, "--profile", "-p", envvar="JOBDECK_PROFILE",
                                                   help="Use this named profile (server and token) for this "
                                                        "command; `jobdeck profiles` lists them")):
    config.chosen = profile


for module in (session, jobs, registry, pipelines, metrics, admin):
    for info in module.app.registered_commands:
        app.registered_commands.append(info)
app.add_typer(session.profiles_app, name="profiles")
app.add_typer(admin.config_app, name="config")
app.add_typer(bulk.app, name="bulk")
app.add_typer(schedules.app, name="schedules")
app.add_typer(backends.app, name="backends")


def main() -> None:
    from typer._completion_classes import completion_init

    completion_init()  # `jobdeck completion SHELL` prints the script that asks for these
    command = typer.main.get_command(app)
    try:
        code = command.main(prog_name="jobdeck", complete_var="_JOBDECK_COMPLETE", standalone_mode=False)
    except click.NoArgsIsHelpError as e:
        print(e.ctx.get_help() if e.ctx else "Usage: jobdeck COMMAND --help")
        code = USAGE
    except click.UsageError as e:
        where = e.ctx.command_path if e.ctx else "jobdeck"
        err.print(f"[bold red]Usage error:[/] {escape(e.format_message())} (see `{escape(where)} --help`).")
        code = USAGE
    except click.ClickException as e:
        err.print(f"[bold red]Error:[/] {escape(e.format_message())}")
        code = e.exit_code
    except typer.Abort:
        err.print("Aborted.")
        code = INTERRUPTED
    except KeyboardInterrupt:
        err.print("Interrupted.")
        code = INTERRUPTED
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
