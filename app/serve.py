"""Serve the console that is already built, without building it again.

`reflex run --env prod --single-port` compiles the pages and builds the frontend into
the web directory (`.web`, or REFLEX_WEB_WORKDIR) every time it starts, then serves
page, websocket and /api on one port. A second console process on the same host, or a
restart, needs none of that: `python -m app.serve` serves what the first one built, in
seconds, and never rewrites the files another process is serving.

The built frontend names the port its websocket connects to (Reflex puts the backend
URL, `http://localhost:<JOBDECK_PORT>`, into the build; only the host name follows the
page). So every process serving one build listens on that same port: several processes
on one machine each take an address of their own (`--host 127.0.0.2`), several hosts
the same port, and behind an https load balancer the port is the balancer's.
"""

from __future__ import annotations

import argparse
import os
import sys


def main(argv: list[str] | None = None) -> int:
    from app.settings import get_settings

    parser = argparse.ArgumentParser(prog="python -m app.serve", description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default=os.environ.get("REFLEX_BACKEND_HOST", "0.0.0.0"),
                        help="address to listen on (default: all, or REFLEX_BACKEND_HOST)")
    parser.add_argument("--loglevel", default="warning", choices=["debug", "info", "warning", "error"])
    args = parser.parse_args(argv)
    port = get_settings().port

    from reflex_base import constants
    from reflex_base.config import get_config
    from reflex_base.environment import environment
    from reflex.utils import exec, prerequisites

    config = get_config()
    static = prerequisites.get_web_dir() / constants.Dirs.STATIC / config.frontend_path.strip("/")
    if not (static / "index.html").exists():
        print(f"No built console in {static}: start one with `reflex run --env prod --single-port` "
              f"(./scripts/run) first, on port {port}.", file=sys.stderr)
        return 1
    built_for = _built_port(prerequisites.get_web_dir() / constants.Dirs.ENV_JSON)
    if built_for is not None and built_for != port:
        print(f"The console in {static} was built for port {built_for}, not {port}: its pages would "
              f"open their websocket on port {built_for}. Set JOBDECK_PORT={built_for} (and --host), "
              f"or build one for {port} in its own REFLEX_WEB_WORKDIR.", file=sys.stderr)
        return 1
    environment.REFLEX_ENV_MODE.set(constants.Env.PROD)
    environment.REFLEX_SKIP_COMPILE.set(True)
    exec.run_backend_prod(args.host, port, constants.LogLevel(args.loglevel), mount_frontend_compiled_app=True)
    return 0


def _built_port(env_json) -> int | None:
    """The port the built frontend's websocket URL names, if it can be read."""
    import json
    from urllib.parse import urlsplit

    try:
        return urlsplit(json.loads(env_json.read_text())["EVENT"]).port
    except (OSError, ValueError, KeyError, TypeError):
        return None


if __name__ == "__main__":
    raise SystemExit(main())
