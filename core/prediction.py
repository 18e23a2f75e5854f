"""Categorize product names with a trained pipeline: one at a time fast, or in batches.

`pipeline.predict([name])` spends about a millisecond in scikit-learn's per-call machinery
(validation, sparse-matrix assembly, FeatureUnion bookkeeping) for microseconds of arithmetic.
For the TF-IDF + linear pipelines this project trains, `LeanLinearScorer` does the same
arithmetic on a handful of vocabulary hits with the fitted vocabularies, idf weights and
coefficients, and gives the pipeline's own predictions (checked against it in tests and in the
benchmark). Any other pipeline falls back to scikit-learn.

Most of what is left is text work: the character n-grams of every word, looked up one by one in
the vocabulary. `char_wb` n-grams never cross a space, so a word's vocabulary columns depend on
the word alone; they are memoized per word (a bounded LRU), as the normalizer memoizes stems.
A catalog's words repeat far more than its names do (sizes, brands, materials), so a new name
mostly costs the lookups of words seen before.
"""

from __future__ import annotations

import gc
import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache, partial
from itertools import chain, repeat
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion, Pipeline

from core.collector import collector_paused as collector_paused  # its older home
from core.taxonomy import DEFAULT_SEPARATOR, Taxonomy, back_off, is_path_taxonomy

WORD_CACHE_SIZE = 1 << 16  # distinct words whose n-gram columns a process remembers
# Up to this many classes, one name's probabilities are ranked on plain floats; above it, numpy
# selects the top k by partial selection (np.argpartition) instead of sorting every class.
FEW_CLASSES = 32
_MISSING = -1  # the column of a term outside the vocabulary
# 1 + log(tf), indexed by the term count tf, computed as scikit-learn computes it.
_SUBLINEAR_TF = np.concatenate([[0.0], np.log(np.arange(1, 1024, dtype=np.float64)) + 1.0])


Decision = Literal["auto", "review"]
AUTO: Decision = "auto"  # the name may be filed under its category with no human look
REVIEW: Decision = "review"  # a person should look at it


@dataclass(frozen=True)
class CategoryPrediction:
    """A name's category, its calibrated confidence, the runners-up, and what to do with it.

    `decision` is AUTO when the confidence reaches the model version's auto-file threshold
    (core/thresholds.py) and the model knew at least one of the name's words or n-grams
    (`known`); otherwise REVIEW.

    For a model whose categories are paths (core/taxonomy.py), `levels` gives each level of
    the category's path, top first, with the probability mass of its subtree (the last is the
    category itself), and `filed_under` the deepest of them whose confidence reaches the
    auto-file threshold for its depth: the category itself when `decision` is AUTO, a parent
    when only the parent is sure (back-off), None when no level is (or the name is unknown).
    """

    category: str
    confidence: float
    top_k: list[tuple[str, float]]
    decision: Decision = REVIEW
    known: bool = True
    levels: list[tuple[str, float]] | None = None
    filed_under: str | None = None


def _plain_word_analyzer(vec: TfidfVectorizer) -> Callable[[str], list[str]] | None:
    """scikit-learn's word analyzer for whitespace tokens, words and pairs, minus its per-call
    checks; None for a vectorizer that does anything more (tests/core/test_prediction.py)."""
    plain = (vec.analyzer == "word" and vec.token_pattern == r"\S+" and vec.tokenizer is None
             and vec.preprocessor is None and not vec.lowercase and vec.strip_accents is None
             and vec.stop_words is None and vec.input == "content"
             and tuple(vec.ngram_range) == (1, 2))
    return _words_and_pairs if plain else None


def _words_and_pairs(text: str) -> list[str]:
    words = text.split()  # `\S+` tokens: str.split and the regex agree on what is whitespace
    return words + [f"{a} {b}" for a, b in zip(words, words[1:], strict=False)]


def _columns(terms: dict[str, int], analyzer: Callable[[str], list[str]],
             text: str) -> tuple[int, ...]:
    # map/filter keep the per-term work in C: a name has a hundred-odd n-grams.
    return tuple(filter(_MISSING.__ne__, map(terms.get, analyzer(text), repeat(_MISSING))))


class _Block:
    """One TF-IDF vectorizer of the union: its analyzer and its terms' stacked columns."""

    def __init__(self, vec: TfidfVectorizer, offset: int) -> None:
        self.analyzer = _plain_word_analyzer(vec) or vec.build_analyzer()
        # The first block's columns are its vocabulary's own: the dict is shared, not copied.
        self.terms = (vec.vocabulary_ if offset == 0 else
                      {term: offset + int(column) for term, column in vec.vocabulary_.items()})
        # char_wb pads and splits on whitespace and nothing else (no preprocessing, case folding,
        # accent stripping or decoding): a text's n-grams are its words' n-grams, word by word.
        self.word_wise = (vec.analyzer == "char_wb" and vec.preprocessor is None
                          and not vec.lowercase and vec.strip_accents is None
                          and vec.input == "content")
        self.word_columns = self._word_cache()

    def _word_cache(self) -> Callable[[str], tuple[int, ...]]:
        # Over the terms and analyzer, not over `self`: a cache holding a bound method would make
        # a reference cycle, which a frozen heap (freeze_heap) never collects after a model swap.
        return lru_cache(maxsize=WORD_CACHE_SIZE)(partial(_columns, self.terms, self.analyzer))

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        del state["word_columns"]  # a cache, and not picklable: made anew on unpickling
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.word_columns = self._word_cache()

    def columns(self, text: str) -> tuple[int, ...]:
        """Vocabulary columns of the text's terms, repeated as often as the terms occur."""
        return _columns(self.terms, self.analyzer, text)

    def counts(self, text: str) -> Counter[int]:
        if self.word_wise:
            return Counter(chain.from_iterable(map(self.word_columns, text.split())))
        return Counter(self.columns(text))


class LeanLinearScorer:
    """Decision scores of a normalize -> TF-IDF (union) -> linear-model pipeline."""

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
        self.blocks: list[_Block] = []
        idf: list[np.ndarray] = []
        offset = 0
        for vec in vectorizers:
            if not isinstance(vec, TfidfVectorizer) or vec.norm != "l2" or not vec.use_idf:
                raise TypeError("the lean path needs l2-normalized TF-IDF vectorizers")
            self.blocks.append(_Block(vec, offset))
            idf.append(np.asarray(vec.idf_, dtype=np.float64))
            offset += len(vec.vocabulary_)
        if len({bool(vec.sublinear_tf) for vec in vectorizers}) != 1:
            raise TypeError("the lean path needs the vectorizers to agree on sublinear_tf")
        self.sublinear = bool(vectorizers[0].sublinear_tf)
        self.idf = np.concatenate(idf)
        self.n_features = offset
        classifier = steps["classifier"]
        if classifier.coef_.shape[1] != offset:
            raise TypeError("classifier width does not match the vectorizers")
        # Rows are features, so a name's hits are gathered cheaply. A sparse model (one with
        # many categories: core/hierarchy.py) stays sparse, a dense one dense.
        self.coef_t: np.ndarray | sp.csr_matrix
        if sp.issparse(classifier.coef_):
            self.coef_t = sp.csr_matrix(classifier.coef_.T)
            self.coef_t.sort_indices()
        else:
            coef = np.asarray(classifier.coef_, dtype=np.float64)
            self.coef_t = np.ascontiguousarray(coef.T)
        self.intercept = np.asarray(classifier.intercept_, dtype=np.float64)
        self.classes = [str(c) for c in classifier.classes_]

    def _terms(self, names: Sequence[str]) -> tuple[list[int], list[int], list[int], list[int]]:
        """Every name's (column, count) pairs, block after block.

        Returns (columns, counts, lengths, ends): `lengths` are the sizes of the non-empty
        (name, block) segments in order, and `ends[i]` is where name i's pairs end.
        """
        columns: list[int] = []
        counts: list[int] = []
        lengths: list[int] = []
        ends: list[int] = []
        normalize = self.normalizer.normalize
        for name in names:
            text = normalize(name)
            for block in self.blocks:
                found = block.counts(text)
                if found:
                    lengths.append(len(found))
                    columns += found.keys()
                    counts += found.values()
            ends.append(len(columns))
        return columns, counts, lengths, ends

    def _weights(self, columns: list[int], counts: list[int],
                 lengths: list[int]) -> tuple[np.ndarray, np.ndarray]:
        """TF-IDF weights, l2-normalized within each segment (a name's block)."""
        index = np.array(columns, dtype=np.intp)
        weights = self._tf(np.array(counts, dtype=np.intp))
        weights *= self.idf[index]
        squares = weights * weights
        if len(lengths) == 1:
            weights /= np.sqrt(squares.sum())
        else:
            starts = np.zeros(len(lengths), dtype=np.intp)
            np.cumsum(lengths[:-1], out=starts[1:])
            weights /= np.repeat(np.sqrt(np.add.reduceat(squares, starts)), lengths)
        return index, weights

    def scaled(self, factor: float) -> None:
        """Multiply every decision score by `factor` (a calibration temperature's inverse).

        Folded into the coefficients once, so a calibrated score costs nothing per call. New
        arrays: the pipeline's own coefficients stay as they were fitted.
        """
        self.coef_t = self.coef_t * factor
        self.intercept = self.intercept * factor

    def decision(self, name: str) -> tuple[np.ndarray, bool]:
        """One name's decision scores, and whether any of its terms is in the vocabulary.

        `_weights` for one name, in fewer numpy calls.
        """
        columns, counts, lengths, _ = self._terms((name,))
        if not columns:
            return self.intercept.copy(), False
        index = np.array(columns, dtype=np.intp)
        weights = self._tf(np.array(counts, dtype=np.intp))
        weights *= self.idf[index]
        start = 0
        for length in lengths:  # a segment per block: l2-normalized apart
            segment = weights[start:start + length]
            segment /= math.sqrt(segment @ segment)
            start += length
        if isinstance(self.coef_t, np.ndarray):
            return weights @ self.coef_t[index] + self.intercept, True
        return self._sparse_scores(index, weights), True

    def _sparse_scores(self, index: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """`weights @ coef_t[index]` for sparse coefficients, without scipy's per-call checks.

        The hit rows' stored weights are gathered straight from the CSR arrays and summed per
        output column by one bincount.
        """
        coef = self.coef_t
        assert isinstance(coef, sp.csr_matrix)
        starts = coef.indptr[index]
        lengths = coef.indptr[index + 1] - starts
        total = int(lengths.sum())
        # Positions of every hit row's entries: each row's start, plus 0, 1, ... within it.
        positions = np.arange(total) + np.repeat(starts - np.cumsum(lengths) + lengths, lengths)
        values = coef.data[positions] * np.repeat(weights, lengths)
        return np.bincount(coef.indices[positions], weights=values,
                           minlength=len(self.intercept)) + self.intercept

    def _tf(self, tf: np.ndarray) -> np.ndarray:
        if not self.sublinear:
            return tf.astype(np.float64)
        try:
            return _SUBLINEAR_TF[tf]
        except IndexError:  # a term more than a thousand times in one name
            return np.log(tf.astype(np.float64)) + 1.0

    def decisions(self, names: Sequence[str]) -> tuple[np.ndarray, list[bool]]:
        """Decision scores of many names, (names, classes): one sparse product for them all;
        and, per name, whether any of its terms is in the vocabulary."""
        columns, counts, lengths, ends = self._terms(names)
        known = [end > start for start, end in zip([0, *ends], ends, strict=False)]
        if not columns:
            return np.tile(self.intercept, (len(names), 1)), known
        index, weights = self._weights(columns, counts, lengths)
        features = sp.csr_matrix((weights, index, np.array([0, *ends], dtype=np.intp)),
                                 shape=(len(names), self.n_features))
        product = features @ self.coef_t
        dense = product.toarray() if sp.issparse(product) else np.asarray(product)
        return dense + self.intercept, known

    def nbytes(self) -> int:
        """Bytes held by this scorer's arrays (the term dicts are counted by `Classifier`)."""
        coef = self.coef_t
        held = (coef.data.nbytes + coef.indices.nbytes + coef.indptr.nbytes
                if isinstance(coef, sp.csr_matrix) else coef.nbytes)
        return int(held + self.idf.nbytes + self.intercept.nbytes)


def _softmax(scores: np.ndarray) -> np.ndarray:
    shifted = np.exp(scores - scores.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def _softmax_values(scores: list[float]) -> list[float]:
    """`_softmax` of one row, on plain floats (equal to within a unit in the last place)."""
    top = max(scores)
    exps = [math.exp(score - top) for score in scores]
    total = math.fsum(exps)
    return [value / total for value in exps]


def _to_probabilities(decision: np.ndarray) -> np.ndarray:
    """Linear decision scores to class probabilities, as LogisticRegression computes them."""
    binary = decision.shape == (1,) or decision.ndim == 2 and decision.shape[1] == 1
    if binary:
        positive = 1.0 / (1.0 + np.exp(-decision.reshape(-1)))
        return np.stack([1.0 - positive, positive], axis=-1).squeeze()
    return _softmax(decision)


def freeze_heap() -> None:
    """Take every object alive now out of the cyclic collector's sight (`gc.freeze`).

    Called once a serving process holds its libraries and model: those objects live as long as
    the process, yet every full collection would walk all of them (about 250,000 here, some
    0.2 s a time). Frozen objects are still freed by reference counting when they go; only a
    cycle among them would outlive its use, and a swapped-out model makes none
    (tests/core/test_serving.py). In a forked worker pool, frozen pages also stay shared.
    """
    gc.freeze()


def top_k_order(probabilities: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k largest probabilities, largest first, ties in class order.

    The same as the first k of a stable argsort of the negated values, for one row or for
    every row of a matrix. Partial selection (np.argpartition) finds the k in linear time and
    only those k are sorted; a row with a tie across the k-th place is ranked exactly.
    """
    n = probabilities.shape[-1]
    if k >= n:
        return np.argsort(-probabilities, axis=-1, kind="stable")
    if probabilities.ndim == 1:
        kth = -np.partition(-probabilities, k - 1)[k - 1]
        candidates = np.flatnonzero(probabilities >= kth)  # k of them, more with ties
        order = np.argsort(-probabilities[candidates], kind="stable")[:k]
        return candidates[order]
    part = np.sort(np.argpartition(-probabilities, k - 1, axis=-1)[:, :k], axis=-1)
    values = np.take_along_axis(probabilities, part, axis=-1)
    order = np.take_along_axis(part, np.argsort(-values, axis=-1, kind="stable"), axis=-1)
    kth = np.take_along_axis(probabilities, order[:, -1:], axis=-1)
    tied = np.flatnonzero((probabilities >= kth).sum(axis=-1) > k)
    for row in tied:  # rare: a tie across the k-th place
        order[row] = top_k_order(probabilities[row], k)
    return order


class Classifier:
    """A loaded model version ready to categorize names.

    `temperature` calibrates the confidences (core/calibration.py: probabilities are the
    softmax of the decision scores divided by it; the ranking never changes), and
    `auto_file_threshold` is the calibrated confidence from which a name is filed with no human
    look (None: nothing is).

    For category paths, `separator` is what separates their levels (the model's own when it
    stores one), and `level_thresholds` the auto-file threshold for each path depth (None at a
    depth: nothing is filed there automatically; no list: `auto_file_threshold` at every
    depth), from which `filed_under` is chosen.
    """

    def __init__(self, pipeline: Pipeline, *, name: str, version: int, top_k: int = 3,
                 temperature: float = 1.0, auto_file_threshold: float | None = None,
                 separator: str = DEFAULT_SEPARATOR,
                 level_thresholds: Sequence[float | None] | None = None) -> None:
        if not temperature > 0:
            raise ValueError(f"temperature must be positive, not {temperature}")
        self.pipeline = pipeline
        self.name = name
        self.version = version
        self.top_k = top_k
        self.temperature = float(temperature)
        self.auto_file_threshold = auto_file_threshold
        self.classes = [str(c) for c in pipeline.classes_]
        classifier = pipeline[-1]
        self.separator = str(getattr(classifier, "separator", separator))
        # A hierarchical model scores its tree's nodes; this turns them into leaf log-probs.
        self._leaf_log_proba: Callable[[np.ndarray], np.ndarray] | None = getattr(
            classifier, "leaf_log_proba", None)
        self.taxonomy = (Taxonomy(self.classes, self.separator)
                         if self.classes == sorted(self.classes)
                         and is_path_taxonomy(self.classes, self.separator) else None)
        self.level_thresholds = list(level_thresholds) if level_thresholds is not None else None
        try:
            self.lean: LeanLinearScorer | None = LeanLinearScorer(pipeline)
        except (TypeError, KeyError, AttributeError):
            self.lean = None
        # The temperature divides the scores whose softmax is the probabilities: a flat model's
        # decision scores (folded into its coefficients once), a hierarchical model's leaf
        # log-probabilities (divided per call, after the tree's log-softmax).
        if self.lean is not None and self.temperature != 1.0 and self._leaf_log_proba is None:
            self.lean.scaled(1.0 / self.temperature)

    def _leaf_scores(self, scores: np.ndarray) -> np.ndarray:
        if self._leaf_log_proba is None:
            return scores
        leaf = self._leaf_log_proba(scores)
        return leaf / self.temperature if self.temperature != 1.0 else leaf

    def predict(self, name: str) -> CategoryPrediction:
        """Categorize one name."""
        if self.lean is not None:
            scores, known = self.lean.decision(name)
            scores = self._leaf_scores(scores)
            if len(scores) == 1:
                return self._ranked_values(_to_probabilities(scores).tolist(), known)
            if len(scores) <= FEW_CLASSES:  # plain floats beat numpy's per-call cost
                return self._ranked_values(_softmax_values(scores.tolist()), known)
            probabilities = _softmax(scores)
            order = top_k_order(probabilities, self.top_k).tolist()
            return self._ranked(probabilities, order, known)
        return self.predict_batch([name])[0]

    def predict_batch(self, names: Sequence[str]) -> list[CategoryPrediction]:
        """Categorize many names in one vectorized pass."""
        if not names:
            return []
        with collector_paused():
            probabilities, known = self._batch_probabilities(list(names))
            orders = top_k_order(probabilities, self.top_k).tolist()
            # With a handful of classes, rows are read back as Python floats: numpy calls per
            # row cost more than the ranking itself. With many, only the rows' top k are read.
            rows: Sequence[Any] | np.ndarray = (
                probabilities.tolist() if probabilities.shape[1] <= FEW_CLASSES
                else probabilities)
            return [self._ranked(row, order, hit)
                    for row, order, hit in zip(rows, orders, known, strict=True)]

    def _batch_probabilities(self, names: list[str]) -> tuple[np.ndarray, list[bool]]:
        if self.lean is not None:
            decisions, known = self.lean.decisions(names)
            decisions = self._leaf_scores(decisions)
            if decisions.shape[1] > 1:
                return _softmax(decisions), known
            positive = 1.0 / (1.0 + np.exp(-decisions[:, 0]))
            return np.stack([1.0 - positive, positive], axis=-1), known
        from core.calibration import decision_scores, probabilities_from_scores

        features = self.pipeline[:-1].transform(names)
        known = (np.asarray(features.getnnz(axis=1)) > 0 if sp.issparse(features)
                 else np.any(np.asarray(features) != 0, axis=1)).tolist()
        scores = decision_scores(self.pipeline[-1], features)
        return probabilities_from_scores(scores, self.temperature), known

    def _ranked_values(self, values: list[float], known: bool) -> CategoryPrediction:
        # Ranked in Python: on a handful of classes, cheaper than numpy's argsort and its
        # conversions. Ties keep class order, as a stable argsort of the negated values does.
        order = sorted(range(len(values)), key=values.__getitem__, reverse=True)[: self.top_k]
        return self._ranked(values, order, known)

    def _ranked(self, probabilities: Sequence[float] | np.ndarray, order: list[int],
                known: bool) -> CategoryPrediction:
        top = [(self.classes[i], round(float(probabilities[i]), 6)) for i in order]
        confidence = top[0][1]
        # The shown (rounded) confidence is the one compared, so an answer never reads
        # "0.95, review" under a threshold of 0.95.
        threshold = self.auto_file_threshold
        decision = AUTO if known and threshold is not None and confidence >= threshold else REVIEW
        if self.taxonomy is None:
            return CategoryPrediction(category=top[0][0], confidence=confidence, top_k=top,
                                      decision=decision, known=known)
        levels = self.taxonomy.levels(order[0], probabilities)
        filed = back_off(levels, self._thresholds()) if known else None
        return CategoryPrediction(
            category=top[0][0], confidence=confidence, top_k=top, decision=decision,
            known=known, levels=[(level.category, level.confidence) for level in levels],
            filed_under=None if filed is None else filed.category)

    def _thresholds(self) -> list[float | None] | None:
        if self.level_thresholds is not None:
            return self.level_thresholds
        if self.auto_file_threshold is None:
            return None
        return [self.auto_file_threshold]  # the same threshold at every depth

    def nbytes(self) -> int:
        """About how many bytes this loaded version holds: coefficients, vocabularies, caches.

        Counted: the pipeline's and the lean path's numeric arrays, and the vocabularies'
        dicts and strings (sys.getsizeof of each dict, key and value). Not counted: the
        per-word cache, bounded by WORD_CACHE_SIZE words.
        """
        import sys

        seen: set[int] = set()
        total = 0

        def count_array(value: Any) -> None:
            nonlocal total
            if id(value) in seen:
                return
            seen.add(id(value))
            if sp.issparse(value):
                total += value.data.nbytes + value.indices.nbytes + value.indptr.nbytes
            elif isinstance(value, np.ndarray) and value.dtype != object:
                total += value.nbytes

        def count_terms(terms: dict[str, int]) -> None:
            nonlocal total
            if id(terms) in seen:
                return
            seen.add(id(terms))
            total += sys.getsizeof(terms) + sum(map(sys.getsizeof, terms))
            total += sum(map(sys.getsizeof, terms.values()))

        for _, step in self.pipeline.steps:
            estimators = ([t for _, t in step.transformer_list]
                          if isinstance(step, FeatureUnion) else [step])
            for estimator in estimators:
                for value in vars(estimator).values():
                    count_array(value)
                if isinstance(getattr(estimator, "vocabulary_", None), dict):
                    count_terms(estimator.vocabulary_)
        if self.lean is not None:
            for value in (self.lean.coef_t, self.lean.idf, self.lean.intercept):
                count_array(value)
            for block in self.lean.blocks:
                count_terms(block.terms)
        return total

    def describe(self) -> dict[str, Any]:
        return {"model_name": self.name, "model_version": self.version,
                "lean_path": self.lean is not None}
