"""A page of results, filtered and sorted in one pass."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from core.batch_store import BatchStore, InputRow, ResultRow
from core.jobs import JobStore
from core.results_view import ResultQuery, results_page, view_results


@dataclass(frozen=True)
class DecidedRow(ResultRow):
    decision: str | None = None


ROWS = [
    DecidedRow(row=0, id="a", name="taladro", category="Herramientas", confidence=0.9,
               error=None, decision="auto"),
    DecidedRow(row=1, id="b", name="tubo", category="Plomería", confidence=0.4, error=None,
               decision="review"),
    DecidedRow(row=2, id="c", name="", category=None, confidence=None, error="empty name"),
    DecidedRow(row=3, id="d", name="llave", category="Herramientas", confidence=0.4,
               error=None, decision="review"),
    DecidedRow(row=4, id="e", name="foco", category="Electricos", confidence=0.7, error=None,
               decision="auto"),
]


def _ids(query: ResultQuery) -> list[str | None]:
    return [r.id for r in view_results(iter(ROWS), query).rows]


def test_counts_categories_and_decisions_over_every_row() -> None:
    view = view_results(iter(ROWS), ResultQuery(category="Plomería"))

    assert view.total == 1
    assert view.categories == {"Herramientas": 2, "Plomería": 1, "Electricos": 1}
    assert view.decisions == {"auto": 2, "review": 2}


@pytest.mark.parametrize(("query", "ids"), [
    (ResultQuery(), ["a", "b", "c", "d", "e"]),
    (ResultQuery(decision="review"), ["b", "d"]),
    (ResultQuery(min_confidence=0.5), ["a", "e"]),
    (ResultQuery(max_confidence=0.4), ["b", "d"]),
    (ResultQuery(sort="confidence"), ["b", "d", "e", "a", "c"]),  # ties in input order
    (ResultQuery(sort="-confidence"), ["a", "e", "b", "d", "c"]),  # errors last
    (ResultQuery(sort="confidence", offset=1, limit=2), ["d", "e"]),
    (ResultQuery(offset=3, limit=5), ["d", "e"]),
])
def test_filters_sort_and_page(query: ResultQuery, ids: list[str]) -> None:
    assert _ids(query) == ids


def test_the_total_counts_every_match_beyond_the_page() -> None:
    view = view_results(iter(ROWS), ResultQuery(sort="-confidence", limit=1))

    assert view.total == 5
    assert [r.id for r in view.rows] == ["a"]


def _stored_batch(jobs: JobStore) -> str:
    store = BatchStore(jobs)
    rows = [InputRow(id=str(i), name=f"taladro {i}") for i in range(12)]
    job, _ = store.create_batch([rows[:5], rows[5:10], rows[10:]])
    for idx, n in enumerate((5, 5, 2)):
        store.put_result(job.id, idx, [("Herramientas" if (idx + i) % 3 else "Plomería",
                                        (idx * 5 + i) / 12, None) for i in range(n)])
    jobs.succeed(job.id, {"rows": 12, **store.decision_counts(job.id)})
    return job.id


def test_a_plain_page_is_a_slice_with_the_summarys_counts(job_store: JobStore) -> None:
    job = job_store.get(_stored_batch(job_store))

    view = results_page(BatchStore(job_store), job, ResultQuery(offset=4, limit=3))

    assert [r.row for r in view.rows] == [4, 5, 6]
    assert view.total == 12
    assert view.categories == {"Herramientas": 8, "Plomería": 4}
    assert view.decisions == {"review": 12}  # no threshold: every row goes to review


def test_a_filtered_page_reads_every_row(job_store: JobStore) -> None:
    job = job_store.get(_stored_batch(job_store))

    view = results_page(BatchStore(job_store), job,
                        ResultQuery(category="Plomería", sort="-confidence"))

    assert [r.row for r in view.rows] == [11, 7, 3, 0]
    assert view.total == 4
