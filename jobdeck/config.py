"""Where the command-line client keeps its server address and API token:
$JOBDECK_CONFIG, or config.json under $XDG_CONFIG_HOME/jobdeck (~/.config/jobdeck).
The file is readable by its owner only. JOBDECK_SERVER and JOBDECK_TOKEN override it."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

DEFAULT_SERVER = "http://localhost:3000"


def path() -> Path:
    if os.environ.get("JOBDECK_CONFIG"):
        return Path(os.environ["JOBDECK_CONFIG"]).expanduser()
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "jobdeck" / "config.json"


def load() -> dict[str, Any]:
    p = path()
    try:
        data = json.loads(p.read_text())
    except FileNotFoundError:
        data = {}
    except ValueError:
        raise SystemExit(f"The config file {p} is not valid JSON; remove it and run `jobdeck login` again.")
    if os.environ.get("JOBDECK_SERVER"):
        data["server"] = os.environ["JOBDECK_SERVER"]
    if os.environ.get("JOBDECK_TOKEN"):
        data["token"] = os.environ["JOBDECK_TOKEN"]
        data.pop("token_id", None)
    return data


def save(data: dict[str, Any]) -> Path:
    """Write atomically with mode 0600: the token is a secret."""
    p = path()
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=".config-")
    try:
        with os.fdopen(fd, "w") as f:
            os.fchmod(f.fileno(), 0o600)
            json.dump(data, f, indent=2)
        os.replace(tmp, p)
    except BaseException:
        os.unlink(tmp)
        raise
    return p


def forget() -> bool:
    try:
        path().unlink()
        return True
    except FileNotFoundError:
        return False
