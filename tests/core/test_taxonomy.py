"""Category paths: parsing, validation, per-level masses and back-off."""

from __future__ import annotations

import math

import numpy as np
import pytest

from core.taxonomy import (
    Level,
    PathError,
    Taxonomy,
    back_off,
    canonical,
    canonical_categories,
    check_tree,
    is_path_taxonomy,
    split_path,
    truncate,
)


@pytest.mark.parametrize(("written", "levels"), [
    ("Herramientas > Eléctricas > Taladros", ("Herramientas", "Eléctricas", "Taladros")),
    ("Herramientas>Eléctricas", ("Herramientas", "Eléctricas")),
    ("  Herramientas  >   Eléctricas ", ("Herramientas", "Eléctricas")),
    ("Aseo, Baños y Cocinas", ("Aseo, Baños y Cocinas",)),
])
def test_a_path_splits_into_trimmed_levels(written: str, levels: tuple[str, ...]) -> None:
    assert split_path(written) == levels
    assert canonical(written) == " > ".join(levels)


@pytest.mark.parametrize("written", [
    "Herramientas >  > Taladros", "> Taladros", "Herramientas >", " > ", ">"])
def test_an_empty_level_is_refused_with_the_category_named(written: str) -> None:
    with pytest.raises(PathError, match="empty level") as caught:
        split_path(written)
    assert repr(written) in str(caught.value)


def test_another_separator_is_used_as_set() -> None:
    assert split_path("Herramientas / Taladros", " / ") == ("Herramientas", "Taladros")
    assert split_path("Herramientas > Taladros", " / ") == ("Herramientas > Taladros",)


def test_mixed_depths_are_allowed() -> None:
    paths = ["Pinturas", "Herramientas > Taladros", "Plomería > Tubos > PVC"]
    check_tree(paths)  # no error
    taxonomy = Taxonomy(sorted(paths))
    assert taxonomy.depth == 3


def test_a_leaf_that_is_also_a_parent_is_refused_with_a_way_out() -> None:
    with pytest.raises(PathError) as caught:
        canonical_categories(["Plomería > Tubos", "Plomería > Tubos > PVC", "Pinturas"])
    message = str(caught.value)
    assert "'Plomería > Tubos'" in message
    assert "'Plomería > Tubos > PVC'" in message
    assert "Plomería > Tubos > Otros" in message


def test_canonical_categories_names_the_first_bad_row() -> None:
    with pytest.raises(PathError) as caught:
        canonical_categories(["A > B", "A>C", "A >  > D", "A > > E"])
    assert caught.value.position == 2


def test_canonical_categories_writes_one_spelling_per_category() -> None:
    assert canonical_categories(["A>B", "A > B", " A >B "]) == ["A > B"] * 3


def test_flat_categories_are_not_a_path_taxonomy() -> None:
    assert not is_path_taxonomy(["Plomería", "Pinturas"])
    assert is_path_taxonomy(["Plomería", "Herramientas > Taladros"])
    assert truncate("A > B > C", 2) == "A > B"
    assert truncate("A", 2) == "A"


LEAVES = sorted([
    "Herramientas > Eléctricas > Taladros", "Herramientas > Eléctricas > Sierras",
    "Herramientas > Manuales", "Herramientas 2 > Otros", "Pinturas",
    "Plomería > Tubos > PVC", "Plomería > Tubos > Cobre", "Plomería > Llaves",
])


def test_every_level_carries_the_mass_of_its_subtree() -> None:
    taxonomy = Taxonomy(LEAVES)
    rng = np.random.default_rng(0)
    for _ in range(20):
        probabilities = rng.dirichlet(np.ones(len(LEAVES)))
        for leaf, path in enumerate(LEAVES):
            levels = taxonomy.levels(leaf, probabilities)
            assert [level.category for level in levels] == [
                " > ".join(path.split(" > ")[:d]) for d in range(1, path.count(" > ") + 2)]
            for level in levels:
                expected = sum(p for other, p in zip(LEAVES, probabilities, strict=True)
                               if other == level.category
                               or other.startswith(level.category + " > "))
                assert level.confidence == pytest.approx(expected, abs=1e-6)
            # The leaf's level is its own probability; a parent is never below its child.
            assert levels[-1].confidence == pytest.approx(probabilities[leaf], abs=1e-6)
            masses = [level.confidence for level in levels]
            assert masses == sorted(masses, reverse=True)


def test_a_similar_prefix_is_not_part_of_a_subtree() -> None:
    # "Herramientas 2 > Otros" sorts between nothing of "Herramientas"'s, yet must not count.
    taxonomy = Taxonomy(LEAVES)
    probabilities = [0.0] * len(LEAVES)
    probabilities[LEAVES.index("Herramientas 2 > Otros")] = 0.5
    probabilities[LEAVES.index("Herramientas > Manuales")] = 0.5
    levels = taxonomy.levels(LEAVES.index("Herramientas > Manuales"), probabilities)
    assert levels == [Level("Herramientas", 0.5), Level("Herramientas > Manuales", 0.5)]


def test_top_level_masses_sum_to_one() -> None:
    taxonomy = Taxonomy(LEAVES)
    probabilities = np.random.default_rng(1).dirichlet(np.ones(len(LEAVES)))
    tops = {taxonomy.levels(leaf, probabilities)[0] for leaf in range(len(LEAVES))}
    assert math.fsum(level.confidence for level in tops) == pytest.approx(1.0, abs=1e-5)


def test_the_leaves_must_be_in_class_order() -> None:
    with pytest.raises(ValueError, match="sorted"):
        Taxonomy(list(reversed(LEAVES)))


PATH = [Level("Plomería", 0.99), Level("Plomería > Tubos", 0.93),
        Level("Plomería > Tubos > PVC", 0.61)]


@pytest.mark.parametrize(("thresholds", "filed"), [
    ([0.5, 0.5, 0.5], "Plomería > Tubos > PVC"),  # the leaf is sure: filed at the leaf
    ([0.9, 0.9, 0.9], "Plomería > Tubos"),  # the leaf is unsure, its parent sure: back off
    ([0.95, 0.95, 0.95], "Plomería"),
    ([0.995, 0.995, 0.995], None),  # nothing is sure: all to review
    ([0.9, None, 0.5], "Plomería"),  # nothing filed at depth 2, so nothing deeper either
    ([0.9], "Plomería > Tubos"),  # one threshold for every depth
    (None, None),  # no threshold at all: nothing is filed automatically
    ([], None),
])
def test_back_off_files_at_the_deepest_sure_level(
        thresholds: list[float | None] | None, filed: str | None) -> None:
    chosen = back_off(PATH, thresholds)
    assert (None if chosen is None else chosen.category) == filed


def test_back_off_never_skips_an_unsure_parent() -> None:
    # Per-depth thresholds can make a child clear where its parent does not: still no filing.
    levels = [Level("A", 0.80), Level("A > B", 0.79)]
    assert back_off(levels, [0.9, 0.5]) is None
