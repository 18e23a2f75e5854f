"""core.drift: profiles, PSI and the comparison of a live window with its reference."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.pipeline import Pipeline

from core.drift import (
    GRID,
    Profile,
    Thresholds,
    VocabularyCheck,
    compare,
    confidence_grid,
    equal_mass_groups,
    profile,
    psi,
    reference_profile,
    regroup,
    worst,
)


def test_identical_distributions_have_zero_psi() -> None:
    assert psi([10, 20, 70], [1, 2, 7]) == pytest.approx(0.0)


def test_psi_of_known_shares() -> None:
    # (0.5 - 0.25) ln(0.5 / 0.25) + (0.5 - 0.75) ln(0.5 / 0.75)
    expected = 0.25 * math.log(2) + 0.25 * math.log(1.5)

    assert psi([25, 75], [50, 50]) == pytest.approx(expected)
    assert psi([50, 50], [25, 75]) == pytest.approx(expected)  # symmetric


def test_psi_of_two_binned_normals_matches_the_closed_form() -> None:
    # PSI is the symmetric Kullback-Leibler divergence: for N(0,1) and N(d,1) it is d^2.
    edges = np.linspace(-8, 9, 2001)
    from scipy.stats import norm

    ref = np.diff(norm.cdf(edges))
    live = np.diff(norm.cdf(edges, loc=0.5))

    assert psi(ref, live, floor=1e-12) == pytest.approx(0.25, rel=1e-3)


def test_an_empty_bin_keeps_psi_finite_and_large() -> None:
    value = psi([100, 0], [50, 50])

    assert math.isfinite(value)
    assert value > 1.0


def test_equal_mass_groups_cut_the_reference_in_even_parts() -> None:
    counts = [0] * 90 + [10] * 10  # everything between 0.90 and 1.00

    cuts = equal_mass_groups(counts, groups=5)

    assert regroup(counts, cuts) == [20, 20, 20, 20, 20]


def test_confidences_land_on_the_grid() -> None:
    grid = confidence_grid([0.0, 0.004, 0.5, 0.999, 1.0])

    assert len(grid) == GRID
    assert grid[0] == 2
    assert grid[50] == 1
    assert grid[GRID - 1] == 2


def _profile(confidences: list[float], categories: list[str], *, review: int = 0,
             oov: tuple[int, int] = (0, 100)) -> Profile:
    return Profile(rows=len(confidences), confidence=confidence_grid(confidences),
                   categories={c: categories.count(c) for c in set(categories)},
                   oov_words=oov, oov_chars=oov, review=review)


def test_a_window_like_its_reference_is_ok_everywhere() -> None:
    rng = np.random.default_rng(1)
    confidences = rng.beta(8, 1, 400).tolist()
    categories = rng.choice(["A", "B", "C"], 400).tolist()
    reference = _profile(confidences, categories, review=40, oov=(5, 100))

    signals = compare(reference, reference, Thresholds())

    assert {s.state for s in signals.values()} == {"ok"}
    assert signals["confidence_psi"].value == pytest.approx(0.0)
    assert worst(signals) == "ok"


def test_a_drop_in_confidence_and_a_new_mix_alert() -> None:
    rng = np.random.default_rng(2)
    reference = _profile(rng.beta(8, 1, 400).tolist(), ["A"] * 200 + ["B"] * 200)
    live = _profile(rng.beta(2, 2, 400).tolist(), ["A"] * 380 + ["B"] * 20)

    signals = compare(reference, live, Thresholds())

    assert signals["confidence_psi"].state == "alert"
    assert signals["category_psi"].state == "alert"
    assert worst(signals) == "alert"


def test_changes_in_shares_are_live_minus_reference() -> None:
    reference = _profile([0.9] * 200, ["A"] * 200, review=20, oov=(10, 100))
    live = _profile([0.9] * 200, ["A"] * 200, review=50, oov=(18, 100))

    signals = compare(reference, live, Thresholds(oov_warn=0.05, oov_alert=0.15,
                                                  review_warn=0.05, review_alert=0.15))

    assert signals["oov_words_change"].value == pytest.approx(0.08)
    assert signals["oov_words_change"].state == "warn"
    assert signals["review_share_change"].value == pytest.approx(0.15)
    assert signals["review_share_change"].state == "alert"


def test_too_few_live_rows_is_no_data_not_an_alert() -> None:
    reference = _profile([0.99] * 200, ["A"] * 200)
    live = _profile([0.1] * 20, ["B"] * 20)

    signals = compare(reference, live, Thresholds(min_rows=100))

    assert {s.state for s in signals.values()} == {"no_data"}
    assert worst(signals) == "no_data"


def test_profiles_add_up_and_survive_storage() -> None:
    a = _profile([0.9, 0.8], ["A", "B"], review=1, oov=(1, 10))
    b = _profile([0.7], ["A"], review=0, oov=(2, 5))

    merged = a.merge(b)

    assert merged.rows == 3
    assert dict(merged.categories) == {"A": 2, "B": 1}
    assert merged.oov_words == (3, 15)
    assert merged.review == 1
    assert sum(merged.confidence) == 3
    assert Profile.from_dict(merged.as_dict()) == merged


def test_words_and_ngrams_a_model_never_saw_are_counted(app_pipeline: Pipeline) -> None:
    check = VocabularyCheck(app_pipeline)

    (unseen_known, words_known), (grams_unseen_known, grams_known) = check.count(["tubo pvc"])
    (unseen_new, words_new), (grams_unseen_new, grams_new) = check.count(["qzxv wkjq"])

    assert (unseen_known, words_known) == (0, 2)
    assert (unseen_new, words_new) == (2, 2)
    assert grams_unseen_known < grams_known
    assert grams_unseen_new > grams_unseen_known
    assert grams_new > 0


def test_a_profile_checks_at_most_a_sample_of_names(app_pipeline: Pipeline) -> None:
    names = ["tubo pvc"] * 2000
    made = profile(categories=["A"] * 2000, confidences=[0.9] * 2000, names=names,
                   decisions=["auto"] * 2000, vocabulary=VocabularyCheck(app_pipeline))

    assert made.rows == 2000
    assert made.oov_words[1] <= 2 * 500
    assert made.review == 0


def test_the_reference_answers_held_out_names_as_served(app_pipeline: Pipeline) -> None:
    names = ["tubo pvc 1/2", "taladro percutor", "foco led 9w", "pintura vinilica"]

    reference = reference_profile(app_pipeline, names, auto_file_threshold=0.5)

    assert reference.rows == 4
    assert sum(reference.categories.values()) == 4
    assert set(reference.categories) <= set(app_pipeline.classes_)
    assert reference.review is not None
    assert reference.oov_words[1] > 0
