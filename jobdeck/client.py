"""A small client of the Jobdeck REST API: requests with the token, problem details
turned into ApiError, fair-use waits on 429, and the Server-Sent Events streams."""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from typing import Any, Iterator, Optional
from urllib.parse import urlsplit, urlunsplit

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


class NotJobdeck(Exception):
    """Something answered, but not a Jobdeck API."""


def normalize(url: str) -> str:
    """A server address as typed: http:// when no scheme is given, no trailing slash."""
    url = (url or "").strip()
    if not url:
        raise NotJobdeck("Give the server's address, e.g. http://localhost:3000.")
    if "://" not in url:
        url = "http://" + url
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise NotJobdeck(f"{url} is not an http:// or https:// address of a Jobdeck server.")
    return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", "")).rstrip("/")


def find_api(url: str) -> str:
    """The base address of the Jobdeck API from any address of its console (a page such
    as …/jobs, the API's own …/api/docs): the longest leading part of the path under
    which /api/health answers as Jobdeck's does."""
    base = normalize(url)
    parts = urlsplit(base)
    segments = [s for s in parts.path.split("/") if s]
    if "api" in segments:
        segments = segments[:segments.index("api")]
    origin = f"{parts.scheme}://{parts.netloc}"
    candidates = ["/".join([origin, *segments[:n]]) for n in range(len(segments), -1, -1)]
    with httpx.Client(headers={"User-Agent": USER_AGENT, "Accept": "application/json"}, timeout=10.0,
                      follow_redirects=True) as http:
        for cand in candidates:
            try:
                r = http.get(cand + "/api/health")
            except httpx.TransportError as exc:
                raise Unreachable(f"Cannot reach the Jobdeck server at {origin} ({exc}).") from None
            try:
                ok = r.status_code == 200 and r.json().get("status") == "ok"
            except (ValueError, AttributeError):
                ok = False
            if ok:
                return cand
    raise NotJobdeck(f"{base} is not a Jobdeck server: no Jobdeck API answers there (at /api/health).")


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

    def request(self, method: str, path: str, *, wait_429: bool = True, **kw) -> httpx.Response:
        """One request; over the fair-use rate (429) it waits and sends it again, unless
        `wait_429` is false (a password, for one: sending a wrong one again helps no one)."""
        for waited in range(MAX_429_WAITS + 1 if wait_429 else 1):
            try:
                r = self.http.request(method, path, **kw)
            except httpx.TransportError as exc:
                raise Unreachable(f"Cannot reach the Jobdeck server at {self.server} ({exc}).") from None
            if r.status_code == 429 and wait_429 and waited < MAX_429_WAITS:
                wait = min(60.0, float(r.headers.get("Retry-After", "5") or 5))
                print(f"Over the fair-use rate limit; waiting {wait:.0f} s.", file=sys.stderr)
                time.sleep(wait)
                continue
            break
        if r.status_code >= 400:
            raise _error(r, self.server)
        return r

    def json(self, r: httpx.Response) -> Any:
        try:
            return r.json()
        except ValueError:
            raise NotJobdeck(f"{self.server} is not a Jobdeck server: it answered {r.request.url.path} with "
                             f"{r.headers.get('content-type') or 'no content type'}, not JSON.") from None

    def get(self, path: str, **kw) -> Any:
        return self.json(self.request("GET", path, **kw))

    def post(self, path: str, **kw) -> Any:
        return self.json(self.request("POST", path, **kw))

    def patch(self, path: str, **kw) -> Any:
        return self.json(self.request("PATCH", path, **kw))

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
                    raise _error(r, self.server)
                if not r.headers.get("content-type", "").startswith("text/event-stream"):
                    raise NotJobdeck(f"{self.server} is not a Jobdeck server: {path} is no event stream.")
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
            yield Event("keep-alive", None)  # the stream is idle: a moment to check the token
        else:
            key, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if key == "event":
                name = value
            elif key == "data":
                data.append(value)
            elif key == "id":
                ident = value


def _error(r: httpx.Response, server: str = "") -> Exception:
    try:
        body = r.json()
    except ValueError:
        # A console page or another web server: an HTML page or a bare 405, not a problem.
        return NotJobdeck(f"{server or 'The server'} is not a Jobdeck API: {r.request.method} "
                          f"{r.request.url.path} answered {r.status_code} "
                          f"{r.reason_phrase or ''} ({r.headers.get('content-type') or 'no content type'}). "
                          f"Give the address of a Jobdeck console, e.g. http://localhost:3000.")
    if not isinstance(body, dict):
        body = {}
    title = body.get("title") or r.reason_phrase or "Error"
    detail = body.get("detail") or r.text[:300] or title
    return ApiError(r.status_code, title, str(detail), body)
