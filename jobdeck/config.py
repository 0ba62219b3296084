"""Where the command-line client keeps its servers and API tokens: $JOBDECK_CONFIG, or
config.json under $XDG_CONFIG_HOME/jobdeck (~/.config/jobdeck), readable by its owner
only. It holds named profiles (one server and token each) and which one is in use;
`--profile NAME` or JOBDECK_PROFILE picks another for one command, and JOBDECK_SERVER
and JOBDECK_TOKEN override the profile's server and token.

A file of the earlier flat form ({"server", "token", ...}) reads as the profile
"default"."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Optional

DEFAULT_SERVER = "http://localhost:3000"
DEFAULT_PROFILE = "default"

# Set by the --profile option for the one command it runs.
chosen: Optional[str] = None


class ConfigProblem(Exception):
    """The config file cannot be used (one line for the person)."""


def path() -> Path:
    if os.environ.get("JOBDECK_CONFIG"):
        return Path(os.environ["JOBDECK_CONFIG"]).expanduser()
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "jobdeck" / "config.json"


def _read() -> dict[str, Any]:
    p = path()
    try:
        data = json.loads(p.read_text())
    except FileNotFoundError:
        return {"profiles": {}}
    except OSError as e:
        raise ConfigProblem(f"Cannot read the config file {p}: {e.strerror}.") from None
    except ValueError:
        raise ConfigProblem(f"The config file {p} is not valid JSON; remove it and run `jobdeck login` again.") \
            from None
    if not isinstance(data, dict):
        raise ConfigProblem(f"The config file {p} is not a JSON object; remove it and run `jobdeck login` again.")
    if "profiles" not in data:  # the earlier flat form
        flat = {k: v for k, v in data.items() if k in ("server", "token", "token_id", "username", "role")}
        data = {"profile": DEFAULT_PROFILE, "profiles": {DEFAULT_PROFILE: flat} if flat else {}}
    if not isinstance(data.get("profiles"), dict):
        raise ConfigProblem(f"The config file {p} has no valid profiles; remove it and run `jobdeck login` again.")
    return data


def _write(data: dict[str, Any]) -> Path:
    """Atomically, with mode 0600: the tokens are secrets."""
    p = path()
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=".config-")
    except OSError as e:
        raise ConfigProblem(f"Cannot write the config file {p}: {e.strerror}.") from None
    try:
        with os.fdopen(fd, "w") as f:
            os.fchmod(f.fileno(), 0o600)
            json.dump(data, f, indent=2)
        os.replace(tmp, p)
    except BaseException:
        os.unlink(tmp)
        raise
    return p


def active_name(data: Optional[dict[str, Any]] = None) -> str:
    if chosen:
        return chosen
    if os.environ.get("JOBDECK_PROFILE"):
        return os.environ["JOBDECK_PROFILE"]
    data = data if data is not None else _read()
    return data.get("profile") or DEFAULT_PROFILE


def load() -> dict[str, Any]:
    """The profile in use, with the environment's overrides."""
    data = _read()
    prof = dict(data["profiles"].get(active_name(data)) or {})
    if os.environ.get("JOBDECK_SERVER"):
        prof["server"] = os.environ["JOBDECK_SERVER"]
    if os.environ.get("JOBDECK_TOKEN"):
        prof["token"] = os.environ["JOBDECK_TOKEN"]
        prof.pop("token_id", None)
        prof.pop("role", None)
    return prof


def save(profile: dict[str, Any], name: Optional[str] = None) -> Path:
    """Keep `profile` under `name` (default: the one in use); the first one kept is in use."""
    data = _read()
    name = name or active_name(data)
    data["profiles"][name] = profile
    data.setdefault("profile", name)
    return _write(data)


def update(**fields: Any) -> None:
    """Change fields of the profile in use (it must exist)."""
    data = _read()
    name = active_name(data)
    if name in data["profiles"]:
        data["profiles"][name].update(fields)
        _write(data)


def forget(name: Optional[str] = None) -> bool:
    """Remove a profile (default: the one in use); the file goes with its last profile."""
    data = _read()
    name = name or active_name(data)
    if name not in data["profiles"]:
        return False
    del data["profiles"][name]
    if not data["profiles"]:
        path().unlink(missing_ok=True)
        return True
    if data.get("profile") == name:
        data["profile"] = sorted(data["profiles"])[0]
    _write(data)
    return True


def profiles() -> tuple[str, dict[str, dict[str, Any]]]:
    data = _read()
    return active_name(data), data["profiles"]


def use(name: str) -> None:
    data = _read()
    if name not in data["profiles"]:
        known = ", ".join(sorted(data["profiles"])) or "none yet"
        raise ConfigProblem(f"No profile {name!r} (profiles: {known}); `jobdeck login --profile {name}` makes it.")
    data["profile"] = name
    _write(data)
