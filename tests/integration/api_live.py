"""Helpers of the REST API and CLI tests: build_api() served for real by uvicorn on a
free port (in a thread of the test process, so it shares the test's settings), a
reader of its Server-Sent Events, and tokens for the test users."""

from __future__ import annotations

import json
import threading
import time
from contextlib import contextmanager
from typing import Any, Iterable, Iterator, Optional

import httpx
import uvicorn

from tests.conftest import free_port


@contextmanager
def api_client(usernames: Iterable[str]) -> Iterator[Any]:
    """build_api() in a TestClient, with a token for each user: `client.as_(name)` gives
    that user's headers, `client.tokens` the tokens."""
    from fastapi.testclient import TestClient

    from app import auth
    from app.api import build_api

    tokens = {name: auth.create_token(owner=name)[0] for name in usernames}
    with TestClient(build_api(), raise_server_exceptions=False) as client:
        client.as_ = lambda name: {"Authorization": f"Bearer {tokens[name]}"}
        client.tokens = tokens
        yield client


class LiveServer:
    def __init__(self, port: Optional[int] = None):
        from app.api import build_api

        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # Open event streams are cut after 1 s when the server stops, as a restart would.
        self.server = uvicorn.Server(uvicorn.Config(build_api(), host="127.0.0.1", port=self.port,
                                                    log_level="warning", lifespan="off",
                                                    timeout_graceful_shutdown=1))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> "LiveServer":
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(15)


def token_for(username: str) -> str:
    from app import auth

    return auth.create_token(owner=username, name="test")[0]


class EventReader:
    """Reads one SSE stream in a thread; `events` fills as they arrive."""

    def __init__(self, url: str, token: str):
        self.url, self.token = url, token
        self.events: list[tuple[str, dict]] = []
        self.status: Optional[int] = None
        self.error: Optional[BaseException] = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> "EventReader":
        self.thread.start()
        return self

    def _run(self) -> None:
        try:
            with httpx.stream("GET", self.url, headers={"Authorization": f"Bearer {self.token}"},
                              timeout=httpx.Timeout(10, read=60)) as r:
                self.status = r.status_code
                name, data = None, []
                for line in r.iter_lines():
                    if line.startswith("event:"):
                        name = line[6:].strip()
                    elif line.startswith("data:"):
                        data.append(line[5:].strip())
                    elif line == "" and name:
                        self.events.append((name, json.loads("\n".join(data))))
                        name, data = None, []
        except BaseException as exc:  # reported by the test
            self.error = exc

    def wait_for(self, name: str, count: int = 1, timeout: float = 20) -> list[tuple[str, dict]]:
        deadline = time.monotonic() + timeout
        while sum(1 for n, _ in self.events if n == name) < count:
            if self.error:
                raise self.error
            if time.monotonic() > deadline:
                raise AssertionError(f"no {name!r} event within {timeout} s; got {self.events}")
            time.sleep(0.02)
        return self.events

    def join(self, timeout: float = 30) -> list[tuple[str, dict]]:
        self.thread.join(timeout)
        if self.thread.is_alive():
            raise AssertionError(f"the stream did not end within {timeout} s; got {self.events}")
        if self.error:
            raise self.error
        return self.events
