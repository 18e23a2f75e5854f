"""Signing in and out of the console, CSRF refusals, and the language."""

from __future__ import annotations

from fastapi.testclient import TestClient

from api.ui.i18n import pick_language
from tests.api.ui.console import csrf, sign_in
from tests.fixtures.app import ADMIN_KEY


def test_root_and_ui_lead_to_the_console(api_client: TestClient) -> None:
    assert api_client.get("/", follow_redirects=False).headers["location"] == "/ui/"
    assert api_client.get("/ui/", follow_redirects=False).headers["location"] == "/ui/import"
    assert "/ui/" in api_client.get("/openapi.json").json()["info"]["description"]


def test_signing_in_keeps_the_key_in_an_httponly_strict_session_cookie(
    api_client: TestClient,
) -> None:
    token = csrf(api_client)

    response = api_client.post("/ui/sign-in", data={"key": ADMIN_KEY, "csrf_token": token,
                                                    "next": "/ui/models"},
                               follow_redirects=False)

    assert response.status_code == 303
    assert response.headers["location"] == "/ui/models"
    assert ADMIN_KEY not in response.headers["location"]
    cookie = next(c for c in response.headers.get_list("set-cookie")
                  if c.startswith("categorizer_key="))
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert "Path=/ui" in cookie
    assert "expires" not in cookie.lower()
    assert "max-age" not in cookie.lower()
    assert "Signed in as admin" in api_client.get("/ui/models").text


def test_a_wrong_key_is_refused_with_a_message(api_client: TestClient) -> None:
    token = csrf(api_client)

    response = api_client.post("/ui/sign-in", data={"key": "guess", "csrf_token": token})

    assert response.status_code == 401
    assert "That key is not valid." in response.text
    assert "categorizer_key" not in api_client.cookies


def test_sign_in_without_the_csrf_token_is_refused(api_client: TestClient) -> None:
    csrf(api_client)  # the cookie is there; the form field is not

    response = api_client.post("/ui/sign-in", data={"key": ADMIN_KEY})
    forged = api_client.post("/ui/sign-in", data={"key": ADMIN_KEY, "csrf_token": "forged"})

    assert response.status_code == forged.status_code == 403
    assert "reload the page" in response.text
    assert "categorizer_key" not in api_client.cookies


def test_signing_out_clears_the_key(api_client: TestClient) -> None:
    token = sign_in(api_client)

    response = api_client.post("/ui/sign-out", data={"csrf_token": token},
                               follow_redirects=False)

    assert response.status_code == 303
    assert any(c.startswith('categorizer_key=""') or "Max-Age=0" in c
               for c in response.headers.get_list("set-cookie"))
    assert "Signed in as" not in api_client.get("/ui/models").text


def test_a_next_url_off_the_console_is_ignored(api_client: TestClient) -> None:
    token = csrf(api_client)

    response = api_client.post("/ui/sign-in", data={
        "key": ADMIN_KEY, "csrf_token": token, "next": "https://evil.example/"},
        follow_redirects=False)

    assert response.headers["location"] == "/ui/"


def test_the_language_follows_accept_language_and_can_be_switched(
    api_client: TestClient,
) -> None:
    assert "Importar un catálogo" in api_client.get(
        "/ui/import", headers={"Accept-Language": "es-MX,es;q=0.9,en;q=0.5"}).text
    assert "Import a catalog" in api_client.get(
        "/ui/import", headers={"Accept-Language": "en-US"}).text
    token = csrf(api_client)

    api_client.post("/ui/language", data={"language": "es", "csrf_token": token,
                                          "next": "/ui/import"})

    page = api_client.get("/ui/import", headers={"Accept-Language": "en-US"})
    assert '<html lang="es">' in page.text
    assert "Importar un catálogo" in page.text


def test_pick_language_weighs_the_header() -> None:
    assert pick_language("fr, en;q=0.4, es;q=0.8") == "es"
    assert pick_language("de") == "en"
    assert pick_language("es;q=0, en") == "en"
    assert pick_language("") == "en"
