"""The auto-file threshold: Clopper-Pearson lower bounds, tested from the top down."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binomtest

from core.calibration import OutOfFold
from core.thresholds import (
    calibrate_and_choose,
    choose_level_thresholds,
    choose_threshold,
    coverage_and_precision,
    precision_lower_bound,
    rows_needed,
)


@pytest.mark.parametrize(("k", "n"), [(1, 1), (598, 598), (940, 941), (50, 80), (0, 10)])
def test_the_bound_is_the_exact_one_sided_clopper_pearson_bound(k: int, n: int) -> None:
    # A two-sided 90 % exact interval's lower end is the one-sided 95 % lower bound.
    expected = binomtest(k, n).proportion_ci(confidence_level=0.90, method="exact").low
    assert float(precision_lower_bound(k, n, 0.05)) == pytest.approx(expected, abs=1e-9)


def test_rows_needed_is_where_a_perfect_record_first_reaches_the_target() -> None:
    needed = rows_needed(0.995, 0.05)
    assert needed == 598
    n = int(needed)
    assert precision_lower_bound(n, n, 0.05) >= 0.995
    assert precision_lower_bound(n - 1, n - 1, 0.05) < 0.995


def _draw(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    # Confidence ~ Beta(20, 1) and right with probability equal to it (perfect calibration):
    # the precision above t is then (20/21) (1 - t^21) / (1 - t^20), exactly.
    confidence = np.round(rng.beta(20, 1, size=n), 4)
    return confidence, rng.random(n) < confidence


def _true_precision(t: float) -> float:
    return (20 / 21) * (1 - t ** 21) / (1 - t ** 20)


def test_the_guarantee_holds_in_repeated_draws() -> None:
    rng = np.random.default_rng(7)
    target, delta, draws = 0.98, 0.1, 300
    misses = found = 0
    for _ in range(draws):
        chosen = choose_threshold(*_draw(rng, 2000), precision=target, delta=delta)
        if chosen.threshold is None:
            continue
        found += 1
        misses += _true_precision(chosen.threshold) < target
    assert found >= 0.7 * draws  # the procedure is not vacuous here
    # At most delta of the draws may miss: 30 of 300 (measured: 15). A point estimate instead
    # of the bound misses far more often (next test).
    assert misses <= delta * draws


def test_a_point_estimate_would_miss_often_which_the_bound_prevents() -> None:
    # The same draws with the target as the "bound": shows the test above can fail.
    rng = np.random.default_rng(7)
    misses = 0
    for _ in range(100):
        confidence, right = _draw(rng, 2000)
        order = np.argsort(-confidence)
        running = np.cumsum(right[order]) / np.arange(1, len(order) + 1)
        t = confidence[order][np.flatnonzero(running >= 0.98).max()]
        misses += _true_precision(t) < 0.98
    assert misses > 20


def test_no_threshold_qualifies_with_too_few_names() -> None:
    chosen = choose_threshold(np.full(597, 0.999), np.ones(597, dtype=bool),
                              precision=0.995, delta=0.05)
    assert chosen.threshold is None
    assert (chosen.covered, chosen.coverage, chosen.lower_bound) == (0, 0.0, None)
    assert "nothing will be filed automatically" in chosen.summary()
    assert "597 out-of-fold predictions" in chosen.summary()


def test_no_threshold_qualifies_when_the_top_is_wrong_too() -> None:
    rng = np.random.default_rng(1)
    confidence = rng.random(5000)
    chosen = choose_threshold(confidence, rng.random(5000) < 0.97, precision=0.995, delta=0.05)
    assert chosen.threshold is None


def test_the_walk_stops_at_the_first_failure() -> None:
    # 700 right at the top, then one wrong, then 2,000 right: lower thresholds would pass
    # again, but a fixed sequence stops where it first fails.
    confidence = np.concatenate([np.linspace(0.999, 0.99, 700), [0.985],
                                 np.linspace(0.98, 0.5, 2000)])
    right = np.concatenate([np.ones(700), [0], np.ones(2000)]).astype(bool)
    chosen = choose_threshold(confidence, right, precision=0.995, delta=0.05)
    assert chosen.threshold == pytest.approx(0.99)
    assert (chosen.covered, chosen.correct) == (700, 700)
    assert chosen.lower_bound == pytest.approx(float(precision_lower_bound(700, 700, 0.05)))


def test_tied_names_are_filed_together_or_not_at_all() -> None:
    # 700 right at 0.99, then ten tied at 0.98 of which five are wrong, listed right first:
    # taking only the right ones of the tie would look fine, but a threshold takes them all.
    confidence = np.concatenate([np.full(700, 0.99), np.full(10, 0.98), np.full(300, 0.5)])
    right = np.concatenate([np.ones(705), np.zeros(5), np.ones(300)]).astype(bool)
    chosen = choose_threshold(confidence, right, precision=0.995, delta=0.05)
    assert chosen.threshold == 0.99
    assert chosen.covered == 700


def test_the_chosen_threshold_is_the_lowest_that_passes_and_counts_ties() -> None:
    rng = np.random.default_rng(3)
    confidence = np.round(rng.beta(30, 1, size=4000), 2)  # heavy ties
    right = rng.random(4000) < np.minimum(1.0, confidence + 0.01)
    chosen = choose_threshold(confidence, right, precision=0.99, delta=0.05)
    assert chosen.threshold is not None
    above = confidence >= chosen.threshold
    assert (chosen.covered, chosen.correct) == (above.sum(), right[above].sum())
    values = np.unique(confidence)[::-1]
    lower = values[values < chosen.threshold][0]  # the next candidate down fails its test
    below = confidence >= lower
    assert precision_lower_bound(right[below].sum(), below.sum(), 0.05) < 0.99


def test_coverage_and_precision_on_other_rows() -> None:
    confidence = np.array([0.99, 0.95, 0.9, 0.5])
    right = np.array([True, False, True, True])
    assert coverage_and_precision(confidence, right, 0.9) == (0.75, pytest.approx(2 / 3), 3)
    assert coverage_and_precision(confidence, right, None) == (0.0, None, 0)
    assert coverage_and_precision(confidence, right, 0.999) == (0.0, None, 0)


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="delta"):
        choose_threshold([0.9], [True], precision=0.9, delta=0.0)
    with pytest.raises(ValueError, match="length"):
        choose_threshold([0.9, 0.8], [True], precision=0.9, delta=0.05)


# -- a threshold per level of a category path ---------------------------------------------------

LEAVES = ["A > a1", "A > a2", "B > b1", "B > b2"]


def _simulated_paths(rng: np.random.Generator,
                    n: int) -> tuple[OutOfFold, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """Calibrated out-of-fold predictions over two parents of two leaves each.

    A row's parent is right with probability its mass c (0.6 to 1, mostly near 1), and within
    a right parent its top leaf is right with probability its share s of the parent's mass
    (0.55 to 1, mostly near 1): the parent is often sure where the leaf is not.
    """
    parent_mass = 1.0 - 0.4 * rng.random(n) ** 4
    share = 1.0 - 0.45 * rng.random(n) ** 3
    parent = rng.integers(0, 2, n)  # the predicted parent, 0 (A) or 1 (B)
    child = rng.integers(0, 2, n)  # its top child
    top = 2 * parent + child
    probabilities = np.empty((n, 4))
    rows = np.arange(n)
    probabilities[rows, top] = parent_mass * share
    probabilities[rows, 2 * parent + 1 - child] = parent_mass * (1 - share)
    other = 2 * (1 - parent)
    probabilities[rows, other] = probabilities[rows, other + 1] = (1 - parent_mass) / 2
    parent_right = rng.random(n) < parent_mass
    leaf_right = parent_right & (rng.random(n) < share)
    labels = np.where(leaf_right, top, np.where(parent_right, 2 * parent + 1 - child,
                                                other + rng.integers(0, 2, n)))
    with np.errstate(divide="ignore"):  # a probability of 0 is a score of -inf
        scores = np.log(probabilities)
    oof = OutOfFold(scores=scores, classes=LEAVES, labels=labels, rows=rows)
    truth = {"depth_1": (parent_mass, parent_right), "leaf": (parent_mass * share, leaf_right)}
    return oof, truth


def test_each_level_gets_the_threshold_the_fixed_sequence_test_gives_its_own_predictions() -> None:
    oof, truth = _simulated_paths(np.random.default_rng(3), 6000)

    levels = choose_level_thresholds(oof, 1.0, separator=" > ", precision=0.95, delta=0.05)

    assert len(levels) == 2
    for level, key in zip(levels, ["depth_1", "leaf"], strict=True):
        confidence, correct = truth[key]
        expected = choose_threshold(np.round(confidence, 6), correct, precision=0.95, delta=0.05)
        assert level == expected
    top, leaf = levels
    assert top.threshold is not None
    assert leaf.threshold is not None
    # The parent is sure far more often than the leaf: the top level files more names.
    assert top.coverage > leaf.coverage + 0.1


def test_level_thresholds_keep_their_guarantee_on_fresh_names() -> None:
    rng = np.random.default_rng(11)
    oof, _ = _simulated_paths(rng, 6000)
    levels = choose_level_thresholds(oof, 1.0, separator=" > ", precision=0.95, delta=0.05)
    _, fresh = _simulated_paths(rng, 20_000)
    for level, key in zip(levels, ["depth_1", "leaf"], strict=True):
        confidence, correct = fresh[key]
        _, precision, covered = coverage_and_precision(np.round(confidence, 6), correct,
                                                        level.threshold)
        assert covered > 1000
        assert precision is not None
        assert precision >= 0.95 - 0.005


def test_calibration_stores_level_thresholds_for_paths_only() -> None:
    oof, _ = _simulated_paths(np.random.default_rng(5), 3000)

    trust = calibrate_and_choose(oof, precision=0.95, delta=0.05, separator=" > ")
    assert trust.level_thresholds == [level.threshold for level in trust.levels]
    assert len(trust.levels) == 2
    assert [entry["depth"] for entry in trust.report()["levels"]] == [1, 2]
    assert trust.metrics["auto_file_coverage_oof_depth_1"] == trust.levels[0].coverage

    flat = OutOfFold(scores=oof.scores, classes=["a1", "a2", "b1", "b2"], labels=oof.labels,
                     rows=oof.rows)
    assert calibrate_and_choose(flat, precision=0.95, delta=0.05,
                                separator=" > ").level_thresholds is None
