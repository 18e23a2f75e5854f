"""Hierarchical local classifiers: probabilities that multiply down a category tree."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.special import softmax

from core.hierarchy import LocalClassifiers, label_tree
from core.taxonomy import Taxonomy

# Three parents with two, three and one children, and a flat top-level leaf: every case
# (binary node, multinomial node, only child, leaf at depth one) is in this tree.
LEAVES = ["A > X", "A > Y", "B > P > 1", "B > P > 2", "B > P > 3", "C > Z", "D"]


def _data(rows_per_leaf: int = 30, seed: int = 0) -> tuple[sp.csr_matrix, list[str]]:
    """Each leaf has two features of its own and shares one with its siblings; plus noise."""
    rng = np.random.default_rng(seed)
    n_features = 3 * len(LEAVES) + 5
    rows, labels = [], []
    for i, leaf in enumerate(LEAVES):
        for _ in range(rows_per_leaf):
            x = np.zeros(n_features)
            x[-5:] = rng.random(5) * (rng.random(5) < 0.3)  # noise every leaf shares
            x[2 * i + rng.integers(2)] += 1.0
            x[2 * len(LEAVES) + ord(leaf[0]) - ord("A")] += 1.0  # the top level's feature
            rows.append(x)
            labels.append(leaf)
    return sp.csr_matrix(np.array(rows)), labels


@pytest.fixture(scope="module")
def fitted() -> tuple[LocalClassifiers, sp.csr_matrix, list[str]]:
    features, labels = _data()
    return LocalClassifiers(C=10.0).fit(features, labels), features, labels


def test_it_learns_the_leaves(fitted: tuple[LocalClassifiers, sp.csr_matrix, list[str]]) -> None:
    model, features, labels = fitted
    assert list(model.classes_) == sorted(LEAVES)
    assert np.mean(model.predict(features) == np.array(labels, dtype=object)) > 0.9


def test_leaf_probabilities_sum_to_one_and_match_the_decision_function(
        fitted: tuple[LocalClassifiers, sp.csr_matrix, list[str]]) -> None:
    model, features, _ = fitted
    probabilities = model.predict_proba(features)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-9)
    np.testing.assert_allclose(softmax(model.decision_function(features), axis=1),
                               probabilities, atol=1e-9)


def test_a_subtree_mass_is_the_product_of_conditionals_down_to_it(
        fitted: tuple[LocalClassifiers, sp.csr_matrix, list[str]]) -> None:
    model, features, _ = fitted
    scores = model.node_scores(features[:5])
    probabilities = model.predict_proba(features[:5])
    taxonomy = Taxonomy(list(model.classes_))
    leaf = list(model.classes_).index("B > P > 2")
    for row in range(5):
        # P(B) * P(P | B) * P(2 | B > P), from the node scores by hand.
        conditionals = [softmax(scores[row, start:start + length])
                        for start, length in zip(model.segment_starts_,
                                                 model.segment_lengths_, strict=True)]
        levels = taxonomy.levels(leaf, probabilities[row])
        columns = model.leaf_columns_[leaf]
        segment_of = np.repeat(np.arange(len(conditionals)), model.segment_lengths_)
        by_hand = 1.0
        for depth, column in enumerate(columns):
            segment = segment_of[column]
            by_hand *= conditionals[segment][column - model.segment_starts_[segment]]
            assert levels[depth].confidence == pytest.approx(by_hand, abs=2e-6)
        # "B > P" has one child per level below B only through P: P(B > P) == P(B) here.
        assert levels[0].confidence == pytest.approx(levels[1].confidence, abs=2e-6)


def test_an_only_child_takes_all_of_its_parent(
        fitted: tuple[LocalClassifiers, sp.csr_matrix, list[str]]) -> None:
    model, features, _ = fitted
    probabilities = model.predict_proba(features)
    taxonomy = Taxonomy(list(model.classes_))
    leaf = list(model.classes_).index("C > Z")
    for row in probabilities[:20]:
        top, child = taxonomy.levels(leaf, row)
        assert top.confidence == child.confidence


def test_coefficients_are_sparse_and_pruned() -> None:
    features, labels = _data()
    kept = LocalClassifiers(prune=0.0).fit(features, labels)
    pruned = LocalClassifiers(prune=0.5).fit(features, labels)
    assert sp.issparse(kept.coef_)
    assert kept.coef_.dtype == np.float32
    assert pruned.coef_.nnz < kept.coef_.nnz
    assert np.all(np.abs(pruned.coef_.data) >= 0.5)
    # A parent's model never weighs a feature none of its rows has: "A"'s two children get
    # nothing from the features of "B"'s leaves.
    a_rows = slice(kept.segment_starts_[1], kept.segment_starts_[1] + 2)
    b_leaf_features = [2 * LEAVES.index(leaf) + k for leaf in LEAVES if leaf.startswith("B")
                       for k in range(2)]
    assert kept.coef_[a_rows][:, b_leaf_features].nnz == 0


def test_sample_weights_move_the_fit() -> None:
    features, labels = _data()
    weights = np.where(np.array(labels) == "D", 50.0, 1.0)
    nothing = sp.csr_matrix((1, features.shape[1]))  # a name with no known feature
    model = LocalClassifiers(class_weight=None, C=0.1)
    plain = model.fit(features, labels).predict_proba(nothing)
    heavy = model.fit(features, labels, sample_weight=weights).predict_proba(nothing)
    d = LEAVES.index("D")
    assert heavy[0, d] > plain[0, d]


# -- many flat categories: a tree of groups the classifier builds --------------------------------

def _flat_data(n_leaves: int, families: int, rows_per_leaf: int = 12,
               seed: int = 0) -> tuple[sp.csr_matrix, list[str]]:
    """Flat categories in `families` families: a leaf has one feature of its own and shares one
    with its family, so a family's leaves are alike (what the tree should group)."""
    rng = np.random.default_rng(seed)
    n_features = n_leaves + families + 5
    rows, labels = [], []
    for leaf in range(n_leaves):
        for _ in range(rows_per_leaf):
            x = np.zeros(n_features)
            x[-5:] = rng.random(5) * (rng.random(5) < 0.3)
            x[leaf] += 1.0 if rng.random() < 0.9 else 0.0
            x[n_leaves + leaf % families] += 1.0
            rows.append(x / np.linalg.norm(x))
            labels.append(f"Categoría {leaf:03d}")
    return sp.csr_matrix(np.array(rows)), labels


def test_many_flat_categories_are_learnt_under_groups_and_answered_flat() -> None:
    features, labels = _flat_data(n_leaves=40, families=5)
    model = LocalClassifiers(C=10.0).fit(features, labels)

    assert list(model.classes_) == sorted(set(labels))  # the answers are the categories
    # The cube root of 40 rounded up: every local model chooses among at most 4 (groups or
    # categories), where the root alone would be a 40-way model.
    assert model.segment_lengths_[0] == 4
    assert model.segment_lengths_.max() <= 4
    assert len(model.segment_lengths_) > 10
    probabilities = model.predict_proba(features)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-9)
    predicted = model.classes_[probabilities.argmax(axis=1)]
    assert np.mean(predicted == np.array(labels, dtype=object)) > 0.85


def test_a_family_of_alike_categories_is_one_group() -> None:
    features, labels = _flat_data(n_leaves=36, families=6, rows_per_leaf=10)
    leaf_of_row = np.searchsorted(np.array(sorted(set(labels)), dtype=object),
                                  np.array(labels, dtype=object))
    groups = label_tree(features, leaf_of_row, 36, seed=0, per_group=6)

    by_family: dict[int, set[tuple[str, ...]]] = {}
    for leaf, group in enumerate(groups):
        by_family.setdefault(leaf % 6, set()).add(group)
    assert all(len(found) == 1 for found in by_family.values())  # never split across groups
    assert len(set(groups)) == 6


def test_a_few_flat_categories_stay_one_model() -> None:
    features, labels = _flat_data(n_leaves=10, families=2)
    model = LocalClassifiers(C=10.0).fit(features, labels)
    assert list(model.segment_lengths_) == [10]
