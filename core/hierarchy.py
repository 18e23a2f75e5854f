"""Hierarchical local classifiers: one multinomial logistic regression per parent category.

A flat model over L categories learns L weight vectors from every training row, so its cost
grows with categories times rows: at 300 categories a multinomial logistic regression took
104 s per fit (BENCHMARKS.md, "Taxonomy scale"). A taxonomy is a tree, and a parent's
classifier only needs to tell its own children apart, from the rows filed under it. The root's
classifier sees every row but chooses among a handful of top-level categories; a parent deep in
the tree chooses among its children from its few hundred rows. Summed over the tree that is a
few times the work of one flat model over the top level, whatever the number of leaves.

A leaf's probability is the product of the conditional probabilities along its path, so the
probability mass of any subtree is the product down to its root: per-level confidences come
out consistent by construction (a parent's mass is the sum of its children's).

Flat categories have no tree, and one multinomial model over a thousand of them is the slow
case this module avoids. Above `group_above` flat categories, the classifier builds a tree of
its own (`label_tree`): the categories' mean feature vectors are clustered (k-means) into
groups of about the cube root of their number, recursively (1,000 categories: 10 groups of 10
groups of about 10), and the local models learn that tree. The groups are internal: the
classes, the answers and `predict_proba` are the flat categories, each group's probability
being only the mass of its categories.

Every local model is fitted on the features its rows use only, and its coefficients are stored
as one sparse matrix for the whole tree (a row per child, in parents' order). Serving scores a
name against that matrix in one product and turns the scores into leaf log-probabilities with
a log-softmax per parent (`leaf_log_proba`), which the lean path (core/prediction.py) shares.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.utils.validation import check_is_fitted

from core.taxonomy import DEFAULT_SEPARATOR, split_path


class LocalClassifiers(ClassifierMixin, BaseEstimator):
    """A category tree's parents, each with a logistic regression over its children.

    Args:
        separator: what separates a category path's levels (CATEGORY_SEPARATOR).
        C: inverse regularization strength of every local model.
        class_weight: "balanced" weighs a parent's children inversely to their row counts.
        max_iter: the local models' iteration cap.
        prune: weights smaller than this in absolute value are dropped. Features are
            l2-normalized TF-IDF, so such a weight moves a score by less than `prune`; on a
            1,000-category catalog 0.01 halved the stored weights and changed 2 predictions in
            10,000 (BENCHMARKS.md, "Taxonomy scale"). 0 keeps every weight.
        group_above: flat categories (no path among them) above this many are learnt under a
            tree of groups the classifier builds itself (`label_tree`); at most this many
            are one multinomial model.
        seed: the clustering's random state.
    """

    def __init__(self, *, separator: str = DEFAULT_SEPARATOR, C: float = 10.0,  # noqa: N803
                 class_weight: str | None = "balanced", max_iter: int = 1000,
                 prune: float = 0.01, group_above: int = 12, seed: int = 0) -> None:
        self.separator = separator
        self.C = C
        self.class_weight = class_weight
        self.max_iter = max_iter
        self.prune = prune
        self.group_above = group_above
        self.seed = seed

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> LocalClassifiers:  # noqa: N803
        features = sp.csr_matrix(X, dtype=np.float64)
        labels = np.asarray([str(label) for label in y], dtype=object)
        weights = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        self.classes_ = np.array(sorted(set(labels)), dtype=object)
        paths = [split_path(leaf, self.separator) for leaf in self.classes_]
        leaf_of_row = np.searchsorted(self.classes_, labels)
        if max(len(path) for path in paths) == 1 and len(paths) > self.group_above:
            groups = label_tree(features, leaf_of_row, len(paths), seed=self.seed)
            paths = [(*group, path[0]) for group, path in zip(groups, paths, strict=True)]
        children: dict[tuple[str, ...], list[tuple[str, ...]]] = {}
        for path in paths:
            for depth in range(len(path)):
                siblings = children.setdefault(path[:depth], [])
                if path[:depth + 1] not in siblings:
                    siblings.append(path[:depth + 1])
        parents = sorted(children)
        column: dict[tuple[str, ...], int] = {}
        starts, blocks, intercepts = [], [], []
        n_features = features.shape[1]
        for parent in parents:
            kids = sorted(children[parent])
            starts.append(len(column))
            for kid in kids:
                column[kid] = len(column)
            coef, intercept = self._fit_parent(features, leaf_of_row, paths, parent, kids,
                                               weights, n_features)
            blocks.append(coef)
            intercepts.append(intercept)
        self.coef_ = sp.vstack(blocks, format="csr")
        self.coef_.sort_indices()
        self.intercept_ = np.concatenate(intercepts)
        self.segment_starts_ = np.asarray(starts, dtype=np.intp)
        self.segment_lengths_ = np.diff(np.append(self.segment_starts_, len(column)))
        depth = max(len(path) for path in paths)
        # Each leaf's columns along its path, padded with the index of an always-zero column.
        pad = len(column)
        self.leaf_columns_ = np.array(
            [[column[path[:d + 1]] for d in range(len(path))] + [pad] * (depth - len(path))
             for path in paths], dtype=np.intp)
        self.n_features_in_ = n_features
        return self

    def _fit_parent(self, features: sp.csr_matrix, leaf_of_row: np.ndarray,
                    paths: list[tuple[str, ...]], parent: tuple[str, ...],
                    kids: list[tuple[str, ...]], weights: np.ndarray | None,
                    n_features: int) -> tuple[sp.csr_matrix, np.ndarray]:
        if len(kids) == 1:  # an only child: probability 1, nothing to learn
            return sp.csr_matrix((1, n_features), dtype=np.float32), np.zeros(1)
        depth = len(parent)
        kid_index = {kid: i for i, kid in enumerate(kids)}
        leaf_kid = np.array([kid_index.get(path[:depth + 1], -1) for path in paths])
        target = leaf_kid[leaf_of_row]
        rows = np.flatnonzero(target >= 0)
        local = features[rows]
        # Fitted on the columns these rows use: smaller problems, and the other columns' weights
        # are exactly zero, so the sparse matrix stores nothing for them.
        used = np.unique(local.indices)
        model = LogisticRegression(C=self.C, class_weight=self.class_weight,
                                   solver="newton-cg", max_iter=self.max_iter)
        model.fit(local[:, used], target[rows],
                  sample_weight=None if weights is None else weights[rows])
        coef = np.asarray(model.coef_)
        intercept = np.asarray(model.intercept_, dtype=np.float64)
        if len(kids) == 2:  # binary: one weight vector for the second child; the first gets 0
            coef = np.vstack([np.zeros_like(coef), coef])
            intercept = np.concatenate([[0.0], intercept])
        coef[np.abs(coef) < self.prune] = 0.0
        # Stored in single precision: the model file and its memory halve, and a score moves
        # by about 1e-7 of its size.
        full = sp.csr_matrix((coef.ravel().astype(np.float32),
                              (np.repeat(np.arange(len(kids)), len(used)),
                               np.tile(used, len(kids)))),
                             shape=(len(kids), n_features), dtype=np.float32)
        full.eliminate_zeros()
        return full, intercept

    def node_scores(self, X: Any) -> np.ndarray:  # noqa: N803
        """Every parent's scores for its children, (rows, columns)."""
        check_is_fitted(self)
        return (sp.csr_matrix(X) @ self.coef_.T).toarray() + self.intercept_

    def leaf_log_proba(self, scores: np.ndarray) -> np.ndarray:
        """Leaf log-probabilities from node scores, for one name (1-D) or many (2-D)."""
        starts, lengths = self.segment_starts_, self.segment_lengths_
        peak = np.maximum.reduceat(scores, starts, axis=-1)
        shifted = scores - np.repeat(peak, lengths, axis=-1)
        norm = np.log(np.add.reduceat(np.exp(shifted), starts, axis=-1))
        log_conditional = shifted - np.repeat(norm, lengths, axis=-1)
        padded = np.concatenate(
            [log_conditional, np.zeros((*log_conditional.shape[:-1], 1))], axis=-1)
        # Level by level: a (rows, leaves) sum, never a (rows, leaves, depth) temporary.
        columns = self.leaf_columns_
        total = padded[..., columns[:, 0]]
        for depth in range(1, columns.shape[1]):
            total += padded[..., columns[:, depth]]
        return total

    def decision_function(self, X: Any) -> np.ndarray:  # noqa: N803
        """Leaf log-probabilities: scores whose softmax is `predict_proba`."""
        return self.leaf_log_proba(self.node_scores(X))

    def predict_proba(self, X: Any) -> np.ndarray:  # noqa: N803
        return np.exp(self.decision_function(X))

    def predict(self, X: Any) -> np.ndarray:  # noqa: N803
        return self.classes_[np.argmax(self.decision_function(X), axis=1)]


# A group's name inside the learnt tree: NUL never occurs in a category read from text, so a
# group can never be mistaken for a category.
_GROUP = "\x00{}"


def label_tree(features: sp.csr_matrix, leaf_of_row: np.ndarray, n_leaves: int, *,
               seed: int = 0, per_group: int | None = None) -> list[tuple[str, ...]]:
    """Groups for flat categories: for each category, the path of groups it is filed under.

    Each category is represented by the mean of its rows' features (l2-normalized), and
    k-means splits the categories into at most `per_group` groups (default: the cube root of
    their number), a group larger than that being split the same way, a level down, so every
    local model chooses among a few classes. On 300 flat synthetic categories one fit took 7.7 s
    of CPU with groups of 7 against 12.4 s with groups of sqrt(n) = 18, whose root model
    chooses among 18 groups from every row, for a macro-F1 of 0.908 against 0.913; at 1,000
    categories, 55 s with groups of 10 (BENCHMARKS.md, "Taxonomy scale").
    """
    from sklearn.cluster import KMeans

    counts = np.bincount(leaf_of_row, minlength=n_leaves).astype(np.float64)
    membership = sp.csr_matrix((1.0 / counts[leaf_of_row],
                                (leaf_of_row, np.arange(len(leaf_of_row)))),
                               shape=(n_leaves, len(leaf_of_row)))
    centroids = sp.csr_matrix(membership @ features)
    norms = np.sqrt(np.asarray(centroids.multiply(centroids).sum(axis=1)).ravel())
    centroids = sp.csr_matrix(sp.diags(1.0 / np.maximum(norms, 1e-12)) @ centroids)
    most = max(2, per_group or math.ceil(round(n_leaves ** (1 / 3), 9)))
    groups: list[tuple[str, ...]] = [()] * n_leaves

    def split(ids: np.ndarray, prefix: tuple[str, ...]) -> None:
        if len(ids) <= most:
            for leaf in ids:
                groups[leaf] = prefix
            return
        k = min(most, math.ceil(len(ids) / most))
        labels = KMeans(n_clusters=k, n_init=3, random_state=seed).fit_predict(centroids[ids])
        if len(np.unique(labels)) < 2:  # identical centroids: split them evenly instead
            labels = np.arange(len(ids)) % k
        for group in range(k):
            members = ids[labels == group]
            if len(members):
                split(members, (*prefix, _GROUP.format(group)))

    split(np.arange(n_leaves), ())
    return groups
