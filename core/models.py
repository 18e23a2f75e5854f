"""Candidate model pipelines: the predecessor's baseline and the TF-IDF + linear candidates."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from sklearn.ensemble import RandomForestClassifier
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline

from core.hierarchy import LocalClassifiers
from core.preprocessing import ProductNameNormalizer
from core.taxonomy import DEFAULT_SEPARATOR, is_path_taxonomy

# "linear" chooses by the catalog: `flat` for a few flat categories and small taxonomies, and
# `hierarchical` for category paths with more than HIERARCHY_MIN_LEAVES leaves and for more
# than FLAT_MANY_CATEGORIES flat categories (see `choose_family`).
ModelFamily = Literal["linear", "flat", "hierarchical", "baseline"]
# Above this many leaves a path taxonomy is learnt parent by parent (core/hierarchy.py): a flat
# multinomial model's fit grows with leaves times rows. On the sample catalog filed under 39
# two-level paths, training took 19 s hierarchical against 89 s flat, for a leaf macro-F1 of
# 0.874 against 0.854 (BENCHMARKS.md, "Taxonomy scale").
HIERARCHY_MIN_LEAVES = 12
# Above this many flat categories, the local models learn a tree of groups the classifier
# builds from the categories' vocabulary (core.hierarchy.label_tree): one multinomial model's
# fit grows with categories times rows (104 s a fit at 300 categories, and selection refits
# it), which the flat catalog of a store with a real taxonomy meets as surely as one with paths.
FLAT_MANY_CATEGORIES = 100


class CompactTfidfVectorizer(TfidfVectorizer):
    """A TfidfVectorizer whose vocabulary is stored as one string, not a dict.

    skops writes a dict item by item as JSON nodes, about 800 bytes per term: 15 MB for the
    sample catalog's 19,000 terms (1.3 MB for the whole model this way, written in a tenth of
    the time). The vocabulary's columns are its terms' ranks in sorted order, so the terms
    joined in column order say everything, and the dict is rebuilt on loading.
    """

    _JOIN = "\n"

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        vocabulary = state.get("vocabulary_")
        if vocabulary is None:
            return state
        terms = sorted(vocabulary, key=vocabulary.__getitem__)
        compact = all(vocabulary[t] == i for i, t in enumerate(terms)) and not any(
            self._JOIN in t for t in terms)
        if compact:
            state = {k: v for k, v in state.items() if k != "vocabulary_"}
            state["terms_"] = self._JOIN.join(terms)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = dict(state)
        terms = state.pop("terms_", None)
        if terms is not None:
            words = terms.split(self._JOIN) if terms else []
            state["vocabulary_"] = {term: i for i, term in enumerate(words)}
        super().__setstate__(state)


@dataclass(frozen=True)
class PreprocessingOptions:
    """The normalizer's switches; every one is measured in the benchmark's ablation."""

    lowercase: bool = True
    fold_accents: bool = True
    keep_numbers: bool = True
    stopwords: bool = False
    stem: bool = False
    lemmatize: bool = False

    def normalizer(self) -> ProductNameNormalizer:
        return ProductNameNormalizer(**self.__dict__)


def linear_pipeline(
    preprocessing: PreprocessingOptions | None = None, *, C: float = 10.0, seed: int = 0  # noqa: N803
) -> Pipeline:
    """TF-IDF over word 1-2-grams and character 2-5-grams, then multinomial logistic regression.

    Classes are weighted inversely to their size: a name whose words the model has not seen
    otherwise drifts to a big, varied category, and the small categories lose recall where
    macro-F1 counts it most. (Measured in BENCHMARKS.md, "Model quality", with the alternatives
    that did not help: a head-word block, LinearSVC, other n-gram ranges, a wider C grid.)

    The solver is newton-cg: on these sparse features it reaches the same optimum as the
    default lbfgs in a few Newton steps, and halves the time of cross-validated selection
    (BENCHMARKS.md, "Training").
    """
    features = FeatureUnion(
        [
            ("word", CompactTfidfVectorizer(
                analyzer="word", token_pattern=r"\S+", ngram_range=(1, 2),
                sublinear_tf=True, min_df=1, lowercase=False, dtype=np.float64,
            )),
            ("char", CompactTfidfVectorizer(
                analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=1,
                lowercase=False, dtype=np.float64,
            )),
        ]
    )
    return Pipeline(
        [
            ("normalize", (preprocessing or PreprocessingOptions()).normalizer()),
            ("features", features),
            ("classifier", LogisticRegression(
                C=C, class_weight="balanced", solver="newton-cg", max_iter=3000,
                random_state=seed,
            )),
        ]
    )


def baseline_pipeline(*, n_estimators: int = 100, seed: int = 0, n_jobs: int = 1) -> Pipeline:
    """The predecessor's model: digits stripped, 2,000 word counts, a random forest."""
    return Pipeline(
        [
            ("normalize", PreprocessingOptions(keep_numbers=False).normalizer()),
            ("features", CountVectorizer(max_features=2000, token_pattern=r"\S+", lowercase=False)),
            ("classifier", RandomForestClassifier(
                n_estimators=n_estimators, random_state=seed, n_jobs=n_jobs,
            )),
        ]
    )


def hierarchical_pipeline(
    preprocessing: PreprocessingOptions | None = None, *, C: float = 10.0,  # noqa: N803
    separator: str = DEFAULT_SEPARATOR, seed: int = 0,
) -> Pipeline:
    """The linear pipeline's features, then one logistic regression per parent category
    (for many flat categories: per group of a tree the classifier builds)."""
    pipeline = linear_pipeline(preprocessing, C=C)
    pipeline.steps[-1] = ("classifier", LocalClassifiers(separator=separator, C=C, seed=seed))
    return pipeline


def choose_family(family: ModelFamily, categories: Sequence[str], *,
                  separator: str = DEFAULT_SEPARATOR) -> ModelFamily:
    """The family "linear" stands for, given the catalog's categories; others as they are."""
    if family != "linear":
        return family
    leaves = set(categories)
    if is_path_taxonomy(leaves, separator):
        return "hierarchical" if len(leaves) > HIERARCHY_MIN_LEAVES else "flat"
    return "hierarchical" if len(leaves) > FLAT_MANY_CATEGORIES else "flat"


def search_space(
    family: ModelFamily, preprocessing: PreprocessingOptions | None = None, *, seed: int = 0,
    categories: Sequence[str] = (), separator: str = DEFAULT_SEPARATOR,
) -> tuple[Pipeline, dict[str, list[Any]]]:
    """The pipeline and the grid cross-validation chooses from, for one model family.

    "linear" is resolved by `choose_family` on the catalog's `categories`.
    """
    family = choose_family(family, categories, separator=separator)
    if family == "baseline":
        return baseline_pipeline(seed=seed), {"classifier__n_estimators": [50, 100, 200]}
    if family == "hierarchical":
        return (hierarchical_pipeline(preprocessing, separator=separator, seed=seed),
                {"classifier__C": [10.0, 30.0]})
    return linear_pipeline(preprocessing, seed=seed), {"classifier__C": [3.0, 10.0, 30.0]}
