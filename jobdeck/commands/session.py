"""Signing in and out, the kept token, named profiles (one server each) and shell
completion."""

from __future__ import annotations

import socket
import sys
from typing import Optional

import typer
from rich.markup import escape

from jobdeck import config
from jobdeck.base import Failed, client, run
from jobdeck.client import ApiError, Client, find_api
from jobdeck.render import out, print_json

app = typer.Typer()
profiles_app = typer.Typer(help="Named profiles: one server and token each (`--profile NAME` picks one for a "
                                "command).", no_args_is_help=False)


@app.command()
def login(
    server: Optional[str] = typer.Option(None, help="Address of the Jobdeck server or any page of its console, "
                                                    "e.g. localhost:3000 (http:// unless it says)"),
    username: Optional[str] = typer.Option(None, "--username", "-u", help="Your username (asked if not given)"),
    password_stdin: bool = typer.Option(False, help="Read the password from standard input (for scripts)"),
    token: Optional[str] = typer.Option(None, help="Use this API token (from your profile page) instead of a password"),
    name: Optional[str] = typer.Option(None, help="Name of the new token (default: 'jobdeck CLI on HOST')"),
):
    """Sign in and keep an API token in the profile in use (the config file: JOBDECK_CONFIG)."""
    def body():
        cfg = config.load()
        srv = find_api(server or cfg.get("server") or config.DEFAULT_SERVER)
        token_id = None
        if token:
            tok = token.strip()
        else:
            user = username or typer.prompt("Username")
            pw = sys.stdin.readline().rstrip("\n") if password_stdin else typer.prompt("Password", hide_input=True)
            with Client(srv) as c:
                try:
                    got = c.post("/api/tokens", wait_429=False,
                                 json={"username": user, "password": pw,
                                       "name": name or f"jobdeck CLI on {socket.gethostname()}"[:128]})
                except ApiError as e:
                    if e.status == 429:
                        after = e.body.get("retry_after")
                        raise Failed(f"Too many wrong passwords for {user}: sign-ins are refused for "
                                     f"{after or 'a while'}{' s' if after else ''}. Nothing was sent again; "
                                     f"try later with the right password.") from None
                    raise
            tok, token_id = got["token"], got["id"]
        with Client(srv, tok) as c:
            me = c.get("/api/me")
        path = config.save({"server": srv, "token": tok, "token_id": token_id, "username": me["username"],
                            "role": me["role"]})
        kept = ("revoke it with `jobdeck logout` or on your profile page" if token_id else
                "`jobdeck logout` revokes it (the token you gave; `--keep-token` only forgets it)")
        out.print(f"Signed in to {escape(srv)} as [bold]{escape(me['username'])}[/] ({escape(me['role'])}), "
                  f"profile {escape(config.active_name())!r}. Token kept in {escape(str(path))}; {kept}.")
    run(body, signing_in=True)


@app.command()
def logout(keep_token: bool = typer.Option(False, "--keep-token",
                                           help="Only forget the token here; it keeps working elsewhere")):
    """Revoke the kept token (also one given by hand with --token) and forget it."""
    def body():
        cfg = config.load()
        revoked = False
        if cfg.get("token") and not keep_token:
            with client() as c:
                try:
                    c.delete("/api/tokens/current")
                    revoked = True
                except ApiError as e:
                    if e.status != 401:  # 401: revoked already
                        raise
        if not config.forget():
            out.print("Not signed in.")
        elif revoked:
            out.print("Signed out: the token was revoked.")
        else:
            out.print("Signed out: the token was forgotten here" +
                      (" and still works elsewhere." if keep_token else " (it no longer worked)."))
    run(body)


@app.command()
def token(show: bool = typer.Option(False, "--show", help="Print the token itself (for curl or scripts)"),
          as_json: bool = typer.Option(False, "--json", help="Print who it signs in as, as JSON")):
    """Who the kept token signs in as; with --show, the token itself."""
    def body():
        cfg = config.load()
        if show:
            if not cfg.get("token"):
                raise Failed("No token kept: run `jobdeck login` first.")
            print(cfg["token"])
            return
        with client() as c:
            me = c.get("/api/me")
        if as_json:
            print_json({**me, "server": c.server, "profile": config.active_name(), "config": str(config.path())})
            return
        out.print(f"Server  {escape(c.server)}\nUser    {escape(me['username'])} ({escape(me['role'])}, "
                  f"{escape(me['display_name'])})\nProfile {escape(config.active_name())}\n"
                  f"Config  {escape(str(config.path()))}")
    run(body)


@profiles_app.callback(invoke_without_command=True)
def profiles_list(ctx: typer.Context, as_json: bool = typer.Option(False, "--json", help="Print them as JSON")):
    """The profiles kept, the one in use marked with *."""
    if ctx.invoked_subcommand:
        return

    def body():
        current, found = config.profiles()
        if as_json:
            print_json({"current": current, "profiles": {n: {k: v for k, v in p.items() if k != "token"}
                                                         for n, p in found.items()}})
            return
        if not found:
            out.print("No profiles: `jobdeck login --profile NAME --server URL` makes one.")
        for n, p in sorted(found.items()):
            out.print(f"{'*' if n == current else ' '} {escape(n):<16} {escape(p.get('server', '?'))}  "
                      f"{escape(p.get('username') or '(signed out)')}")
    run(body)


@profiles_app.command("use")
def profiles_use(name: str = typer.Argument(..., help="The profile to use from now on")):
    """Use this profile from now on."""
    def body():
        config.use(name)
        out.print(f"Using profile {escape(name)!r}.")
    run(body)


SHELLS = ("bash", "zsh", "fish")


@app.command()
def completion(shell: str = typer.Argument(..., help=f"One of {', '.join(SHELLS)}")):
    """Print the shell completion script, e.g. `eval "$(jobdeck completion bash)"` in ~/.bashrc."""
    def body():
        from typer._completion_shared import get_completion_script

        if shell not in SHELLS:
            raise Failed(f"No completion for {shell!r}; shells: {', '.join(SHELLS)}.")
        print(get_completion_script(prog_name="jobdeck", complete_var="_JOBDECK_COMPLETE", shell=shell))
    run(body)
