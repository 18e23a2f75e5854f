"""Learning from labels: a training catalog plus the reviewers' labels, one answer per name.

Labels are de-duplicated by normalized name (core.data.duplicate_key): the latest review of a
name stands for it. A reviewed name the catalog lacks joins the training rows. Where the catalog
files the same name elsewhere, the later decision wins: the reviewer's, if it came after the
catalog first said otherwise (all the catalog's rows of that name are re-filed), else the
catalog's. Both outcomes count as conflicts in the training result.

A label whose category has fewer distinct names than training needs per category (a category an
admin added a moment ago) is held back, and counted, until enough names are filed under it.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from core.data import Catalog, duplicate_key
from core.review import Label, ReviewStore


@dataclass(frozen=True)
class LabelMerge:
    """The catalog to train on and what the labels changed in it."""

    catalog: Catalog
    review_labels: int = 0  # distinct reviewed names
    added: int = 0  # reviewed names the catalog lacks, added as rows
    refiled: int = 0  # catalog names a later review filed elsewhere
    conflicts: int = 0  # names a review and the catalog file differently
    catalog_won: int = 0  # of those, names the catalog filed after the review
    held_back: int = 0  # labels left out: their category has too few names yet
    held_back_categories: list[str] = field(default_factory=list)
    # Normalized names the labels added: rows no model has been trained on (FrozenHoldout).
    fresh_keys: frozenset[str] = frozenset()

    @property
    def changed(self) -> bool:
        return bool(self.added or self.refiled)

    def summary(self) -> dict[str, Any]:
        values = asdict(self)
        del values["catalog"], values["fresh_keys"]
        return values


def merge_labels(
    catalog: Catalog, reviews: Iterable[Label],
    catalog_times: dict[tuple[str, str], dt.datetime], *, min_per_category: int,
) -> LabelMerge:
    """The catalog with the review labels merged in (see the module's doc).

    `catalog_times` maps (normalized name, category) to when the catalog first filed the name
    so; a pair missing from it counts as filed now (the catalog's word is the later one).
    """
    latest: dict[str, Label] = {}
    for label in reviews:
        key = duplicate_key(label.name)
        kept = latest.get(key)
        if kept is None or (label.decided_at, label.id) > (kept.decided_at, kept.id):
            latest[key] = label
    if not latest:
        return LabelMerge(catalog=catalog)

    names, categories = list(catalog.names), list(catalog.categories)
    rows_of: dict[str, list[int]] = defaultdict(list)
    for i, name in enumerate(names):
        rows_of[duplicate_key(name)].append(i)
    now = dt.datetime.now(dt.UTC)
    original = list(categories)
    added: list[tuple[str, str]] = []  # (name, category)
    refiled: dict[str, str] = {}  # name key -> review category
    conflicts = catalog_won = 0
    for key, label in latest.items():
        rows = rows_of.get(key)
        if rows is None:
            added.append((label.name, label.category))
            continue
        filed = {original[i] for i in rows}
        if filed == {label.category}:
            continue
        conflicts += 1
        filed_at = max(catalog_times.get((key, category), now) for category in filed)
        if label.decided_at > filed_at:
            refiled[key] = label.category
        else:
            catalog_won += 1

    # Categories the labels would leave too thin to split for training are held back.
    distinct: dict[str, set[str]] = defaultdict(set)
    for key, rows in rows_of.items():
        for i in rows:
            distinct[refiled.get(key, original[i])].add(key)
    for name, category in added:
        distinct[category].add(duplicate_key(name))
    thin = {c for c, keys in distinct.items() if len(keys) < min_per_category
            and c not in set(original)}
    held = [(n, c) for n, c in added if c in thin]
    held += [(k, c) for k, c in refiled.items() if c in thin]
    refiled = {k: c for k, c in refiled.items() if c not in thin}
    added = [(n, c) for n, c in added if c not in thin]

    for key, category in refiled.items():
        for i in rows_of[key]:
            categories[i] = category
    names += [n for n, _ in added]
    categories += [c for _, c in added]
    merged = Catalog(
        names=names, categories=categories,
        source=f"{catalog.source} + {len(added) + len(refiled)} reviewed names",
        conflicts=catalog.conflicts,
    )
    return LabelMerge(
        catalog=merged, review_labels=len(latest), added=len(added), refiled=len(refiled),
        conflicts=conflicts, catalog_won=catalog_won, held_back=len(held),
        held_back_categories=sorted({c for _, c in held}),
        fresh_keys=frozenset(duplicate_key(n) for n, _ in added),
    )


def training_catalog(
    store: ReviewStore, catalog: Catalog, *, job_id: str | None, include_labels: bool,
    min_per_category: int,
) -> LabelMerge:
    """Record the catalog's rows as `catalog` labels, then merge the review labels in (unless
    `include_labels` is off)."""
    store.record_catalog(zip(catalog.names, catalog.categories, strict=True), job_id=job_id)
    if not include_labels:
        return LabelMerge(catalog=catalog)
    reviews = list(store.iter_labels(source="review"))
    keys = {duplicate_key(label.name) for label in reviews}
    times = store.catalog_times(key for key in keys)
    return merge_labels(catalog, reviews, times, min_per_category=min_per_category)
