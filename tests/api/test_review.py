"""The review queue, categories and labels over HTTP: filters, paging, decisions, keys."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.deps import AppState
from core.batch_store import InputRow
from core.review import NewItem
from tests.fixtures.app import ADMIN, REVIEWER

ITEMS = "/v1/review-items"


def add_job(state: AppState, items: list[tuple[int, float, str]], rows: int = 6) -> str:
    """A batch job with `rows` rows, and review items (row, confidence, proposed category)."""
    job, _ = state.batches.create_batch(
        [[InputRow(f"sku-{i}", f"producto {i}") for i in range(rows)]])
    state.review.add_items(job.id, [
        NewItem(row=row, name=f"producto {row}", category=category, confidence=confidence,
                top_k=[{"category": category, "confidence": confidence}])
        for row, confidence, category in items], model_version=1)
    return job.id


@pytest.fixture
def queue(app_state: AppState) -> tuple[str, str]:
    first = add_job(app_state, [(0, 0.55, "Herramientas"), (1, 0.21, "Plomería"),
                                (2, 0.83, "Herramientas")])
    second = add_job(app_state, [(0, 0.34, "Electricos"), (1, 0.67, "Plomería")])
    return first, second


def confidences(response: Any) -> list[float]:
    assert response.status_code == 200, response.text
    return [item["confidence"] for item in response.json()["items"]]


def test_the_queue_lists_least_confident_first_with_the_issue_fields(
        api_client: TestClient, queue: tuple[str, str]) -> None:
    response = api_client.get(ITEMS, headers=REVIEWER)
    assert confidences(response) == [0.21, 0.34, 0.55, 0.67, 0.83]
    body = response.json()
    assert body["total"] == 5
    first = body["items"][0]
    assert {"id", "job_id", "row", "name", "category", "confidence", "top_k", "state",
            "decided_category", "decided_at", "decided_by"} <= set(first)
    assert (first["job_id"], first["row"], first["name"], first["state"]) == (
        queue[0], 1, "producto 1", "pending")


@pytest.mark.parametrize(("params", "expected"), [
    ({"category": "Plomería"}, [0.21, 0.67]),
    ({"min_confidence": 0.3, "max_confidence": 0.67}, [0.34, 0.55, 0.67]),
    ({"state": "pending", "limit": 2}, [0.21, 0.34]),
    ({"offset": 3, "limit": 10}, [0.67, 0.83]),
    ({"state": "corrected"}, []),
])
def test_filters_and_paging(api_client: TestClient, queue: tuple[str, str],
                            params: dict[str, Any], expected: list[float]) -> None:
    assert confidences(api_client.get(ITEMS, params=params, headers=REVIEWER)) == expected


def test_filter_by_job_and_total_counts_every_page(api_client: TestClient,
                                                    queue: tuple[str, str]) -> None:
    response = api_client.get(ITEMS, params={"job_id": queue[1], "limit": 1}, headers=REVIEWER)
    assert confidences(response) == [0.34]
    assert response.json()["total"] == 2


def test_decide_accept_correct_skip(api_client: TestClient, queue: tuple[str, str]) -> None:
    items = api_client.get(ITEMS, headers=REVIEWER).json()["items"]
    low, second = items[0], items[1]

    accepted = api_client.post(f"{ITEMS}/{low['id']}", json={"category": "Plomería"},
                               headers=REVIEWER)
    assert accepted.status_code == 200, accepted.text
    assert (accepted.json()["state"], accepted.json()["decided_by"]) == ("accepted", "reviewer")

    corrected = api_client.post(f"{ITEMS}/{low['id']}", json={"category": " Herramientas "},
                                headers=ADMIN)
    assert corrected.json()["state"] == "corrected"
    assert corrected.json()["decided_category"] == "Herramientas"
    assert corrected.json()["decided_by"] == "admin"

    skipped = api_client.post(f"{ITEMS}/{second['id']}", json={"skip": True}, headers=REVIEWER)
    assert (skipped.json()["state"], skipped.json()["decided_category"]) == ("skipped", None)

    states = api_client.get(ITEMS, params={"state": "corrected"}, headers=REVIEWER).json()
    assert [i["id"] for i in states["items"]] == [low["id"]]
    assert api_client.get(f"{ITEMS}/{low['id']}", headers=REVIEWER).json()["state"] == (
        "corrected")


def test_a_correction_to_an_unknown_category_is_422_until_an_admin_adds_it(
        api_client: TestClient, queue: tuple[str, str]) -> None:
    target = api_client.get(ITEMS, headers=REVIEWER).json()["items"][0]

    refused = api_client.post(f"{ITEMS}/{target['id']}", json={"category": "Jardín"},
                              headers=REVIEWER)
    assert refused.status_code == 422
    assert "Jardín" in refused.json()["detail"]
    assert api_client.get(f"{ITEMS}/{target['id']}", headers=REVIEWER).json()["state"] == (
        "pending")

    assert api_client.post("/v1/categories", json={"name": "Jardín"},
                           headers=REVIEWER).status_code == 403
    added = api_client.post("/v1/categories", json={"name": "Jardín"}, headers=ADMIN)
    assert added.status_code == 201
    assert added.json() == {"name": "Jardín", "source": "admin", "model_version": None}
    assert api_client.post("/v1/categories", json={"name": "Jardín"},
                           headers=ADMIN).status_code == 200

    accepted = api_client.post(f"{ITEMS}/{target['id']}", json={"category": "Jardín"},
                               headers=REVIEWER)
    assert accepted.status_code == 200
    assert accepted.json()["decided_category"] == "Jardín"


def test_a_category_the_served_model_knows_is_accepted(api_client: TestClient,
                                                       queue: tuple[str, str]) -> None:
    target = api_client.get(ITEMS, headers=REVIEWER).json()["items"][0]  # proposed Plomería
    response = api_client.post(f"{ITEMS}/{target['id']}", json={"category": "Pinturas"},
                               headers=REVIEWER)
    assert response.status_code == 200, response.text
    assert response.json()["state"] == "corrected"


@pytest.mark.parametrize("body", [{}, {"category": "Plomería", "skip": True}, {"skip": False},
                                  {"category": ""}, {"category": "   "}, {"other": 1}])
def test_a_decision_must_name_a_category_or_skip(api_client: TestClient,
                                                 queue: tuple[str, str],
                                                 body: dict[str, Any]) -> None:
    target = api_client.get(ITEMS, headers=REVIEWER).json()["items"][0]
    response = api_client.post(f"{ITEMS}/{target['id']}", json=body, headers=REVIEWER)
    assert response.status_code == 422


def test_bulk_accept(api_client: TestClient, queue: tuple[str, str]) -> None:
    items = api_client.get(ITEMS, headers=REVIEWER).json()["items"]
    ids = [items[0]["id"], items[2]["id"]]

    missing = api_client.post(f"{ITEMS}/accept", json={"ids": [*ids, 99999]}, headers=REVIEWER)
    assert missing.status_code == 404
    assert "99999" in missing.json()["detail"]
    assert api_client.get(ITEMS, params={"state": "accepted"},
                          headers=REVIEWER).json()["total"] == 0

    response = api_client.post(f"{ITEMS}/accept", json={"ids": ids}, headers=REVIEWER)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["accepted"] == 2
    assert [(i["state"], i["decided_category"]) for i in body["items"]] == [
        ("accepted", items[0]["category"]), ("accepted", items[2]["category"])]


@pytest.mark.parametrize(("method", "path", "body"), [
    ("GET", ITEMS, None),
    ("GET", f"{ITEMS}/1", None),
    ("POST", f"{ITEMS}/1", {"category": "Plomería"}),
    ("POST", f"{ITEMS}/accept", {"ids": [1]}),
    ("GET", "/v1/categories", None),
    ("GET", "/v1/labels", None),
    ("GET", "/v1/labels.csv", None),
])
def test_review_endpoints_need_the_reviewer_or_admin_key(
        api_client: TestClient, queue: tuple[str, str], method: str, path: str,
        body: dict[str, Any] | None) -> None:
    assert api_client.request(method, path, json=body).status_code == 401
    wrong = api_client.request(method, path, json=body, headers={"X-API-Key": "nope"})
    assert wrong.status_code == 403
    assert api_client.get(ITEMS, params={"state": "pending"},
                          headers=ADMIN).json()["total"] == 5  # nothing was decided


def test_unknown_item_is_404(api_client: TestClient) -> None:
    for response in (api_client.get(f"{ITEMS}/4242", headers=REVIEWER),
                     api_client.post(f"{ITEMS}/4242", json={"skip": True}, headers=REVIEWER)):
        assert response.status_code == 404
        assert "4242" in response.json()["detail"]


def test_categories_list_the_served_model_and_admin_ones_searchable(
        api_client: TestClient) -> None:
    api_client.post("/v1/categories", json={"name": "Jardinería"}, headers=ADMIN)
    everything = api_client.get("/v1/categories", headers=REVIEWER).json()
    names = [c["name"] for c in everything["items"]]
    assert names == sorted(names)
    assert {"Herramientas", "Plomería", "Electricos", "Jardinería"} <= set(names)
    assert everything["total"] == len(names) == 7

    found = api_client.get("/v1/categories", params={"q": "jard"}, headers=REVIEWER).json()
    assert [(c["name"], c["source"]) for c in found["items"]] == [("Jardinería", "admin")]
    paged = api_client.get("/v1/categories", params={"offset": 2, "limit": 2},
                           headers=REVIEWER).json()
    assert [c["name"] for c in paged["items"]] == names[2:4]


def test_labels_and_their_csv(api_client: TestClient, queue: tuple[str, str],
                              app_state: AppState) -> None:
    items = api_client.get(ITEMS, headers=REVIEWER).json()["items"]
    api_client.post(f"{ITEMS}/{items[0]['id']}", json={"category": "Herramientas"},
                    headers=REVIEWER)
    api_client.post(f"{ITEMS}/accept", json={"ids": [items[1]["id"]]}, headers=ADMIN)
    app_state.review.record_catalog([("=taladro", "Herramientas")], job_id="t")

    labels = api_client.get("/v1/labels", headers=REVIEWER).json()
    assert labels["total"] == 3
    assert [(lb["name"], lb["category"], lb["source"], lb["decided_by"])
            for lb in labels["items"]] == [
        ("producto 1", "Herramientas", "review", "reviewer"),
        ("producto 0", "Electricos", "review", "admin"),
        ("=taladro", "Herramientas", "catalog", None)]
    reviewed = api_client.get("/v1/labels", params={"source": "review", "limit": 1},
                              headers=REVIEWER).json()
    assert (reviewed["total"], len(reviewed["items"])) == (2, 1)

    download = api_client.get("/v1/labels.csv", headers=REVIEWER)
    assert download.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(download.text)))
    assert [(r["name"], r["source"], r["job_id"]) for r in rows] == [
        ("producto 1", "review", queue[0]), ("producto 0", "review", queue[1]),
        ("'=taladro", "catalog", "t")]


def _sample(client: TestClient, name: str, **labels: str) -> float:
    from prometheus_client.parser import text_string_to_metric_families
    text = client.get("/metrics").text
    return sum(s.value for family in text_string_to_metric_families(text)
               for s in family.samples if s.name == name and s.labels == labels)


def test_decisions_are_counted_as_labels_and_pending_items_in_metrics(
        api_client: TestClient, app_state: AppState, queue: tuple[str, str]) -> None:
    from api.main import read_monitoring
    before = _sample(api_client, "categorizer_labels_added_total", source="review")
    ids = [item["id"] for item in
           api_client.get(ITEMS, headers=REVIEWER).json()["items"]]

    api_client.post(f"{ITEMS}/{ids[0]}", json={"category": "Plomería"}, headers=REVIEWER)
    api_client.post(f"{ITEMS}/{ids[1]}", json={"skip": True}, headers=REVIEWER)  # no label
    api_client.post(f"{ITEMS}/accept", json={"ids": ids[2:4]}, headers=REVIEWER)
    read_monitoring(app_state)

    assert _sample(api_client, "categorizer_labels_added_total", source="review") == before + 3
    assert _sample(api_client, "categorizer_review_items_pending") == 1  # 5 items, 4 decided


def test_enough_review_labels_queue_one_retrain_that_says_why(
        app_state: AppState, queue: tuple[str, str], fake_queue: Any) -> None:
    from api.main import retrain_if_it_pays
    app_state.settings.retrain_after_labels = 3
    items = app_state.review.list_items(state="pending").items
    app_state.review.accept([item.id for item in items[:2]], by="reviewer")
    assert retrain_if_it_pays(app_state) is None  # two labels: not yet

    app_state.review.decide(items[2].id, by="reviewer", category=items[2].category)
    job = retrain_if_it_pays(app_state)

    assert job is not None
    assert ("training.run", [job.id]) in fake_queue.sent
    assert job.params["trigger"] == "labels"
    assert "3" in job.params["reason"]
    assert retrain_if_it_pays(app_state) is None  # one at a time
