"""The API's documentation pages, offline: Swagger UI and ReDoc from the installed
fastapi-offline package, and a content security policy that keeps the pages on this origin."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

DOC_PAGES = ("/docs", "/redoc")
# Same origin only. ReDoc's bundle shows a vendor logo from its CDN: the policy keeps the
# browser from asking for it, rather than letting it fail without a network.
POLICY = ("default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
          "script-src 'self' 'unsafe-inline'; worker-src 'self' blob:; connect-src 'self'")


class DocsPolicy:
    """Add the content security policy to the documentation pages' answers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") not in DOC_PAGES:
            await self.app(scope, receive, send)
            return

        async def with_policy(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"content-security-policy", POLICY.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_policy)
