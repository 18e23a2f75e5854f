"""POST /v1/categorizer/inference: the predecessor's contract, plus confidence and top-k."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sklearn.pipeline import Pipeline

from core.config import Settings
from core.serving import ChampionHolder
from core.training import TrainResult
from tests.fixtures.app import FAKE_THRESHOLD, MAX_INFERENCE_ITEMS, FakeRegistry

URL = "/v1/categorizer/inference"
NAMES = [
    "Tubo PVC 1/2\" hidráulico",
    "Taladro percutor 1/2\" 650 W",
    "Foco LED 9W luz cálida",
    "Pintura vinílica blanca 19 L",
    "Tubo PVC 1/2\" hidráulico",  # a repeat keeps its own place
]


def test_categories_are_aligned_with_the_input(api_client: TestClient,
                                               app_pipeline: Pipeline) -> None:
    response = api_client.post(URL, json={"product_list": NAMES})

    assert response.status_code == 200
    body = response.json()
    # The predecessor's contract: one category per name, in the order sent.
    assert body["categories"] == app_pipeline.predict(NAMES).tolist()
    assert body["categories"][:4] == ["Plomería", "Herramientas", "Electricos", "Pinturas"]
    assert [p["name"] for p in body["predictions"]] == NAMES
    assert body["model_name"] == "product-categorizer"
    assert body["model_version"] == 1
    assert body["errors"] is False  # the predecessor's clients read it


def test_predictions_carry_confidence_and_top_k(api_client: TestClient,
                                                app_pipeline: Pipeline) -> None:
    body = api_client.post(URL, json={"product_list": NAMES[:2]}).json()

    probabilities = app_pipeline.predict_proba(NAMES[:2])
    for prediction, row in zip(body["predictions"], probabilities, strict=True):
        top = prediction["top_k"]
        assert len(top) == 3
        assert top[0]["category"] == prediction["category"]
        assert top[0]["confidence"] == prediction["confidence"]
        assert [t["confidence"] for t in top] == sorted((t["confidence"] for t in top),
                                                        reverse=True)
        assert prediction["confidence"] == pytest.approx(row.max(), abs=1e-5)


@pytest.mark.parametrize("body", [
    {"product_list": "Tubo PVC"},
    {"product_list": [1, 2]},
    {"product_list": [None]},
    {"product_list": None},
    {"products": ["Tubo PVC"]},
    {},
    ["Tubo PVC"],
])
def test_wrong_shapes_and_types_are_422(api_client: TestClient, body: object) -> None:
    response = api_client.post(URL, json=body)

    assert response.status_code == 422


def test_malformed_json_is_422(api_client: TestClient) -> None:
    response = api_client.post(URL, content=b'{"product_list": [',
                               headers={"Content-Type": "application/json"})

    assert response.status_code == 422


def test_an_empty_list_is_422(api_client: TestClient) -> None:
    response = api_client.post(URL, json={"product_list": []})

    assert response.status_code == 422
    assert "product_list" in str(response.json()["detail"])


def test_too_many_names_is_413_and_points_to_batch_jobs(api_client: TestClient) -> None:
    response = api_client.post(URL, json={"product_list": ["foco"] * (MAX_INFERENCE_ITEMS + 1)})

    assert response.status_code == 413
    assert f"at most {MAX_INFERENCE_ITEMS}" in response.json()["detail"]
    assert "/v1/batch-jobs" in response.json()["detail"]


def test_the_item_limit_itself_is_accepted(api_client: TestClient) -> None:
    response = api_client.post(URL, json={"product_list": ["foco"] * MAX_INFERENCE_ITEMS})

    assert response.status_code == 200
    assert len(response.json()["categories"]) == MAX_INFERENCE_ITEMS


@pytest.mark.parametrize(("bad", "problem"), [
    ("", "empty name"),
    ("   \t ", "empty name"),
    ("x" * 501, "name is 501 characters long; the limit is 500"),
], ids=["empty", "blank", "too-long"])
def test_a_bad_name_is_422_naming_its_index(api_client: TestClient, bad: str,
                                            problem: str) -> None:
    response = api_client.post(URL, json={"product_list": ["Tubo PVC", "Foco LED", bad]})

    assert response.status_code == 422
    assert response.json()["detail"] == f"product_list[2]: {problem}"


def test_no_champion_is_503_with_a_clear_message(make_client: Callable[[], TestClient],
                                                 fake_registry: FakeRegistry) -> None:
    fake_registry.champion = None
    client = make_client()

    response = client.post(URL, json={"product_list": ["Tubo PVC"]})

    assert response.status_code == 503
    assert response.json()["detail"] == "no champion model yet: train one first"
    assert response.headers["Retry-After"] == "5"


def test_keeps_answering_from_the_cached_model_while_mlflow_is_down(
    api_client: TestClient, fake_registry: FakeRegistry
) -> None:
    fake_registry.down = True

    response = api_client.post(URL, json={"product_list": ["Tubo PVC 1/2\""]})

    assert response.status_code == 200
    assert response.json()["model_version"] == 1


def test_a_champion_promoted_elsewhere_is_served_without_a_restart(
    make_client: Callable[[], TestClient], app_settings: Settings,
    fake_registry: FakeRegistry, app_pipeline: Pipeline,
) -> None:
    app_settings.model_refresh_seconds = 0.05
    client = make_client()
    fake_registry.promote(fake_registry.add_version(app_pipeline))  # as another process would

    deadline = time.monotonic() + 10
    version = None
    while time.monotonic() < deadline:
        version = client.post(URL, json={"product_list": ["foco"]}).json()["model_version"]
        if version == 2:
            break
        time.sleep(0.02)
    assert version == 2


def test_every_prediction_carries_its_decision(api_client: TestClient) -> None:
    names = [*NAMES, "Flexómetro 5 m", "木材 ◆◆"]
    body = api_client.post(URL, json={"product_list": names}).json()

    decisions = [(p["confidence"] >= FAKE_THRESHOLD and p["known"], p["decision"])
                 for p in body["predictions"]]
    assert all(decision == ("auto" if filed else "review") for filed, decision in decisions)
    assert {p["decision"] for p in body["predictions"]} == {"auto", "review"}
    assert [p["known"] for p in body["predictions"]] == [True] * (len(names) - 1) + [False]
    assert body["predictions"][-1]["decision"] == "review"


def test_a_version_with_no_threshold_files_nothing(
    api_client: TestClient, fake_registry: FakeRegistry, app_pipeline: Pipeline,
    champion_holder: ChampionHolder,
) -> None:
    fake_registry.promote(fake_registry.add_version(app_pipeline, threshold=None))
    assert champion_holder.refresh()

    body = api_client.post(URL, json={"product_list": NAMES}).json()

    assert body["model_version"] == 2
    assert {p["decision"] for p in body["predictions"]} == {"review"}


def test_a_path_model_answers_each_level_and_where_to_file(
    api_client: TestClient, fake_registry: FakeRegistry, champion_holder: ChampionHolder,
    path_result: TrainResult,
) -> None:
    flat = api_client.post(URL, json={"product_list": NAMES}).json()["predictions"]
    assert not any("levels" in p or "filed_under" in p for p in flat)  # flat: as before
    fake_registry.promote(fake_registry.add_version(path_result.model, threshold=0.9))
    assert champion_holder.refresh()
    names = path_result.test_names[:MAX_INFERENCE_ITEMS]

    predictions = api_client.post(URL, json={"product_list": names}).json()["predictions"]

    outcomes = set()
    for p in predictions:
        (top, top_mass), (leaf, leaf_mass) = ((level["category"], level["confidence"])
                                              for level in p["levels"])
        assert (leaf, leaf_mass) == (p["category"], p["confidence"])
        assert p["category"].startswith(top + " > ")
        assert top_mass >= leaf_mass
        if leaf_mass >= 0.9:
            assert (p["filed_under"], p["decision"]) == (leaf, "auto")
            outcomes.add("leaf")
        elif top_mass >= 0.9:
            assert (p["filed_under"], p["decision"]) == (top, "review")  # backed off
            outcomes.add("parent")
        else:
            assert (p["filed_under"], p["decision"]) == (None, "review")
            outcomes.add("review")
    assert outcomes == {"leaf", "parent", "review"}
