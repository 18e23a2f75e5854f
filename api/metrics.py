"""HTTP metrics as a pure ASGI middleware: one histogram sample per request, by route template.

A pure ASGI middleware rather than `BaseHTTPMiddleware`: the latter runs every request through
an extra task and memory stream, which costs more than a lean prediction does.
"""

from __future__ import annotations

import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core import metrics

UNMATCHED = "unmatched"  # a path no route knows: one label value, never the raw path


class HttpMetrics:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client sees when the app raises before answering

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            metrics.observe_request(scope["method"], _route(scope), status,
                                    time.perf_counter() - started)


def _route(scope: Scope) -> str:
    route: Any = scope.get("route")  # set by the router on the scope it was given
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED
