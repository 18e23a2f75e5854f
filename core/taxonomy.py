"""Category paths: `Herramientas > Eléctricas > Taladros`, their checks, levels and back-off.

A category may be a path of levels joined by a separator (CATEGORY_SEPARATOR, default " > ").
Training learns the leaves (the full paths); every prediction also carries, for each level of
its path, the probability mass of that subtree: the sum of the probabilities of the leaves
under it. A parent's mass is never below its child's, so where the leaf is unsure the parent
may still be sure, and `back_off` files a name at the deepest level that clears the
auto-file threshold.

Rules for a catalog's paths (checked by `canonical_categories`, with the row named):
- levels are trimmed, and the separator is recognised with or without its spaces
  (`A>B`, `A > B` and `A  >  B` are one category, written back as `A > B`);
- an empty level (`A >  > B`, `> A`, `A >`) is an error;
- paths may have different depths (a taxonomy is rarely balanced);
- a leaf may not also be a parent (`A > B` and `A > B > C` both used as categories): a name
  filed at `A > B` says nothing about which child it belongs to. The error suggests filing
  such names under a child of their own (`A > B > Otros`).
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

DEFAULT_SEPARATOR = " > "


class PathError(ValueError):
    """A category path that cannot be used, with what is wrong with it.

    `position` is the 0-based row of the first category at fault, when there is one.
    """

    def __init__(self, problem: str, *, position: int | None = None) -> None:
        super().__init__(problem)
        self.position = position


def _bare(separator: str) -> str:
    bare = separator.strip()
    return bare or separator


def split_path(category: str, separator: str = DEFAULT_SEPARATOR) -> tuple[str, ...]:
    """The levels of a category path, trimmed; a PathError for an empty level."""
    levels = tuple(level.strip() for level in category.split(_bare(separator)))
    if any(not level for level in levels):
        raise PathError(f"category {category!r} has an empty level (levels are separated by "
                        f"{separator.strip() or separator!r})")
    return levels


def join_path(levels: Sequence[str], separator: str = DEFAULT_SEPARATOR) -> str:
    return separator.join(levels)


def canonical(category: str, separator: str = DEFAULT_SEPARATOR) -> str:
    """The category written the one way training and answers use."""
    return join_path(split_path(category, separator), separator)


def check_tree(categories: Iterable[str], separator: str = DEFAULT_SEPARATOR) -> None:
    """Refuse a set of (canonical) paths in which a leaf is also a parent."""
    leaves = set(categories)
    for leaf in sorted(leaves):
        levels = split_path(leaf, separator)
        for depth in range(1, len(levels)):
            parent = join_path(levels[:depth], separator)
            if parent in leaves:
                raise PathError(
                    f"category {parent!r} is used both as a category and as the parent of "
                    f"{leaf!r}; file the names under {parent!r} in a child of their own (for "
                    f"example {join_path([*levels[:depth], 'Otros'], separator)!r})")


def canonical_categories(categories: Sequence[str],
                         separator: str = DEFAULT_SEPARATOR) -> list[str]:
    """Every row's category in canonical form, the paths checked (see the module doc).

    Raises PathError with the position of the first bad row.
    """
    seen: dict[str, str] = {}
    out = []
    for position, category in enumerate(categories):
        known = seen.get(category)
        if known is None:
            try:
                known = seen[category] = canonical(category, separator)
            except PathError as exc:
                raise PathError(str(exc), position=position) from None
        out.append(known)
    check_tree(seen.values(), separator)
    return out


def is_path_taxonomy(categories: Iterable[str], separator: str = DEFAULT_SEPARATOR) -> bool:
    """True when any category has more than one level."""
    bare = _bare(separator)
    return any(bare in category for category in categories)


def truncate(category: str, depth: int, separator: str = DEFAULT_SEPARATOR) -> str:
    """The category's ancestor at `depth` levels (itself when it is not deeper)."""
    return join_path(split_path(category, separator)[:depth], separator)


@dataclass(frozen=True)
class Level:
    """One level of a prediction's path: the prefix and the probability mass under it."""

    category: str
    confidence: float


class Taxonomy:
    """The leaves a model knows, sorted, with each prefix's range of leaves.

    All paths sharing a prefix are contiguous in sorted order (they share its leading
    characters and the separator), so the mass of a subtree is the sum of a slice of the leaf
    probabilities, in the model's own class order.
    """

    def __init__(self, leaves: Sequence[str], separator: str = DEFAULT_SEPARATOR) -> None:
        if list(leaves) != sorted(leaves):
            raise ValueError("the leaves must be sorted, as a classifier's classes are")
        self.leaves = list(leaves)
        self.separator = separator
        self.paths = [split_path(leaf, separator) for leaf in self.leaves]
        self.depth = max((len(path) for path in self.paths), default=0)
        self.hierarchical = self.depth > 1
        # For every leaf, its ancestors' (name, first leaf, end) from the top level down.
        self._ranges: list[list[tuple[str, int, int]]] = []
        for path in self.paths:
            ancestors = []
            for depth in range(1, len(path) + 1):
                name = join_path(path[:depth], separator)
                if depth == len(path):
                    lo = bisect_left(self.leaves, name)
                    ancestors.append((name, lo, lo + 1))
                else:
                    head = name + separator
                    lo = bisect_left(self.leaves, head)
                    hi = bisect_left(self.leaves, head + "\U0010ffff")
                    ancestors.append((name, lo, hi))
            self._ranges.append(ancestors)

    def levels(self, leaf: int, probabilities: Sequence[float] | np.ndarray) -> list[Level]:
        """The leaf's path, level by level, each with the probability mass of its subtree.

        Masses are rounded as confidences are served (6 places), and never exceed 1.
        """
        add = np.sum if isinstance(probabilities, np.ndarray) else math.fsum
        return [Level(name, min(1.0, round(float(add(probabilities[lo:hi])), 6)))
                for name, lo, hi in self._ranges[leaf]]

    def level_ranges(self, depth: int) -> tuple[np.ndarray, np.ndarray]:
        """Every leaf's ancestor at `depth` levels, as its range of leaves (first, end).

        Ancestors at one depth have disjoint ranges, so `first` names the ancestor; it is -1
        (and `end` 0) for a leaf less deep than `depth`, which has no level there.
        """
        first = np.full(len(self.leaves), -1, dtype=np.intp)
        end = np.zeros(len(self.leaves), dtype=np.intp)
        for leaf, ranges in enumerate(self._ranges):
            if len(ranges) >= depth:
                _, first[leaf], end[leaf] = ranges[depth - 1]
        return first, end

    def prefix(self, leaf: int, depth: int) -> str:
        """The leaf's ancestor at `depth` levels (the leaf itself when it is not that deep)."""
        ranges = self._ranges[leaf]
        return ranges[min(depth, len(ranges)) - 1][0]


def back_off(levels: Sequence[Level],
             thresholds: Sequence[float | None] | None) -> Level | None:
    """The deepest level whose confidence reaches its depth's threshold; None: review it all.

    `thresholds[d]` is the auto-file threshold at depth d + 1 (None: nothing is filed at that
    depth); None for all of them files nothing. A subtree's mass is never below its children's,
    so with one threshold for every depth the levels that clear it are a prefix of the path.
    The walk stops at the first level that does not clear: a deeper level is never filed
    under a parent that is itself unsure.
    """
    if thresholds is None:
        return None
    chosen = None
    for depth, level in enumerate(levels):
        threshold = thresholds[min(depth, len(thresholds) - 1)] if thresholds else None
        if threshold is None or level.confidence < threshold:
            break
        chosen = level
    return chosen
