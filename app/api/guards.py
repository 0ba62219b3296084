"""What every /api request passes before a route sees it: its path and query without
control characters (a 422 naming the parameter; PostgreSQL refuses NUL, and no id, name
or search holds one), and HEAD answered as GET without the body (monitors probe
`HEAD /api/health`; without this it fell through to the console's 404 page)."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl

from app.shapes import text_problem


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")


async def _problem(send, status: int, detail: str, field: str) -> None:
    body = json.dumps({"type": "about:blank", "title": "Invalid input", "status": status,
                       "detail": detail, "field": field}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/problem+json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class UrlText:
    """ASGI middleware: refuse an /api request whose path or query parameters hold
    control characters, naming the parameter."""

    def __init__(self, app, prefix: str = "/api"):
        self.app, self.prefix = app, prefix

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not _under(scope.get("path", ""), self.prefix):
            return await self.app(scope, receive, send)
        problem = text_problem(scope["path"])
        if problem:
            return await _problem(send, 422, f"The path {problem}.", "path")
        # Read the query as Starlette will (latin-1 bytes, then UTF-8 percent-decoding).
        for name, value in parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True):
            for text in (name, value):
                problem = text_problem(text)
                if problem:
                    shown = name if not text_problem(name) else "query"
                    return await _problem(send, 422, f"Query parameter {shown} {problem}.", shown)
        return await self.app(scope, receive, send)


class HeadAsGet:
    """ASGI middleware: a HEAD under /api runs as the GET of the same path and answers
    its status and headers only. A streaming answer (Server-Sent Events) is told the
    client left once its headers are out."""

    def __init__(self, app, prefix: str = "/api"):
        self.app, self.prefix = app, prefix

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope.get("method") != "HEAD" or not _under(scope.get("path", ""), self.prefix):
            return await self.app(scope, receive, send)
        scope = {**scope, "method": "GET"}
        done = False

        async def head_receive():
            if done:
                return {"type": "http.disconnect"}
            return await receive()

        async def head_send(message):
            nonlocal done
            if done:
                return
            if message["type"] == "http.response.start":
                await send(message)
            elif message["type"] == "http.response.body":
                done = True
                await send({"type": "http.response.body", "body": b"", "more_body": False})
            else:
                await send(message)

        await self.app(scope, head_receive, head_send)
