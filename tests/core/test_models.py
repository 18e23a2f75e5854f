"""Model pipelines: the family choice and the compact vocabulary storage."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import skops.io as sio
from sklearn.feature_extraction.text import TfidfVectorizer

from core.data import Catalog
from core.hierarchy import LocalClassifiers
from core.models import (
    FLAT_MANY_CATEGORIES,
    HIERARCHY_MIN_LEAVES,
    CompactTfidfVectorizer,
    choose_family,
    linear_pipeline,
    search_space,
)
from core.registry import TRUSTED_TYPES


def test_the_vocabulary_is_stored_as_one_string(sample_catalog: Catalog) -> None:
    names = sample_catalog.names
    compact = CompactTfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5)).fit(names)
    plain = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5)).fit(names)
    compact_bytes, plain_bytes = sio.dumps(compact), sio.dumps(plain)
    # skops writes a dict node by node: about 800 bytes a term; a string is a few bytes a term.
    assert len(compact_bytes) * 5 < len(plain_bytes)
    loaded = sio.loads(compact_bytes, trusted=TRUSTED_TYPES)
    assert loaded.vocabulary_ == plain.vocabulary_
    assert (loaded.transform(names[:50]) != plain.transform(names[:50])).nnz == 0


def test_a_compact_vectorizer_pickles_and_clones_like_any_other(sample_catalog: Catalog) -> None:
    vec = CompactTfidfVectorizer().fit(sample_catalog.names[:100])
    assert pickle.loads(pickle.dumps(vec)).vocabulary_ == vec.vocabulary_
    assert not hasattr(CompactTfidfVectorizer(**vec.get_params()), "vocabulary_")


def test_a_whole_pipeline_round_trips_through_skops(sample_catalog: Catalog) -> None:
    pipeline = linear_pipeline().fit(sample_catalog.names[:400], sample_catalog.categories[:400])
    loaded = sio.loads(sio.dumps(pipeline), trusted=TRUSTED_TYPES)
    names = sample_catalog.names[400:600]
    np.testing.assert_array_equal(loaded.predict_proba(names), pipeline.predict_proba(names))


@pytest.mark.parametrize(("n_leaves", "paths", "family"), [
    (6, False, "flat"),
    (HIERARCHY_MIN_LEAVES, True, "flat"),
    (HIERARCHY_MIN_LEAVES + 1, True, "hierarchical"),
    (FLAT_MANY_CATEGORIES, False, "flat"),
    # Many flat categories: local models under a tree of groups the classifier builds.
    (FLAT_MANY_CATEGORIES + 1, False, "hierarchical"),
    (1000, False, "hierarchical"),
])
def test_linear_resolves_by_the_catalog(n_leaves: int, paths: bool, family: str) -> None:
    categories = [f"Top {i % 5} > Leaf {i}" if paths else f"Leaf {i}" for i in range(n_leaves)]
    assert choose_family("linear", categories) == family
    assert choose_family("baseline", categories) == "baseline"


def test_the_hierarchical_family_ends_in_local_classifiers() -> None:
    pipeline, grid = search_space("hierarchical", separator=" / ")
    classifier = pipeline[-1]
    assert isinstance(classifier, LocalClassifiers)
    assert classifier.separator == " / "
    assert set(grid) == {"classifier__C"}
