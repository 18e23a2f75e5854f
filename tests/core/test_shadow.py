"""core.shadow: sampling off the request path, scoring by the challenger, the record."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import pytest

from core.data import duplicate_key
from core.jobs import JobStore
from core.monitoring_store import MonitoringStore
from core.promotion import ShadowRule
from core.shadow import LabelsOf, ShadowBatch, ShadowSampler, score, shadow_record


@dataclass(frozen=True)
class _Answer:
    category: str
    confidence: float


class _Challenger:
    """Answers 'B' for names containing 'x', else 'A'."""

    def predict_batch(self, names: list[str]) -> list[_Answer]:
        return [_Answer("B" if "x" in n else "A", 0.8) for n in names]


@pytest.fixture
def monitoring(job_store: JobStore) -> MonitoringStore:
    store = MonitoringStore(job_store.engine)
    store.create_schema()
    return store


def _answers(n: int) -> list[_Answer]:
    return [_Answer("A", 0.9)] * n


def test_without_a_challenger_nothing_is_sampled() -> None:
    sampler = ShadowSampler(1.0)

    assert not sampler.offer(challenger_version=None, champion_version=1, names=["a"],
                             predictions=_answers(1))
    assert not sampler.offer(challenger_version=1, champion_version=1, names=["a"],
                             predictions=_answers(1))
    assert sampler.drain() == []


def test_about_the_sample_rate_of_requests_is_kept() -> None:
    sampler = ShadowSampler(0.1, limit=10**6, seed=7)

    kept = sum(sampler.offer(challenger_version=2, champion_version=1, names=["a"],
                             predictions=_answers(1)) for _ in range(10_000))

    assert 850 < kept < 1150
    (batch,) = sampler.drain()
    assert (batch.challenger_version, batch.champion_version) == (2, 1)
    assert len(batch.names) == kept
    assert sampler.drain() == []


def test_the_sample_waiting_to_be_sent_is_bounded() -> None:
    sampler = ShadowSampler(1.0, limit=5)
    for _ in range(10):
        sampler.offer(challenger_version=2, champion_version=1, names=["a", "b"],
                      predictions=_answers(2))

    (batch,) = sampler.drain()

    assert len(batch.names) == 6  # the request that crossed the limit is kept whole


def test_scoring_records_agreement_and_the_newest_disagreements(
    monitoring: MonitoringStore,
) -> None:
    names = ["tubo", "xilofono", "codo", "taxi", "caja"]
    batch = ShadowBatch(2, 1, names, ["A"] * 5, [0.9] * 5, "sync")

    agreed = score(batch, _Challenger(), monitoring, keep=1)

    assert agreed == 3
    record = shadow_record(monitoring, 2)
    assert record is not None
    assert (record["compared"], record["agreed"], record["agreement"]) == (5, 3, 0.6)
    assert record["disagreements_kept"] == 1
    assert record["disagreements"][0]["name"] == "taxi"
    assert record["disagreements"][0]["challenger"] == "B"
    assert record["labelled"] is None
    assert shadow_record(monitoring, 3) is None


def _labelled_later(**labels: str) -> LabelsOf:
    later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=5)
    return lambda names: {duplicate_key(n): (labels[n], later) for n in names if n in labels}


def test_the_record_says_which_model_a_reviewer_agreed_with(
    monitoring: MonitoringStore,
) -> None:
    score(ShadowBatch(2, 1, ["xa", "xb", "xc", "xd"], ["A"] * 4, [0.9] * 4, "batch"),
          _Challenger(), monitoring, keep=10)

    record = shadow_record(monitoring, 2, labels_of=_labelled_later(xa="B", xb="A", xd="C"))

    assert record is not None
    assert record["labelled"] == {"names": 3, "champion_right": 1, "challenger_right": 1,
                                  "neither_right": 1}
    assert record["promotion_check"] is None  # no rule asked for


def test_only_labels_decided_after_the_scoring_count_and_a_name_counts_once(
    monitoring: MonitoringStore,
) -> None:
    before = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5)
    for _ in range(3):  # the same name sampled three times
        score(ShadowBatch(2, 1, ["Xa", "xa ", "xb"], ["A"] * 3, [0.9] * 3, "sync"),
              _Challenger(), monitoring, keep=10)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=5)
    asked: list[list[str]] = []

    def labels_of(names: Sequence[str]) -> dict[str, tuple[str, dt.datetime]]:
        asked.append(list(names))
        # xb was labelled before the shadow saw it: a challenger trained on the review labels
        # could have learnt it, so it says nothing about either model
        return {"xa": ("B", later), "xb": ("B", before)}

    record = shadow_record(monitoring, 2, labels_of=labels_of)

    assert record is not None
    assert record["labelled"] == {"names": 1, "champion_right": 0, "challenger_right": 1,
                                  "neither_right": 0}
    assert sorted(map(duplicate_key, asked[0])) == ["xa", "xb"]  # one lookup, one per name


def test_the_record_carries_the_promotion_check(monitoring: MonitoringStore) -> None:
    names = [f"x{i}" for i in range(12)]
    score(ShadowBatch(2, 1, names, ["A"] * 12, [0.9] * 12, "batch"), _Challenger(),
          monitoring, keep=100)
    champion_was_right = _labelled_later(**dict.fromkeys(names, "A"))

    strict = shadow_record(monitoring, 2, labels_of=champion_was_right,
                           rule=ShadowRule(min_names=10, alpha=0.05))
    lenient = shadow_record(monitoring, 2, labels_of=champion_was_right,
                            rule=ShadowRule(min_names=13, alpha=0.05))

    assert strict is not None
    assert lenient is not None
    assert strict["promotion_check"]["passed"] is False
    assert "the challenger did worse" in strict["promotion_check"]["reason"]
    assert lenient["promotion_check"]["passed"] is True
    assert "not enough to judge" in lenient["promotion_check"]["reason"]
