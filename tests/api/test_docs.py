"""/docs and /redoc render in a real browser with no network: their assets are served by the app.

The browser is Debian's chromium (tests/fixtures/browser.py). Every request it makes goes
through a route that answers from the app under test; any request for another host is
refused and recorded, so a page that needed a CDN would render blank and list what it asked.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from fastapi.testclient import TestClient

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page, Route

APP = "http://testserver"
TITLE = "Hardware-store product categorizer"


@pytest.fixture
def offline_page(browser_context: BrowserContext, api_client: TestClient) -> Iterator[Page]:
    """A page whose requests are all answered by the app, or refused and recorded."""
    refused: list[str] = []

    def answer(route: Route) -> None:
        url = route.request.url
        if not url.startswith(APP + "/"):
            refused.append(url)
            route.abort()
            return
        response = api_client.request(route.request.method, url[len(APP):])
        route.fulfill(status=response.status_code, body=response.content,
                      headers=dict(response.headers))

    browser_context.route("**/*", answer)
    page = browser_context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    assert refused == [], f"the page asked the network for {refused}"
    assert errors == [], f"the page's scripts failed: {errors}"


def test_swagger_ui_renders_every_operation_offline(offline_page: Page,
                                                    api_client: TestClient) -> None:
    offline_page.goto(f"{APP}/docs")

    offline_page.wait_for_selector(".swagger-ui .information-container .title")
    assert TITLE in offline_page.inner_text(".swagger-ui .information-container .title")
    offline_page.wait_for_selector(".opblock")
    operations = offline_page.locator(
        ".opblock-summary-path, .opblock-summary-path__deprecated").all_inner_texts()
    documented = api_client.get("/openapi.json").json()["paths"]
    assert {path.replace("\u200b", "") for path in operations} == set(documented), operations


def test_redoc_renders_offline(offline_page: Page) -> None:
    offline_page.goto(f"{APP}/redoc")

    offline_page.wait_for_selector(f"h1:has-text('{TITLE}')")
    offline_page.wait_for_selector("text=Categorize product names with the champion model.")


def test_the_pages_name_no_cdn_and_allow_only_their_own_origin(api_client: TestClient) -> None:
    for path in ("/docs", "/redoc"):
        page = api_client.get(path)
        assert "cdn." not in page.text, path
        assert "fonts.googleapis" not in page.text, path
        assert "/static-offline-docs/" in page.text, path
        assert "default-src 'self'" in page.headers["content-security-policy"]
