"""Every setting Jobdeck reads from the environment, read in this one place.

| variable | meaning | default |
|---|---|---|
| JOBDECK_DATABASE_URL | SQLAlchemy URL of the job database | sqlite:///<data dir>/jobdeck.db |
| JOBDECK_REDIS_URL | Redis for queues and events (not Reflex's own state) | redis://127.0.0.1:6379/0 |
| JOBDECK_STATE_REDIS_URL | Redis for the console's tab states (Reflex's state manager); set it on every web backend when more than one runs, so a tab's state outlives its process and any backend can load it. Empty: each process keeps its tabs in memory | (empty) |
| JOBDECK_DATA_DIR | where the SQLite file and job files are kept | ./data |
| JOBDECK_KEY_PREFIX | prefix of every Redis key and channel Jobdeck uses | jobdeck |
| JOBDECK_WORKERS | most workers of a backend that has no configuration row (a row's max_workers wins) | 2 |
| JOBDECK_PORT | port the web app, websocket and /api answer on | 3000 |
| JOBDECK_PENDING_GRACE_S | seconds a PENDING job may be missing from its queue before the reconciler enqueues it again | 5 |
| JOBDECK_NOTICE_AFTER_S | a job, batch or pipeline run that took at least this many seconds tells its owner's console tabs that do not show it when it ends | 5 |
| JOBDECK_API_RATE_LIMIT | REST requests per API token in a rate window (fair use); 0 turns the limit off | 600 |
| JOBDECK_RATE_WINDOW_S | the sliding window of every rate limit (API requests, password tries), in seconds | 60 |
| JOBDECK_PASSWORD_TRIES | wrong passwords for one username from one client address in a rate window (console and POST /api/tokens together) | 10 |
| JOBDECK_PASSWORD_TRIES_WIDE | wrong passwords for one username from all addresses, and from one address for all usernames, in a rate window; an address the user signed in from lately is not held by it | 100 |
| JOBDECK_TRUSTED_PROXIES | addresses or networks (comma-separated, e.g. 127.0.0.1,10.0.0.0/8) of reverse proxies whose X-Forwarded-For names the client; empty: the peer is the client | (empty) |
| JOBDECK_API_MAX_BODY_BYTES | largest REST request body accepted | 10485760 |
| JOBDECK_SECRET_KEY | key that signs console sign-ins; set the same value on every web backend | a random key kept in <data dir>/secret_key |
| JOBDECK_SESSION_DAYS | days a console sign-in lasts (unless signed out or ended earlier) | 14 |
| JOBDECK_HEARTBEAT_S | seconds between two heartbeats of a worker | 2 |
| JOBDECK_WORKER_TTL_S | seconds without a heartbeat after which a worker counts as gone and its jobs are marked CRASHED | 20 |
| JOBDECK_STUCK_AFTER_S | seconds a job may wait PENDING with no worker able to take it before it carries a warning | 60 |
| JOBDECK_DB_WAIT_S | seconds a worker holds a job's transition while the database does not answer (a restart, a failover), trying again, before it gives up and leaves the job to the reaper | 120 |
| JOBDECK_STOP_GRACE_S | seconds a stopping pool lets running jobs finish before it halts them (they end CRASHED and are retried by their policy) | 10 |
| JOBDECK_MAX_UPLOAD_BYTES | largest file a pipeline run takes (console or REST); keep it below JOBDECK_API_MAX_BODY_BYTES | 8388608 |
| JOBDECK_MAX_ZIP_BYTES | largest total of a pipeline run's files its zip download holds (413 past it) | 536870912 |
| JOBDECK_CORS_ORIGINS | other sites (origins such as https://app.example.org, comma-separated) whose pages may call the API and console with credentials | none |
| JOBDECK_SMTP_HOST, JOBDECK_SMTP_PORT | the mail server that sends "your run has ended" emails (app.notify) | localhost, 25 |
| JOBDECK_SMTP_USER, JOBDECK_SMTP_PASSWORD | its login, when it asks for one | none |
| JOBDECK_SMTP_FROM | the sender of those emails | jobdeck@localhost |
| JOBDECK_SMTP_STARTTLS | 1 to switch to TLS (STARTTLS) before logging in and sending | 0 |
| JOBDECK_METRICS_KEEP_DAYS | days the per-minute metrics (finished jobs, queue waits, failures by worker, workers busy and idle, each owner's jobs) are kept for the charts (the running totals are kept always, a gone worker's with its last minute); 0 keeps them forever | 2 |
| JOBDECK_METRICS_TOKEN | a bearer token Prometheus may read GET /metrics with (admins' API tokens may always); empty: admins' tokens only | (empty) |
| JOBDECK_BULK_CHUNK | jobs a bulk action over a filter reads and acts on per chunk (app.bulk_actions) | 500 |
| JOBDECK_PUBLIC_URL | the console's address as people reach it, the base of the links in emails | http://localhost:<JOBDECK_PORT> |
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    database_url: str
    redis_url: str
    data_dir: Path
    key_prefix: str
    workers: int
    port: int
    pending_grace_s: float
    notice_after_s: float = 5.0
    api_rate_limit: int = 600
    rate_window_s: float = 60.0
    password_tries: int = 10
    password_tries_wide: int = 100
    trusted_proxies: tuple[str, ...] = ()
    api_max_body_bytes: int = 10 * 1024 * 1024
    secret_key: str = ""
    session_days: float = 14
    heartbeat_s: float = 2.0
    worker_ttl_s: float = 20.0
    stuck_after_s: float = 60.0
    stop_grace_s: float = 10.0
    db_wait_s: float = 120.0
    max_upload_bytes: int = 8 * 1024 * 1024
    max_zip_bytes: int = 512 * 1024 * 1024
    retain_days: float = 0.0
    retain_days_by_type: str = ""
    metrics_keep_days: float = 2.0
    metrics_token: str = ""
    cors_origins: tuple[str, ...] = ()
    state_redis_url: str = ""
    queue_hog_size: int = 10
    queue_hard_limit: int = 15
    smtp_host: str = "localhost"
    smtp_port: int = 25
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_from: str = "jobdeck@localhost"
    smtp_starttls: bool = False
    public_url: str = ""
    bulk_chunk: int = 500

    @property
    def files_dir(self) -> Path:
        return self.data_dir / "files"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    data_dir = Path(os.environ.get("JOBDECK_DATA_DIR", "data")).resolve()
    return Settings(
        database_url=os.environ.get("JOBDECK_DATABASE_URL") or f"sqlite:///{data_dir / 'jobdeck.db'}",
        redis_url=os.environ.get("JOBDECK_REDIS_URL", "redis://127.0.0.1:6379/0"),
        data_dir=data_dir,
        key_prefix=os.environ.get("JOBDECK_KEY_PREFIX", "jobdeck"),
        workers=int(os.environ.get("JOBDECK_WORKERS", "2")),
        port=int(os.environ.get("JOBDECK_PORT", "3000")),
        pending_grace_s=float(os.environ.get("JOBDECK_PENDING_GRACE_S", "5")),
        notice_after_s=float(os.environ.get("JOBDECK_NOTICE_AFTER_S", "5")),
        api_rate_limit=int(os.environ.get("JOBDECK_API_RATE_LIMIT", "600")),
        rate_window_s=float(os.environ.get("JOBDECK_RATE_WINDOW_S", "60")),
        password_tries=int(os.environ.get("JOBDECK_PASSWORD_TRIES", "10")),
        password_tries_wide=int(os.environ.get("JOBDECK_PASSWORD_TRIES_WIDE", "100")),
        trusted_proxies=_networks("JOBDECK_TRUSTED_PROXIES"),
        api_max_body_bytes=int(os.environ.get("JOBDECK_API_MAX_BODY_BYTES", str(10 * 1024 * 1024))),
        secret_key=os.environ.get("JOBDECK_SECRET_KEY", ""),
        session_days=float(os.environ.get("JOBDECK_SESSION_DAYS", "14")),
        heartbeat_s=float(os.environ.get("JOBDECK_HEARTBEAT_S", "2")),
        worker_ttl_s=float(os.environ.get("JOBDECK_WORKER_TTL_S", "20")),
        stuck_after_s=float(os.environ.get("JOBDECK_STUCK_AFTER_S", "60")),
        stop_grace_s=float(os.environ.get("JOBDECK_STOP_GRACE_S", "10")),
        db_wait_s=float(os.environ.get("JOBDECK_DB_WAIT_S", "120")),
        max_upload_bytes=int(os.environ.get("JOBDECK_MAX_UPLOAD_BYTES", str(8 * 1024 * 1024))),
        max_zip_bytes=int(os.environ.get("JOBDECK_MAX_ZIP_BYTES", str(512 * 1024 * 1024))),
        retain_days=float(os.environ.get("JOBDECK_RETAIN_DAYS", "0")),
        retain_days_by_type=os.environ.get("JOBDECK_RETAIN_DAYS_BY_TYPE", ""),
        metrics_keep_days=float(os.environ.get("JOBDECK_METRICS_KEEP_DAYS", "2")),
        metrics_token=os.environ.get("JOBDECK_METRICS_TOKEN", "").strip(),
        cors_origins=parse_origins(os.environ.get("JOBDECK_CORS_ORIGINS", "")),
        state_redis_url=_redis_url("JOBDECK_STATE_REDIS_URL"),
        queue_hog_size=_count("JOBDECK_QUEUE_HOG_SIZE", 10),
        queue_hard_limit=_count("JOBDECK_QUEUE_HARD_LIMIT", 15),
        smtp_host=os.environ.get("JOBDECK_SMTP_HOST", "localhost"),
        smtp_port=int(os.environ.get("JOBDECK_SMTP_PORT", "25")),
        smtp_user=os.environ.get("JOBDECK_SMTP_USER", ""),
        smtp_password=os.environ.get("JOBDECK_SMTP_PASSWORD", ""),
        smtp_from=os.environ.get("JOBDECK_SMTP_FROM", "jobdeck@localhost"),
        smtp_starttls=os.environ.get("JOBDECK_SMTP_STARTTLS", "0").strip().lower() in ("1", "true", "yes", "on"),
        bulk_chunk=max(1, min(5000, _count("JOBDECK_BULK_CHUNK", 500))),
        public_url=(os.environ.get("JOBDECK_PUBLIC_URL", "").strip().rstrip("/")
                    or f"http://localhost:{int(os.environ.get('JOBDECK_PORT', '3000'))}"),
    )


def _redis_url(name: str) -> str:
    """A Redis URL or empty, checked now: Reflex would only refuse it at its first tab."""
    url = os.environ.get(name, "").strip()
    if url and not url.startswith(("redis://", "rediss://", "unix://")):
        raise ValueError(f"{name}: {url!r} is not a Redis URL (redis://, rediss:// or unix://)")
    return url


def _count(name: str, default: int) -> int:
    """A limit that is a whole number from 0 (0 turns it off); a typo stops the start."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name}: {raw!r} is not a whole number") from None
    if value < 0:
        raise ValueError(f"{name}: {value} is below 0 (0 turns the limit off)")
    return value


def _networks(name: str) -> tuple[str, ...]:
    """A comma-separated list of addresses or networks, checked now: a typo must stop the
    start, not quietly trust no proxy (or the wrong one)."""
    import ipaddress

    out = []
    for part in os.environ.get(name, "").split(","):
        if part.strip():
            try:
                out.append(str(ipaddress.ip_network(part.strip(), strict=False)))
            except ValueError:
                raise ValueError(f"{name}: {part.strip()!r} is not an address or network") from None
    return tuple(out)


_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.\-]+(:[0-9]{1,5})?$|^https?://\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?$")


def parse_origins(text: str) -> tuple[str, ...]:
    """Comma-separated origins, each scheme://host[:port]. A wildcard is refused: with
    credentials allowed it would let every site act as the signed-in person."""
    out = []
    for part in (p.strip().rstrip("/") for p in text.split(",")):
        if not part:
            continue
        if not _ORIGIN.match(part):
            raise ValueError(f"JOBDECK_CORS_ORIGINS: {part!r} is not an origin such as "
                             f"https://app.example.org (no wildcard, path or spaces).")
        out.append(part.lower())
    return tuple(dict.fromkeys(out))


def reload_settings() -> Settings:
    """Forget the cached settings (tests change the environment between runs)."""
    get_settings.cache_clear()
    return get_settings()
