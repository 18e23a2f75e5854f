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
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy.stats import beta

from core.calibration import (
    OutOfFold,
    expected_calibration_error,
    fit_temperature,
    reliability_figure,
)


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

    @property
    def threshold(self) -> float | None:
        return self.auto_file.threshold

    def report(self) -> dict[str, Any]:
        """What a training result says about it."""
        summary = self.auto_file.summary()
        coverage = self.metrics.get("auto_file_coverage_test")
        if self.threshold is not None and coverage is not None:
            precision = self.metrics.get("auto_file_precision_test")
            summary += (f"; on the frozen test split it files {coverage:.1%} of the names"
                        + ("" if precision is None else f", {precision:.2%} of them right"))
        return {"temperature": self.temperature, **self.auto_file.as_dict(),
                "summary": summary, "metrics": self.metrics}

    def figures(self) -> dict[str, Any]:
        """Reliability diagrams, by artifact name."""
        shown = {"evaluation/reliability_oof.png": (self.oof_confidence, self.oof_correct,
                                                    "out-of-fold, calibrated")}
        if self.test_confidence is not None and self.test_correct is not None:
            shown["evaluation/reliability.png"] = (self.test_confidence, self.test_correct,
                                                   "held-out test split, calibrated")
        return {path: reliability_figure(conf, right, title=title)
                for path, (conf, right, title) in shown.items()}


def calibrate_and_choose(oof: OutOfFold, *, precision: float, delta: float) -> Trust:
    """Fit the temperature and choose the threshold on out-of-fold predictions."""
    temperature = fit_temperature(oof.scores, oof.labels)
    raw_confidence, _ = oof.top(1.0)
    confidence, correct = oof.top(temperature)
    auto_file = choose_threshold(confidence, correct, precision=precision, delta=delta)
    metrics = {
        "ece_oof_uncalibrated": expected_calibration_error(raw_confidence, correct),
        "ece_oof": expected_calibration_error(confidence, correct),
        "auto_file_coverage_oof": auto_file.coverage,
    }
    return Trust(temperature=temperature, auto_file=auto_file, oof_confidence=confidence,
                 oof_correct=correct, metrics=metrics)


def with_test_split(trust: Trust, *, raw_confidence: Sequence[float],
                    confidence: Sequence[float], correct: Sequence[bool],
                    filed: Sequence[bool]) -> Trust:
    """`trust` with its figures on the version's frozen test split added.

    Args:
        raw_confidence: the uncalibrated top confidences, for the ECE before calibration.
        confidence: the calibrated ones, as served.
        correct: whether each top category is right.
        filed: whether each name's decision is "auto" (known, and confident enough).
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
    return Trust(temperature=trust.temperature, auto_file=trust.auto_file,
                 oof_confidence=trust.oof_confidence, oof_correct=trust.oof_correct,
                 metrics=metrics, test_confidence=np.asarray(confidence, dtype=np.float64),
                 test_correct=right)
