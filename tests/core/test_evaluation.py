"""Scores on hand-computed examples, and the paired test that gates promotion."""

from __future__ import annotations

import numpy as np
import pytest

from core.evaluation import confusion, mcnemar_p_value, score


def test_score_hand_computed() -> None:
    truth = ["a", "a", "b", "b", "c"]
    predicted = ["a", "b", "b", "b", "a"]
    # a: tp 1, fp 1 (the c), fn 1 -> P 1/2, R 1/2, F1 1/2
    # b: tp 2, fp 1 (an a), fn 0 -> P 2/3, R 1, F1 4/5
    # c: tp 0, fp 0, fn 1        -> P 0 (no predictions), R 0, F1 0
    result = score(truth, predicted)
    assert result["n"] == 5
    assert result["accuracy"] == pytest.approx(3 / 5)
    assert result["macro_f1"] == pytest.approx((1 / 2 + 4 / 5 + 0) / 3)
    assert result["per_category"] == {
        "a": {"precision": pytest.approx(1 / 2), "recall": pytest.approx(1 / 2),
              "f1": pytest.approx(1 / 2), "support": 2},
        "b": {"precision": pytest.approx(2 / 3), "recall": pytest.approx(1.0),
              "f1": pytest.approx(4 / 5), "support": 2},
        "c": {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1},
    }


def test_score_only_reports_true_categories() -> None:
    # A prediction outside the labelled categories is an error, not a category of its own.
    result = score(["a", "b"], ["a", "z"])
    assert set(result["per_category"]) == {"a", "b"}
    assert result["accuracy"] == pytest.approx(0.5)
    assert result["macro_f1"] == pytest.approx(0.5)


def test_score_types_are_plain_python() -> None:
    # The metrics go to MLflow and to JSON as they are.
    result = score(["a", "b"], ["a", "b"])
    assert type(result["accuracy"]) is float
    assert type(result["macro_f1"]) is float
    assert type(result["per_category"]["a"]["support"]) is int


def test_confusion_includes_predicted_only_labels() -> None:
    labels, matrix = confusion(["a", "a", "b"], ["a", "z", "b"])
    assert labels == ["a", "b", "z"]
    np.testing.assert_array_equal(matrix, [[1, 0, 1], [0, 1, 0], [0, 0, 0]])


def test_mcnemar_identical_predictions() -> None:
    truth = ["a", "b", "c", "a"]
    same = ["a", "c", "c", "b"]
    assert mcnemar_p_value(truth, same, list(same)) == (0, 0, 1.0)


def test_mcnemar_new_strictly_better_on_many_rows() -> None:
    truth = ["a"] * 100
    old = ["b"] * 20 + ["a"] * 80
    new = ["a"] * 100
    new_only, old_only, p_value = mcnemar_p_value(truth, old, new)
    assert (new_only, old_only) == (20, 0)
    assert p_value == pytest.approx(0.5**20)


def test_mcnemar_is_one_sided() -> None:
    truth = ["a"] * 100
    better = ["a"] * 100
    worse = ["b"] * 20 + ["a"] * 80
    new_only, old_only, p_value = mcnemar_p_value(truth, better, worse)
    assert (new_only, old_only) == (0, 20)
    assert p_value == pytest.approx(1.0)


def test_mcnemar_counts_only_disagreements() -> None:
    # 8 rows only the new model gets right, 2 only the old one, 90 both get wrong alike.
    truth = ["a"] * 100
    old = ["a"] * 2 + ["b"] * 8 + ["c"] * 90
    new = ["b"] * 2 + ["a"] * 8 + ["c"] * 90
    new_only, old_only, p_value = mcnemar_p_value(truth, old, new)
    assert (new_only, old_only) == (8, 2)
    # P(X >= 8) for X ~ Binomial(10, 1/2) = (45 + 10 + 1) / 1024
    assert p_value == pytest.approx(56 / 1024)


def test_level_scores_truncate_paths_at_every_depth() -> None:
    from core.evaluation import level_scores

    truth = ["A > X > 1", "A > X > 2", "A > Y > 3", "B > Z > 4", "C"]
    guess = ["A > X > 2", "A > X > 2", "A > X > 1", "B > Z > 4", "B > Z > 4"]
    levels = level_scores(truth, guess)
    assert set(levels) == {"depth_1", "depth_2", "leaf"}
    assert levels["depth_1"]["accuracy"] == pytest.approx(4 / 5)  # only "C" is wrong at the top
    assert levels["depth_2"]["accuracy"] == pytest.approx(3 / 5)  # "A > Y" missed too
    assert levels["leaf"]["accuracy"] == pytest.approx(2 / 5)
    assert levels["depth_1"]["categories"] == 3
    assert level_scores(["A", "B"], ["A", "A"]) == {}  # flat categories: no levels
