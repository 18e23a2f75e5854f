"""Merging labels into a training catalog: de-duplicated by name, the later decision wins."""

from __future__ import annotations

import datetime as dt

from core.batch_store import BatchStore, InputRow
from core.data import Catalog
from core.jobs import JobStore
from core.labels import merge_labels, training_catalog
from core.review import Label, NewItem, ReviewStore

T0 = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)


def label(name: str, category: str, minutes: int, id_: int = 0) -> Label:
    return Label(id=id_, name=name, category=category, source="review", job_id="j",
                 model_version=1, decided_by="reviewer",
                 decided_at=T0 + dt.timedelta(minutes=minutes))


def catalog(rows: list[tuple[str, str]]) -> Catalog:
    return Catalog(names=[n for n, _ in rows], categories=[c for _, c in rows], source="test")


BASE = [(f"taladro {i}", "Herramientas") for i in range(5)] + [
    (f"tubo {i}", "Plomería") for i in range(5)] + [("Foco LED", "Electricos")] * 2


def test_no_labels_leave_the_catalog_as_it_is() -> None:
    merged = merge_labels(catalog(BASE), [], {}, min_per_category=2)
    assert merged.catalog.names == [n for n, _ in BASE]
    assert merged.conflicts == merged.added == 0


def test_a_reviewed_name_the_catalog_lacks_is_added_once_with_its_latest_label() -> None:
    reviews = [label("Kit Zorbax", "Herramientas", 1, 1),
               label("kit  ZORBAX", "Plomería", 2, 2),  # the same name, decided later
               label("llave stillson", "Plomería", 1, 3)]
    merged = merge_labels(catalog(BASE), reviews, {}, min_per_category=2)

    added = list(zip(merged.catalog.names, merged.catalog.categories, strict=True))[len(BASE):]
    assert added == [("kit  ZORBAX", "Plomería"), ("llave stillson", "Plomería")]
    assert (merged.review_labels, merged.added, merged.conflicts) == (2, 2, 0)


def test_a_review_after_the_catalog_refiles_every_row_of_the_name() -> None:
    times = {("foco led", "Electricos"): T0}
    merged = merge_labels(catalog(BASE), [label("foco  led", "Herramientas", 5)], times,
                          min_per_category=2)
    refiled = [c for n, c in zip(merged.catalog.names, merged.catalog.categories, strict=True)
               if n == "Foco LED"]
    assert refiled == ["Herramientas", "Herramientas"]
    assert (merged.conflicts, merged.refiled, merged.catalog_won) == (1, 1, 0)
    assert len(merged.catalog) == len(BASE)


def test_a_catalog_that_filed_the_name_after_the_review_wins() -> None:
    times = {("foco led", "Electricos"): T0 + dt.timedelta(minutes=10)}
    merged = merge_labels(catalog(BASE), [label("Foco LED", "Herramientas", 5)], times,
                          min_per_category=2)
    assert merged.catalog.categories == [c for _, c in BASE]
    assert (merged.conflicts, merged.refiled, merged.catalog_won) == (1, 0, 1)


def test_an_agreeing_review_is_no_conflict() -> None:
    merged = merge_labels(catalog(BASE), [label("taladro 1", "Herramientas", 5)],
                          {("taladro 1", "Herramientas"): T0}, min_per_category=2)
    assert (merged.conflicts, merged.added, merged.refiled) == (0, 0, 0)


def test_a_new_category_with_too_few_names_is_held_back() -> None:
    reviews = [label("manguera 1", "Jardín", 1, 1), label("tubo 1", "Jardín", 2, 2),
               label("Foco LED", "Luces", 3, 3), label("lampara", "Luces", 4, 4),
               label("plafón", "Luces", 5, 5)]
    times = {("tubo 1", "Plomería"): T0, ("foco led", "Electricos"): T0}
    merged = merge_labels(catalog(BASE), reviews, times, min_per_category=3)

    assert "Jardín" not in merged.catalog.categories
    assert merged.held_back == 2
    assert merged.held_back_categories == ["Jardín"]
    assert merged.catalog.categories.count("Luces") == 4  # two rows of Foco LED, two added
    assert merged.summary()["held_back"] == 2


def test_training_catalog_records_the_catalog_and_merges_reviews(job_store: JobStore) -> None:
    store = ReviewStore(job_store.engine)
    base = catalog(BASE)
    first = training_catalog(store, base, job_id="t1", include_labels=True, min_per_category=2)
    assert first.catalog is base
    assert store.list_labels(source="catalog").total == 11  # distinct (name, category) pairs

    # A review decided now is later than the catalog's first word on "Foco LED".
    store.sync_model_categories(1, ["Herramientas"])
    job, _ = BatchStore(job_store).create_batch([[InputRow("a", "Foco LED")]])
    store.add_items(job.id, [NewItem(row=0, name="Foco LED", category="Electricos",
                                     confidence=0.3, top_k=[])], model_version=1)
    store.decide(store.list_items().items[0].id, by="reviewer", category="Herramientas")

    merged = training_catalog(store, base, job_id="t2", include_labels=True, min_per_category=2)
    assert merged.refiled == 1
    assert merged.conflicts == 1
    assert store.list_labels(source="catalog").total == 11  # nothing new in the catalog
    without = training_catalog(store, base, job_id="t3", include_labels=False,
                               min_per_category=2)
    assert without.catalog is base
    assert without.conflicts == 0
