"""The console end to end: the real app (`reflex run --env prod --single-port`) on a free
port, on a temporary SQLite database and the tests' own redis-server, with the demo
users and items seeded and a real worker pool; driven in Debian's Chromium.

The app is built and started once for the whole e2e package (the production build
takes about a minute the first time, 15-20 s after) and stopped when the package is
done, so the rest of the suite runs without it.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import pytest

from tests.conftest import ROOT, TEST_DB, drop_postgres_database, free_port, new_postgres_database

ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
START_TIMEOUT_S = 420
PASSWORDS = {"admin": "jobdeck-admin", "alice": "jobdeck-alice", "bob": "jobdeck-bob"}

@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not Path(CHROMIUM).exists():
        raise RuntimeError("Debian's chromium is not installed: run ./scripts/test, which installs it")
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


def _tool_env() -> dict[str, str]:
    """What scripts/lib.sh exports for Reflex, for a pytest started by hand."""
    tools = ROOT / ".tools"
    return {"REFLEX_TELEMETRY_ENABLED": "false", "REFLEX_CHECK_LATEST_VERSION": "false",
            "REFLEX_DIR": str(tools / "reflex"), "BUN_INSTALL_CACHE_DIR": str(tools / "bun-cache"),
            "REFLEX_BUN_PATH": str(tools / "node_modules" / "bun" / "bin" / "bun.exe")}


@dataclass
class Console:
    base: str
    env: dict[str, str]
    logs: Path
    procs: list[subprocess.Popen] = field(default_factory=list)

    def url(self, path: str = "/") -> str:
        return self.base + path

    @contextlib.contextmanager
    def domain(self, **overrides: str) -> Iterator[None]:
        """Use the domain layer in this process against the console's database and
        Redis (to arrange what a person could not do by clicking, e.g. 30 old jobs)."""
        from app import queues
        from app.db import dispose_engines
        from app.settings import reload_settings

        keys = ["JOBDECK_DATA_DIR", "JOBDECK_DATABASE_URL", "JOBDECK_REDIS_URL", "JOBDECK_KEY_PREFIX",
                "JOBDECK_SECRET_KEY"]
        saved = {k: os.environ.get(k) for k in keys}
        os.environ.update({k: self.env[k] for k in keys})
        os.environ.update(overrides)
        dispose_engines()
        queues.reset_connections()
        reload_settings()
        try:
            yield
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
            dispose_engines()
            queues.reset_connections()
            reload_settings()

    @contextlib.contextmanager
    def paused(self, backend: str) -> Iterator[None]:
        """The backend set to 0 workers, as an admin pauses it, until its running workers
        have stopped; put back as it was afterwards. Jobs lodged meanwhile wait PENDING,
        so a page opened on them sees what follows arrive live."""
        from app import auth
        from app.backends import backend_config, forget_cached, update_backend
        from app.workers import list_workers

        with self.domain():
            forget_cached()
            before = backend_config(backend).max_workers
            update_backend(actor=auth.get_user("admin"), name=backend, max_workers=0)
            deadline = time.monotonic() + 30
            while [w for w in list_workers(backend=backend) if w.alive]:
                assert time.monotonic() < deadline, f"the workers of {backend} did not stop when paused"
                time.sleep(0.2)
        try:
            yield
        finally:
            with self.domain():
                update_backend(actor=auth.get_user("admin"), name=backend, max_workers=before or 2)

    def log_tail(self, name: str, lines: int = 40) -> str:
        path = self.logs / name
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""


def _die_with_parent() -> None:
    """In the child: stop when the process that started it dies (a killed test run
    leaves no server behind)."""
    import ctypes

    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@contextlib.contextmanager
def web_build_lock(timeout_s: float = 1200):
    """One console at a time builds into and serves from the shared .web directory:
    a second test run or benchmark waits here for the first to finish."""
    import fcntl

    (ROOT / ".web").mkdir(exist_ok=True)
    with open(ROOT / ".web" / ".jobdeck.lock", "w") as f:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise RuntimeError("another console (a test run or a benchmark) holds .web/.jobdeck.lock")
                time.sleep(1)
        yield


def _start(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    # Own process group: stopping it stops the workers and the web server's children too.
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
                            start_new_session=True, preexec_fn=_die_with_parent)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)


@pytest.fixture(scope="package")
def console(redis_server, tmp_path_factory) -> Iterator[Console]:
    if redis_server.proc is None or redis_server.proc.poll() is not None:
        redis_server.start()
    work = tmp_path_factory.mktemp("console")
    pg_url = new_postgres_database("jobdeck_console") if TEST_DB == "postgresql" else None
    logs = work / "logs"
    logs.mkdir()
    port = free_port()
    env = {**os.environ, **_tool_env()}
    env.update({
        "JOBDECK_DATA_DIR": str(work / "data"),
        "JOBDECK_DATABASE_URL": pg_url or f"sqlite:///{work / 'data' / 'jobdeck.db'}",
        # Database 1 and a prefix of their own: other tests flush database 0.
        "JOBDECK_REDIS_URL": f"redis://127.0.0.1:{redis_server.port}/1",
        "JOBDECK_KEY_PREFIX": "jdtest",
        "JOBDECK_SECRET_KEY": secrets.token_urlsafe(32),
        "JOBDECK_PORT": str(port),
        # 127.0.0.1 only: other addresses of the machine stay free for more console
        # processes serving this build on its port (tests/e2e/test_web_backends.py).
        "REFLEX_BACKEND_HOST": "127.0.0.1",
        "JOBDECK_PENDING_GRACE_S": "3600",  # the cancel test keeps a job pending on purpose
        "JOBDECK_STUCK_AFTER_S": "3",  # a job on a paused backend shows its warning soon
        "JOBDECK_CORS_ORIGINS": "https://partner.example",  # the one other site allowed in
        "PYTHONUNBUFFERED": "1",
    })
    py = str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv").exists() else sys.executable
    subprocess.run([py, "-m", "app.manage", "setup"], cwd=ROOT, env=env, check=True, capture_output=True)
    c = Console(base=f"http://127.0.0.1:{port}", env=env, logs=logs)
    lock = web_build_lock()
    lock.__enter__()
    c.procs.append(_start([py, "-m", "worker.pool"], env, logs / "pool.log"))
    reflex = str(Path(py).parent / "reflex")
    web = _start([reflex, "run", "--env", "prod", "--single-port", "--loglevel", "warning"], env, logs / "web.log")
    c.procs.append(web)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if web.poll() is not None:
                raise RuntimeError(f"the console did not start:\n{c.log_tail('web.log')}")
            try:
                with urllib.request.urlopen(c.url("/sign-in"), timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the console did not answer in {START_TIMEOUT_S} s:\n{c.log_tail('web.log')}")
            time.sleep(0.5)
        yield c
    finally:
        for p in reversed(c.procs):
            _stop(p)
        lock.__exit__(None, None, None)
        if pg_url:
            drop_postgres_database(pg_url)


def shot(page, name: str) -> None:
    """Keep a screenshot of the page as a test artefact."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{re.sub(r'[^a-z0-9_-]+', '-', name.lower())}.png"), full_page=True)


def at(console: Console, path: str) -> re.Pattern:
    """The URL of a page, with or without the trailing slash a static build adds."""
    return re.compile(re.escape(console.url(path.rstrip("/"))) + r"/?(\?.*)?$")


def sign_in(page, console: Console, username: str = "alice", path: str = "/jobs", password: str = "") -> None:
    page.goto(console.url(f"/sign-in?next={path}"))
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password or PASSWORDS[username])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(at(console, path.split("?")[0]))


def new_user(console: Console, prefix: str) -> tuple[str, str]:
    """A user of the test's own (a fresh, empty jobs panel): (username, password)."""
    from app import auth

    username, password = f"{prefix}-{secrets.token_hex(3)}", secrets.token_urlsafe(12)
    with console.domain():
        auth.create_user(username=username, password=password)
    return username, password


@pytest.fixture
def tab(browser):
    """Opens tabs, each in a browser context of its own (each person signed in apart)."""
    contexts = []

    def open_tab():
        ctx = browser.new_context()
        contexts.append(ctx)
        page = ctx.new_page()
        page.set_default_timeout(20_000)
        return page

    yield open_tab
    for ctx in contexts:
        ctx.close()


@pytest.fixture
def alice_page(page, console):
    page.set_default_timeout(15_000)
    sign_in(page, console, "alice")
    return page


def pytest_collection_modifyitems(config, items):
    # The first e2e test also waits for the console's build (about a minute, longer on a
    # busy machine, or behind another run holding .web): give e2e tests a wider limit.
    for item in items:
        if "tests/e2e/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.timeout(900))
