"""The auto-file threshold: the lowest confidence from which filing with no human look is safe.

Chosen on out-of-fold predictions of the training rows (core/calibration.py), as a
Learn-then-Test fixed-sequence procedure (Angelopoulos et al., "Learn then Test", 2021): the
candidate thresholds are the distinct confidences, tested from the top down; a threshold passes
when the one-sided Clopper-Pearson lower bound, at level `delta`, on the precision of the names
at or above it is at least `precision`; the first failure stops the walk, and the last
threshold that passed is the one kept. Testing in a fixed order needs no multiple-testing
correction, so with probability at least 1 - delta the chosen threshold's precision is at least
the target (for names drawn like the training rows).

Near the top a threshold covers too few names for any bound to reach the target (with every
name right, the bound on n names is delta ** (1 / n): 598 names for 0.995 at 0.05). The walk
starts at the highest threshold covering that many, which depends on the confidences alone,
never on which names are right, so the order stays fixed in advance given the scores.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
from scipy.stats import beta

from core.calibration import (
    OutOfFold,
    expected_calibration_error,
    fit_temperature,
    probabilities_from_scores,
    reliability_figure,
)
from core.taxonomy import Taxonomy, is_path_taxonomy


def precision_lower_bound(correct: int | np.ndarray, total: int | np.ndarray,
                          delta: float) -> np.ndarray:
    """One-sided Clopper-Pearson lower bound on a proportion, at confidence 1 - delta."""
    k = np.asarray(correct, dtype=np.float64)
    n = np.asarray(total, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        bound = beta.ppf(delta, k, n - k + 1)
    return np.where(k > 0, np.nan_to_num(bound, nan=0.0), 0.0)


def rows_needed(precision: float, delta: float) -> float:
    """The fewest names above a threshold for which its bound can reach `precision`."""
    if precision <= 0:
        return 1
    if precision >= 1:
        return math.inf
    return math.ceil(math.log(delta) / math.log(precision))


@dataclass(frozen=True)
class AutoFileThreshold:
    """The chosen threshold (None: no threshold qualifies) and the evidence behind it."""

    threshold: float | None
    precision: float  # the target
    delta: float
    rows: int  # out-of-fold predictions it was chosen on
    covered: int  # of them, at or above the threshold
    correct: int  # of those, right
    lower_bound: float | None  # the bound at the chosen threshold

    @property
    def coverage(self) -> float:
        return self.covered / self.rows if self.rows else 0.0

    def summary(self) -> str:
        """What the threshold means, in words, for a training result."""
        target = f"{self.precision:.1%} precision at {1 - self.delta:.0%} confidence"
        if self.threshold is None:
            return (f"no confidence threshold reaches {target} on the {self.rows} out-of-fold "
                    f"predictions of the training rows: nothing will be filed automatically, "
                    f"every name goes to review")
        return (f"names with confidence >= {self.threshold:.6g} are filed automatically: "
                f"{self.covered} of {self.rows} out-of-fold predictions ({self.coverage:.1%}) "
                f"reach it, {self.correct} of them right (precision lower bound "
                f"{self.lower_bound:.4f} for a target of {target})")

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "coverage": self.coverage, "summary": self.summary()}


def choose_threshold(confidence: Sequence[float] | np.ndarray,
                     correct: Sequence[bool] | np.ndarray, *,
                     precision: float, delta: float) -> AutoFileThreshold:
    """The lowest threshold passing the fixed-sequence test (see the module docstring)."""
    if not 0 < delta < 1:
        raise ValueError(f"delta must be between 0 and 1, not {delta}")
    conf = np.asarray(confidence, dtype=np.float64)
    right = np.asarray(correct, dtype=bool)
    if conf.shape != right.shape:
        raise ValueError("confidence and correct differ in length")
    order = np.argsort(-conf, kind="stable")
    conf, right = conf[order], right[order]
    # Candidates: each distinct confidence, from the top; a threshold takes every tied name.
    last_of_value = np.flatnonzero(np.append(conf[1:] != conf[:-1], True))
    covered = last_of_value + 1
    hits = np.cumsum(right)[last_of_value]
    start = int(np.searchsorted(covered, rows_needed(precision, delta)))
    passed = precision_lower_bound(hits[start:], covered[start:], delta) >= precision
    # The walk stops at the first failure: the last pass before it is kept.
    n_passed = int(np.argmin(passed)) if not passed.all() else len(passed)
    chosen = start + n_passed - 1 if n_passed else None
    if chosen is None:
        return AutoFileThreshold(threshold=None, precision=precision, delta=delta,
                                 rows=len(conf), covered=0, correct=0, lower_bound=None)
    return AutoFileThreshold(
        threshold=float(conf[last_of_value[chosen]]), precision=precision, delta=delta,
        rows=len(conf), covered=int(covered[chosen]), correct=int(hits[chosen]),
        lower_bound=float(precision_lower_bound(hits[chosen], covered[chosen], delta)),
    )


def coverage_and_precision(confidence: Sequence[float] | np.ndarray,
                           correct: Sequence[bool] | np.ndarray,
                           threshold: float | None) -> tuple[float, float | None, int]:
    """(share at or above the threshold, precision among them or None, how many they are)."""
    conf = np.asarray(confidence, dtype=np.float64)
    right = np.asarray(correct, dtype=bool)
    if threshold is None or len(conf) == 0:
        return 0.0, None, 0
    above = conf >= threshold
    n = int(above.sum())
    return n / len(conf), (float(right[above].mean()) if n else None), n


@dataclass(frozen=True)
class Trust:
    """A version's calibration and auto-file threshold, and how they did on held-out rows."""

    temperature: float
    auto_file: AutoFileThreshold
    oof_confidence: np.ndarray  # calibrated, per out-of-fold row
    oof_correct: np.ndarray
    metrics: dict[str, float]  # ECE and coverage/precision figures (see `calibrate_and_choose`)
    test_confidence: np.ndarray | None = None
    test_correct: np.ndarray | None = None
    # For category paths, the threshold of each depth (1, 2, ..., the deepest leaves), each
    # chosen as `auto_file` is, on that level's confidence and correctness (`level_thresholds`).
    levels: tuple[AutoFileThreshold, ...] = ()

    @property
    def threshold(self) -> float | None:
        return self.auto_file.threshold

    @property
    def level_thresholds(self) -> list[float | None] | None:
        """The auto-file threshold of each path depth; None for flat categories."""
        return [level.threshold for level in self.levels] if self.levels else None

    def report(self) -> dict[str, Any]:
        """What a training result says about it."""
        summary = self.auto_file.summary()
        coverage = self.metrics.get("auto_file_coverage_test")
        if self.threshold is not None and coverage is not None:
            precision = self.metrics.get("auto_file_precision_test")
            summary += (f"; on the frozen test split it files {coverage:.1%} of the names"
                        + ("" if precision is None else f", {precision:.2%} of them right"))
        report = {"temperature": self.temperature, **self.auto_file.as_dict(),
                  "summary": summary, "metrics": self.metrics}
        if self.levels:
            report["levels"] = [{"depth": depth, **level.as_dict()}
                                for depth, level in enumerate(self.levels, start=1)]
        return report

    def figures(self) -> dict[str, Any]:
        """Reliability diagrams, by artifact name."""
        shown = {"evaluation/reliability_oof.png": (self.oof_confidence, self.oof_correct,
                                                    "out-of-fold, calibrated")}
        if self.test_confidence is not None and self.test_correct is not None:
            shown["evaluation/reliability.png"] = (self.test_confidence, self.test_correct,
                                                   "held-out test split, calibrated")
        return {path: reliability_figure(conf, right, title=title)
                for path, (conf, right, title) in shown.items()}


# Rows whose probabilities are computed at a time for the level confidences: at 1,000
# categories the whole (rows x leaves) matrix would be hundreds of megabytes more.
_LEVEL_CHUNK = 2048


def level_confidences(oof: OutOfFold, temperature: float,
                      taxonomy: Taxonomy) -> list[tuple[np.ndarray, np.ndarray]]:
    """(confidence, correct) at each depth of the path, for the rows the depth applies to.

    A row's level at depth d is its top leaf's ancestor at d levels, and its confidence the
    probability mass of that subtree rounded as served (`Taxonomy.levels`); it is right when
    the true leaf has the same ancestor. A row whose top leaf is less deep has no level d (its
    leaf counts at its own depth), so it is left out of that depth's pair.
    """
    predicted = oof.scores.argmax(axis=1)
    ranges = [taxonomy.level_ranges(depth) for depth in range(1, taxonomy.depth + 1)]
    mass = np.zeros((len(ranges), len(predicted)))
    for start in range(0, len(predicted), _LEVEL_CHUNK):
        chunk = slice(start, start + _LEVEL_CHUNK)
        probabilities = probabilities_from_scores(oof.scores[chunk], temperature)
        cumulative = np.zeros((probabilities.shape[0], probabilities.shape[1] + 1))
        np.cumsum(probabilities, axis=1, out=cumulative[:, 1:])
        rows = np.arange(probabilities.shape[0])
        top = predicted[chunk]
        for depth, (first, end) in enumerate(ranges):
            lo, hi = np.maximum(first[top], 0), np.maximum(end[top], 0)
            mass[depth, chunk] = cumulative[rows, hi] - cumulative[rows, lo]
    pairs = []
    for depth, (first, _) in enumerate(ranges):
        applies = first[predicted] >= 0
        confidence = np.minimum(1.0, np.round(mass[depth, applies], 6))
        correct = first[predicted[applies]] == first[oof.labels[applies]]
        pairs.append((confidence, correct))
    return pairs


def choose_level_thresholds(oof: OutOfFold, temperature: float, *, separator: str,
                            precision: float, delta: float) -> tuple[AutoFileThreshold, ...]:
    """Each depth's auto-file threshold, chosen as the leaf's is, on that level's predictions.

    The same fixed-sequence test with the same target, on the level's confidence (its
    subtree's mass) and correctness (`level_confidences`): with probability 1 - delta, the
    names whose level-d confidence reaches depth d's threshold are right at depth d with at
    least `precision`. Empty for flat categories.
    """
    if oof.classes != sorted(oof.classes) or not is_path_taxonomy(oof.classes, separator):
        return ()
    taxonomy = Taxonomy(oof.classes, separator)
    return tuple(choose_threshold(confidence, correct, precision=precision, delta=delta)
                 for confidence, correct in level_confidences(oof, temperature, taxonomy))


def calibrate_and_choose(oof: OutOfFold, *, precision: float, delta: float,
                         separator: str | None = None) -> Trust:
    """Fit the temperature and choose the threshold on out-of-fold predictions; with a
    `separator`, category paths also get a threshold per depth (`choose_level_thresholds`)."""
    temperature = fit_temperature(oof.scores, oof.labels)
    raw_confidence, _ = oof.top(1.0)
    confidence, correct = oof.top(temperature)
    auto_file = choose_threshold(confidence, correct, precision=precision, delta=delta)
    metrics = {
        "ece_oof_uncalibrated": expected_calibration_error(raw_confidence, correct),
        "ece_oof": expected_calibration_error(confidence, correct),
        "auto_file_coverage_oof": auto_file.coverage,
    }
    levels: tuple[AutoFileThreshold, ...] = ()
    if separator is not None:
        levels = choose_level_thresholds(oof, temperature, separator=separator,
                                         precision=precision, delta=delta)
        for depth, level in enumerate(levels, start=1):
            metrics[f"auto_file_coverage_oof_depth_{depth}"] = level.coverage
    return Trust(temperature=temperature, auto_file=auto_file, oof_confidence=confidence,
                 oof_correct=correct, metrics=metrics, levels=levels)


def with_test_split(trust: Trust, *, raw_confidence: Sequence[float],
                    confidence: Sequence[float], correct: Sequence[bool],
                    filed: Sequence[bool], filed_metrics: dict[str, float] | None = None) -> Trust:
    """`trust` with its figures on the version's frozen test split added.

    Args:
        raw_confidence: the uncalibrated top confidences, for the ECE before calibration.
        confidence: the calibrated ones, as served.
        correct: whether each top category is right.
        filed: whether each name's decision is "auto" (known, and confident enough).
        filed_metrics: further figures to add (for paths: where names were filed, by depth).
    """
    right = np.asarray(correct, dtype=bool)
    auto = np.asarray(filed, dtype=bool)
    n_auto = int(auto.sum())
    metrics = {
        **trust.metrics,
        "ece_test_uncalibrated": expected_calibration_error(raw_confidence, right),
        "ece_test": expected_calibration_error(confidence, right),
        "auto_file_coverage_test": n_auto / len(right) if len(right) else 0.0,
    }
    if n_auto:
        metrics["auto_file_precision_test"] = float(right[auto].mean())
    metrics.update(filed_metrics or {})
    return replace(trust, metrics=metrics,
                   test_confidence=np.asarray(confidence, dtype=np.float64), test_correct=right)
