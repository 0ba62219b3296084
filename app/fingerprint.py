"""What a job ran with: the worker's Python and installed distributions as one stable
fingerprint, and the version of the code behind a job type (its distribution's version
and, when the code runs from a git checkout, the commit).

Both are read once per process: a worker's environment does not change under it, and a
job's record then costs no file system walk.
"""

from __future__ import annotations

import hashlib
import importlib.metadata as md
import json
import platform
import re
import socket
import subprocess
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Optional

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "jobdeck"


@dataclass(frozen=True)
class Environment:
    fingerprint: str
    python: str
    implementation: str
    packages: tuple[tuple[str, str], ...]  # (name, version), sorted


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def fingerprint_of(python: str, implementation: str, packages: list[tuple[str, str]]) -> str:
    """sha256 of the Python version and the sorted distributions: the same set anywhere
    gives the same fingerprint."""
    text = json.dumps({"python": python, "implementation": implementation,
                       "packages": sorted([list(p) for p in packages])}, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


@lru_cache(maxsize=1)
def environment() -> Environment:
    found: dict[str, str] = {}
    for d in md.distributions():
        name = d.metadata["Name"] if d.metadata else None
        if name:
            found.setdefault(_canonical(name), d.version or "")
    packages = tuple(sorted(found.items()))
    python, impl = platform.python_version(), sys.implementation.name
    return Environment(fingerprint_of(python, impl, list(packages)), python, impl, packages)


def host() -> str:
    return socket.gethostname()


@lru_cache(maxsize=1)
def git_commit() -> Optional[str]:
    """The commit the code runs from, when it runs from a git checkout."""
    try:
        out = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    commit = out.stdout.strip()
    return commit if out.returncode == 0 and re.fullmatch(r"[0-9a-f]{40}", commit) else None


@lru_cache(maxsize=None)
def _distribution_of(module: str) -> tuple[str, Optional[str]]:
    """The distribution that installs a module, and its version; this project's own
    code (run from its source tree) is the `jobdeck` distribution."""
    top = module.split(".", 1)[0]
    names = md.packages_distributions().get(top) or []
    name = names[0] if names else PACKAGE
    try:
        return name, md.version(name)
    except md.PackageNotFoundError:
        return name, None


def code_version(handler: str) -> dict[str, Any]:
    """The code behind a handler (a dotted path): its distribution, version and commit."""
    name, version = _distribution_of(handler.rpartition(".")[0] or handler)
    return {"handler": handler, "package": name, "version": version,
            "commit": git_commit() if name == PACKAGE else None}
