"""Prediction: the lean single-name path must give exactly what the fitted pipeline gives."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import Pipeline

from core.data import Catalog
from core.models import linear_pipeline
from core.prediction import (
    FEW_CLASSES,
    Classifier,
    _plain_word_analyzer,
    _words_and_pairs,
    top_k_order,
)
from core.training import TrainResult

# Names the catalog never saw: unknown words, nothing left after normalization, odd characters.
ODD_NAMES = ["", "   ", "¿¡!?", "zzqx wvvk", "ÑANDÚ 1/2\"", "_x000D_", "tubo " * 200]


@pytest.fixture(scope="module")
def classifier(sample_pipeline: Pipeline) -> Classifier:
    return Classifier(sample_pipeline, name="product-categorizer", version=1, top_k=3)


@pytest.fixture(scope="module")
def names(sample_catalog: Catalog) -> list[str]:
    return [*sample_catalog.names, *ODD_NAMES]


def test_lean_path_is_taken(classifier: Classifier) -> None:
    assert classifier.lean is not None
    assert classifier.describe() == {"model_name": "product-categorizer", "model_version": 1,
                                     "lean_path": True}


def test_lean_path_predicts_exactly_what_the_pipeline_predicts(
    classifier: Classifier, sample_pipeline: Pipeline, names: list[str]
) -> None:
    expected = sample_pipeline.predict(names).tolist()
    assert [classifier.predict(name).category for name in names] == expected


def test_lean_confidence_and_top_k_are_the_pipeline_probabilities(
    classifier: Classifier, sample_pipeline: Pipeline, names: list[str]
) -> None:
    probabilities = sample_pipeline.predict_proba(names)
    classes = sample_pipeline.classes_.tolist()
    for name, row in zip(names, probabilities, strict=True):
        prediction = classifier.predict(name)
        assert prediction.confidence == pytest.approx(row.max(), abs=1e-6), name
        for category, confidence in prediction.top_k:
            assert confidence == pytest.approx(row[classes.index(category)], abs=1e-6), name


@pytest.mark.parametrize("top_k", [1, 3, 6])
def test_top_k_is_ordered_and_sized(sample_pipeline: Pipeline, top_k: int) -> None:
    classifier = Classifier(sample_pipeline, name="m", version=1, top_k=top_k)
    for name in ["taladro", "tubo pvc 1/2\"", "foco led", "zzqx"]:
        prediction = classifier.predict(name)
        confidences = [confidence for _, confidence in prediction.top_k]
        assert len(prediction.top_k) == top_k
        assert confidences == sorted(confidences, reverse=True)
        assert len({category for category, _ in prediction.top_k}) == top_k
        assert prediction.top_k[0] == (prediction.category, prediction.confidence)


def test_top_k_over_every_category_is_a_distribution(sample_pipeline: Pipeline) -> None:
    classes = sample_pipeline.classes_.tolist()
    classifier = Classifier(sample_pipeline, name="m", version=1, top_k=len(classes))
    prediction = classifier.predict("cinta de embalaje")
    assert sorted(category for category, _ in prediction.top_k) == sorted(classes)
    assert sum(confidence for _, confidence in prediction.top_k) == pytest.approx(1.0, abs=1e-5)


def test_predict_batch_equals_predict(classifier: Classifier, names: list[str]) -> None:
    batch = classifier.predict_batch(names)
    assert len(batch) == len(names)
    for name, from_batch in zip(names, batch, strict=True):
        single = classifier.predict(name)
        assert from_batch.category == single.category, name
        # Both are rounded to 6 decimals, so they may differ by one unit in the last place.
        assert from_batch.confidence == pytest.approx(single.confidence, abs=2e-6), name
        assert [c for c, _ in from_batch.top_k] == [c for c, _ in single.top_k], name


def test_predict_batch_of_nothing(classifier: Classifier) -> None:
    assert classifier.predict_batch([]) == []


def test_fallback_path_for_a_random_forest(
    baseline_model: Pipeline, sample_catalog: Catalog
) -> None:
    classifier = Classifier(baseline_model, name="m", version=2, top_k=2)
    assert classifier.lean is None
    assert classifier.describe()["lean_path"] is False
    names = sample_catalog.names[::10]
    probabilities = baseline_model.predict_proba(names)
    expected = baseline_model.predict(names).tolist()
    predictions = [classifier.predict(name) for name in names]
    assert [p.category for p in predictions] == expected
    assert [p.category for p in classifier.predict_batch(names)] == expected
    np.testing.assert_allclose([p.confidence for p in predictions], probabilities.max(axis=1),
                               atol=1e-6)
    assert all(len(p.top_k) == 2 for p in predictions)


def test_lean_path_for_a_two_category_store(sample_catalog: Catalog) -> None:
    # Two classes give one coefficient row and a logistic, not a softmax, in scikit-learn.
    rows = [i for i, c in enumerate(sample_catalog.categories) if c in {"Pinturas", "Electricos"}]
    pipeline = linear_pipeline().fit([sample_catalog.names[i] for i in rows],
                                     [sample_catalog.categories[i] for i in rows])
    classifier = Classifier(pipeline, name="m", version=1, top_k=3)
    assert classifier.lean is not None
    names = sample_catalog.names[::4]
    assert [classifier.predict(n).category for n in names] == pipeline.predict(names).tolist()
    probabilities = pipeline.predict_proba(names)
    np.testing.assert_allclose([classifier.predict(n).confidence for n in names],
                               probabilities.max(axis=1), atol=1e-6)
    assert len(classifier.predict("foco").top_k) == 2


def test_the_plain_word_analyzer_is_scikit_learns(
    sample_pipeline: Pipeline, names: list[str]
) -> None:
    """The lean path splits words and pairs itself: the same terms, in the same order."""
    word = dict(sample_pipeline.named_steps["features"].transformer_list)["word"]
    assert _plain_word_analyzer(word) is not None
    analyzer = word.build_analyzer()
    normalize = sample_pipeline.named_steps["normalize"].normalize
    texts = [normalize(name) for name in names] + ["a  b\tc\u00a0d\u2003e", " x ", ""]
    for text in texts:
        assert _words_and_pairs(text) == analyzer(text), text


@pytest.mark.parametrize("change", [
    {"ngram_range": (1, 3)}, {"lowercase": True}, {"token_pattern": r"\w+"},
    {"stop_words": ["de"]}, {"analyzer": "char_wb"}, {"strip_accents": "unicode"},
])
def test_a_word_vectorizer_that_does_more_keeps_scikit_learns_analyzer(
    change: dict[str, object],
) -> None:
    vectorizer = TfidfVectorizer(token_pattern=r"\S+", ngram_range=(1, 2), lowercase=False)
    vectorizer.set_params(**change)
    assert _plain_word_analyzer(vectorizer) is None


# -- calibration and the decision -------------------------------------------------------------

UNKNOWN = "木材 ◆◆"  # characters the catalog never shows: no word or n-gram the model knows


@pytest.mark.parametrize("temperature", [0.5, 2.0, 7.0])
def test_temperature_keeps_every_category_and_ranking(
    sample_pipeline: Pipeline, names: list[str], temperature: float
) -> None:
    plain = Classifier(sample_pipeline, name="m", version=1, top_k=6)
    calibrated = Classifier(sample_pipeline, name="m", version=1, top_k=6,
                            temperature=temperature)
    for name in names:
        before, after = plain.predict(name), calibrated.predict(name)
        assert after.category == before.category, name
        assert [c for c, _ in after.top_k] == [c for c, _ in before.top_k], name
    assert ([p.category for p in calibrated.predict_batch(names)]
            == sample_pipeline.predict(names).tolist())


@pytest.mark.parametrize("temperature", [0.5, 3.0])
def test_calibrated_confidence_is_the_softmax_of_scores_over_temperature(
    sample_pipeline: Pipeline, names: list[str], temperature: float
) -> None:
    scores = sample_pipeline.decision_function(names) / temperature
    expected = np.exp(scores - scores.max(axis=1, keepdims=True))
    expected /= expected.sum(axis=1, keepdims=True)
    classifier = Classifier(sample_pipeline, name="m", version=1, temperature=temperature)
    one = [classifier.predict(name).confidence for name in names]
    many = [p.confidence for p in classifier.predict_batch(names)]
    assert one == pytest.approx(expected.max(axis=1), abs=1e-6)
    assert many == pytest.approx(expected.max(axis=1), abs=1e-6)
    # The pipeline's own coefficients are left as they were fitted.
    assert sample_pipeline.predict_proba(names[:3]) == pytest.approx(
        Classifier(sample_pipeline, name="m", version=1).pipeline.predict_proba(names[:3]))


def test_a_temperature_that_is_not_positive_is_refused(sample_pipeline: Pipeline) -> None:
    with pytest.raises(ValueError, match="temperature"):
        Classifier(sample_pipeline, name="m", version=1, temperature=0.0)


def test_without_a_threshold_every_name_goes_to_review(classifier: Classifier,
                                                       names: list[str]) -> None:
    assert classifier.auto_file_threshold is None
    assert {p.decision for p in classifier.predict_batch(names)} == {"review"}
    assert {classifier.predict(name).decision for name in names} == {"review"}


@pytest.mark.parametrize("threshold", [0.0, 0.6, 0.9, 0.99])
def test_decision_is_auto_exactly_from_the_threshold(
    sample_pipeline: Pipeline, names: list[str], threshold: float
) -> None:
    classifier = Classifier(sample_pipeline, name="m", version=1, auto_file_threshold=threshold)
    for prediction in [*classifier.predict_batch(names), *map(classifier.predict, names)]:
        expected = "auto" if prediction.known and prediction.confidence >= threshold else "review"
        assert prediction.decision == expected


def test_a_name_the_model_knows_nothing_of_goes_to_review(sample_pipeline: Pipeline,
                                                          baseline_model: Pipeline) -> None:
    for pipeline in (sample_pipeline, baseline_model):  # lean path, then scikit-learn's
        classifier = Classifier(pipeline, name="m", version=1, auto_file_threshold=0.0)
        for prediction in (classifier.predict(UNKNOWN), classifier.predict_batch([UNKNOWN])[0]):
            assert (prediction.known, prediction.decision) == (False, "review")
        known = classifier.predict_batch(["Tubo PVC 1/2\"", UNKNOWN, "taladro"])
        assert [p.known for p in known] == [True, False, True]
        assert [p.decision for p in known] == ["auto", "review", "auto"]


def test_baseline_path_calibrates_without_changing_categories(
    baseline_model: Pipeline, names: list[str]
) -> None:
    plain = Classifier(baseline_model, name="m", version=2, top_k=2)
    hot = Classifier(baseline_model, name="m", version=2, top_k=2, temperature=2.0)
    before, after = plain.predict_batch(names), hot.predict_batch(names)
    assert [p.category for p in after] == [p.category for p in before]
    assert [p.confidence for p in before] == pytest.approx(
        baseline_model.predict_proba(names).max(axis=1), abs=1e-6)
    # A temperature above 1 flattens: no confidence rises.
    assert all(a.confidence <= b.confidence + 1e-9 for a, b in zip(after, before, strict=True))

# -- many categories and category paths ----------------------------------------------------------

@pytest.fixture(scope="module")
def path_classifier(path_result: TrainResult) -> Classifier:
    return Classifier(path_result.model, name="paths", version=1, top_k=5,
                      level_thresholds=[0.9, 0.9])


def test_top_k_by_partial_selection_is_a_stable_sort() -> None:
    rng = np.random.default_rng(0)
    for k in (1, 3, 10, 60):
        values = np.round(rng.random((20, 50)), 1)  # many ties
        expected = np.argsort(-values, axis=1, kind="stable")[:, :k]
        np.testing.assert_array_equal(top_k_order(values, k), expected)
        np.testing.assert_array_equal(top_k_order(values[3], k), expected[3])


def test_the_lean_path_serves_a_hierarchical_model_as_its_pipeline(
        path_classifier: Classifier, path_result: TrainResult, sample_catalog: Catalog) -> None:
    assert path_classifier.lean is not None
    assert len(path_classifier.classes) > FEW_CLASSES
    names = [*sample_catalog.names[::7], *ODD_NAMES]
    probabilities = path_result.model.predict_proba(names)
    predicted = path_result.model.predict(names)
    for name, row, category in zip(names, probabilities, predicted, strict=True):
        prediction = path_classifier.predict(name)
        assert prediction.category == category
        assert prediction.confidence == pytest.approx(row.max(), abs=1e-6)
        assert [c for c, _ in prediction.top_k] == [
            path_classifier.classes[i] for i in np.argsort(-row, kind="stable")[:5]]


def test_every_level_is_the_mass_of_its_subtree(path_classifier: Classifier,
                                                path_result: TrainResult) -> None:
    names = path_result.test_names[:60]
    probabilities = path_result.model.predict_proba(names)
    classes = path_classifier.classes
    for name, row in zip(names, probabilities, strict=True):
        prediction = path_classifier.predict(name)
        assert prediction.levels is not None
        (top, top_mass), (leaf, leaf_mass) = prediction.levels
        assert (leaf, leaf_mass) == (prediction.category, prediction.confidence)
        assert leaf.startswith(top + " > ")
        expected = sum(p for c, p in zip(classes, row, strict=True) if c.startswith(top + " > "))
        assert top_mass == pytest.approx(expected, abs=2e-6)
        assert top_mass >= leaf_mass


def test_filed_under_backs_off_to_the_sure_level(path_classifier: Classifier,
                                                 path_result: TrainResult) -> None:
    seen = set()
    for name in path_result.test_names:
        prediction = path_classifier.predict(name)
        assert prediction.levels is not None
        (top, top_mass), (leaf, leaf_mass) = prediction.levels
        if leaf_mass >= 0.9:
            assert prediction.filed_under == leaf
            seen.add("leaf")
        elif top_mass >= 0.9:
            assert prediction.filed_under == top
            seen.add("parent")
        else:
            assert prediction.filed_under is None
            seen.add("review")
    assert seen == {"leaf", "parent", "review"}  # the test data has all three cases


def test_without_a_threshold_nothing_is_filed(path_result: TrainResult) -> None:
    classifier = Classifier(path_result.model, name="paths", version=1)
    prediction = classifier.predict(path_result.test_names[0])
    assert prediction.levels is not None
    assert prediction.filed_under is None


def test_predict_batch_equals_predict_with_paths(path_classifier: Classifier,
                                                 path_result: TrainResult) -> None:
    names = [*path_result.test_names[:80], *ODD_NAMES]
    batch = path_classifier.predict_batch(names)
    for name, from_batch in zip(names, batch, strict=True):
        one = path_classifier.predict(name)
        assert from_batch.category == one.category
        assert from_batch.filed_under == one.filed_under
        assert [c for c, _ in from_batch.top_k] == [c for c, _ in one.top_k]
        assert [s for _, s in from_batch.top_k] == pytest.approx([s for _, s in one.top_k],
                                                                 abs=1e-6)
        assert [c for c, _ in from_batch.levels or []] == [c for c, _ in one.levels or []]


def test_flat_models_carry_no_levels(classifier: Classifier) -> None:
    prediction = classifier.predict("tubo pvc")
    assert prediction.levels is None
    assert prediction.filed_under is None


def test_a_loaded_version_reports_its_memory(classifier: Classifier,
                                             path_classifier: Classifier) -> None:
    for loaded in (classifier, path_classifier):
        assert loaded.lean is not None
        coefficients = loaded.lean.nbytes()
        # At least the coefficients twice (the pipeline's and the lean path's) or, for a sparse
        # model, its arrays, plus the vocabularies' dicts: more than the arrays alone.
        assert loaded.nbytes() > coefficients > 0


def test_a_temperature_divides_a_hierarchical_model_s_leaf_log_probabilities(
        path_result: TrainResult) -> None:
    from scipy.special import softmax

    names = path_result.test_names[:40]
    warm = Classifier(path_result.model, name="paths", version=1, top_k=3, temperature=2.5)
    model = path_result.model
    expected = softmax(model[-1].decision_function(model[:-1].transform(names)) / 2.5, axis=1)
    for name, row, batch in zip(names, expected, warm.predict_batch(names), strict=True):
        one = warm.predict(name)
        assert one.confidence == pytest.approx(row.max(), abs=1e-6)
        assert batch.confidence == pytest.approx(row.max(), abs=1e-6)
        assert one.category == model.classes_[row.argmax()]
