"""A small client of the Jobdeck REST API: requests with the token, problem details
turned into ApiError, fair-use waits on 429, and the Server-Sent Events streams."""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from typing import Any, Iterator, Optional

import httpx

USER_AGENT = "jobdeck-cli/1.0"
MAX_429_WAITS = 3


class ApiError(Exception):
    """The server answered with a problem (status, title, detail)."""

    def __init__(self, status: int, title: str, detail: str, body: Optional[dict] = None):
        super().__init__(f"{status} {title}: {detail}")
        self.status, self.title, self.detail, self.body = status, title, detail, body or {}


class Unreachable(Exception):
    """The server did not answer at all."""


@dataclass
class Event:
    event: str
    data: Any
    id: Optional[str] = None


class Client:
    def __init__(self, server: str, token: Optional[str] = None, *, timeout: float = 30.0):
        self.server = server.rstrip("/")
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.http = httpx.Client(base_url=self.server, headers=headers, timeout=timeout)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- plain requests ------------------------------------------------------------

    def request(self, method: str, path: str, **kw) -> httpx.Response:
        for waited in range(MAX_429_WAITS + 1):
            try:
                r = self.http.request(method, path, **kw)
            except httpx.TransportError as exc:
                raise Unreachable(f"Cannot reach the Jobdeck server at {self.server} ({exc}).") from None
            if r.status_code == 429 and waited < MAX_429_WAITS:
                wait = min(60.0, float(r.headers.get("Retry-After", "5") or 5))
                print(f"Over the fair-use rate limit; waiting {wait:.0f} s.", file=sys.stderr)
                time.sleep(wait)
                continue
            break
        if r.status_code >= 400:
            raise _error(r)
        return r

    def get(self, path: str, **kw) -> Any:
        return self.request("GET", path, **kw).json()

    def post(self, path: str, **kw) -> Any:
        return self.request("POST", path, **kw).json()

    def delete(self, path: str, **kw) -> None:
        self.request("DELETE", path, **kw)

    # --- Server-Sent Events -----------------------------------------------------------

    def events(self, path: str) -> Iterator[Event]:
        """The events of one stream until the server ends it."""
        timeout = httpx.Timeout(10.0, read=90.0)  # the server sends a keep-alive every 15 s
        try:
            with self.http.stream("GET", path, timeout=timeout, headers={"Accept": "text/event-stream"}) as r:
                if r.status_code >= 400:
                    r.read()
                    raise _error(r)
                yield from parse_sse(r.iter_lines())
        except httpx.TransportError as exc:
            raise Unreachable(f"The event stream from {self.server} broke off ({exc}).") from None


def parse_sse(lines: Iterator[str]) -> Iterator[Event]:
    name, data, ident = "message", [], None
    for line in lines:
        if line == "":
            if data:
                raw = "\n".join(data)
                try:
                    value = json.loads(raw)
                except ValueError:
                    value = raw
                yield Event(name, value, ident)
            name, data, ident = "message", [], None
        elif line.startswith(":"):
            continue  # a keep-alive comment
        else:
            key, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if key == "event":
                name = value
            elif key == "data":
                data.append(value)
            elif key == "id":
                ident = value


def _error(r: httpx.Response) -> ApiError:
    try:
        body = r.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    title = body.get("title") or r.reason_phrase or "Error"
    detail = body.get("detail") or r.text[:300] or title
    return ApiError(r.status_code, title, str(detail), body)
