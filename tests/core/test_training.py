"""Training: a held-out split no product straddles, cross-validated selection, honest scores."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression

from core.data import Catalog, CatalogError, duplicate_key
from core.evaluation import score
from core.hierarchy import LocalClassifiers
from core.models import search_space
from core.prediction import Classifier
from core.training import (
    FrozenHoldout,
    TrainParams,
    TrainResult,
    duplicate_groups,
    grouped_folds,
    prior_rows,
    select,
    split_frozen,
    split_holdout,
    train,
)
from tests.fixtures.catalogs import subsample


def group_key(name: str) -> str:
    return " ".join(name.lower().split())


def test_duplicate_groups_are_case_and_space_insensitive() -> None:
    names = ["Tubo PVC 1/2\"", "tubo  pvc 1/2\"", " TUBO PVC 1/2\" ", "Codo PVC", "Tubo PVC 3/4\"",
             "codo pvc"]
    groups = duplicate_groups(names).tolist()
    assert groups[0] == groups[1] == groups[2]
    assert groups[3] == groups[5]
    assert len({groups[0], groups[3], groups[4]}) == 3


def test_split_holdout_never_puts_one_name_on_both_sides(sample_catalog: Catalog) -> None:
    keys = [group_key(name) for name in sample_catalog.names]
    assert len(set(keys)) < len(keys), "the sample catalog should contain duplicates to split"
    train_idx, test_idx = split_holdout(sample_catalog, test_size=0.2, seed=42)

    assert sorted([*train_idx, *test_idx]) == list(range(len(sample_catalog)))
    assert {keys[i] for i in train_idx}.isdisjoint({keys[i] for i in test_idx})
    assert len(test_idx) / len(sample_catalog) == pytest.approx(0.2, abs=0.03)
    test_categories = {sample_catalog.categories[i] for i in test_idx}
    assert test_categories == set(sample_catalog.categories)  # stratified


def test_split_holdout_is_reproducible(small_catalog: Catalog) -> None:
    first = split_holdout(small_catalog, test_size=0.2, seed=7)
    again = split_holdout(small_catalog, test_size=0.2, seed=7)
    other = split_holdout(small_catalog, test_size=0.2, seed=8)
    assert first[1].tolist() == again[1].tolist()
    assert first[1].tolist() != other[1].tolist()


def test_train_holds_out_whole_products(small_catalog: Catalog, small_result: TrainResult) -> None:
    # Every row of a held-out product is held out: none of its duplicates was trained on.
    in_catalog = Counter(group_key(name) for name in small_catalog.names)
    held_out = Counter(group_key(name) for name in small_result.test_names)
    assert all(held_out[key] == in_catalog[key] for key in held_out)
    assert small_result.n_train + len(small_result.test_names) == len(small_catalog)
    assert set(small_result.test_categories) == set(small_catalog.categories)


def test_train_reports_held_out_metrics(small_result: TrainResult) -> None:
    metrics = small_result.metrics
    assert set(metrics) == {"n", "accuracy", "macro_f1", "per_category"}
    assert metrics["n"] == len(small_result.test_names)
    assert set(metrics["per_category"]) == set(small_result.test_categories)
    # The scores are the returned model's on the returned split, not something else.
    predicted = small_result.model.predict(small_result.test_names).tolist()
    assert metrics == score(small_result.test_categories, predicted)
    # Six categories: chance is ~0.17; a model that learned something is far above it.
    assert metrics["macro_f1"] > 0.6
    assert 0.6 < small_result.cv_macro_f1 <= 1.0
    assert set(small_result.best_params) == {"classifier__C"}
    assert isinstance(small_result.model[-1], LogisticRegression)
    assert small_result.seconds > 0


def test_train_reports_stages_in_order(tiny_catalog: Catalog) -> None:
    stages: list[str] = []
    train(catalog=tiny_catalog, params=TrainParams(cv_folds=3), on_stage=stages.append)
    assert stages == ["splitting", "selecting", "calibrating", "evaluating"]


def test_baseline_family_trains(tiny_catalog: Catalog) -> None:
    result = train(catalog=tiny_catalog, params=TrainParams(family="baseline", cv_folds=3))
    assert isinstance(result.model[-1], RandomForestClassifier)
    assert set(result.best_params) == {"classifier__n_estimators"}
    assert result.model.get_params()["normalize__keep_numbers"] is False
    assert set(result.model.predict(result.test_names)) <= set(tiny_catalog.categories)
    assert result.metrics["n"] == len(result.test_names)


def test_train_refuses_categories_smaller_than_the_folds() -> None:
    # Four distinct names cannot fill five cross-validation folds, whatever min_per_category says.
    rows = [("Herramientas", f"Taladro {n}") for n in range(8)]
    rows += [("Pinturas", name) for name in ["Esmalte", "Thinner", "Sellador", "Barniz"]]
    catalog = Catalog(names=[n for _, n in rows], categories=[c for c, _ in rows], source="t")
    with pytest.raises(CatalogError, match="1 of 2 categories are short; the smallest has 4"):
        train(catalog=catalog, params=TrainParams(min_per_category=2, cv_folds=5))


def test_train_params_flatten_for_tracking() -> None:
    flat = TrainParams(family="baseline", cv_folds=3).as_dict()
    assert flat["family"] == "baseline"
    assert flat["cv_folds"] == 3
    assert flat["pre_keep_numbers"] is True
    assert flat["pre_stem"] is False
    assert "preprocessing" not in flat


# -- the built-in vocabulary prior ---------------------------------------------------------------

def store_catalog(sample: Catalog, *, without: str, per_category: int = 20) -> Catalog:
    """A store of its own in the sample's six categories: names of its own (a store code added),
    none of them holding the word `without`."""
    part = subsample(sample, per_category=per_category, seed=5)
    rows = [(category, f"{name} st{i}")
            for i, (name, category) in enumerate(zip(part.names, part.categories, strict=True))
            if without not in name.lower()]
    return Catalog(names=[n for _, n in rows], categories=[c for c, _ in rows], source="store")


def test_prior_rows_join_a_store_that_files_under_the_same_categories(
    sample_catalog: Catalog,
) -> None:
    store = store_catalog(sample_catalog, without="tinaco")
    shared = sample_catalog.names[0]  # a name the store lists too, in a different case
    store = Catalog(names=[*store.names, shared.upper()],
                    categories=[*store.categories, sample_catalog.categories[0]], source="store")

    names, categories = prior_rows(store)

    assert len(names) == len(categories) > 1000
    assert set(categories) == set(store.categories)
    own = {duplicate_key(name) for name in store.names}
    assert not own & {duplicate_key(name) for name in names}  # never a name the store lists
    assert duplicate_key(shared) not in {duplicate_key(name) for name in names}


def test_no_prior_for_other_categories_or_for_the_sample_catalog_itself(
    sample_catalog: Catalog, small_catalog: Catalog,
) -> None:
    other = Catalog(names=[f"Taladro {n}" for n in range(10)] + [f"Esmalte {n}" for n in range(10)],
                    categories=["Tools"] * 10 + ["Paint"] * 10, source="other")
    assert prior_rows(other) == ([], [])
    assert prior_rows(sample_catalog) == ([], [])
    assert prior_rows(small_catalog) == ([], [])  # mostly sample names: no second helping


def test_prior_rows_join_the_final_fit_and_are_never_scored(sample_catalog: Catalog) -> None:
    store = store_catalog(sample_catalog, without="tinaco")
    prior = prior_rows(store)
    pipeline, _ = search_space("linear")

    selection = select(pipeline, {"classifier__C": [3.0, 10.0]}, store.names, store.categories,
                       prior=prior, prior_weight=0.1, cv_folds=3, seed=0, n_jobs=1)

    for train_part, test_part in selection.splits:  # selection sees the store's rows alone
        assert max(train_part) < len(store)
        assert max(test_part) < len(store)
    vocabulary = dict(selection.model.named_steps["features"].transformer_list)["word"].vocabulary_
    assert "tinaco" in vocabulary  # a word only the prior rows have: they were fitted
    assert selection.best_params["classifier__C"] in (3.0, 10.0)
    assert 0.0 < selection.cv_macro_f1 <= 1.0


def test_the_prior_teaches_words_the_store_never_used(sample_catalog: Catalog) -> None:
    store = store_catalog(sample_catalog, without="tinaco")
    with_prior = train(catalog=store, params=TrainParams(cv_folds=3, prior_weight=0.1))
    without = train(catalog=store, params=TrainParams(cv_folds=3, prior_weight=0.0))

    def vocabulary(result: TrainResult) -> dict[str, int]:
        return dict(result.model.named_steps["features"].transformer_list)["word"].vocabulary_

    assert with_prior.n_prior > 1000
    assert without.n_prior == 0
    # What the prior was is recorded by content, so a changed sample catalog shows in MLflow.
    kept = prior_rows(store)
    assert with_prior.prior_fingerprint == Catalog(names=kept[0], categories=kept[1],
                                                   source="x").fingerprint
    assert without.prior_fingerprint == ""
    assert "tinaco" in vocabulary(with_prior)
    assert "tinaco" not in vocabulary(without)
    assert with_prior.model.predict(["Tinaco 1100 L"]).tolist() == ["Plomería"]
    assert with_prior.metrics["n"] == without.metrics["n"]  # the same held-out store rows


# -- category paths and many categories ---------------------------------------------------------

def test_a_many_category_taxonomy_trains_parent_by_parent(
        path_catalog: Catalog, path_result: TrainResult) -> None:
    assert len(set(path_catalog.categories)) == 39
    assert path_result.family == "hierarchical"
    assert isinstance(path_result.model[-1], LocalClassifiers)
    levels = path_result.metrics["levels"]
    assert set(levels) == {"depth_1", "leaf"}
    assert levels["depth_1"]["categories"] == 6
    # The top level is easier than the leaf, and both are learnt (chance is 1/6 and 1/39).
    assert levels["depth_1"]["accuracy"] >= levels["leaf"]["accuracy"] > 0.6
    assert levels["leaf"]["macro_f1"] == path_result.metrics["macro_f1"]


def test_a_taxonomy_files_each_name_at_the_deepest_level_its_threshold_clears(
        path_catalog: Catalog) -> None:
    # A target the 700 training rows can reach at both levels (0.995 needs 598 names at one).
    result = train(catalog=path_catalog,
                   params=TrainParams(cv_folds=3, calibration_folds=3,
                                      auto_file_precision=0.9, auto_file_delta=0.1))
    trust = result.trust
    assert trust is not None
    assert len(trust.levels) == 2
    top, leaf = trust.level_thresholds or []
    assert top is not None
    assert leaf is not None
    assert trust.levels[0].coverage > trust.levels[1].coverage  # the parent is sure more often
    served = Classifier(result.model, name="m", version=1, top_k=1,
                        temperature=trust.temperature, auto_file_threshold=trust.threshold,
                        level_thresholds=trust.level_thresholds).predict_batch(result.test_names)
    backed_off = 0
    for prediction in served:
        assert prediction.levels is not None
        (parent, parent_confidence), (_, leaf_confidence) = prediction.levels
        if not prediction.known or parent_confidence < top:
            assert prediction.filed_under is None
        elif leaf_confidence < leaf:
            assert prediction.filed_under == parent
            backed_off += 1
        else:
            assert prediction.filed_under == prediction.category
    assert backed_off > 0  # unsure leaves under sure parents are filed at the parent
    share = trust.metrics["filed_share_test_depth_1"]
    assert share == pytest.approx(backed_off / len(served))
    assert 0 < trust.metrics["filed_precision_test_depth_1"] <= 1


def test_many_flat_categories_train_under_a_tree_of_groups_and_answer_flat() -> None:
    from core.models import FLAT_MANY_CATEGORIES

    # Each category has a word of its own and shares a family word with its neighbours.
    rng = np.random.default_rng(0)
    words = [f"{a}{b}{c}" for a in "bcdfg" for b in "aeiou" for c in "lmnrst"][:120]
    extras = ["acero", "negro", "grande", "pack", "1/2", "10 mm", "blanco", "premium"]
    names, categories = [], []
    for leaf in range(FLAT_MANY_CATEGORIES + 20):
        for n in range(6):
            names.append(f"{words[leaf]} familia{leaf % 10} {rng.choice(extras)} {n}")
            categories.append(f"Categoría {leaf:03d}")
    catalog = Catalog(names=names, categories=categories, source="flat")

    result = train(catalog=catalog, params=TrainParams(cv_folds=3, calibration_folds=3))

    assert result.family == "hierarchical"
    classifier = result.model[-1]
    assert isinstance(classifier, LocalClassifiers)
    assert list(result.model.classes_) == sorted(set(categories))
    assert len(classifier.segment_lengths_) > 1  # the groups: not one 120-way model
    assert "levels" not in result.metrics  # flat categories: no per-level figures
    assert result.trust is not None
    assert result.trust.level_thresholds is None
    assert result.metrics["macro_f1"] > 0.9
    answer = Classifier(result.model, name="m", version=1).predict(names[0])
    assert answer.category == categories[0]
    assert answer.levels is None


def test_paths_are_trained_in_one_spelling(sample_catalog: Catalog) -> None:
    part = subsample(sample_catalog, per_category=15, seed=2)
    messy = [f"Todo>{c}" if i % 2 else f"  Todo  >  {c} " for i, c in enumerate(part.categories)]
    catalog = Catalog(names=part.names, categories=messy, source="messy")
    result = train(catalog=catalog, params=TrainParams(cv_folds=3))
    assert set(result.model.classes_) == {f"Todo > {c}" for c in set(part.categories)}
    assert set(result.metrics["levels"]) == {"depth_1", "leaf"}


@pytest.mark.parametrize(("bad", "problem"), [
    ("Herramientas >  > Taladros", "empty level"),
    ("Herramientas", "used both as a category and as the parent"),
])
def test_bad_paths_are_refused_with_the_row_named(sample_catalog: Catalog, bad: str,
                                                  problem: str) -> None:
    part = subsample(sample_catalog, per_category=10, seed=3)
    categories = [f"Herramientas > {c}" for c in part.categories]
    categories[7] = bad
    catalog = Catalog(names=part.names, categories=categories, source="paths.csv")
    with pytest.raises(CatalogError, match=problem) as caught:
        train(catalog=catalog, params=TrainParams(cv_folds=3))
    assert str(caught.value).startswith("paths.csv: ")
    if problem == "empty level":
        assert f"data row 8: {part.names[7]!r}" in str(caught.value)


def test_large_catalogs_select_on_one_grouped_holdout(sample_catalog: Catalog) -> None:
    x, y = sample_catalog.names, sample_catalog.categories
    pipeline, grid = search_space("linear")
    selection = select(pipeline, {"classifier__C": [10.0]}, x, y, cv_folds=5, seed=0, n_jobs=1,
                       cv_max_rows=1000)
    assert selection.holdout
    assert len(selection.splits) == 1
    train_idx, test_idx = selection.splits[0]
    assert abs(len(test_idx) - len(x) / 5) < len(x) / 20
    groups = duplicate_groups(x)
    assert not set(groups[train_idx]) & set(groups[test_idx])


def test_grouped_folds_above_the_size_keep_duplicates_together_and_every_row_once(
        sample_catalog: Catalog) -> None:
    names = [*sample_catalog.names, *(n.upper() for n in sample_catalog.names[:300])]
    categories = [*sample_catalog.categories, *sample_catalog.categories[:300]]
    folds = grouped_folds(names, categories, n_splits=5, seed=1, large=100)
    groups = duplicate_groups(names)
    tested = np.concatenate([test for _, test in folds])
    assert sorted(tested.tolist()) == list(range(len(names)))
    for train_idx, test_idx in folds:
        assert not set(groups[train_idx]) & set(groups[test_idx])
        # Stratified: every category's share of a test fold is near its share overall.
        share = Counter(np.asarray(categories)[test_idx])
        for category, count in Counter(categories).items():
            assert share[category] / len(test_idx) == pytest.approx(count / len(names), abs=0.05)


# -- calibration and the auto-file threshold ------------------------------------------------------

def test_training_calibrates_without_changing_any_category(small_result: TrainResult) -> None:
    trust = small_result.trust
    assert trust is not None
    assert trust.temperature > 0
    names = small_result.test_names
    served = Classifier(small_result.model, name="m", version=1, top_k=6,
                        temperature=trust.temperature).predict_batch(names)
    raw = Classifier(small_result.model, name="m", version=1, top_k=6).predict_batch(names)
    assert [p.category for p in served] == small_result.model.predict(names).tolist()
    assert [[c for c, _ in p.top_k] for p in served] == [[c for c, _ in p.top_k] for p in raw]


def test_training_reports_the_threshold_and_its_test_split_figures(
    small_result: TrainResult,
) -> None:
    trust = small_result.trust
    assert trust is not None
    report = trust.report()
    assert report["threshold"] == trust.threshold
    assert report["summary"].startswith(trust.auto_file.summary())
    assert trust.auto_file.rows == small_result.n_train  # every training row, out of fold
    # The test split's figures are those of the model as served, at the stored threshold.
    served = Classifier(small_result.model, name="m", version=1, temperature=trust.temperature,
                        auto_file_threshold=trust.threshold).predict_batch(
        small_result.test_names)
    filed = [p.decision == "auto" for p in served]
    assert trust.metrics["auto_file_coverage_test"] == pytest.approx(sum(filed) / len(filed))
    if any(filed):
        right = [p.category == c for p, c, f in zip(served, small_result.test_categories, filed,
                                                     strict=True) if f]
        assert trust.metrics["auto_file_precision_test"] == pytest.approx(sum(right) / len(right))
    for key in ("ece_oof", "ece_oof_uncalibrated", "ece_test", "ece_test_uncalibrated"):
        assert 0 <= trust.metrics[key] <= 1
    # Calibrated on out-of-fold predictions, the confidences fit them better than raw ones.
    assert trust.metrics["ece_oof"] <= trust.metrics["ece_oof_uncalibrated"]


def test_a_guarantee_nothing_can_meet_files_nothing_and_says_so(
    small_catalog: Catalog,
) -> None:
    result = train(catalog=small_catalog,
                   params=TrainParams(cv_folds=3, calibration_folds=3,
                                      auto_file_precision=0.9999, auto_file_delta=0.01))
    assert result.trust is not None
    assert result.trust.threshold is None
    assert "nothing will be filed automatically" in result.trust.report()["summary"]
    assert result.trust.metrics["auto_file_coverage_test"] == 0.0


def test_a_hierarchical_model_is_calibrated_without_changing_any_category(
        path_result: TrainResult) -> None:
    trust = path_result.trust
    assert trust is not None
    names = path_result.test_names
    served = Classifier(path_result.model, name="m", version=1, top_k=5,
                        temperature=trust.temperature).predict_batch(names)
    assert [p.category for p in served] == path_result.model.predict(names).tolist()
    assert 0 <= trust.metrics["ece_test"] <= 1


def test_a_frozen_holdout_keeps_the_champions_test_names_and_a_share_of_fresh_ones() -> None:
    names = [f"taladro {i}" for i in range(10)] + ["Taladro 0"] + [f"nuevo {i}" for i in range(10)]
    catalog = Catalog(names=names, categories=["A"] * 11 + ["B"] * 10, source="t")
    holdout = FrozenHoldout(test_keys=frozenset({"taladro 0", "taladro 1"}),
                            fresh_keys=frozenset(f"nuevo {i}" for i in range(10)))

    train_idx, test_idx = split_frozen(catalog, holdout, test_size=0.2, seed=42)

    test = [names[i] for i in test_idx]
    assert {"taladro 0", "Taladro 0", "taladro 1"} <= set(test)  # duplicates stay together
    assert sum(name.startswith("nuevo") for name in test) == 2
    assert not set(test) & {names[i] for i in train_idx}
    assert sorted([*train_idx, *test_idx]) == list(range(len(names)))
    assert split_frozen(catalog, holdout, test_size=0.2, seed=42)[1].tolist() == test_idx.tolist()


def test_calibration_refits_three_folds_above_the_size(
        sample_catalog: Catalog, monkeypatch: pytest.MonkeyPatch) -> None:
    import core.training as training

    seen: list[int] = []

    def fake_oof(pipeline: object, x: list[str], y: list[str], splits: list[object],
                 **_: object) -> object:
        seen.append(len(splits))
        raise RuntimeError("stop here")

    monkeypatch.setattr(training, "out_of_fold_scores", fake_oof)
    x, y = sample_catalog.names, sample_catalog.categories
    pipeline, _ = search_space("linear")
    for cv_max_rows, folds in ((len(x), 10), (len(x) - 1, 3)):
        with pytest.raises(RuntimeError, match="stop here"):
            training.calibrate(pipeline, x, y, prior=([], []),
                               params=TrainParams(cv_max_rows=cv_max_rows))
        assert seen[-1] == folds
