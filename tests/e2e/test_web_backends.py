"""Several web backends and worker hosts, as deployed past one machine: two console
processes (two "web hosts": 127.0.0.2 and 127.0.0.3, on the one port the console's
build names) against one PostgreSQL database and one Redis, with Reflex's tab states in
Redis (JOBDECK_STATE_REDIS_URL), each with a data directory of its own and the signing
key from JOBDECK_SECRET_KEY; and two worker pools on two hosts of their own names (UTS
namespaces, as tests/pools.py starts them).

The backends serve the end-to-end tests' build (`python -m app.serve`, no second
build), so this module asks for the package's `console` and uses its port.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import statistics
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from tests.conftest import ROOT, drop_postgres_database, new_postgres_database
from tests.e2e.conftest import PASSWORDS, _start, _stop
from tests.pools import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.postgresql_only]

WEB_HOSTS = {"a": "127.0.0.2", "b": "127.0.0.3"}
WORKER_HOSTS = ("worker-host-1", "worker-host-2")
SIGN_IN_KEY = "jobdeck_sign_in"  # app.state.base.AuthState.sign_in_value's localStorage name

# When each (job, status) first shows in a tab (as bench/push_latency.py records it).
OBSERVER = """() => {
  window.__seen = window.__seen || {};
  const scan = () => {
    const now = Date.now();
    for (const row of document.querySelectorAll('.job-row')) {
      const key = row.dataset.jobId + '|' + row.dataset.status;
      if (!(key in window.__seen)) window.__seen[key] = now;
    }
  };
  scan();
  new MutationObserver(scan).observe(document.body, {subtree: true, childList: true, attributes: true,
                                                     attributeFilter: ['data-status']});
}"""


@dataclass
class WebBackends:
    port: int
    env: dict[str, str]  # what every host shares
    logs: Path
    web: dict[str, object] = field(default_factory=dict)  # name -> Popen
    pools: list = field(default_factory=list)

    def url(self, name: str, path: str = "/") -> str:
        return f"http://{WEB_HOSTS[name]}:{self.port}{path}"

    def host_env(self, name: str) -> dict[str, str]:
        # A data directory per host: the sign-in key must come from the shared setting.
        return {**self.env, "JOBDECK_DATA_DIR": str(self.logs.parent / f"data-{name}")}

    def start_web(self, name: str) -> None:
        py = str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv").exists() else sys.executable
        proc = _start([py, "-m", "app.serve", "--host", WEB_HOSTS[name]], self.host_env(name),
                      self.logs / f"web-{name}-{len(list(self.logs.glob(f'web-{name}-*')))}.log")
        self.web[name] = proc
        deadline = time.monotonic() + 180
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"console {name} did not start:\n{self.log_tail(f'web-{name}')}")
            try:
                with urllib.request.urlopen(self.url(name, "/sign-in"), timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"console {name} did not answer:\n{self.log_tail(f'web-{name}')}")
            time.sleep(0.3)

    def stop_web(self, name: str) -> None:
        _stop(self.web.pop(name))

    def log_tail(self, prefix: str, lines: int = 40) -> str:
        out = []
        for path in sorted(self.logs.glob(f"{prefix}*")):
            out.append(f"--- {path.name}\n" + "\n".join(path.read_text(errors="replace").splitlines()[-lines:]))
        return "\n".join(out)

    @contextlib.contextmanager
    def domain(self) -> Iterator[None]:
        """The domain layer in this process, on the backends' database and Redis."""
        from app import queues
        from app.db import dispose_engines
        from app.settings import reload_settings

        names = ["JOBDECK_DATA_DIR", "JOBDECK_DATABASE_URL", "JOBDECK_REDIS_URL", "JOBDECK_KEY_PREFIX",
                 "JOBDECK_SECRET_KEY"]
        saved = {k: os.environ.get(k) for k in names}
        os.environ.update({k: self.host_env("a")[k] for k in names})
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


@pytest.fixture(scope="module")
def web_backends(console, redis_server, tmp_path_factory) -> Iterator[WebBackends]:
    work = tmp_path_factory.mktemp("web-backends")
    logs = work / "logs"
    logs.mkdir()
    pg_url = new_postgres_database("jobdeck_webs")
    port = urlsplit(console.base).port
    env = {**console.env}
    for k in ("JOBDECK_DATA_DIR", "REFLEX_BACKEND_HOST", "REFLEX_REDIS_URL"):
        env.pop(k, None)
    env.update({
        "JOBDECK_DATABASE_URL": pg_url,
        # Databases of their own on the tests' Redis: queues and events (with a key
        # prefix of their own), and Reflex's tab states (which take no prefix).
        "JOBDECK_REDIS_URL": f"redis://127.0.0.1:{redis_server.port}/3",
        "JOBDECK_KEY_PREFIX": "jdwebs",
        "JOBDECK_STATE_REDIS_URL": f"redis://127.0.0.1:{redis_server.port}/4",
        "JOBDECK_SECRET_KEY": secrets.token_urlsafe(32),
        "JOBDECK_PORT": str(port),
        "JOBDECK_PENDING_GRACE_S": "5",
    })
    wb = WebBackends(port=port, env=env, logs=logs)
    py = str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv").exists() else sys.executable
    import subprocess

    subprocess.run([py, "-m", "app.manage", "setup"], cwd=ROOT, env=wb.host_env("a"), check=True,
                   capture_output=True)
    try:
        for i, host in enumerate(WORKER_HOSTS):
            # Another machine's pool, as far as Redis and the database can tell: a host name
            # of its own. Both keep house, as the recipe says; a lease in Redis lets one at a time.
            cmd = ["unshare", "--uts", "sh", "-c", 'hostname "$0" && exec "$@"', host, py, "-m", "worker.pool"]
            wb.pools.append(_start(cmd, wb.host_env(f"w{i}"), logs / f"pool-{host}.log"))
        for name in WEB_HOSTS:
            wb.start_web(name)
        yield wb
    finally:
        for name in list(wb.web):
            wb.stop_web(name)
        for p in wb.pools:
            _stop(p)
        drop_postgres_database(pg_url)


def _lodge(wb: WebBackends, n: int = 1, every_s: float = 0.3) -> list[str]:
    """Lodge n short jobs for alice, one every `every_s` (each its own push, as people
    see them), and return their ids."""
    from app import auth, launch

    ids = []
    with wb.domain():
        admin = auth.get_user("admin")
        for i in range(n):
            if i:
                time.sleep(every_s)
            ids.append(launch.launch_job(actor=admin, job_type="SYSTEM", job_subtype="NOOP",
                                         payload={"sleep_s": 0.1}, owner="alice").id)
    return ids


def _jobs(wb: WebBackends, ids: list[str]):
    from app.launch import get_job

    with wb.domain():
        return {j: get_job(j) for j in ids}


def _row(page, job_id: str, status: str = "SUCCEEDED"):
    return page.locator(f".job-row[data-job-id='{job_id}'][data-status={status}]")


def test_two_web_backends_share_sign_ins_pushes_and_tab_state_across_a_restart(browser, web_backends):
    wb = web_backends
    a_ctx, b_ctx = browser.new_context(), browser.new_context()
    tab_a = a_ctx.new_page()
    tab_a.set_default_timeout(30_000)
    tab_a.goto(wb.url("a", "/sign-in?next=/jobs"))
    tab_a.get_by_label("Username").fill("alice")
    tab_a.get_by_label("Password").fill(PASSWORDS["alice"])
    tab_a.get_by_role("button", name="Sign in").click()
    tab_a.wait_for_url(at_host(wb, "a", "/jobs"))
    value = tab_a.evaluate(f"() => localStorage.getItem({json.dumps(SIGN_IN_KEY)})")
    assert value and value.count(".") == 1, value

    # The same sign-in opens the console on B (behind a load balancer both are one
    # origin; here each address is its own, so the browser's stored value is carried
    # over): B checks A's value with the shared key against the shared database.
    b_ctx.add_init_script(f"localStorage.setItem({json.dumps(SIGN_IN_KEY)}, {json.dumps(value)})")
    tab_b = b_ctx.new_page()
    tab_b.set_default_timeout(30_000)
    tab_b.goto(wb.url("b", "/jobs"))
    expect(tab_b.locator(".user-menu")).to_contain_text("alice")
    assert urlsplit(tab_b.url).path.rstrip("/") == "/jobs", tab_b.url

    # Tab A chooses something the database does not hold: the SUCCEEDED filter.
    chip_a = tab_a.locator("[data-count-status=SUCCEEDED]")
    chip_a.click()
    expect(chip_a).to_have_attribute("aria-pressed", "true")
    for tab in (tab_a, tab_b):
        tab.evaluate(OBSERVER)

    # A worker's transitions reach a tab on each backend.
    first = _lodge(wb, 6)
    for jid in first:
        expect(_row(tab_a, jid)).to_be_visible()
        expect(_row(tab_b, jid)).to_be_visible()
    jobs = _jobs(wb, first)
    hosts = {j.worker.rsplit("@", 1)[-1] for j in jobs.values()}
    assert hosts <= set(WORKER_HOSTS), hosts
    _print_latency("before the restart", first, jobs, tab_a, tab_b)

    # Backend A restarts; a job runs meanwhile (its pushes reach B only).
    wb.stop_web("a")
    during = _lodge(wb, 1)
    wait_for(lambda: _jobs(wb, during)[during[0]].status == "SUCCEEDED", timeout=60, message="job during restart")
    expect(_row(tab_b, during[0])).to_be_visible()
    wb.start_web("a")

    # Tab A reconnects by itself, to the new process: what ran meanwhile is shown (its
    # page read the database again), its filter is still chosen (its state lived in
    # Redis), and live pushes come again.
    expect(_row(tab_a, during[0])).to_be_visible(timeout=60_000)
    after = _lodge(wb, 6)
    for jid in after:
        expect(_row(tab_a, jid)).to_be_visible()
        expect(_row(tab_b, jid)).to_be_visible()
    expect(chip_a).to_have_attribute("aria-pressed", "true")
    expect(tab_a.locator(".job-row:not([data-status=SUCCEEDED])")).to_have_count(0)
    expect(tab_a.locator(".user-menu")).to_contain_text("alice")
    _print_latency("after the restart", after, _jobs(wb, after), tab_a, tab_b)

    # Both worker hosts are pools of the one system.
    from app.workers import list_pools

    with wb.domain():
        pool_hosts = {p.host for p in list_pools()}
    assert set(WORKER_HOSTS) <= pool_hosts, pool_hosts
    a_ctx.close()
    b_ctx.close()


def at_host(wb: WebBackends, name: str, path: str):
    import re

    return re.compile(re.escape(wb.url(name, path.rstrip("/"))) + r"/?(\?.*)?$")


def _print_latency(when: str, ids: list[str], jobs: dict, tab_a, tab_b) -> None:
    """Commit of SUCCEEDED (finished_at, stamped in the transaction) -> the row shows it,
    per tab: printed (-s), never asserted."""
    figures = {}
    for name, tab in (("A", tab_a), ("B", tab_b)):
        seen = tab.evaluate("() => window.__seen")
        lat = [seen[f"{j}|SUCCEEDED"] - jobs[j].finished_at.timestamp() * 1000 for j in ids if f"{j}|SUCCEEDED" in seen]
        figures[name] = lat
    print(f"\npush latency {when}, SUCCEEDED commit -> DOM, {len(ids)} jobs: " + "; ".join(
        f"tab {n}: median {statistics.median(v):.0f} ms, max {max(v):.0f} ms" for n, v in figures.items() if v))
