"""What the running console (one port: pages, assets, websocket, /api) tells browsers:
no framing, no sniffing, no referrer to other sites; CORS only for the configured
origin (https://partner.example here), the websocket only from its own page or that
origin; HEAD on the API answers as GET; and a sign-in never sends anyone off-site."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import PASSWORDS, at

pytestmark = pytest.mark.e2e

SECURITY = {"x-frame-options": "DENY", "content-security-policy": "frame-ancestors 'none'",
            "x-content-type-options": "nosniff", "referrer-policy": "same-origin"}


def fetch(console, path: str, method: str = "GET", headers: dict | None = None):
    req = urllib.request.Request(console.url(path), method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=20) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()


@pytest.mark.parametrize("path", ["/sign-in", "/jobs", "/favicon.svg", "/no-such-page", "/api/health",
                                  "/api/openapi.json", "/api/docs", "/api/jobs"])
def test_every_answer_carries_the_security_headers(console, path):
    status, headers, _ = fetch(console, path)
    assert status < 500
    for name, value in SECURITY.items():
        assert headers.get(name) == value, (path, name, headers)


def test_cors_grants_only_the_configured_origin(console):
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"}
    for path in ("/api/jobs", "/jobs"):
        status, headers, _ = fetch(console, path, "OPTIONS", {"Origin": "https://evil.example", **preflight})
        # Without Access-Control-Allow-Origin a browser lets no request of that site through.
        assert status == 400 and "access-control-allow-origin" not in headers, headers
        _, headers, _ = fetch(console, path, "OPTIONS", {"Origin": "https://partner.example", **preflight})
        assert headers.get("access-control-allow-origin") == "https://partner.example", headers
    _, headers, _ = fetch(console, "/api/health", headers={"Origin": "https://evil.example", "Cookie": "a=b"})
    assert "access-control-allow-origin" not in headers, headers
    _, headers, _ = fetch(console, "/api/health", headers={"Origin": "https://partner.example"})
    assert headers.get("access-control-allow-origin") == "https://partner.example", headers


def ws_handshake(console, origin: str) -> int:
    """The status a websocket handshake to the console's event endpoint gets from `origin`."""
    import base64
    import os
    import socket
    from urllib.parse import urlsplit

    u = urlsplit(console.base)
    key = base64.b64encode(os.urandom(16)).decode()
    with socket.create_connection((u.hostname, u.port), timeout=20) as s:
        s.sendall((f"GET /_event/?EIO=4&transport=websocket HTTP/1.1\r\nHost: {u.netloc}\r\n"
                   f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                   f"Sec-WebSocket-Version: 13\r\nOrigin: {origin}\r\n\r\n").encode())
        data = b""
        while b"\r\n" not in data:
            chunk = s.recv(1024)
            if not chunk:
                break
            data += chunk
    return int(data.split(b" ", 2)[1])


def test_the_websocket_takes_its_own_page_and_the_configured_origin_only(console):
    assert ws_handshake(console, console.base) == 101
    assert ws_handshake(console, "https://partner.example") == 101
    assert ws_handshake(console, "https://evil.example") != 101


def test_head_on_the_api_answers_as_get(console):
    status, headers, body = fetch(console, "/api/health", "HEAD")
    assert status == 200 and headers["content-type"] == "application/json" and body == b""
    status, headers, _ = fetch(console, "/api/no-such-route", "HEAD")
    assert status == 404 and headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize("hostile", ["/%5Cevil.example", "//evil.example", "/%2F/evil.example",
                                     "https:evil.example", "/%09/evil.example"])
def test_a_sign_in_never_leaves_the_site(page, console, hostile):
    page.set_default_timeout(15_000)
    page.goto(console.url(f"/sign-in?next={hostile}"))
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill(PASSWORDS["alice"])
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(at(console, "/jobs"))
