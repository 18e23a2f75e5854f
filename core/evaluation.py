"""Scores for a model on a labelled set, and the paired test that gates promotion."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.stats import binomtest
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
)

from core.taxonomy import DEFAULT_SEPARATOR, split_path


def score(y_true: Sequence[str], y_pred: Sequence[str]) -> dict[str, Any]:
    """Accuracy, macro-F1 and per-category precision/recall/F1/support."""
    labels = sorted(set(y_true))
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0
    )
    return {
        "n": len(y_true),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(
            f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)
        ),
        "per_category": {
            label: {
                "precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)
            }
            for label, p, r, f, s in zip(labels, precision, recall, f1, support, strict=True)
        },
    }


def level_scores(y_true: Sequence[str], y_pred: Sequence[str], *,
                 separator: str = DEFAULT_SEPARATOR) -> dict[str, dict[str, float]]:
    """Accuracy and macro-F1 at every depth of category paths, and at the leaf.

    Keys: "depth_1", "depth_2", ... up to one above the deepest path, and "leaf" (the full
    paths). A path shallower than a depth counts as itself there. Empty for flat categories.
    """
    true_paths = [split_path(c, separator) for c in y_true]
    pred_paths = [split_path(c, separator) for c in y_pred]
    depth = max((len(p) for p in true_paths), default=0)
    if depth < 2:
        return {}
    out: dict[str, dict[str, float]] = {}
    for d in range(1, depth):
        truth = [separator.join(p[:d]) for p in true_paths]
        guess = [separator.join(p[:d]) for p in pred_paths]
        out[f"depth_{d}"] = _summary(truth, guess)
    out["leaf"] = _summary(list(y_true), list(y_pred))
    return out


def _summary(y_true: list[str], y_pred: list[str]) -> dict[str, float]:
    labels = sorted(set(y_true))
    return {"accuracy": float(accuracy_score(y_true, y_pred)),
            "macro_f1": float(f1_score(y_true, y_pred, labels=labels, average="macro",
                                       zero_division=0)),
            "categories": len(labels)}


def confusion(y_true: Sequence[str], y_pred: Sequence[str]) -> tuple[list[str], np.ndarray]:
    labels = sorted(set(y_true) | set(y_pred))
    return labels, confusion_matrix(y_true, y_pred, labels=labels)


def mcnemar_p_value(
    y_true: Sequence[str], old_pred: Sequence[str], new_pred: Sequence[str]
) -> tuple[int, int, float]:
    """One-sided exact McNemar test that the new model errs less often than the old one.

    Returns (rows only the new model gets right, rows only the old one gets right, p-value).
    Only the rows where the two disagree carry information, which is why this paired test is
    steadier than comparing two noisy scores on a few hundred rows.
    """
    truth = np.asarray(y_true, dtype=object)
    new_right = np.asarray(new_pred, dtype=object) == truth
    old_right = np.asarray(old_pred, dtype=object) == truth
    new_only = int(np.sum(new_right & ~old_right))
    old_only = int(np.sum(old_right & ~new_right))
    if new_only + old_only == 0:
        return 0, 0, 1.0
    p_value = binomtest(new_only, new_only + old_only, 0.5, alternative="greater").pvalue
    return new_only, old_only, float(p_value)
