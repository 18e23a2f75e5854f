"""Drift signals: profiles of what a model answers, and how far live traffic moved from training.

A `Profile` summarizes a set of answered names: the confidence distribution (counts on a fixed
grid of 100 bins, so profiles from any process add up), the predicted-category mix, the share of
words and of character n-grams the model never saw (out of vocabulary), and how many went to
review. At training the reference profile is taken on the version's held-out rows; serving
processes and batch jobs store live profiles (core.monitoring_store), and `compare` reads the
window against the reference:

- `confidence_psi`, `category_psi`: the population stability index,
  sum((live - ref) * ln(live / ref)) over bins. Confidence bins are the grid merged into about
  ten groups of equal reference mass (confidences crowd near 1, where fixed-width bins would put
  almost everything in one bin). Empty bins get a small floor so that the index stays finite.
- `oov_words_change`, `oov_chars_change`, `review_share_change`: live share minus reference share.

The libraries that do this are stale, relicensed, or English-only and download NLTK data at run
time (README, Monitoring), so these few lines of numpy are ours.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

import numpy as np

GRID = 100  # confidence bins of width 0.01
CONFIDENCE_GROUPS = 10
PSI_FLOOR = 1e-4  # the share given to an empty bin
OOV_SAMPLE = 500  # names per profile whose vocabulary is checked

State = Literal["ok", "warn", "alert", "no_data"]
STATE_LEVEL: dict[str, int] = {"no_data": -1, "ok": 0, "warn": 1, "alert": 2}
SIGNALS = ("confidence_psi", "category_psi", "oov_words_change", "oov_chars_change",
           "review_share_change")


@dataclass(frozen=True)
class Profile:
    """What a model answered for a set of names; profiles add up (`merge`)."""

    rows: int = 0
    confidence: tuple[int, ...] = (0,) * GRID
    categories: Mapping[str, int] = field(default_factory=dict)
    oov_words: tuple[int, int] = (0, 0)  # (unseen, checked)
    oov_chars: tuple[int, int] = (0, 0)
    review: int | None = None  # rows sent to review; None when the model decides nothing

    def merge(self, other: Profile) -> Profile:
        categories = Counter(self.categories)
        categories.update(other.categories)
        review = (None if self.review is None and other.review is None
                  else (self.review or 0) + (other.review or 0))
        return Profile(
            rows=self.rows + other.rows,
            confidence=tuple(a + b for a, b in zip(self.confidence, other.confidence,
                                                   strict=True)),
            categories=dict(categories),
            oov_words=_add(self.oov_words, other.oov_words),
            oov_chars=_add(self.oov_chars, other.oov_chars),
            review=review,
        )

    def as_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "confidence": list(self.confidence),
                "categories": dict(self.categories), "oov_words": list(self.oov_words),
                "oov_chars": list(self.oov_chars), "review": self.review}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Profile:
        confidence = tuple(int(c) for c in data.get("confidence") or ())
        return cls(
            rows=int(data.get("rows", 0)),
            confidence=confidence if len(confidence) == GRID else (0,) * GRID,
            categories={str(k): int(v) for k, v in (data.get("categories") or {}).items()},
            oov_words=_pair(data.get("oov_words")),
            oov_chars=_pair(data.get("oov_chars")),
            review=None if data.get("review") is None else int(data["review"]),
        )


def _add(a: tuple[int, int], b: tuple[int, int]) -> tuple[int, int]:
    return a[0] + b[0], a[1] + b[1]


def _pair(value: Any) -> tuple[int, int]:
    if not value:
        return 0, 0
    return int(value[0]), int(value[1])


def confidence_grid(confidences: Iterable[float]) -> tuple[int, ...]:
    values = np.clip(np.fromiter(confidences, dtype=np.float64), 0.0, 1.0)
    bins = np.minimum((values * GRID).astype(np.intp), GRID - 1)
    return tuple(int(n) for n in np.bincount(bins, minlength=GRID))


# -- out of vocabulary -------------------------------------------------------------------------


class VocabularyCheck:
    """Counts a name's words and character n-grams that a fitted pipeline has never seen.

    Works on the normalize -> TF-IDF (word, char_wb) pipelines this project trains: words are
    the normalized name's whitespace tokens checked against the word vectorizer's vocabulary,
    n-grams those the char vectorizer makes of the name. A pipeline without one of them reports
    (0, 0) for it.
    """

    def __init__(self, pipeline: Any) -> None:
        steps = dict(getattr(pipeline, "steps", []))
        normalize = getattr(steps.get("normalize"), "normalize", None)
        self.normalize: Callable[[str], str] = normalize or str.lower
        features = steps.get("features")
        vectorizers = [v for _, v in getattr(features, "transformer_list", [])] or (
            [features] if features is not None else [])
        self.words: frozenset[str] | None = None
        self.chars: Callable[[str], tuple[int, int]] | None = None
        for vec in vectorizers:
            vocabulary = getattr(vec, "vocabulary_", None)
            if vocabulary is None:
                continue
            analyzer = getattr(vec, "analyzer", None)
            if analyzer == "word" and self.words is None:
                self.words = frozenset(t for t in vocabulary if " " not in t)
            elif analyzer in ("char_wb", "char") and self.chars is None:
                self.chars = _char_counter(vec.build_analyzer(), vocabulary)

    def count(self, names: Iterable[str]) -> tuple[tuple[int, int], tuple[int, int]]:
        """((unseen words, words), (unseen n-grams, n-grams)) over the names."""
        unseen_w = words = unseen_c = ngrams = 0
        for name in names:
            tokens = self.normalize(name).split()
            if self.words is not None:
                words += len(tokens)
                unseen_w += sum(1 for t in tokens if t not in self.words)
            if self.chars is not None:
                for token in tokens:
                    unseen, total = self.chars(token)
                    unseen_c += unseen
                    ngrams += total
        return (unseen_w, words), (unseen_c, ngrams)


def _char_counter(analyzer: Callable[[str], list[str]],
                  vocabulary: Mapping[str, int]) -> Callable[[str], tuple[int, int]]:
    # char_wb n-grams never cross a space: a word's count depends on the word alone, and words
    # repeat, so each is counted once per process.
    @lru_cache(maxsize=1 << 15)
    def count(word: str) -> tuple[int, int]:
        grams = analyzer(word)
        return sum(1 for g in grams if g not in vocabulary), len(grams)

    return count


def profile(*, categories: Sequence[str], confidences: Sequence[float],
            decisions: Sequence[str] | None = None, names: Sequence[str] = (),
            vocabulary: VocabularyCheck | None = None) -> Profile:
    """The profile of answered names. At most `OOV_SAMPLE` names are checked for vocabulary
    (evenly spaced), enough for a share to a point or two."""
    words = chars = (0, 0)
    if vocabulary is not None and names:
        step = max(1, math.ceil(len(names) / OOV_SAMPLE))
        words, chars = vocabulary.count(names[::step])
    return Profile(
        rows=len(categories), confidence=confidence_grid(confidences),
        categories=dict(Counter(categories)), oov_words=words, oov_chars=chars,
        review=None if decisions is None else sum(1 for d in decisions if d == "review"),
    )


# -- comparison --------------------------------------------------------------------------------


def psi(reference: Sequence[float], live: Sequence[float], *, floor: float = PSI_FLOOR) -> float:
    """Population stability index of two histograms over the same bins (counts or shares)."""
    ref = np.asarray(reference, dtype=np.float64)
    cur = np.asarray(live, dtype=np.float64)
    if ref.sum() <= 0 or cur.sum() <= 0:
        return 0.0
    ref = np.maximum(ref / ref.sum(), floor)
    cur = np.maximum(cur / cur.sum(), floor)
    return float(np.sum((cur - ref) * np.log(cur / ref)))


def equal_mass_groups(counts: Sequence[int], groups: int = CONFIDENCE_GROUPS) -> list[int]:
    """Where to cut the grid so each group holds about 1/`groups` of the reference's mass:
    the start index of each group after the first."""
    total = float(sum(counts))
    if total <= 0:
        return []
    cuts: list[int] = []
    running = 0.0
    target = total / groups
    for i, n in enumerate(counts[:-1]):
        running += n
        if running >= target * (len(cuts) + 1) and len(cuts) < groups - 1:
            cuts.append(i + 1)
    return cuts


def regroup(counts: Sequence[int], cuts: Sequence[int]) -> list[int]:
    edges = [0, *cuts, len(counts)]
    return [int(sum(counts[a:b])) for a, b in zip(edges, edges[1:], strict=False)]


@dataclass(frozen=True)
class Thresholds:
    psi_warn: float = 0.1
    psi_alert: float = 0.25
    oov_warn: float = 0.05
    oov_alert: float = 0.15
    review_warn: float = 0.05
    review_alert: float = 0.15
    min_rows: int = 100

    @classmethod
    def from_settings(cls, settings: Any) -> Thresholds:
        return cls(psi_warn=settings.drift_psi_warn, psi_alert=settings.drift_psi_alert,
                   oov_warn=settings.drift_oov_warn, oov_alert=settings.drift_oov_alert,
                   review_warn=settings.drift_review_warn,
                   review_alert=settings.drift_review_alert, min_rows=settings.drift_min_rows)


@dataclass(frozen=True)
class Signal:
    value: float | None
    state: State
    warn: float
    alert: float
    reference: float | None = None  # the reference's share, for the change signals
    live: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"value": None if self.value is None else round(self.value, 6),
                "state": self.state, "warn": self.warn, "alert": self.alert,
                "reference": _round(self.reference), "live": _round(self.live)}


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def _state(value: float | None, warn: float, alert: float) -> State:
    if value is None:
        return "no_data"
    if value >= alert:
        return "alert"
    if value >= warn:
        return "warn"
    return "ok"


def _share(pair: tuple[int, int]) -> float | None:
    return pair[0] / pair[1] if pair[1] else None


def compare(reference: Profile, live: Profile, thresholds: Thresholds) -> dict[str, Signal]:
    """Every signal of the live window against the reference (see the module's docstring)."""
    t = thresholds
    enough = live.rows >= t.min_rows and reference.rows > 0

    def change(ref: float | None, cur: float | None, warn: float, alert: float) -> Signal:
        value = cur - ref if enough and ref is not None and cur is not None else None
        return Signal(value, _state(value, warn, alert), warn, alert, ref, cur)

    cuts = equal_mass_groups(reference.confidence)
    confidence = (psi(regroup(reference.confidence, cuts), regroup(live.confidence, cuts))
                  if enough else None)
    names = sorted(set(reference.categories) | set(live.categories))
    mix = (psi([reference.categories.get(c, 0) for c in names],
               [live.categories.get(c, 0) for c in names]) if enough else None)
    review_ref = reference.review / reference.rows if reference.review is not None and \
        reference.rows else None
    review_live = live.review / live.rows if live.review is not None and live.rows else None
    return {
        "confidence_psi": Signal(confidence, _state(confidence, t.psi_warn, t.psi_alert),
                                 t.psi_warn, t.psi_alert),
        "category_psi": Signal(mix, _state(mix, t.psi_warn, t.psi_alert),
                               t.psi_warn, t.psi_alert),
        "oov_words_change": change(_share(reference.oov_words), _share(live.oov_words),
                                   t.oov_warn, t.oov_alert),
        "oov_chars_change": change(_share(reference.oov_chars), _share(live.oov_chars),
                                   t.oov_warn, t.oov_alert),
        "review_share_change": change(review_ref, review_live, t.review_warn, t.review_alert),
    }


def worst(signals: Mapping[str, Signal]) -> State:
    """The overall state: the worst signal's (`no_data` only when no signal has data)."""
    states = [s.state for s in signals.values()]
    return max(states, key=STATE_LEVEL.__getitem__) if states else "no_data"


def reference_profile(pipeline: Any, names: Sequence[str], *, temperature: float = 1.0,
                      auto_file_threshold: float | None = None) -> Profile:
    """The profile of a version's held-out rows, answered as the version is served."""
    from core.prediction import Classifier

    classifier = Classifier(pipeline, name="reference", version=0, temperature=temperature,
                            auto_file_threshold=auto_file_threshold)
    answers = classifier.predict_batch(list(names))
    return profile(categories=[a.category for a in answers],
                   confidences=[a.confidence for a in answers],
                   decisions=[a.decision for a in answers], names=list(names),
                   vocabulary=VocabularyCheck(pipeline))
