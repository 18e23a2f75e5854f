"""Confidence that means what it says: temperature scaling fitted on out-of-fold predictions.

A model's decision scores rank its answers well, but the softmax of them is not a probability
of being right: the logistic regression here is fitted with `class_weight="balanced"` and a
large C, and is overconfident on names like the ones it learnt. Temperature scaling divides
every score by one positive number T, fitted by maximum likelihood on predictions the model
made for rows it did not learn from (the out-of-fold predictions of cross-validation). One
scalar: the ranking of the categories, hence the predicted category, never changes, and the
lean prediction path folds it into its coefficients for free (core/prediction.py).

Measured against scikit-learn's `CalibratedClassifierCV` (method "sigmoid" and "temperature",
over a `FrozenEstimator`) on the real catalog: BENCHMARKS.md, "Calibration and auto-filing".
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from joblib import Parallel, delayed
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax, softmax
from sklearn.base import clone

ECE_BINS = 15  # equal-width confidence bins, as in Guo et al. (2017)
_MIN_PROBABILITY = 1e-12  # floor before taking logs of a model's probabilities
_LOG_T_BOUNDS = (math.log(0.02), math.log(50.0))
# Rows taken at a time where a whole (rows x classes) temporary would be large: with 1,000
# categories, every copy of the out-of-fold scores of 40,000 rows is 320 MB.
_CHUNK_ROWS = 4096


def _chunks(n: int) -> list[slice]:
    return [slice(start, start + _CHUNK_ROWS) for start in range(0, n, _CHUNK_ROWS)]


def decision_scores(classifier: Any, features: Any) -> np.ndarray:
    """Scores whose softmax is the classifier's probabilities, one column per class.

    Linear models give their decision function (a binary one as the pair [0, z], whose softmax
    is the logistic); models with only probabilities give their logarithm.
    """
    if hasattr(classifier, "decision_function"):
        scores = np.asarray(classifier.decision_function(features), dtype=np.float64)
        if scores.ndim == 1:
            scores = np.stack([np.zeros_like(scores), scores], axis=1)
        return scores
    probabilities = np.asarray(classifier.predict_proba(features), dtype=np.float64)
    return np.log(np.clip(probabilities, _MIN_PROBABILITY, None))


def probabilities_from_scores(scores: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Calibrated probabilities: the softmax of the scores divided by the temperature."""
    return np.asarray(softmax(scores / temperature, axis=1))


def fit_temperature(scores: np.ndarray, labels: np.ndarray) -> float:
    """The temperature that minimizes the negative log-likelihood of the true classes.

    Args:
        scores: (rows, classes) decision scores of predictions made out of fold.
        labels: the index of each row's true class.
    """
    chunks = _chunks(len(labels))

    def loss(log_t: float) -> float:
        # Chunk by chunk: never a temporary the size of `scores` (several per evaluation).
        temperature = math.exp(log_t)
        total = 0.0
        for chunk in chunks:
            part = log_softmax(scores[chunk] / temperature, axis=1)
            total += float(part[np.arange(part.shape[0]), labels[chunk]].sum())
        return -total / len(labels)

    found = minimize_scalar(loss, bounds=_LOG_T_BOUNDS, method="bounded",
                            options={"xatol": 1e-5})
    return float(math.exp(found.x))


def expected_calibration_error(confidence: Sequence[float] | np.ndarray,
                               correct: Sequence[bool] | np.ndarray, *,
                               bins: int = ECE_BINS) -> float:
    """Top-label ECE: the row-weighted gap between confidence and accuracy, bin by bin."""
    conf = np.asarray(confidence, dtype=np.float64)
    right = np.asarray(correct, dtype=np.float64)
    if len(conf) == 0:
        return 0.0
    which = np.minimum((conf * bins).astype(int), bins - 1)
    total = 0.0
    for b in np.unique(which):
        inside = which == b
        total += inside.sum() * abs(conf[inside].mean() - right[inside].mean())
    return float(total / len(conf))


@dataclass(frozen=True)
class OutOfFold:
    """Decision scores training rows got from a model that did not learn them."""

    scores: np.ndarray  # (rows, classes), columns in `classes` order
    classes: list[str]
    labels: np.ndarray  # index of each row's true class
    rows: np.ndarray  # which training rows these are (every row the splits test)

    def probabilities(self, temperature: float = 1.0) -> np.ndarray:
        return probabilities_from_scores(self.scores, temperature)

    def top(self, temperature: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
        """(confidence, correct) of each row's top category, the confidence rounded as served."""
        predicted = self.scores.argmax(axis=1)
        top = np.empty(len(predicted))
        for chunk in _chunks(len(predicted)):
            top[chunk] = probabilities_from_scores(self.scores[chunk], temperature).max(axis=1)
        return np.round(top, 6), predicted == self.labels


Fit = Callable[[Any, list[str], list[str]], Any]


def out_of_fold_scores(
    pipeline: Any, x: list[str], y: list[str], splits: Sequence[tuple[np.ndarray, np.ndarray]],
    *, fit: Fit, n_jobs: int = 1,
) -> OutOfFold:
    """Fit a clone of the pipeline on each split's training part and score its held-out part.

    `fit(pipeline, names, categories)` fits and returns the pipeline (training passes its own,
    which adds the vocabulary prior). A class missing from a fold's training part scores -inf
    there: that fold's model can never pick it.

    The (rows x classes) matrix is the largest thing a training holds at thousands of
    categories (60,000 rows x 3,000 leaves is 1.4 GB), so there is one: each fold's scores are
    written into it as that fold finishes, not all kept until the last, and it is returned as
    is when every row was scored out of fold (the usual case), not copied.
    """
    classes = sorted(set(y))
    column = {c: i for i, c in enumerate(classes)}
    scores = np.full((len(x), len(classes)), -np.inf)
    names = np.array(x, dtype=object)
    categories = np.array(y, dtype=object)
    seen = np.zeros(len(x), dtype=bool)
    def one_fold(train_idx: np.ndarray, test_idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        model = fit(clone(pipeline), names[train_idx].tolist(), categories[train_idx].tolist())
        fold = decision_scores(model[-1], model[:-1].transform(names[test_idx].tolist()))
        return fold, np.array([column[str(c)] for c in model.classes_], dtype=np.intp)

    folds = Parallel(n_jobs=n_jobs, return_as="generator")(
        delayed(one_fold)(tr, te) for tr, te in splits)
    for (_, test_idx), (fold, columns) in zip(splits, folds, strict=True):
        scores[np.ix_(test_idx, columns)] = fold
        seen[test_idx] = True
        del fold
    rows = np.flatnonzero(seen)
    labels = np.array([column[c] for c in categories[rows]])
    scored = scores if len(rows) == len(x) else scores[rows]
    return OutOfFold(scores=scored, classes=classes, labels=labels, rows=rows)


def reliability_figure(confidence: np.ndarray, correct: np.ndarray, *, title: str,
                       bins: int = ECE_BINS) -> Any:
    """A reliability diagram: accuracy against confidence per bin, with each bin's row count."""
    from matplotlib.figure import Figure  # no pyplot: no global state, no display backend

    conf = np.asarray(confidence, dtype=np.float64)
    right = np.asarray(correct, dtype=np.float64)
    which = np.minimum((conf * bins).astype(int), bins - 1)
    edges = np.linspace(0.0, 1.0, bins + 1)
    figure = Figure(figsize=(6, 6))
    axes, counts = figure.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    axes.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="perfect")
    present = [b for b in range(bins) if (which == b).any()]
    axes.bar([edges[b] for b in present], [right[which == b].mean() for b in present],
             width=1.0 / bins, align="edge", edgecolor="black", alpha=0.7, label="accuracy")
    axes.plot([conf[which == b].mean() for b in present],
              [right[which == b].mean() for b in present], "o", color="tab:red",
              label="mean confidence")
    axes.set_ylabel("accuracy")
    axes.set_ylim(0, 1)
    axes.set_title(f"{title} (ECE {expected_calibration_error(conf, right, bins=bins):.4f}, "
                   f"n={len(conf)})")
    axes.legend(loc="upper left")
    counts.bar(edges[:-1], [(which == b).sum() for b in range(bins)], width=1.0 / bins,
               align="edge", edgecolor="black")
    counts.set_yscale("symlog")
    counts.set_xlabel("confidence")
    counts.set_ylabel("rows")
    figure.tight_layout()
    return figure
