"""Backend settings as the pool and the runner use them: the most workers of a backend,
how long an idle worker waits before it stops, and the time limit of its jobs. Read
from the Backend table (defaults for a backend without a row) and kept a few seconds,
so a worker does not read the table for every job.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Iterable, Optional

from sqlmodel import select

from app.db import session
from app.jobtypes import BACKENDS, spec_for
from app.models import Backend
from app.settings import get_settings

CACHE_S = 5.0
DEFAULT_IDLE_TIMEOUT_S = 120

_lock = threading.Lock()
_cache: tuple[float, str, dict[str, "BackendConfig"]] = (0.0, "", {})


@dataclass(frozen=True)
class BackendConfig:
    name: str
    max_workers: int
    idle_timeout_s: int
    job_timeout_s: Optional[int]  # None: each job type's own limit applies
    configured: bool  # False: no Backend row, the defaults apply


def _default(name: str) -> BackendConfig:
    return BackendConfig(name, get_settings().workers, DEFAULT_IDLE_TIMEOUT_S, None, False)


def backend_configs(*, refresh: bool = False) -> dict[str, BackendConfig]:
    """Every backend a job type names or an admin configured, by name."""
    global _cache
    url = get_settings().database_url
    with _lock:
        at, cached_url, configs = _cache
        if not refresh and cached_url == url and time.monotonic() - at < CACHE_S:
            return configs
    with session() as s:
        rows = list(s.exec(select(Backend)))
    configs = {b: _default(b) for b in BACKENDS}
    for r in rows:
        configs[r.name] = BackendConfig(r.name, max(0, r.max_workers), max(1, r.idle_timeout_s),
                                        r.job_timeout_s if r.job_timeout_s and r.job_timeout_s > 0 else None,
                                        True)
    with _lock:
        _cache = (time.monotonic(), url, configs)
    return configs


def backend_config(name: str) -> BackendConfig:
    return backend_configs().get(name) or _default(name)


def forget_cached() -> None:
    """Read the table again on next use (after an admin changed a backend)."""
    global _cache
    with _lock:
        _cache = (0.0, "", {})


def time_limit(*, job_type: str, job_subtype: str, backend: Optional[str] = None) -> int:
    """Seconds a job of this type may run: its type's limit, capped by its backend's."""
    spec = spec_for(job_type, job_subtype)
    cap = backend_config(backend or spec.backend).job_timeout_s
    return min(spec.timeout_s, cap) if cap else spec.timeout_s


def served(names: Optional[Iterable[str]] = None) -> list[str]:
    """The backends a pool serves: the ones named, or every known backend."""
    known = backend_configs()
    if names:
        return sorted(set(names))
    return sorted(known)
