"""The web console under /ui/: server-rendered pages over the same state, settings and keys."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.ui import account, jobs, models, review, try_it
from api.ui.web import HERE, SignInNeeded, redirect, render, templates

templates.env.filters["timestamp"] = (
    lambda seconds: dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%d %H:%M"))


def install(app: FastAPI) -> None:
    """Mount the console, its static files and its error pages on `app`."""
    # The API's domain errors (install_error_handlers) become pages on console paths.
    for error, handler in list(app.exception_handlers.items()):
        if isinstance(error, type) and error is not StarletteHTTPException:
            app.add_exception_handler(error, _as_page(handler))

    router = APIRouter(prefix="/ui", include_in_schema=False)
    for module in (jobs, account, review, try_it, models):
        router.include_router(module.router)
    app.include_router(router)
    app.mount("/ui/static", StaticFiles(directory=HERE / "static"), name="ui-static")

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return redirect("/ui/")

    @app.exception_handler(SignInNeeded)
    async def sign_in_needed(request: Request, exc: SignInNeeded) -> Response:
        admin = "&admin=1" if exc.wrong_role else ""
        return redirect(f"/ui/sign-in?next={quote(exc.next_url)}{admin}")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        """Console pages answer errors as pages; the API keeps its JSON."""
        if not request.url.path.startswith("/ui/") or request.url.path.startswith("/ui/static"):
            return await http_exception_handler(request, exc)
        return render(request, "error.html", {"message": str(exc.detail)},
                      status_code=exc.status_code)


def _as_page(handler: Any) -> Callable[[Request, Exception], Awaitable[Response]]:
    """The API's answer to a domain error, shown as a page on console paths (same words)."""

    async def handle(request: Request, exc: Exception) -> Response:
        response = await handler(request, exc)
        if not request.url.path.startswith("/ui/"):
            return response
        try:
            detail = json.loads(bytes(response.body))["detail"]
        except (ValueError, KeyError, TypeError):
            detail = str(exc)
        page = render(request, "error.html", {"message": detail},
                      status_code=response.status_code)
        if "retry-after" in response.headers:
            page.headers["Retry-After"] = response.headers["retry-after"]
        return page

    return handle
