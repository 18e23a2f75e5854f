"""core.metrics: bounded labels, what recording counts, the store-wide collector."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

from prometheus_client import REGISTRY, CollectorRegistry

from core import metrics
from core.metrics import OTHER_CATEGORY, StoreGauges, StoreReading, category_labels


def _sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_a_small_taxonomy_labels_each_category_by_name() -> None:
    classes = ["Plomería", "Herramientas", "Pinturas"]

    assert category_labels(classes, limit=50) == {c: c for c in classes}


def test_a_big_path_taxonomy_is_labelled_by_its_top_levels() -> None:
    classes = [f"Top {i % 8} > Leaf {i}" for i in range(1000)]

    labels = category_labels(classes, limit=50)

    assert set(labels.values()) == {f"Top {i}" for i in range(8)}


def test_a_big_flat_taxonomy_never_makes_more_label_values_than_the_limit() -> None:
    classes = [f"Leaf {i}" for i in range(1000)]

    labels = category_labels(classes, limit=50)

    assert len(set(labels.values())) == 50
    assert labels["Leaf 0"] == "Leaf 0"
    assert labels["Leaf 999"] == OTHER_CATEGORY


def test_predictions_are_counted_by_version_label_and_decision() -> None:
    before = _sample("categorizer_predictions_total", model_version="91", category="Plomería",
                     decision="auto", source="sync")
    count_before = _sample("categorizer_prediction_confidence_ratio_count", source="sync")

    metrics.record_predictions(
        version=91, classes=["Plomería", "Pinturas"], source="sync",
        outcomes=[("Plomería", 0.99, "auto"), ("Plomería", 0.97, "auto"),
                  ("Pinturas", 0.4, "review")])

    assert _sample("categorizer_predictions_total", model_version="91", category="Plomería",
                   decision="auto", source="sync") == before + 2
    assert _sample("categorizer_predictions_total", model_version="91", category="Pinturas",
                   decision="review", source="sync") >= 1
    assert _sample("categorizer_prediction_confidence_ratio_count",
                   source="sync") == count_before + 3


def test_the_per_request_path_reuses_one_child_per_label_set() -> None:
    m = metrics.get_metrics()
    before = _sample("categorizer_http_request_duration_seconds_count", method="POST",
                     route="/v1/test-route", status="200")

    metrics.observe_request("POST", "/v1/test-route", 200, 0.002)
    child = m.http_child("POST", "/v1/test-route", 200)
    metrics.observe_request("POST", "/v1/test-route", 200, 0.003)

    assert m.http_child("POST", "/v1/test-route", 200) is child
    assert m.confidence_child("sync") is m.confidence_child("sync")
    assert _sample("categorizer_http_request_duration_seconds_count", method="POST",
                   route="/v1/test-route", status="200") == before + 2


def test_a_scrape_has_no_created_series_and_few_request_buckets() -> None:
    from prometheus_client import generate_latest

    metrics.observe_request("GET", "/v1/test-buckets", 200, 0.0001)
    text = generate_latest(REGISTRY).decode()

    assert "_created" not in text  # one line less per series, in every scrape
    buckets = [line for line in text.splitlines() if line.startswith(
        "categorizer_http_request_duration_seconds_bucket") and "/v1/test-buckets" in line]
    assert len(buckets) == len(metrics.HTTP_BUCKETS) + 1  # and +Inf
    assert 'le="0.001"' in buckets[0]
    assert buckets[0].endswith(" 1.0")


def test_a_chunk_counts_categorized_and_failed_rows() -> None:
    done = _sample("categorizer_batch_rows_total", outcome="categorized")
    errors = _sample("categorizer_batch_rows_total", outcome="error")

    metrics.record_chunk(version=93, classes=["A", "B"], seconds=0.2,
                         results=[("A", 0.9, None), ("B", 0.8, None), (None, None, "empty")])

    assert _sample("categorizer_batch_rows_total", outcome="categorized") == done + 2
    assert _sample("categorizer_batch_rows_total", outcome="error") == errors + 1


def test_recording_does_nothing_when_metrics_are_off() -> None:
    before = _sample("categorizer_predictions_total", model_version="94", category="A",
                     decision="auto", source="sync")
    metrics.set_enabled(False)
    try:
        metrics.record_predictions(version=94, classes=["A"], source="sync",
                                   outcomes=[("A", 0.9, "auto")])
    finally:
        metrics.set_enabled(True)

    assert _sample("categorizer_predictions_total", model_version="94", category="A",
                   decision="auto", source="sync") == before


def test_store_gauges_report_the_last_reading() -> None:
    registry = CollectorRegistry()
    gauges = StoreGauges()
    registry.register(gauges)
    assert registry.get_sample_value("categorizer_queue_messages", {"queue": "inference"}) is None

    gauges.update(StoreReading(
        queues={"inference": 4, "training": 0}, jobs={("batch", "queued"): 2},
        review_pending=7, champion_version=3, champion_trained_at=time.time() - 3600,
        drift_values={"confidence_psi": 0.3}, drift_states={"confidence_psi": 2},
        read_at=time.time()))

    assert registry.get_sample_value("categorizer_queue_messages", {"queue": "inference"}) == 4
    assert registry.get_sample_value("categorizer_jobs", {"kind": "batch", "state": "queued"}) == 2
    assert registry.get_sample_value("categorizer_review_items_pending") == 7
    age = registry.get_sample_value("categorizer_champion_age_seconds")
    assert age is not None
    assert 3590 < age < 3700
    assert registry.get_sample_value("categorizer_drift_state", {"signal": "confidence_psi"}) == 2


def test_multiprocess_mode_sums_what_forked_children_record(tmp_path: Path) -> None:
    # A fresh interpreter: multiprocess mode must be chosen before any metric exists.
    script = textwrap.dedent(f"""
        import os
        from pathlib import Path
        from core import metrics
        directory = Path({str(tmp_path / "samples")!r})
        metrics.configure_multiprocess(directory)
        for _ in range(2):
            pid = os.fork()
            if pid == 0:
                metrics.record_predictions(version=5, classes=["A"], source="batch",
                                           outcomes=[("A", 0.9, "auto")] * 3)
                os._exit(0)
            os.waitpid(pid, 0)
        registry = metrics.multiprocess_registry(directory)
        print(registry.get_sample_value("categorizer_predictions_total", dict(
            model_version="5", category="A", decision="auto", source="batch")))
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=60, check=True).stdout

    assert float(out.strip()) == 6.0


def test_the_cached_exposition_is_byte_for_byte_prometheus_clients() -> None:
    from prometheus_client import Counter, Gauge, generate_latest

    registry = CollectorRegistry()
    counter = Counter("odd_total", 'Help with a \\ and a\nnewline.', ["what"], registry=registry)
    counter.labels(what='quote " backslash \\ newline \n ñandú').inc(2)
    counter.labels(what="plain").inc()
    Gauge("plain_value", "A gauge.", registry=registry).set(1.5e-7)
    m = metrics._build(registry)
    m.http_child("GET", "/v1/x", 200).observe(0.004)
    gauges = StoreGauges()
    registry.register(gauges)
    gauges.update(StoreReading(queues={"inference": 3}, jobs={("batch", "running"): 2},
                               read_at=time.time()))
    exposition = metrics.TextExposition(registry)

    assert exposition.render() == generate_latest(registry)
    counter.labels(what="plain").inc()  # cached prefixes, new values
    m.http_child("GET", "/v1/x", 200).observe(0.2)
    assert exposition.render() == generate_latest(registry)
    assert b'odd_total{what="plain"} 2.0' in exposition.render()
