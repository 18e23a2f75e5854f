"""Try it: names in, categories, confidences and alternatives out."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from tests.api.ui.console import csrf
from tests.fixtures.app import FakeRegistry


def test_the_page_has_a_labelled_box(api_client: TestClient) -> None:
    page = api_client.get("/ui/try")

    assert page.status_code == 200
    assert '<label for="names">' in page.text


def test_typed_names_come_back_categorized(api_client: TestClient) -> None:
    token = csrf(api_client)

    response = api_client.post("/ui/try", data={"names": "taladro percutor\n\ntubo pvc 1/2",
                                                "csrf_token": token},
                               headers={"HX-Request": "true"})

    assert response.status_code == 200
    assert "<html" not in response.text  # htmx gets the table alone
    assert response.text.count("<tr>") == 3  # the header and two names
    assert "Herramientas" in response.text
    assert "Plomería" in response.text


def test_without_the_csrf_token_it_is_refused(api_client: TestClient) -> None:
    csrf(api_client)

    assert api_client.post("/ui/try", data={"names": "taladro"}).status_code == 403


def test_no_champion_says_so(fake_registry: FakeRegistry,
                             make_client: Callable[[], TestClient]) -> None:
    fake_registry.champion = None
    client = make_client()
    token = csrf(client)

    response = client.post("/ui/try", data={"names": "taladro", "csrf_token": token})

    assert response.status_code == 200
    assert "No model serves yet" in response.text
