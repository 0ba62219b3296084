"""What browsers are told about every answer of the console and the REST API: no framing
by other sites (clickjacking), no content-type sniffing, no page address leaking to
other sites; and which other sites may call in (CORS: only JOBDECK_CORS_ORIGINS, none by
default). Plain ASGI and socket.io hooks, no Reflex: app/app.py and rxconfig.py wire
them in, app/api adds the headers to the API on its own (it also runs without the
console).
"""

from __future__ import annotations

from typing import Any, Optional

from app.settings import get_settings

HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-frame-options", b"DENY"),
    # Only frame-ancestors: a fuller policy would have to allow the console's inline
    # scripts and styles, and this is the part that stops framing.
    (b"content-security-policy", b"frame-ancestors 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
)


class SecurityHeaders:
    """ASGI middleware: every HTTP answer carries HEADERS (a header the answer sets
    itself is left as it is, so wrapping twice adds nothing twice)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def with_headers(message):
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(n, v) for n, v in HEADERS if n not in present]
                if extra:
                    message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, with_headers)


def cors_origins() -> tuple[str, ...]:
    """The origins (scheme://host[:port]) allowed to call the API from a browser."""
    return get_settings().cors_origins


def _own_origins(environ: dict[str, Any]) -> set[str]:
    """The origin the socket was reached at, also as a proxy in front reports it."""
    host = environ.get("HTTP_HOST")
    if not host:
        return set()
    scheme = environ.get("wsgi.url_scheme", "http")
    out = {f"{scheme}://{host}"}
    fwd_host = environ.get("HTTP_X_FORWARDED_HOST")
    fwd_proto = environ.get("HTTP_X_FORWARDED_PROTO")
    if fwd_host or fwd_proto:
        out.add(f"{(fwd_proto or scheme).split(',')[0].strip()}://{(fwd_host or host).split(',')[0].strip()}")
    return out


def socket_origin_allowed(origin: Optional[str], environ: dict[str, Any]) -> bool:
    """For the console's websocket: its own origin, or a configured one. (socket.io's
    list form would refuse the console's own origin once any other is configured.)"""
    if not origin:
        return True  # not a browser; the socket's events still need a signed-in tab
    return origin in _own_origins(environ) or origin in cors_origins()


def restrict_socket_origins(sio: Any) -> None:
    """Make a python-socketio AsyncServer (the console's) check each connection's
    Origin with `socket_origin_allowed`."""
    eio = getattr(sio, "eio", None)
    if eio is not None:
        eio.cors_allowed_origins = socket_origin_allowed
