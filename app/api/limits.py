"""The request size limit of /api: a body larger than JOBDECK_API_MAX_BODY_BYTES is
refused with 413 problem details, whether it says its length up front or streams it
in chunks, before a route parses any of it."""

from __future__ import annotations

import json

from app.settings import get_settings


def _problem(limit: int) -> tuple[dict, bytes]:
    body = json.dumps({"type": "about:blank", "title": "Payload too large", "status": 413,
                       "detail": f"The request body is larger than {limit} bytes "
                                 f"(JOBDECK_API_MAX_BODY_BYTES)."}).encode()
    start = {"type": "http.response.start", "status": 413,
             "headers": [(b"content-type", b"application/problem+json"),
                         (b"content-length", str(len(body)).encode()), (b"connection", b"close")]}
    return start, body


class BodySizeLimit:
    """ASGI middleware; only paths under /api are limited (the console's uploads and
    websocket are Reflex's own business)."""

    def __init__(self, app, prefix: str = "/api"):
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope, receive, send):
        path = scope.get("path", "")
        if scope["type"] != "http" or not (path == self.prefix or path.startswith(self.prefix + "/")):
            return await self.app(scope, receive, send)
        limit = get_settings().api_max_body_bytes
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > limit:
                    return await self._refuse(send, limit)
        # Read the body first (it is bounded), then replay it: a route's own parsing would
        # turn an error raised mid-read into a 400.
        chunks, seen = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunk = message.get("body", b"")
            seen += len(chunk)
            if seen > limit:
                return await self._refuse(send, limit)
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    @staticmethod
    async def _refuse(send, limit: int) -> None:
        start, body = _problem(limit)
        await send(start)
        await send({"type": "http.response.body", "body": body})
