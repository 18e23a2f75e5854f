"""The review queue as a spreadsheet: export, edit, import (all lines or none)."""

from __future__ import annotations

import csv
import io

import pytest

from core.batch_store import BatchStore, InputRow
from core.jobs import JobStore
from core.review import NewItem, ReviewStore
from core.review_csv import ImportRefused, export_lines, import_decisions, iter_items


@pytest.fixture
def review(job_store: JobStore) -> ReviewStore:
    store = ReviewStore(job_store.engine)
    job, _ = BatchStore(job_store).create_batch([[InputRow(None, f"p{i}") for i in range(4)]])
    store.add_items(job.id, [
        NewItem(row=i, name=name, category="Plomería", confidence=c,
                top_k=[{"category": "Plomería", "confidence": c},
                       {"category": "Ferretería", "confidence": 0.1}])
        for i, (name, c) in enumerate([("=tubo", 0.4), ("codo", 0.2), ("llave", 0.6)])],
        model_version=1)
    return store


def exported(review: ReviewStore) -> list[dict[str, str]]:
    text = "".join(export_lines(iter_items(review, job_id=None, state="pending")))
    return list(csv.DictReader(io.StringIO(text)))


def write(rows: list[dict[str, str]]) -> io.StringIO:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    buffer.seek(0)
    return buffer


def test_the_export_lists_pending_items_least_confident_first(review: ReviewStore) -> None:
    rows = exported(review)
    assert [(r["name"], r["proposed"], r["confidence"]) for r in rows] == [
        ("codo", "Plomería", "0.2"), ("'=tubo", "Plomería", "0.4"), ("llave", "Plomería", "0.6")]
    assert rows[0]["alternatives"] == "Ferretería 0.100"
    assert (rows[0]["category"], rows[0]["skip"]) == ("", "")


def test_import_accepts_corrects_skips_and_leaves_blank_lines(review: ReviewStore) -> None:
    rows = exported(review)
    rows[0]["category"] = "Plomería"
    rows[1]["category"] = "Ferretería"
    rows[2]["skip"] = "yes"

    report = import_decisions(review, write(rows), by="cli", is_known=lambda c: False)

    assert (report.accepted, report.corrected, report.skipped) == (1, 1, 1)
    states = {i.name: (i.state, i.decided_by) for i in review.list_items().items}
    assert states == {"codo": ("accepted", "cli"), "=tubo": ("corrected", "cli"),
                      "llave": ("skipped", "cli")}
    again = exported(review)
    assert again == []


def test_one_wrong_line_and_nothing_is_imported(review: ReviewStore) -> None:
    rows = exported(review)
    rows[0]["category"] = "Plomería"
    rows[1]["category"] = "Jardín"
    rows[2]["category"] = "Plomería"
    rows[2]["skip"] = "yes"
    rows.append({**rows[0], "id": "999", "category": "Plomería", "skip": ""})

    with pytest.raises(ImportRefused) as refused:
        import_decisions(review, write(rows), by="cli", is_known=lambda c: False)

    assert refused.value.problems == [
        "line 4: give a category or skip, not both",
        "line 3: unknown category 'Jardín'",
        "line 5: no review item with id 999",
    ]
    assert review.list_items(state="pending").total == 3
    report = import_decisions(review, write(rows[:2]), by="cli", is_known=lambda c: c == "Jardín")
    assert (report.accepted, report.corrected) == (1, 1)


def test_a_file_without_the_columns_is_refused(review: ReviewStore) -> None:
    with pytest.raises(ImportRefused, match="category, skip"):
        import_decisions(review, io.StringIO("id,name\n1,x\n"), by="cli", is_known=bool)
