"""What several web backends are set up with: JOBDECK_STATE_REDIS_URL puts Reflex's tab
states in Redis (checked when read), and `python -m app.serve` refuses to serve a build
that is missing or made for another port, saying what to do."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys

import pytest

from app.settings import reload_settings
from tests.conftest import ROOT


@pytest.fixture
def state_url(monkeypatch):
    monkeypatch.delenv("REFLEX_REDIS_URL", raising=False)

    def config(value: str):
        monkeypatch.setenv("JOBDECK_STATE_REDIS_URL", value)
        reload_settings()
        import rxconfig

        return importlib.reload(rxconfig).config

    yield config
    monkeypatch.delenv("JOBDECK_STATE_REDIS_URL", raising=False)
    reload_settings()
    import rxconfig

    importlib.reload(rxconfig)


def test_tab_states_stay_in_memory_unless_a_state_redis_is_named(state_url):
    cfg = state_url("")
    assert cfg.state_manager_mode == "memory" and not cfg.redis_url


def test_a_state_redis_puts_every_tab_state_there(state_url):
    cfg = state_url("redis://127.0.0.1:6379/4")
    assert cfg.state_manager_mode == "redis" and cfg.redis_url == "redis://127.0.0.1:6379/4"
    # one server process per console process unless the operator says otherwise
    assert os.environ["GRANIAN_WORKERS"]


def test_a_state_redis_that_is_not_a_redis_url_stops_the_start(state_url):
    with pytest.raises(ValueError, match="JOBDECK_STATE_REDIS_URL: 'http://cache:6379' is not a Redis URL"):
        state_url("http://cache:6379")


def _serve(tmp_path, port: int) -> subprocess.CompletedProcess:
    env = {**os.environ, "REFLEX_WEB_WORKDIR": str(tmp_path / "web"), "JOBDECK_PORT": str(port),
           "REFLEX_TELEMETRY_ENABLED": "false", "REFLEX_CHECK_LATEST_VERSION": "false"}
    return subprocess.run([sys.executable, "-m", "app.serve", "--host", "127.0.0.9"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_serve_without_a_build_says_how_to_make_one(tmp_path):
    run = _serve(tmp_path, 3999)
    assert run.returncode == 1
    assert "No built console in" in run.stderr and "reflex run --env prod --single-port" in run.stderr


def test_serve_refuses_a_build_made_for_another_port(tmp_path):
    client = tmp_path / "web" / "build" / "client"
    client.mkdir(parents=True)
    (client / "index.html").write_text("<html></html>")
    (tmp_path / "web" / "env.json").write_text(json.dumps({"EVENT": "ws://localhost:3000/_event"}))
    run = _serve(tmp_path, 3999)
    assert run.returncode == 1
    assert "was built for port 3000, not 3999" in run.stderr, run.stderr
