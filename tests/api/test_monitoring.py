"""GET /metrics: the API's own series, labelled by route template, never by raw values."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sklearn.pipeline import Pipeline

from api.deps import AppState
from api.main import flush_drift, read_monitoring
from core import metrics
from core.drift import reference_profile
from tests.fixtures.app import FakeRegistry
from tests.fixtures.processes import wait_until


def _samples(client: TestClient) -> list[tuple[str, dict[str, str], float]]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return [(s.name, s.labels, s.value)
            for family in text_string_to_metric_families(response.text)
            for s in family.samples]


def test_requests_are_counted_by_route_template_and_status(api_client: TestClient) -> None:
    api_client.get("/v1/jobs/0123456789abcdef0123456789abcdef")  # 404, an id in the path
    api_client.get("/no/such/path")

    samples = _samples(api_client)
    counts = {(s[1]["route"], s[1]["status"]) for s in samples
              if s[0] == "categorizer_http_request_duration_seconds_count"}

    assert ("/v1/jobs/{job_id}", "404") in counts
    assert ("unmatched", "404") in counts
    assert not any("0123456789abcdef" in str(labels) for _, labels, _ in samples)


def _sync_counts(client: TestClient) -> Counter[str]:
    """Synchronous predictions of version 1 per category, summed over the decision label."""
    counts: Counter[str] = Counter()
    for name, labels, value in _samples(client):
        if (name == "categorizer_predictions_total" and labels["source"] == "sync"
                and labels["model_version"] == "1"):
            counts[labels["category"]] += int(value)  # a counter is whole, read as a float
    return counts


def test_sync_predictions_are_counted_with_the_served_version(api_client: TestClient) -> None:
    names = ["Tubo PVC 1/2 hidráulico", "Taladro percutor 650 W"]
    before = _sync_counts(api_client)

    answer = api_client.post("/v1/categorizer/inference", json={"product_list": names}).json()

    after = _sync_counts(api_client)
    for category in set(answer["categories"]):
        assert after[category] == before.get(category, 0) + answer["categories"].count(category)
    decisions = {labels["decision"] for name, labels, _ in _samples(api_client)
                 if name == "categorizer_predictions_total" and labels["source"] == "sync"
                 and labels["model_version"] == "1"}
    assert decisions <= {"auto", "review"}
    served = [s for s in _samples(api_client) if s[0] == "categorizer_model_version_served"]
    assert ("champion", 1.0) in [(s[1]["role"], s[2]) for s in served]


def test_no_label_carries_a_product_name(api_client: TestClient) -> None:
    api_client.post("/v1/categorizer/inference",
                    json={"product_list": ["Tubo secreto SKU-12345"]})

    assert "secreto" not in api_client.get("/metrics").text


def test_store_wide_figures_appear_once_read(api_client: TestClient,
                                             app_state: AppState) -> None:
    app_state.store.create_job(kind="training", params={})
    samples: list[tuple[str, dict[str, str], float]] = []

    def reported() -> bool:
        # The app's own reader also reads once at start-up, on a thread; under load that read
        # can land after ours and put back figures taken before the job existed. It reads
        # again only after METRICS_REFRESH_SECONDS, so a second read of ours settles it.
        read_monitoring(app_state)
        samples[:] = _samples(api_client)
        jobs = {(s[1]["kind"], s[1]["state"]): s[2] for s in samples
                if s[0] == "categorizer_jobs"}
        return jobs.get(("training", "queued")) == 1

    wait_until(reported, timeout=30, interval=0.1,
               what="/metrics to report the queued training job")
    queues = {s[1]["queue"] for s in samples if s[0] == "categorizer_queue_messages"}
    assert queues == {"inference", "training"}
    assert any(s[0] == "categorizer_champion_age_seconds" for s in samples)


def test_metrics_can_be_turned_off(app_state: AppState,
                                   make_client: Callable[[], TestClient]) -> None:
    app_state.settings.metrics_enabled = False
    try:
        client = make_client()

        assert client.get("/metrics").status_code == 404
    finally:
        metrics.set_enabled(True)  # the switch is per process: give it back to other tests


# -- GET /v1/monitoring/drift ------------------------------------------------------------------

DRIFT = "/v1/monitoring/drift"
HELD_OUT = ["tubo pvc hidraulico 1/2", "taladro percutor 650w", "foco led 9w luz calida",
            "pintura vinilica blanca", "llave de paso 1/2", "cable thw calibre 12"]


def test_a_version_without_a_reference_has_no_data(api_client: TestClient) -> None:
    body = api_client.get(DRIFT).json()

    assert body["model_version"] == 1
    assert body["reference"] is None
    assert body["state"] == "no_data"
    assert {s["state"] for s in body["signals"].values()} == {"no_data"}


def test_answered_names_fill_the_window_and_are_compared(
    app_state: AppState, fake_registry: FakeRegistry, app_pipeline: Pipeline,
    make_client: Callable[[], TestClient],
) -> None:
    fake_registry.references[1] = reference_profile(app_pipeline, HELD_OUT * 20).as_dict()
    app_state.settings.drift_min_rows = 50
    client = make_client()
    for _ in range(10):
        client.post("/v1/categorizer/inference", json={"product_list": HELD_OUT})

    assert flush_drift(app_state) == 60
    body = client.get(DRIFT).json()

    assert body["window"]["rows"] == 60
    assert body["window"]["sources"] == {"sync": 60}
    assert body["reference"] == {"rows": 120}
    assert body["signals"]["category_psi"]["state"] == "ok"
    assert body["signals"]["confidence_psi"]["value"] < 0.1
    assert body["state"] == "ok"


def test_unknown_names_move_the_vocabulary_signals(
    app_state: AppState, fake_registry: FakeRegistry, app_pipeline: Pipeline,
    make_client: Callable[[], TestClient],
) -> None:
    fake_registry.references[1] = reference_profile(app_pipeline, HELD_OUT * 20).as_dict()
    app_state.settings.drift_min_rows = 50
    client = make_client()
    strange = [f"qwz{i} xkv{i} brrm" for i in range(60)]
    for part in (strange[:30], strange[30:]):
        assert client.post("/v1/categorizer/inference",
                           json={"product_list": part}).status_code == 200
    flush_drift(app_state)

    body = client.get(DRIFT).json()

    assert body["signals"]["oov_words_change"]["state"] == "alert"
    assert body["signals"]["oov_words_change"]["live"] == 1.0
    assert body["state"] == "alert"
    read_monitoring(app_state)
    text = client.get("/metrics").text
    assert 'categorizer_drift_state{signal="oov_words_change"} 2.0' in text


def test_drift_of_an_unknown_version_is_404(api_client: TestClient) -> None:
    assert api_client.get(DRIFT, params={"model_version": 9}).status_code == 404
