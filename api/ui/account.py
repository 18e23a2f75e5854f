"""Signing in with a key (kept in an HttpOnly cookie for the browser session) and the language."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from api.ui.i18n import LANGUAGES
from api.ui.web import (
    KEY_COOKIE,
    LANG_COOKIE,
    check_csrf,
    redirect,
    render,
    role_for_key,
    safe_next,
    set_cookie,
    state_of,
)

router = APIRouter()
Form = Annotated[dict, Depends(check_csrf)]


@router.get("/sign-in")
def sign_in_page(request: Request, next: Annotated[str | None, Query()] = None,
                 admin: Annotated[bool, Query()] = False) -> HTMLResponse:
    return render(request, "sign_in.html", {"next": safe_next(next), "admin_needed": admin})


@router.post("/sign-in")
def sign_in(request: Request, form: Form) -> Response:
    key = str(form.get("key") or "").strip()
    next_url = safe_next(str(form.get("next") or ""))
    if not key or role_for_key(state_of(request), key) is None:
        return render(request, "sign_in.html", {"next": next_url, "invalid": True},
                      status_code=401)
    response = redirect(next_url)
    set_cookie(response, request, KEY_COOKIE, key)
    return response


@router.post("/sign-out")
def sign_out(request: Request, form: Form) -> Response:
    response = redirect("/ui/")
    response.delete_cookie(KEY_COOKIE, path="/ui", httponly=True, samesite="strict")
    return response


@router.post("/language")
def choose_language(request: Request, form: Form) -> Response:
    response = redirect(safe_next(str(form.get("next") or "")))
    chosen = str(form.get("language") or "")
    if chosen in LANGUAGES:
        set_cookie(response, request, LANG_COOKIE, chosen)
    return response
