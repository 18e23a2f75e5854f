"""The review store: items, decisions and their history, labels, categories (SQLite)."""

from __future__ import annotations

import datetime as dt

import pytest

from core.batch_store import BatchStore, InputRow, ResultRow
from core.jobs import JobStore
from core.review import NewItem, ReviewItemNotFound, ReviewStore, UnknownCategory


@pytest.fixture
def review(job_store: JobStore) -> ReviewStore:
    store = ReviewStore(job_store.engine)
    store.sync_model_categories(1, ["Herramientas", "Plomería", "Electricos"])
    return store


def make_job(job_store: JobStore, rows: int = 10) -> str:
    rows_in = [InputRow(f"sku-{i}", f"name {i}") for i in range(rows)]
    job, _ = BatchStore(job_store).create_batch([rows_in])
    return job.id


def item(row: int, confidence: float, category: str = "Herramientas",
         name: str | None = None) -> NewItem:
    return NewItem(row=row, name=name or f"name {row}", category=category,
                   confidence=confidence,
                   top_k=[{"category": category, "confidence": confidence},
                          {"category": "Ferretería", "confidence": 0.1}])


def test_the_queue_is_least_confident_first_and_filtered_and_paged_in_sql(
        job_store: JobStore, review: ReviewStore) -> None:
    first, second = make_job(job_store), make_job(job_store)
    review.add_items(first, [item(0, 0.5), item(1, 0.2, "Plomería"), item(2, 0.8)],
                     model_version=1)
    review.add_items(second, [item(0, 0.3), item(1, 0.9, "Plomería")], model_version=1)

    everything = review.list_items()
    assert everything.total == 5
    assert [i.confidence for i in everything.items] == [0.2, 0.3, 0.5, 0.8, 0.9]

    page = review.list_items(offset=1, limit=2)
    assert page.total == 5
    assert [i.confidence for i in page.items] == [0.3, 0.5]

    assert [i.row for i in review.list_items(job_id=first).items] == [1, 0, 2]
    assert [i.confidence for i in review.list_items(category="Plomería").items] == [0.2, 0.9]
    bounded = review.list_items(min_confidence=0.3, max_confidence=0.8)
    assert [i.confidence for i in bounded.items] == [0.3, 0.5, 0.8]
    assert review.list_items(state="accepted").total == 0
    assert review.list_items(state="pending").total == 5


def test_accept_correct_skip_and_history(job_store: JobStore, review: ReviewStore) -> None:
    job_id = make_job(job_store)
    review.add_items(job_id, [item(0, 0.4)], model_version=3)
    (target,) = review.list_items().items

    accepted = review.decide(target.id, by="reviewer", category="Herramientas")
    assert (accepted.state, accepted.decided_category, accepted.decided_by) == (
        "accepted", "Herramientas", "reviewer")
    assert accepted.decided_at is not None

    corrected = review.decide(target.id, by="admin", category="Plomería")
    assert (corrected.state, corrected.decided_category) == ("corrected", "Plomería")

    skipped = review.decide(target.id, by="reviewer", skip=True)
    assert (skipped.state, skipped.decided_category) == ("skipped", None)

    history = review.history(target.id)
    assert [(d.state, d.category, d.decided_by, d.model_version) for d in history] == [
        ("accepted", "Herramientas", "reviewer", 3),
        ("corrected", "Plomería", "admin", 3),
        ("skipped", None, "reviewer", 3),
    ]


def test_a_correction_to_an_unknown_category_is_refused_and_changes_nothing(
        job_store: JobStore, review: ReviewStore) -> None:
    job_id = make_job(job_store)
    review.add_items(job_id, [item(0, 0.4)], model_version=1)
    (target,) = review.list_items().items

    with pytest.raises(UnknownCategory, match="Jardín"):
        review.decide(target.id, by="reviewer", category="Jardín")
    assert review.get_item(target.id).state == "pending"
    assert review.history(target.id) == []

    # One the proposing model ranked is known, and so is one an admin added.
    assert review.decide(target.id, by="reviewer", category="Ferretería").state == "corrected"
    review.add_category("Jardín", by="admin")
    assert review.decide(target.id, by="reviewer", category="Jardín").decided_category == "Jardín"


def test_unknown_items_are_not_found(review: ReviewStore) -> None:
    with pytest.raises(ReviewItemNotFound):
        review.decide(12345, by="reviewer", category="Herramientas")
    with pytest.raises(ReviewItemNotFound):
        review.get_item(12345)


def test_bulk_accept_is_all_or_nothing(job_store: JobStore, review: ReviewStore) -> None:
    job_id = make_job(job_store)
    review.add_items(job_id, [item(0, 0.4), item(1, 0.5, "Plomería")], model_version=1)
    ids = [i.id for i in review.list_items().items]

    with pytest.raises(ReviewItemNotFound, match="999"):
        review.accept([*ids, 999], by="reviewer")
    assert review.list_items(state="pending").total == 2

    accepted = review.accept(ids, by="reviewer")
    assert [(i.state, i.decided_category) for i in accepted] == [
        ("accepted", "Herramientas"), ("accepted", "Plomería")]


def test_every_accept_or_correction_is_one_label_replaced_on_a_new_decision(
        job_store: JobStore, review: ReviewStore) -> None:
    job_id = make_job(job_store)
    review.add_items(job_id, [item(0, 0.4, name="Kit  Zorbax"), item(1, 0.5)], model_version=2)
    first, second = review.list_items().items

    review.decide(first.id, by="reviewer", category="Herramientas")
    review.decide(first.id, by="admin", category="Plomería")
    review.accept([second.id], by="reviewer")
    labels = review.list_labels().items
    assert [(lb.name, lb.category, lb.source, lb.job_id, lb.model_version, lb.decided_by)
            for lb in labels] == [
        ("Kit  Zorbax", "Plomería", "review", job_id, 2, "admin"),
        ("name 1", "Herramientas", "review", job_id, 2, "reviewer"),
    ]
    review.decide(first.id, by="reviewer", skip=True)
    assert [lb.name for lb in review.list_labels().items] == ["name 1"]


def test_labels_since_counts_review_labels_decided_after_a_time(
        job_store: JobStore, review: ReviewStore) -> None:
    job_id = make_job(job_store)
    review.add_items(job_id, [item(0, 0.4), item(1, 0.5)], model_version=1)
    ids = [i.id for i in review.list_items().items]
    before = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    review.record_catalog([("taladro", "Herramientas")], job_id=None)
    review.accept(ids, by="reviewer")

    assert review.labels_since(before) == 2
    assert review.labels_since(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)) == 0
    assert review.labels_since(before, source="catalog") == 1


def test_a_catalog_name_keeps_the_time_it_was_first_filed(review: ReviewStore) -> None:
    assert review.record_catalog([("Taladro ", "Herramientas"), ("taladro", "Herramientas"),
                                  ("Tubo", "Plomería")], job_id="a") == 2
    first = review.catalog_times(["taladro", "tubo"])
    assert review.record_catalog([("TALADRO", "Herramientas"), ("tubo", "Electricos")],
                                 job_id="b") == 1
    again = review.catalog_times(["taladro", "tubo"])
    assert again[("taladro", "Herramientas")] == first[("taladro", "Herramientas")]
    assert again[("tubo", "Electricos")] > first[("tubo", "Plomería")]


def test_decided_rows_become_the_final_category_of_batch_results(
        job_store: JobStore, review: ReviewStore) -> None:
    job_id = make_job(job_store, rows=4)
    review.add_items(job_id, [item(1, 0.4), item(2, 0.3), item(3, 0.2)], model_version=1)
    items = {i.row: i for i in review.list_items().items}
    review.decide(items[1].id, by="reviewer", category="Plomería")
    review.decide(items[2].id, by="reviewer", category="Herramientas")
    review.decide(items[3].id, by="reviewer", skip=True)
    rows = [ResultRow(row=i, id=None, name=f"name {i}", category="Herramientas",
                      confidence=0.5, error=None) for i in range(4)]

    final = list(review.with_decisions(job_id, rows, block=3))
    assert [(r.category, r.source) for r in final] == [
        ("Herramientas", "model"), ("Plomería", "review"), ("Herramientas", "review"),
        ("Herramientas", "model")]


def test_categories_are_searchable_and_paged(review: ReviewStore) -> None:
    review.add_category("Jardín y exteriores", by="admin")
    created = review.add_category("Jardín y exteriores", by="admin")[1]
    assert created is False
    review.sync_model_categories(2, [f"Categoría {i:04d}" for i in range(1000)])

    assert review.list_categories().total == 1004
    found = review.list_categories(q="JARD")
    assert [(c.name, c.source) for c in found.items] == [("Jardín y exteriores", "admin")]
    page = review.list_categories(q="categoría 00", offset=10, limit=5)
    assert page.total == 100
    assert [c.name for c in page.items] == [f"Categoría {i:04d}" for i in range(10, 15)]
    assert review.list_categories(q="100%").total == 0  # LIKE wildcards are taken literally
    assert review.is_known("Categoría 0999")
    assert not review.is_known("Categoría 1000")


def test_a_job_deleted_takes_its_items_but_not_its_labels(
        job_store: JobStore, review: ReviewStore) -> None:
    job_id = make_job(job_store)
    review.add_items(job_id, [item(0, 0.4)], model_version=1)
    review.accept([review.list_items().items[0].id], by="reviewer")

    job_store.delete(job_id)
    assert review.list_items().total == 0
    assert [lb.job_id for lb in review.list_labels().items] == [job_id]


def test_latest_reviews_gives_the_last_word_on_each_name_by_its_normalized_form(
        job_store: JobStore, review: ReviewStore) -> None:
    job_id = make_job(job_store)
    review.add_items(job_id, [item(0, 0.4, name="Kit Zorbax"), item(1, 0.5, name="KIT  zorbax"),
                              item(2, 0.6, name="Codo")], model_version=1)
    first, second, third = review.list_items().items  # least confident first
    review.decide(first.id, by="reviewer", category="Herramientas")
    review.decide(second.id, by="reviewer", category="Plomería")  # the later word
    review.decide(third.id, by="reviewer", skip=True)  # a skip is no label
    review.record_catalog([("Taladro", "Herramientas")], job_id=None)  # nor a catalog row

    latest = review.latest_reviews(["kit zorbax", "Codo", "Taladro", "nunca visto"])

    assert {key: label.category for key, label in latest.items()} == {"kit zorbax": "Plomería"}
