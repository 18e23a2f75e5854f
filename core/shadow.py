"""The shadow challenger: live names also scored by the `challenger`, never answered with it.

When a challenger alias exists, a share of synchronous requests (SHADOW_SAMPLE_RATE) and every
batch chunk are scored by it too, off the request path: the API keeps the sampled names with the
champion's answers in a `ShadowSampler` and sends them, about once a second, to an inference
worker (task `shadow.score`); a stored chunk is sent as its ids (`shadow.chunk`). The worker
scores them with the challenger and adds to its record in the job store: names compared, names
agreed on, and the newest SHADOW_MAX_DISAGREEMENTS names they disagreed on with both answers.
Where a reviewer later labelled a disagreeing name, the record says which model had it right.
"""

from __future__ import annotations

import datetime as dt
import random
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from core import metrics
from core.batch_store import BatchStore
from core.data import duplicate_key
from core.db import chunks_table
from core.errors import JobNotFound
from core.monitoring_store import Disagreement, MonitoringStore
from core.promotion import ShadowRule, shadow_check
from core.review import ReviewStore

# names -> {normalized name (core.data.duplicate_key): (category a person gave, when)}
LabelsOf = Callable[[Sequence[str]], dict[str, tuple[str, dt.datetime]]]


@dataclass(frozen=True)
class ShadowBatch:
    """Names to score with a challenger, with what the champion answered."""

    challenger_version: int
    champion_version: int
    names: list[str]
    categories: list[str]
    confidences: list[float]
    source: str = "sync"

    def as_args(self) -> list[Any]:
        return [self.challenger_version, self.champion_version, self.names, self.categories,
                self.confidences, self.source]


class ShadowSampler:
    """Sampled answers of this API process waiting to be sent (bounded: beyond `limit` names a
    period's sample is simply smaller)."""

    def __init__(self, rate: float, *, limit: int = 2000, seed: int | None = None) -> None:
        self.rate = rate
        self.limit = limit
        self._random = random.Random(seed)
        self._pending: dict[tuple[int, int], ShadowBatch] = {}
        self._count = 0
        self._lock = threading.Lock()

    def offer(self, *, challenger_version: int | None, champion_version: int,
              names: Sequence[str], predictions: Sequence[Any]) -> bool:
        """Keep a request's names for the shadow with probability `rate`; True if kept."""
        if (challenger_version is None or challenger_version == champion_version
                or self._count >= self.limit or self._random.random() >= self.rate):
            return False
        with self._lock:
            key = (challenger_version, champion_version)
            batch = self._pending.get(key)
            if batch is None:
                batch = self._pending[key] = ShadowBatch(challenger_version, champion_version,
                                                         [], [], [])
            batch.names.extend(names)
            batch.categories.extend(p.category for p in predictions)
            batch.confidences.extend(p.confidence for p in predictions)
            self._count += len(names)
        return True

    def drain(self) -> list[ShadowBatch]:
        with self._lock:
            pending, self._pending, self._count = self._pending, {}, 0
        return list(pending.values())


def chunk_batch(batches: BatchStore, job_id: str, idx: int,
                challenger_version: int) -> ShadowBatch | None:
    """A stored chunk's answered names with the champion's answers; None if it has none."""
    job = batches.jobs.get(job_id)
    with batches.engine.connect() as connection:
        found = connection.execute(
            sa.select(chunks_table.c.first_row, chunks_table.c.n_rows)
            .where(chunks_table.c.job_id == job_id, chunks_table.c.idx == idx)).first()
    if found is None or job.model_version is None:
        raise JobNotFound(f"{job_id} has no chunk {idx}")
    answered = [r for r in batches.iter_results(job_id, offset=found.first_row,
                                                limit=found.n_rows)
                if r.category is not None and r.confidence is not None]
    if not answered:
        return None
    return ShadowBatch(challenger_version, job.model_version, [r.name for r in answered],
                       [r.category for r in answered if r.category is not None],
                       [r.confidence for r in answered if r.confidence is not None], "batch")


def score(batch: ShadowBatch, challenger: Any, store: MonitoringStore, *, keep: int) -> int:
    """Score a batch with the challenger and add to its record; returns the names agreed on."""
    answers = challenger.predict_batch(batch.names)
    disagreements = [
        Disagreement(name=name, champion_category=category, challenger_category=a.category,
                     champion_confidence=confidence, challenger_confidence=a.confidence,
                     source=batch.source, champion_version=batch.champion_version)
        for name, category, confidence, a in zip(batch.names, batch.categories,
                                                 batch.confidences, answers, strict=True)
        if a.category != category]
    compared = len(batch.names)
    agreed = compared - len(disagreements)
    store.add_shadow(challenger_version=batch.challenger_version,
                     champion_version=batch.champion_version, compared=compared,
                     agreed=agreed, disagreements=disagreements[-keep:], keep=keep)
    if metrics.enabled():
        counter = metrics.get_metrics().shadow_predictions
        counter.labels(outcome="agree").inc(agreed)
        counter.labels(outcome="disagree").inc(len(disagreements))
    return agreed


def review_labels(store: ReviewStore) -> LabelsOf:
    """The review store's latest label of names, as `shadow_record` reads them."""
    def labels_of(names: Sequence[str]) -> dict[str, tuple[str, dt.datetime]]:
        return {key: (label.category, label.decided_at)
                for key, label in store.latest_reviews(names).items()}
    return labels_of


def labelled_comparison(kept: Sequence[Disagreement], labels_of: LabelsOf) -> dict[str, int]:
    """How often each model was right on the kept disagreements a reviewer labelled after the
    shadow scored them (a name scored more than once counts once, with its newest answers)."""
    newest: dict[str, Disagreement] = {}
    first_scored: dict[str, dt.datetime | None] = {}
    for d in kept:  # newest first
        key = duplicate_key(d.name)
        newest.setdefault(key, d)
        first_scored[key] = d.created_at
    truth = labels_of([d.name for d in newest.values()])
    champion_right = challenger_right = names = 0
    for key, d in newest.items():
        label = truth.get(key)
        scored = first_scored[key]
        if label is None or (scored is not None and label[1] <= scored):
            continue
        names += 1
        champion_right += label[0] == d.champion_category
        challenger_right += label[0] == d.challenger_category
    return {"names": names, "champion_right": champion_right,
            "challenger_right": challenger_right,
            "neither_right": names - champion_right - challenger_right}


def shadow_record(store: MonitoringStore, challenger_version: int, *,
                  labels_of: LabelsOf | None = None, rule: ShadowRule | None = None,
                  examples: int = 10) -> dict[str, Any] | None:
    """What the shadow saw of a challenger, for GET /v1/models and for promotion; None when it
    was never scored. With `labels_of`, also how each model fared on labelled names, and with
    a `rule` what the promotion check makes of it."""
    tallies = store.shadow_tallies(challenger_version)
    if tallies is None:
        return None
    kept = store.disagreements(challenger_version)
    labelled = None if labels_of is None else labelled_comparison(kept, labels_of)
    check = None
    if labelled is not None and rule is not None:
        verdict = shadow_check(labelled, rule)
        check = {"passed": verdict.passed, "reason": verdict.reason}
    compared = tallies["compared"]
    return {
        "compared": compared,
        "agreed": tallies["agreed"],
        "agreement": round(tallies["agreed"] / compared, 6) if compared else None,
        "champion_versions": tallies["champion_versions"],
        "updated_at": tallies["updated_at"],
        "disagreements_kept": len(kept),
        "disagreements": [
            {"name": d.name, "champion": d.champion_category,
             "challenger": d.challenger_category,
             "champion_confidence": d.champion_confidence,
             "challenger_confidence": d.challenger_confidence, "source": d.source}
            for d in kept[:examples]],
        "labelled": labelled,
        "promotion_check": check,
    }
