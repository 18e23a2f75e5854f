"""Temperature scaling on out-of-fold scores, expected calibration error, reliability diagrams."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.frozen import FrozenEstimator
from sklearn.pipeline import Pipeline

from core.calibration import (
    decision_scores,
    expected_calibration_error,
    fit_temperature,
    out_of_fold_scores,
    probabilities_from_scores,
    reliability_figure,
)
from core.data import Catalog
from core.models import linear_pipeline


def _sample(rng: np.random.Generator, temperature: float,
            n: int = 4000, k: int = 5) -> tuple[np.ndarray, np.ndarray]:
    scores = rng.normal(size=(n, k)) * 3
    probabilities = probabilities_from_scores(scores, temperature)
    labels = np.array([rng.choice(k, p=row) for row in probabilities])
    return scores, labels


@pytest.mark.parametrize("temperature", [0.4, 1.0, 2.5])
def test_fit_temperature_recovers_the_temperature_that_made_the_labels(
    temperature: float,
) -> None:
    scores, labels = _sample(np.random.default_rng(0), temperature)
    assert fit_temperature(scores, labels) == pytest.approx(temperature, rel=0.1)


class _Scores(ClassifierMixin, BaseEstimator):
    """A 'model' whose decision function is its input: scikit-learn calibrates given scores."""

    def __init__(self, classes: list[int]) -> None:
        self.classes = classes

    def fit(self, x: object = None, y: object = None) -> _Scores:
        self.classes_ = np.asarray(self.classes)
        return self

    def decision_function(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(x)

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.classes_[np.asarray(x).argmax(axis=1)]


def test_our_temperature_gives_what_scikit_learns_temperature_calibration_gives() -> None:
    scores, labels = _sample(np.random.default_rng(1), 2.0)
    theirs = CalibratedClassifierCV(FrozenEstimator(_Scores(list(range(5))).fit()),
                                    method="temperature").fit(scores, labels)
    ours = probabilities_from_scores(scores[:200], fit_temperature(scores, labels))
    assert ours == pytest.approx(theirs.predict_proba(scores[:200]), abs=1e-4)


def test_temperature_never_changes_the_top_category() -> None:
    scores = np.random.default_rng(2).normal(size=(1000, 7)) * 4
    for temperature in (0.1, 0.5, 3.0, 40.0):
        calibrated = probabilities_from_scores(scores, temperature)
        assert (calibrated.argmax(axis=1) == scores.argmax(axis=1)).all()


def test_ece_of_known_cases() -> None:
    assert expected_calibration_error([], []) == 0.0
    # All at 0.9, 90 % right: perfectly calibrated.
    assert expected_calibration_error([0.9] * 10, [True] * 9 + [False]) == pytest.approx(0.0)
    # All at 0.95, all wrong: the gap is the confidence.
    assert expected_calibration_error([0.95] * 4, [False] * 4) == pytest.approx(0.95)
    # Two bins, weighted by their rows: |0.2 - 0| * 1/4 + |0.8 - 1| * 3/4.
    assert expected_calibration_error([0.2, 0.8, 0.8, 0.8], [False, True, True, True]) == (
        pytest.approx(0.2))


def test_decision_scores_give_the_models_probabilities(sample_pipeline: Pipeline,
                                                       baseline_model: Pipeline) -> None:
    names = ["taladro", "tubo pvc 1/2\"", "foco led 9w"]
    for pipeline in (sample_pipeline, baseline_model):
        scores = decision_scores(pipeline[-1], pipeline[:-1].transform(names))
        assert probabilities_from_scores(scores) == pytest.approx(
            pipeline.predict_proba(names), abs=1e-9)


def test_out_of_fold_scores_come_from_models_that_did_not_see_the_row(
    tiny_catalog: Catalog,
) -> None:
    x, y = tiny_catalog.names, tiny_catalog.categories
    half = len(x) // 2
    first, second = np.arange(half), np.arange(half, len(x))
    splits = [(second, first), (first, second)]
    fitted: list[set[str]] = []

    def fit(pipeline: Pipeline, names: list[str], categories: list[str]) -> Pipeline:
        fitted.append(set(names))
        return pipeline.fit(names, categories)

    oof = out_of_fold_scores(linear_pipeline(), x, y, splits, fit=fit)

    assert oof.scores.shape == (len(x), len(set(y)))
    assert oof.classes == sorted(set(y))
    assert [oof.classes[i] for i in oof.labels] == y
    assert fitted == [{x[i] for i in second}, {x[i] for i in first}]
    # Row by row, the score is that of the model fitted on the other half.
    model = linear_pipeline().fit([x[i] for i in second], [y[i] for i in second])
    expected = model.decision_function([x[i] for i in first])
    columns = [oof.classes.index(c) for c in model.classes_]
    assert oof.scores[np.ix_(np.asarray(first), np.asarray(columns))] == pytest.approx(expected)


def test_folds_scored_in_parallel_land_in_their_own_rows(tiny_catalog: Catalog) -> None:
    """Each fold is written as it finishes (joblib's generator, in submission order): two
    worker processes give the same matrix as one."""
    x, y = tiny_catalog.names, tiny_catalog.categories
    rows = np.arange(len(x))
    splits = [(rows[rows % 3 != k], rows[rows % 3 == k]) for k in range(3)]

    def fit(pipeline: Pipeline, names: list[str], categories: list[str]) -> Pipeline:
        return pipeline.fit(names, categories)

    serial = out_of_fold_scores(linear_pipeline(), x, y, splits, fit=fit)
    parallel = out_of_fold_scores(linear_pipeline(), x, y, splits, fit=fit, n_jobs=2)

    assert parallel.rows.tolist() == rows.tolist()
    assert parallel.scores == pytest.approx(serial.scores)


def test_a_class_a_fold_never_saw_scores_minus_infinity(tiny_catalog: Catalog) -> None:
    x, y = tiny_catalog.names, tiny_catalog.categories
    missing = sorted(set(y))[0]
    rows = np.arange(len(x))
    without = np.array([i for i in rows if y[i] != missing])
    splits = [(without, rows[[y[i] == missing for i in rows]])]

    oof = out_of_fold_scores(linear_pipeline(), x, y, splits,
                             fit=lambda p, n, c: p.fit(n, c))

    assert len(oof.rows) == len(x) - len(without)  # only the rows a split tests
    assert np.isneginf(oof.scores[:, oof.classes.index(missing)]).all()
    confidence, correct = oof.top()
    assert not correct.any()  # a model that never saw the category cannot name it
    assert np.isfinite(confidence).all()


def test_reliability_figure_draws_a_diagram() -> None:
    rng = np.random.default_rng(4)
    confidence = rng.random(500)
    figure = reliability_figure(confidence, rng.random(500) < confidence, title="test")
    accuracy_axes, counts_axes = figure.axes
    assert "ECE" in accuracy_axes.get_title()
    assert len(counts_axes.patches) == 15  # one bar per bin
