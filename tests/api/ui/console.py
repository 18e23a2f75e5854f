"""Helpers for the console's page tests: a CSRF token and a signed-in browser."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.fixtures.app import ADMIN_KEY


def csrf(client: TestClient) -> str:
    """The token a page hands this client (its cookie is kept in the client's jar)."""
    page = client.get("/ui/sign-in")
    match = re.search(r'name="csrf-token" content="([^"]+)"', page.text)
    assert match, page.text
    return match.group(1)


def sign_in(client: TestClient, key: str = ADMIN_KEY) -> str:
    """Sign in with `key`; returns the CSRF token for later forms."""
    token = csrf(client)
    response = client.post("/ui/sign-in", data={"key": key, "csrf_token": token,
                                                "next": "/ui/models"}, follow_redirects=False)
    assert response.status_code == 303, response.text
    return token
