"""core.shadow: sampling off the request path, scoring by the challenger, the record."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from core.jobs import JobStore
from core.monitoring_store import MonitoringStore
from core.shadow import ShadowBatch, ShadowSampler, score, shadow_record


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


def test_the_record_says_which_model_a_reviewer_agreed_with(
    monitoring: MonitoringStore,
) -> None:
    score(ShadowBatch(2, 1, ["xa", "xb", "xc"], ["A"] * 3, [0.9] * 3, "batch"), _Challenger(),
          monitoring, keep=10)

    record = shadow_record(monitoring, 2, labels_of=lambda names: {"xa": "B", "xb": "A"})

    assert record is not None
    assert record["labelled"] == {"names": 2, "champion_right": 1, "challenger_right": 1}
