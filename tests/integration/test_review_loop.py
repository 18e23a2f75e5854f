"""The review loop end to end on the real stack: a batch's review rows, a reviewer's corrections,
a training job that learns them, and the new champion filing the corrected names as corrected.

Real worker and API processes over real Redis, PostgreSQL (a database of this module's own, so
no other module's labels are learnt) and an MLflow store.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import httpx
import pytest

from core.data import SAMPLE_CATALOG
from tests.fixtures.services import Stack, create_database, wait_until

pytestmark = pytest.mark.integration

REVIEWER_KEY = "integration-reviewer-key"
# A product family the sample catalog never shows: invented words, so the first model can only
# guess, and every one of them goes to a person.
# Sixty of them: a fifth is held out for the gate, and enough of those are needed for McNemar's
# test to tell the retrained model from the champion.
FAMILY = [f"zorbax kwelt {head}{tail}" for head in ("pla", "dru", "kel", "mov", "sut", "fen")
          for tail in ("vin", "dar", "qot", "mesh", "lurk", "wib", "zen", "tolp", "gax", "ryn")]


@pytest.fixture(scope="module")
def pg_database_url() -> Iterator[str]:
    url, drop = create_database("categorizer_loop")
    yield url
    drop()


@pytest.fixture(scope="module")
def running(stack: Stack) -> Stack:
    stack.env["REVIEWER_API_KEY"] = REVIEWER_KEY
    stack.worker("loop")
    stack.api()
    return stack


def _reviewer(stack: Stack) -> httpx.Client:
    return httpx.Client(base_url=stack.api_url, headers={"X-API-Key": REVIEWER_KEY}, timeout=30)


def _serving(stack: Stack) -> int | None:
    return httpx.get(f"{stack.api_url}/v1/models", timeout=10).json()["serving"]


def _train(stack: Stack) -> dict:
    with stack.client(admin=True) as client:
        response = client.post("/v1/training-jobs", json={"data": str(SAMPLE_CATALOG)})
    assert response.status_code == 202, response.text
    return stack.wait_for_job(response.json()["job_id"], timeout=300)


def test_corrections_are_learnt_by_the_next_champion(running: Stack) -> None:
    first = _train(running)
    assert first["result"]["promoted"] is True
    wait_until(lambda: _serving(running) == 1, timeout=30, what="the API to serve v1")

    names = [*FAMILY, "taladro percutor 1/2", "tubo pvc 1/2"]
    with running.client() as client:
        batch = client.post("/v1/batch-jobs", json={"items": [
            {"id": f"Z-{i}", "name": name} for i, name in enumerate(names)]})
    assert batch.status_code == 202, batch.text
    job_id = batch.json()["job_id"]
    running.wait_for_job(job_id)

    with _reviewer(running) as reviewer:
        page = reviewer.get("/v1/review-items",
                            params={"job_id": job_id, "state": "pending", "limit": 1000}).json()
        items = {item["name"]: item for item in page["items"]}
        assert set(FAMILY) <= set(items), "every invented name waits for a person"
        confidences = [item["confidence"] for item in page["items"]]
        assert confidences == sorted(confidences)

        # The reviewer files the family under a category the first model did not propose.
        proposed = {items[name]["category"] for name in FAMILY}
        target = next(c for c in ("Pinturas", "Aseo, Baños y Cocinas", "Ferretería")
                      if c not in proposed)
        for name in FAMILY:
            decided = reviewer.post(f"/v1/review-items/{items[name]['id']}",
                                    json={"category": target})
            assert decided.status_code == 200, decided.text
            assert decided.json()["state"] == "corrected"
            assert decided.json()["decided_by"] == "reviewer"

        results = reviewer.get(f"/v1/batch-jobs/{job_id}/results").json()["items"]
        assert [(r["category"], r["source"]) for r in results[:len(FAMILY)]] == [
            (target, "review")] * len(FAMILY)
        labels = reviewer.get("/v1/labels", params={"source": "review", "limit": 100}).json()
        assert labels["total"] == len(FAMILY)
        assert {(lb["category"], lb["model_version"], lb["job_id"]) for lb in labels["items"]} == {
            (target, 1, job_id)}
        download = reviewer.get("/v1/labels.csv", params={"source": "review"})
        assert len(list(csv.DictReader(io.StringIO(download.text)))) == len(FAMILY)

    second = _train(running)
    learnt = second["result"]["labels"]
    assert (learnt["added"], learnt["conflicts"], learnt["held_back"]) == (len(FAMILY), 0, 0)
    assert second["result"]["promoted"] is True, second["result"]["reason"]
    wait_until(lambda: _serving(running) == 2, timeout=30, what="the API to serve v2")

    with running.client() as client:
        answer = client.post("/v1/categorizer/inference",
                             json={"product_list": [FAMILY[0], "zorbax kwelt nuevo modelo",
                                                    "taladro percutor 1/2"]}).json()
    assert answer["model_version"] == 2
    assert answer["categories"][:2] == [target, target]
    assert answer["categories"][2] == "Herramientas"
