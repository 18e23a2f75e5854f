"""Model versions, and the admin's promote and rollback (which this process serves at once)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sklearn.pipeline import Pipeline

from tests.fixtures.app import ADMIN, FakeRegistry


@pytest.fixture
def two_versions(fake_registry: FakeRegistry, app_pipeline: Pipeline) -> FakeRegistry:
    """v1 champion, v2 registered but not promoted."""
    fake_registry.add_version(app_pipeline)
    return fake_registry


def _serving(client: TestClient) -> int | None:
    return client.get("/v1/models").json()["serving"]


def test_lists_versions_with_aliases_metrics_and_what_is_served(
    two_versions: FakeRegistry, api_client: TestClient
) -> None:
    response = api_client.get("/v1/models")

    assert response.status_code == 200
    body = response.json()
    assert body["model_name"] == "product-categorizer"
    assert (body["champion"], body["serving"]) == (1, 1)
    assert [v["version"] for v in body["versions"]] == [2, 1]
    assert [v["aliases"] for v in body["versions"]] == [[], ["champion"]]
    assert body["versions"][1] == {
        "version": 1, "aliases": ["champion"], "run_id": "run-1",
        "created_at": "2026-01-01T00:00:01Z", "metrics": {"macro_f1": 0.9, "accuracy": 0.92},
        "shadow": None,  # never scored as a challenger
    }


def test_lists_nothing_served_before_a_first_model(make_client: Callable[[], TestClient],
                                                   fake_registry: FakeRegistry) -> None:
    fake_registry.champion = None
    body = make_client().get("/v1/models").json()

    assert (body["champion"], body["serving"]) == (None, None)


def test_promote_moves_the_champion_and_this_process_serves_it_at_once(
    two_versions: FakeRegistry, api_client: TestClient
) -> None:
    response = api_client.post("/v1/models/2/promote", headers=ADMIN)

    assert response.status_code == 200
    assert response.json() == {"champion": 2, "previous": 1, "shadow": None}
    assert two_versions.champion == 2
    assert _serving(api_client) == 2
    inference = api_client.post("/v1/categorizer/inference", json={"product_list": ["foco"]})
    assert inference.json()["model_version"] == 2


def test_rollback_restores_the_previous_champion(two_versions: FakeRegistry,
                                                 api_client: TestClient) -> None:
    api_client.post("/v1/models/2/promote", headers=ADMIN)

    response = api_client.post("/v1/models/rollback", headers=ADMIN)

    assert response.status_code == 200
    assert response.json() == {"champion": 1, "previous": 2, "shadow": None}
    assert two_versions.champion == 1
    assert _serving(api_client) == 1


def test_promoting_an_unknown_version_is_404(api_client: TestClient,
                                             fake_registry: FakeRegistry) -> None:
    response = api_client.post("/v1/models/9/promote", headers=ADMIN)

    assert response.status_code == 404
    assert response.json()["detail"] == "model 'product-categorizer' has no version 9"
    assert fake_registry.champion == 1


def test_a_version_that_is_not_a_number_is_422(api_client: TestClient) -> None:
    assert api_client.post("/v1/models/latest/promote", headers=ADMIN).status_code == 422


def test_rollback_with_no_earlier_champion_is_404(api_client: TestClient,
                                                  fake_registry: FakeRegistry) -> None:
    response = api_client.post("/v1/models/rollback", headers=ADMIN)

    assert response.status_code == 404
    assert "no earlier champion" in response.json()["detail"]
    assert fake_registry.champion == 1


def test_rollback_with_no_champion_at_all_is_404_not_503(
    make_client: Callable[[], TestClient], fake_registry: FakeRegistry
) -> None:
    fake_registry.champion = None
    client = make_client()

    response = client.post("/v1/models/rollback", headers=ADMIN)

    # Nothing to roll back to: retrying in 5 s (what a 503 with Retry-After says) cannot help.
    assert response.status_code == 404
    assert "no champion to roll back" in response.json()["detail"]


def test_sampled_requests_go_to_the_shadow_and_the_record_shows_on_models(
    app_state: Any, fake_registry: FakeRegistry, fake_queue: Any, app_pipeline: Pipeline,
    make_client: Callable[[], TestClient],
) -> None:
    from api.main import send_shadow
    from core.monitoring_store import MonitoringStore
    from core.shadow import ShadowBatch, score

    fake_registry.challenger = fake_registry.add_version(app_pipeline)
    app_state.settings.shadow_sample_rate = 1.0
    client = make_client()
    names = ["Tubo PVC 1/2", "Foco LED 9W"]
    answer = client.post("/v1/categorizer/inference", json={"product_list": names}).json()

    assert send_shadow(app_state) == 2
    (task, args), = [(t, a) for t, a in fake_queue.sent if t == "shadow.score"]
    assert args == [2, 1, names, answer["categories"],
                    [p["confidence"] for p in answer["predictions"]], "sync"]
    # what the worker does with it (tests/worker/test_tasks.py runs the task itself)
    score(ShadowBatch(*args), app_state.champion.classifier,
          MonitoringStore(app_state.store.engine), keep=10)

    versions = {v["version"]: v for v in client.get("/v1/models").json()["versions"]}
    assert versions[1]["shadow"] is None
    assert versions[2]["shadow"]["compared"] == 2
    assert versions[2]["shadow"]["agreement"] == 1.0
    promoted = client.post("/v1/models/2/promote", headers=ADMIN).json()
    assert promoted["shadow"]["compared"] == 2


def test_without_a_challenger_no_request_is_sampled(
    app_state: Any, fake_queue: Any, make_client: Callable[[], TestClient],
) -> None:
    from api.main import send_shadow

    app_state.settings.shadow_sample_rate = 1.0
    client = make_client()
    client.post("/v1/categorizer/inference", json={"product_list": ["Tubo PVC"]})

    assert send_shadow(app_state) == 0
    assert fake_queue.sent == []


def disagreed_then_labelled(app_state: Any, *, n: int, truth: str) -> None:
    """The challenger v2 filed n names "Plomería" where the champion said "Herramientas";
    then a reviewer labelled each of them `truth`."""
    from core.batch_store import BatchStore, InputRow
    from core.monitoring_store import Disagreement, MonitoringStore
    from core.review import NewItem

    names = [f"producto {i}" for i in range(n)]
    MonitoringStore(app_state.store.engine).add_shadow(
        challenger_version=2, champion_version=1, compared=3 * n, agreed=2 * n,
        disagreements=[Disagreement(name=name, champion_category="Herramientas",
                                    challenger_category="Plomería", champion_confidence=0.6,
                                    challenger_confidence=0.7, source="batch",
                                    champion_version=1) for name in names], keep=500)
    job, _ = BatchStore(app_state.store).create_batch([[InputRow(f"s{i}", name)
                                                        for i, name in enumerate(names)]])
    review = app_state.review
    review.sync_model_categories(1, ["Herramientas", "Plomería"])
    review.add_items(job.id, [NewItem(row=i, name=name, category="Herramientas",
                                      confidence=0.6, top_k=[]) for i, name in enumerate(names)],
                     model_version=1)
    for item in review.list_items(limit=n).items:
        review.decide(item.id, by="reviewer", category=truth)


def test_a_challenger_worse_on_labelled_names_is_not_promoted_unless_forced(
    app_state: Any, fake_registry: FakeRegistry, app_pipeline: Pipeline,
    make_client: Callable[[], TestClient],
) -> None:
    fake_registry.challenger = fake_registry.add_version(app_pipeline)
    disagreed_then_labelled(app_state, n=25, truth="Herramientas")  # the champion was right
    client = make_client()

    shadow = {v["version"]: v for v in client.get("/v1/models").json()["versions"]}[2]["shadow"]
    assert shadow["labelled"] == {"names": 25, "champion_right": 25, "challenger_right": 0,
                                  "neither_right": 0}
    assert shadow["promotion_check"]["passed"] is False

    refused = client.post("/v1/models/2/promote", headers=ADMIN)
    assert refused.status_code == 409
    assert "the challenger did worse" in refused.json()["detail"]
    assert fake_registry.champion == 1
    assert _serving(client) == 1

    forced = client.post("/v1/models/2/promote?force=true", headers=ADMIN)
    assert forced.status_code == 200
    assert forced.json()["shadow"]["promotion_check"]["passed"] is False  # it was told
    assert fake_registry.champion == 2


def test_a_challenger_right_on_labelled_names_is_promoted_with_its_record(
    app_state: Any, fake_registry: FakeRegistry, app_pipeline: Pipeline,
    make_client: Callable[[], TestClient],
) -> None:
    fake_registry.challenger = fake_registry.add_version(app_pipeline)
    disagreed_then_labelled(app_state, n=25, truth="Plomería")  # the challenger was right
    client = make_client()

    response = client.post("/v1/models/2/promote", headers=ADMIN)

    assert response.status_code == 200
    shadow = response.json()["shadow"]
    assert (shadow["labelled"]["challenger_right"], shadow["promotion_check"]["passed"]) == (
        25, True)
    assert fake_registry.champion == 2
