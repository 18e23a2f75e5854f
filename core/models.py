"""Candidate model pipelines: the predecessor's baseline and the TF-IDF + linear candidates."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from sklearn.ensemble import RandomForestClassifier
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline

from core.preprocessing import ProductNameNormalizer

ModelFamily = Literal["linear", "baseline"]


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
            ("word", TfidfVectorizer(
                analyzer="word", token_pattern=r"\S+", ngram_range=(1, 2),
                sublinear_tf=True, min_df=1, lowercase=False, dtype=np.float64,
            )),
            ("char", TfidfVectorizer(
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


def search_space(
    family: ModelFamily, preprocessing: PreprocessingOptions | None = None, *, seed: int = 0
) -> tuple[Pipeline, dict[str, list[Any]]]:
    """The pipeline and the grid cross-validation chooses from, for one model family."""
    if family == "baseline":
        return baseline_pipeline(seed=seed), {"classifier__n_estimators": [50, 100, 200]}
    return linear_pipeline(preprocessing, seed=seed), {"classifier__C": [3.0, 10.0, 30.0]}
