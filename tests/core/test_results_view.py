"""A page of results, filtered and sorted in one pass."""

from __future__ import annotations

from collections.abc import Iterable
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


def _random_batch(jobs: JobStore, *, legacy_chunks: set[int]) -> tuple[str, list[ResultRow]]:
    """A finished batch of 730 rows over several frames and chunks: every decision, errors,
    tied confidences, and some chunks stored as older releases stored them."""
    import json
    import random
    import zlib

    from core.batch_store import RowResult
    from core.db import results_table

    rng = random.Random(7)
    store = BatchStore(jobs)
    names = [f"producto {i}" for i in range(730)]
    rows = [InputRow(id=f"SKU-{i}", name=name) for i, name in enumerate(names)]
    sizes = [250, 250, 230]
    chunks, at = [], 0
    for size in sizes:
        chunks.append(rows[at:at + size])
        at += size
    job, _ = store.create_batch(chunks)
    expected: list[ResultRow] = []
    at = 0
    for idx, size in enumerate(sizes):
        results = []
        for i in range(size):
            if rng.random() < 0.05:
                result = RowResult(None, None, "empty name")
            else:
                confidence = rng.choice([0.5, 0.25, round(rng.random(), 3)])
                category = rng.choice(["Herramientas", "Plomería", "Eléctricos", "Jardín"])
                result = RowResult(category, confidence, None,
                                   "auto" if confidence > 0.6 else "review",
                                   [(category, confidence)], True)
            results.append(result)
            expected.append(ResultRow(row=at + i, id=f"SKU-{at + i}", name=names[at + i],
                                      category=result.category, confidence=result.confidence,
                                      error=result.error, decision=result.decision,
                                      top_k=list(result.top_k or []), known=result.known))
        store.put_result(job.id, idx, results)
        if idx in legacy_chunks:  # one zlib'd JSON array, no columns
            with jobs.engine.begin() as connection:
                connection.execute(results_table.update().where(
                    results_table.c.job_id == job.id, results_table.c.idx == idx).values(
                    rows=zlib.compress(json.dumps([list(r) for r in results]).encode())))
        at += size
    jobs.succeed(job.id, {"rows": len(rows), **store.decision_counts(job.id)})
    return job.id, expected


QUERIES = [
    ResultQuery(decision="review", sort="confidence"),
    ResultQuery(decision="auto", sort="-confidence", offset=30, limit=50),
    ResultQuery(category="Plomería"),
    ResultQuery(category="Jardín", sort="-confidence", offset=100),
    ResultQuery(category="Nowhere"),
    ResultQuery(decision="nonsense"),
    ResultQuery(min_confidence=0.25, max_confidence=0.5, sort="confidence", offset=20),
    ResultQuery(sort="-confidence", offset=600, limit=200),
    ResultQuery(sort="confidence", offset=0, limit=730),
]


@pytest.mark.parametrize("legacy", [set(), {1}])
def test_filtered_pages_from_the_columns_match_a_scan_of_every_row(
    job_store: JobStore, legacy: set[int]
) -> None:
    """The indexed page (columns, then only the page's rows) equals the one-pass scan, with a
    reviewer's decisions applied, whatever chunk format the rows were stored in."""
    from dataclasses import replace

    from core.db import results_table

    job_id, rows = _random_batch(job_store, legacy_chunks=legacy)
    job = job_store.get(job_id)
    batches = BatchStore(job_store)
    decided = {3: "Jardín", 260: "Plomería", 700: "Nueva categoría"}

    def final(given: Iterable[ResultRow]) -> list[ResultRow]:
        return [replace(r, category=decided[r.row], source="review") if r.row in decided else r
                for r in given]

    for query in QUERIES + [ResultQuery(category="Nueva categoría")]:
        view = results_page(batches, job, query, final=final, decided=lambda: decided)
        scan = view_results(final(rows), query)
        assert [r.row for r in view.rows] == [r.row for r in scan.rows], query
        assert view.rows == scan.rows, query
        assert (view.total, view.categories, view.decisions) == (
            scan.total, scan.categories, scan.decisions), query
    # A finished job's index and chunks are read once: the pages stay the same without a
    # database read (here: with its stored rows gone).
    assert batches.result_index(job_id, finished=True) is batches.result_index(job_id,
                                                                               finished=True)
    wanted = results_page(batches, job, ResultQuery(sort="confidence", limit=730))
    with job_store.engine.begin() as connection:
        connection.execute(results_table.delete())
    assert results_page(batches, job, ResultQuery(sort="confidence", limit=730)) == wanted
