"""What every console page shares: templates, language, the signed-in key and CSRF tokens.

The key a person types is kept in an HttpOnly, SameSite=Strict cookie scoped to /ui/ with no
expiry (it ends with the browser session): scripts cannot read it and no other site's page can
send it. Forms that change something carry a CSRF token as well (double submit: a random token
in its own HttpOnly cookie, repeated in a hidden field or the X-CSRF-Token header htmx sends),
so a forged request from elsewhere fails even where SameSite is not honoured.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any, Literal

from fastapi import HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from api.deps import AppState
from api.ui.i18n import LANGUAGES, pick_language, translator

HERE = Path(__file__).parent
KEY_COOKIE = "categorizer_key"
CSRF_COOKIE = "categorizer_csrf"
LANG_COOKIE = "categorizer_lang"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"

Role = Literal["admin", "reviewer"]

templates = Jinja2Templates(directory=HERE / "templates")  # autoescapes .html
templates.env.globals["languages"] = LANGUAGES


def state_of(request: Request) -> AppState:
    state: AppState = request.app.state.categorizer
    return state


def language(request: Request) -> str:
    chosen = request.cookies.get(LANG_COOKIE)
    if chosen in LANGUAGES:
        return chosen
    return pick_language(request.headers.get("accept-language", ""))


def role_of(request: Request) -> Role | None:
    """The role of the key this browser signed in with, if any (compared in constant time)."""
    key = request.cookies.get(KEY_COOKIE)
    return role_for_key(state_of(request), key) if key else None


def role_for_key(state: AppState, key: str) -> Role | None:
    settings = state.settings
    admin = settings.admin_api_key.get_secret_value()
    if secrets.compare_digest(key.encode(), admin.encode()):
        return "admin"
    reviewer = getattr(settings, "reviewer_api_key", None)
    reviewer_key = reviewer.get_secret_value() if reviewer is not None else ""
    if reviewer_key and secrets.compare_digest(key.encode(), reviewer_key.encode()):
        return "reviewer"
    return None


def csrf_token(request: Request) -> str:
    """This browser's token: the cookie's, or a new one that `render` sets."""
    token = request.cookies.get(CSRF_COOKIE) or getattr(request.state, "new_csrf", None)
    if token is None:
        token = secrets.token_urlsafe(32)
        request.state.new_csrf = token
    return token


async def check_csrf(request: Request) -> dict[str, Any]:
    """The submitted form, once its CSRF token matches this browser's cookie; else 403."""
    form = await request.form()
    cookie = request.cookies.get(CSRF_COOKIE, "")
    sent = str(form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER) or "")
    if not cookie or not sent or not secrets.compare_digest(cookie.encode(), sent.encode()):
        raise HTTPException(status.HTTP_403_FORBIDDEN,
                            "the form is out of date or came from another site: "
                            "reload the page and try again")
    return dict(form)


def set_cookie(response: Response, request: Request, name: str, value: str) -> None:
    response.set_cookie(name, value, path="/ui", httponly=True, samesite="strict",
                        secure=request.url.scheme == "https")


def render(request: Request, template: str, context: dict[str, Any] | None = None, *,
           status_code: int = 200) -> HTMLResponse:
    """A page (or an htmx fragment) in the browser's language."""
    lang = language(request)
    values = {"request": request, "lang": lang, "_": translator(lang),
              "role": role_of(request), "csrf_token": csrf_token(request),
              "path": request.url.path, **(context or {})}
    response = templates.TemplateResponse(request, template, values, status_code=status_code)
    new = getattr(request.state, "new_csrf", None)
    if new is not None:
        set_cookie(response, request, CSRF_COOKIE, new)
    return response


def require_role(request: Request, *roles: Role) -> Role:
    """The signed-in role if it is one of `roles`; else a redirect to sign in (HTTP 303)."""
    role = role_of(request)
    if role in roles:
        return role  # type: ignore[return-value]
    raise SignInNeeded(request.url.path + (f"?{request.url.query}" if request.url.query else ""),
                       wrong_role=role is not None)


class SignInNeeded(Exception):
    def __init__(self, next_url: str, *, wrong_role: bool) -> None:
        super().__init__(next_url)
        self.next_url = next_url
        self.wrong_role = wrong_role


def safe_next(url: str | None) -> str:
    """Only a console path: never an absolute URL another site could plant."""
    if url and url.startswith("/ui/") and not url.startswith("//"):
        return url
    return "/ui/"


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=status.HTTP_303_SEE_OTHER)
