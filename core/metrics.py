"""Prometheus metrics: every series defined once here, recorded by the API, workers and CLI.

Names start with `categorizer_` and carry their unit (`_seconds`, `_total`, `_ratio`). Labels
take values from small, fixed sets only: a route template (never the raw path), a status code,
a task name, a queue, a job kind and state, a decision, a model version (one or two per process
at a time), and a category mapped through `category_labels` so that a taxonomy of a thousand
leaves cannot make a thousand series per version. Never a job id, SKU or product name.

The metric objects are built on first use (`get_metrics()`), not at import: a worker first
switches prometheus-client to its multiprocess mode (`configure_multiprocess`) and only then may
a metric exist, or its children would keep their values to themselves.

Store-wide figures (queue depth, jobs by state, drift, the champion's age) are not counted by
whoever happens to touch them: the API reads them from the stores in the background and a
collector reports the last reading (`StoreGauges`), so a scrape never waits for a database.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import REGISTRY, Collector

PREFIX = "categorizer"
# Sub-millisecond tasks to minute-long chunks.
DURATION_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
                    2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
# HTTP requests: a millisecond to the 10 s a slow upload may take. Fewer buckets than above:
# each (method, route, status) series is a line per bucket in every scrape.
HTTP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
TRAINING_BUCKETS = (5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)
# Calibrated confidence concentrates near 1: the buckets are finest there.
CONFIDENCE_BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995,
                      0.999, 1.0)
OTHER_CATEGORY = "_other"  # the label of categories beyond the per-category limit


@dataclass(frozen=True)
class Metrics:
    """The process's metric objects (see the module's docstring for the label rules)."""

    http_duration: Histogram
    predictions: Counter
    confidence: Histogram
    batch_rows: Counter
    chunk_duration: Histogram
    training_duration: Histogram
    task_duration: Histogram
    task_failures: Counter
    task_retries: Counter
    model_version: Gauge
    leases_expired: Counter
    labels_added: Counter
    shadow_predictions: Counter
    retrains: Counter
    # Children by label values, cached: `labels()` validates its arguments and takes a lock on
    # every call, which the per-request path would otherwise pay two or three times. The label
    # sets are bounded (see the module's doc), so are these dicts.
    _children: dict[tuple[Any, ...], Any] = field(default_factory=dict)
    _http_children: dict[tuple[str, str, int], Any] = field(default_factory=dict)
    _confidence_children: dict[str, Any] = field(default_factory=dict)

    def prediction_child(self, version: int, category: str, decision: str, source: str) -> Any:
        """The counter child for one label set."""
        key = (version, category, decision, source)
        child = self._children.get(key)
        if child is None:
            child = self.predictions.labels(model_version=str(version), category=category,
                                            decision=decision, source=source)
            self._children[key] = child
        return child

    def http_child(self, method: str, route: str, status: int) -> Any:
        """The request histogram's child for one (method, route template, status)."""
        key = (method, route, status)
        child = self._http_children.get(key)
        if child is None:
            child = self.http_duration.labels(method=method, route=route, status=str(status))
            self._http_children[key] = child
        return child

    def confidence_child(self, source: str) -> Any:
        child = self._confidence_children.get(source)
        if child is None:
            child = self._confidence_children[source] = self.confidence.labels(source=source)
        return child


def _build(registry: CollectorRegistry | None) -> Metrics:
    # No `_created` series beside each counter and histogram: Prometheus's text format does not
    # need them, and they would add a line per series to every scrape (prometheus-client reads
    # this switch when it renders).
    disable_created_metrics()
    kw: dict[str, Any] = {"namespace": PREFIX}
    if registry is not None:
        kw["registry"] = registry
    return Metrics(
        http_duration=Histogram(
            "http_request_duration_seconds",
            "HTTP requests by route template, method and status, and how long they took.",
            ["method", "route", "status"], buckets=HTTP_BUCKETS, **kw),
        predictions=Counter(
            "predictions_total",
            "Names categorized, by model version, category label (see README), decision "
            "and source (sync request or batch job).",
            ["model_version", "category", "decision", "source"], **kw),
        confidence=Histogram(
            "prediction_confidence_ratio", "Confidence of each prediction.",
            ["source"], buckets=CONFIDENCE_BUCKETS, **kw),
        batch_rows=Counter(
            "batch_rows_total", "Batch rows processed, by outcome (categorized or error).",
            ["outcome"], **kw),
        chunk_duration=Histogram(
            "batch_chunk_duration_seconds", "Time to categorize and store one batch chunk.",
            buckets=DURATION_BUCKETS, **kw),
        training_duration=Histogram(
            "training_duration_seconds", "Training time of each model, by gate outcome.",
            ["outcome"], buckets=TRAINING_BUCKETS, **kw),
        task_duration=Histogram(
            "task_duration_seconds", "Celery task run time, by task name.",
            ["task"], buckets=DURATION_BUCKETS, **kw),
        task_failures=Counter(
            "task_failures_total", "Celery tasks that ended in an exception, by task name.",
            ["task"], **kw),
        task_retries=Counter(
            "task_retries_total", "Celery task retries scheduled, by task name.",
            ["task"], **kw),
        model_version=Gauge(
            "model_version_served", "The model version this process last served, by role.",
            ["role"], multiprocess_mode="livemostrecent", **kw),
        leases_expired=Counter(
            "leases_expired_total", "Job leases that expired and were taken back by the sweeper.",
            ["kind"], **kw),
        labels_added=Counter(
            "labels_added_total", "Labelled rows added to the store, by source.",
            ["source"], **kw),
        shadow_predictions=Counter(
            "shadow_predictions_total",
            "Names scored by the challenger in the shadow, by whether it agreed with the "
            "champion.", ["outcome"], **kw),
        retrains=Counter(
            "retrains_triggered_total", "Training jobs queued by the retrain check, by trigger.",
            ["trigger"], **kw),
    )


_lock = threading.Lock()
_state: dict[str, Any] = {"enabled": True}


def set_enabled(enabled: bool) -> None:
    """METRICS_ENABLED=false: recording functions return at once (for measuring their cost)."""
    _state["enabled"] = enabled


def enabled() -> bool:
    return bool(_state["enabled"])


@lru_cache
def get_metrics() -> Metrics:
    """The process's metrics, built on first use on the default registry."""
    with _lock:
        _state["built"] = True
        return _build(None)


def configure_multiprocess(directory: Path) -> None:
    """Record to files in `directory` shared by this process and the children it forks.

    prometheus-client picks its value store when a metric is built; switching it here, before
    `get_metrics()` runs, is the documented environment variable plus the same switch made now.
    """
    from prometheus_client import values

    if _state.get("built"):
        raise RuntimeError("metrics were built before multiprocess mode was configured")
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink()
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)
    values.ValueClass = values.MultiProcessValue()


def multiprocess_registry(directory: Path) -> CollectorRegistry:
    """A registry that sums what every process writing to `directory` recorded."""
    from prometheus_client import multiprocess

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=str(directory))
    return registry


def mark_process_dead(pid: int) -> None:
    """Drop a dead child's live gauges (its counters stay in the sums)."""
    from prometheus_client import multiprocess

    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(pid)


# -- bounded category labels -----------------------------------------------------------------


def category_labels(classes: Sequence[str], *, limit: int, separator: str = " > ") -> dict[str,
                                                                                           str]:
    """The label value of each category: itself, its top level, or `_other`.

    Up to `limit` categories each get a series. A bigger taxonomy is labelled by each path's
    top level (the part before `separator`) when those are few enough; otherwise the `limit - 1`
    categories listed first keep their name and the rest share `_other`. The full category mix
    is kept in the drift profiles (GET /v1/monitoring/drift), not in Prometheus.
    """
    if len(classes) <= limit:
        return {c: c for c in classes}
    tops = {c: c.split(separator, 1)[0].strip() for c in classes}
    if len(set(tops.values())) <= limit:
        return tops
    kept = set(list(dict.fromkeys(classes))[: max(limit - 1, 0)])
    return {c: c if c in kept else OTHER_CATEGORY for c in classes}


class CategoryLabeller:
    """Category label maps per model version, kept for the few versions a process serves."""

    def __init__(self, limit: int, separator: str = " > ", keep: int = 4) -> None:
        self.limit = limit
        self.separator = separator
        self.keep = keep
        self._maps: dict[int, dict[str, str]] = {}

    def for_version(self, version: int, classes: Sequence[str]) -> dict[str, str]:
        found = self._maps.get(version)
        if found is None:
            found = category_labels(classes, limit=self.limit, separator=self.separator)
            self._maps[version] = found
            while len(self._maps) > self.keep:
                self._maps.pop(next(iter(self._maps)))
        return found


_labeller = CategoryLabeller(limit=50)


def configure_categories(limit: int, separator: str = " > ") -> None:
    """METRICS_MAX_CATEGORIES and CATEGORY_SEPARATOR for this process's category labels."""
    global _labeller
    _labeller = CategoryLabeller(limit=limit, separator=separator)


# -- recording -------------------------------------------------------------------------------


def record_predictions(*, version: int, classes: Sequence[str],
                       outcomes: Iterable[tuple[str, float, str]], source: str) -> None:
    """Count predictions given as (category, confidence, decision) and observe confidences."""
    if not _state["enabled"]:
        return
    metrics = get_metrics()
    labels = _labeller.for_version(version, classes)
    observe = metrics.confidence_child(source).observe
    counts: dict[tuple[str, str], int] = {}
    for category, confidence, decision in outcomes:
        key = (labels.get(category, OTHER_CATEGORY), decision)
        counts[key] = counts.get(key, 0) + 1
        observe(confidence)
    for (label, decision), n in counts.items():
        metrics.prediction_child(version, label, decision, source).inc(n)


def record_chunk(*, version: int, classes: Sequence[str],
                 results: Sequence[Sequence[Any]], seconds: float) -> None:
    """A batch chunk's rows, predictions and duration. `results` rows start with (category,
    confidence, error) and may carry the decision fourth."""
    if not _state["enabled"]:
        return
    metrics = get_metrics()
    done = [r for r in results if r[0] is not None]
    metrics.batch_rows.labels(outcome="categorized").inc(len(done))
    if len(done) < len(results):
        metrics.batch_rows.labels(outcome="error").inc(len(results) - len(done))
    record_predictions(version=version, classes=classes, source="batch",
                       outcomes=((r[0], r[1], r[3] if len(r) > 3 else "none") for r in done))
    metrics.chunk_duration.observe(seconds)


def lease_expired(kind: str) -> None:
    """An expired lease the sweeper acted on (sent the work again, or gave up on it)."""
    if _state["enabled"]:
        get_metrics().leases_expired.labels(kind=kind).inc()


def observe_training(seconds: float, *, promoted: bool) -> None:
    if _state["enabled"]:
        get_metrics().training_duration.labels(
            outcome="promoted" if promoted else "kept").observe(seconds)


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    get_metrics().http_child(method, route, status).observe(seconds)


def set_model_version(role: str, version: int) -> None:
    if _state["enabled"]:
        get_metrics().model_version.labels(role=role).set(version)


@dataclass
class _Timer:
    started: float = field(default_factory=time.perf_counter)

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.started


def timer() -> _Timer:
    return _Timer()


# -- store-wide gauges, read in the background -------------------------------------------------


@dataclass(frozen=True)
class StoreReading:
    """One background reading of the stores (see `StoreGauges`)."""

    queues: Mapping[str, int] = field(default_factory=dict)
    jobs: Mapping[tuple[str, str], int] = field(default_factory=dict)
    review_pending: int | None = None
    champion_version: int | None = None
    champion_trained_at: float | None = None
    drift_values: Mapping[str, float | None] = field(default_factory=dict)
    drift_states: Mapping[str, int] = field(default_factory=dict)
    read_at: float = 0.0


class StoreGauges(Collector):
    """Reports the last `StoreReading` at scrape time; the reading itself happens elsewhere."""

    def __init__(self) -> None:
        self.reading = StoreReading()

    def update(self, reading: StoreReading) -> None:
        self.reading = reading  # one reference swap: a scrape sees the old or the new reading

    def collect(self) -> Iterator[GaugeMetricFamily]:
        r = self.reading
        if not r.read_at:
            return
        queue = GaugeMetricFamily(f"{PREFIX}_queue_messages",
                                  "Messages waiting in each Celery queue (Redis LLEN, or the "
                                  "embedded broker's message files).", labels=["queue"])
        for name, depth in sorted(r.queues.items()):
            queue.add_metric([name], depth)
        yield queue
        jobs = GaugeMetricFamily(f"{PREFIX}_jobs", "Jobs in the store by kind and state.",
                                 labels=["kind", "state"])
        for (kind, state), n in sorted(r.jobs.items()):
            jobs.add_metric([kind, state], n)
        yield jobs
        if r.review_pending is not None:
            yield GaugeMetricFamily(f"{PREFIX}_review_items_pending",
                                    "Review items waiting for a person.", value=r.review_pending)
        if r.champion_trained_at is not None:
            yield GaugeMetricFamily(f"{PREFIX}_champion_age_seconds",
                                    "Seconds since the champion model was trained.",
                                    value=max(0.0, time.time() - r.champion_trained_at))
        if r.champion_version is not None:
            yield GaugeMetricFamily(f"{PREFIX}_champion_version",
                                    "The version the champion alias points at.",
                                    value=r.champion_version)
        values = GaugeMetricFamily(f"{PREFIX}_drift_value",
                                   "Each drift signal's value on the live window (see "
                                   "GET /v1/monitoring/drift).", labels=["signal"])
        states = GaugeMetricFamily(f"{PREFIX}_drift_state",
                                   "Each drift signal's state: 0 ok, 1 warn, 2 alert, "
                                   "-1 not enough rows.", labels=["signal"])
        for signal, value in sorted(r.drift_values.items()):
            if value is not None:
                values.add_metric([signal], value)
        for signal, level in sorted(r.drift_states.items()):
            states.add_metric([signal], level)
        yield values
        yield states
        yield GaugeMetricFamily(f"{PREFIX}_store_read_timestamp_seconds",
                                "When the figures above were read.", value=r.read_at)


@lru_cache
def store_gauges() -> StoreGauges:
    """The process's store-wide gauges, registered once on the default registry."""
    gauges = StoreGauges()
    REGISTRY.register(gauges)
    return gauges


# -- exposition --------------------------------------------------------------------------------


class _OneSample(Collector):
    def __init__(self, sample: Any) -> None:
        self.sample = sample

    def collect(self) -> Iterator[Any]:
        from prometheus_client.metrics_core import Metric

        metric = Metric("categorizer_prefix_probe", "", "untyped")
        metric.samples.append(self.sample._replace(value=0.0, timestamp=None, exemplar=None))
        yield metric


class TextExposition:
    """`prometheus_client.generate_latest`'s text, with each series' name and labels rendered
    once and reused: escaping every label of every line again made up most of a scrape's cost.

    The prefix is rendered by prometheus-client itself (from a one-sample collector), so the
    output is byte for byte `generate_latest`'s (tests/core/test_metrics.py checks it).
    """

    def __init__(self, registry: Any = REGISTRY, *, max_series: int = 20_000) -> None:
        self.registry = registry
        self.max_series = max_series  # a safety bound: the label sets are bounded anyway
        self._prefixes: dict[tuple[str, tuple[tuple[str, str], ...]], str] = {}

    def _line(self, sample: Any) -> str:
        from prometheus_client.exposition import generate_latest
        from prometheus_client.utils import floatToGoString

        key = (sample.name, tuple(sample.labels.items()))
        prefix = self._prefixes.get(key)
        if prefix is None:
            line = generate_latest(_OneSample(sample)).decode().splitlines()[-1]
            prefix = line[: -len(" 0.0")] + " "
            if len(self._prefixes) >= self.max_series:
                self._prefixes.clear()
            self._prefixes[key] = prefix
        timestamp = ("" if sample.timestamp is None
                     else f" {int(float(sample.timestamp) * 1000):d}")
        return f"{prefix}{floatToGoString(sample.value)}{timestamp}\n"

    def render(self) -> bytes:
        from prometheus_client.openmetrics.exposition import escape_metric_name

        output: list[str] = []
        for metric in self.registry.collect():
            name, kind = metric.name, metric.type
            if kind == "counter":
                name += "_total"
            elif kind == "info":
                name, kind = name + "_info", "gauge"
            elif kind == "stateset":
                kind = "gauge"
            elif kind == "gaugehistogram":
                kind = "histogram"
            elif kind == "unknown":
                kind = "untyped"
            doc = metric.documentation.replace("\\", r"\\").replace("\n", r"\n")
            output.append(f"# HELP {escape_metric_name(name)} {doc}\n")
            output.append(f"# TYPE {escape_metric_name(name)} {kind}\n")
            extra: dict[str, list[str]] = {}
            for sample in metric.samples:
                for suffix in ("_created", "_gsum", "_gcount"):
                    if sample.name == metric.name + suffix:
                        extra.setdefault(suffix, []).append(self._line(sample))
                        break
                else:
                    output.append(self._line(sample))
            for suffix, lines in sorted(extra.items()):
                output.append(f"# HELP {escape_metric_name(metric.name + suffix)} {doc}\n")
                output.append(f"# TYPE {escape_metric_name(metric.name + suffix)} gauge\n")
                output.extend(lines)
        return "".join(output).encode("utf-8")


@lru_cache
def exposition() -> TextExposition:
    """The process's /metrics text over the default registry."""
    return TextExposition(REGISTRY)
