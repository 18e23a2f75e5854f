"""Categorize product names with a trained pipeline: one at a time fast, or in batches.

`pipeline.predict([name])` spends about 2 ms in scikit-learn's per-call machinery (validation,
sparse-matrix assembly, FeatureUnion bookkeeping) for microseconds of arithmetic. For the
TF-IDF + linear pipelines this project trains, `LeanLinearScorer` does the same arithmetic on a
handful of vocabulary hits with the fitted vocabularies, idf weights and coefficients, and gives
the pipeline's own predictions (checked against it in tests and in the benchmark). Any other
pipeline falls back to scikit-learn.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion, Pipeline


@dataclass(frozen=True)
class CategoryPrediction:
    category: str
    confidence: float
    top_k: list[tuple[str, float]]


class LeanLinearScorer:
    """Decision scores of a normalize -> TF-IDF (union) -> linear-model pipeline, for one name."""

    def __init__(self, pipeline: Pipeline) -> None:
        steps = dict(pipeline.steps)
        self.normalizer = steps["normalize"]
        features = steps["features"]
        vectorizers = (
            [vec for _, vec in features.transformer_list]
            if isinstance(features, FeatureUnion) else [features]
        )
        if isinstance(features, FeatureUnion) and features.transformer_weights:
            raise TypeError("weighted feature unions are not supported by the lean path")
        self.blocks = []
        offset = 0
        for vec in vectorizers:
            if not isinstance(vec, TfidfVectorizer) or vec.norm != "l2" or not vec.use_idf:
                raise TypeError("the lean path needs l2-normalized TF-IDF vectorizers")
            vocabulary = dict(vec.vocabulary_)
            self.blocks.append(
                (vec.build_analyzer(), vocabulary, np.asarray(vec.idf_), vec.sublinear_tf, offset)
            )
            offset += len(vocabulary)
        classifier = steps["classifier"]
        coef = np.asarray(classifier.coef_, dtype=np.float64)
        if coef.shape[1] != offset:
            raise TypeError("classifier width does not match the vectorizers")
        self.coef_t = np.ascontiguousarray(coef.T)  # rows are features: gather hits cheaply
        self.intercept = np.asarray(classifier.intercept_, dtype=np.float64)
        self.classes = [str(c) for c in classifier.classes_]

    def decision(self, name: str) -> np.ndarray:
        text = self.normalizer.normalize(name)
        indices: list[np.ndarray] = []
        values: list[np.ndarray] = []
        for analyzer, vocabulary, idf, sublinear, offset in self.blocks:
            counts: dict[int, int] = {}
            for term in analyzer(text):
                index = vocabulary.get(term)
                if index is not None:
                    counts[index] = counts.get(index, 0) + 1
            if not counts:
                continue
            idx = np.fromiter(counts.keys(), dtype=np.intp, count=len(counts))
            tf = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
            if sublinear:
                tf = np.log(tf) + 1.0
            weights = tf * idf[idx]
            weights /= np.sqrt(weights @ weights)
            indices.append(idx + offset)
            values.append(weights)
        if not indices:
            return self.intercept.copy()
        idx = np.concatenate(indices)
        return np.concatenate(values) @ self.coef_t[idx] + self.intercept


def _softmax(scores: np.ndarray) -> np.ndarray:
    shifted = np.exp(scores - scores.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def _to_probabilities(decision: np.ndarray) -> np.ndarray:
    """Linear decision scores to class probabilities, as LogisticRegression computes them."""
    if decision.ndim == 1 and decision.shape[0] == 1 or decision.ndim == 2 and decision.shape[1] == 1:
        positive = 1.0 / (1.0 + np.exp(-decision.reshape(-1)))
        return np.stack([1.0 - positive, positive], axis=-1).squeeze()
    return _softmax(decision)


class Classifier:
    """A loaded model version ready to categorize names."""

    def __init__(self, pipeline: Pipeline, *, name: str, version: int, top_k: int = 3) -> None:
        self.pipeline = pipeline
        self.name = name
        self.version = version
        self.top_k = top_k
        self.classes = [str(c) for c in pipeline.classes_]
        try:
            self.lean: LeanLinearScorer | None = LeanLinearScorer(pipeline)
        except (TypeError, KeyError, AttributeError):
            self.lean = None

    def predict(self, name: str) -> CategoryPrediction:
        """Categorize one name."""
        if self.lean is not None:
            return self._prediction(_to_probabilities(self.lean.decision(name)))
        return self.predict_batch([name])[0]

    def predict_batch(self, names: Sequence[str]) -> list[CategoryPrediction]:
        """Categorize many names in one vectorized pass."""
        if not names:
            return []
        probabilities = self._batch_probabilities(list(names))
        return [self._prediction(row) for row in probabilities]

    def _batch_probabilities(self, names: list[str]) -> np.ndarray:
        classifier = self.pipeline[-1]
        if hasattr(classifier, "predict_proba"):
            return np.asarray(self.pipeline.predict_proba(names))
        return _to_probabilities(np.asarray(self.pipeline.decision_function(names)))

    def _prediction(self, probabilities: np.ndarray) -> CategoryPrediction:
        order = np.argsort(-probabilities, kind="stable")[: self.top_k]
        top = [(self.classes[i], round(float(probabilities[i]), 6)) for i in order]
        return CategoryPrediction(category=top[0][0], confidence=top[0][1], top_k=top)

    def describe(self) -> dict[str, Any]:
        return {"model_name": self.name, "model_version": self.version,
                "lean_path": self.lean is not None}
