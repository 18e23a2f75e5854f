"""One page of a batch job's results, filtered and sorted.

A stored result chunk carries its rows' confidences, decisions and categories as columns
(core/row_blob.py): a filter or sort runs over those arrays, and only the page's own rows are
decoded. `view_results` does the same over rows in hand, in one pass (a bounded heap when
sorting by confidence).
"""

from __future__ import annotations

import heapq
import itertools
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from core.batch_store import BatchStore, ResultIndex, ResultRow
from core.jobs import Job
from core.row_blob import DECISIONS

Sort = Literal["row", "confidence", "-confidence"]


@dataclass(frozen=True)
class ResultQuery:
    decision: str | None = None
    category: str | None = None
    min_confidence: float | None = None
    max_confidence: float | None = None
    sort: Sort = "row"
    offset: int = 0
    limit: int = 100

    @property
    def plain(self) -> bool:
        """No filter and input order: the page is a slice, read without a scan."""
        return (self.sort == "row" and self.decision is None and self.category is None
                and self.min_confidence is None and self.max_confidence is None)

    def matches(self, row: ResultRow) -> bool:
        if self.decision is not None and decision_of(row) != self.decision:
            return False
        if self.category is not None and row.category != self.category:
            return False
        confidence = row.confidence
        if self.min_confidence is not None and (confidence is None
                                                or confidence < self.min_confidence):
            return False
        return not (self.max_confidence is not None
                    and (confidence is None or confidence > self.max_confidence))


@dataclass
class ResultView:
    total: int  # rows matching the query, over all pages
    rows: list[ResultRow]
    categories: Counter[str] = field(default_factory=Counter)  # every row's, for the filters
    decisions: Counter[str] = field(default_factory=Counter)


def decision_of(row: ResultRow) -> str | None:
    return getattr(row, "decision", None)


def view_results(rows: Iterable[ResultRow], query: ResultQuery) -> ResultView:
    """The query's page of `rows` (in input order), with counts for the filter controls."""
    view = ResultView(total=0, rows=[])
    keep = query.offset + query.limit
    heap: list[tuple[float, int, ResultRow]] = []
    sign = -1.0 if query.sort == "-confidence" else 1.0
    for row in rows:
        if row.category is not None:
            view.categories[row.category] += 1
        decision = decision_of(row)
        if decision is not None:
            view.decisions[decision] += 1
        if not query.matches(row):
            continue
        view.total += 1
        if query.sort == "row":
            if query.offset < view.total <= keep:
                view.rows.append(row)
            continue
        # Rows without a confidence (errors) sort last either way; ties keep input order.
        score = sign * row.confidence if row.confidence is not None else float("inf")
        item = (score, row.row, row)
        if len(heap) < keep:
            heapq.heappush(heap, (-item[0], -item[1], row))  # max-heap of the best `keep`
        elif (score, row.row) < (-heap[0][0], -heap[0][1]):
            heapq.heapreplace(heap, (-item[0], -item[1], row))
    if query.sort != "row":
        ranked = sorted(heap, key=lambda entry: (-entry[0], -entry[1]))
        view.rows = [entry[2] for entry in itertools.islice(ranked, query.offset, keep)]
    return view


def results_page(batches: BatchStore, job: Job, query: ResultQuery, *,
                 final: Callable[[Iterable[ResultRow]], Iterable[ResultRow]] | None = None,
                 decided: Callable[[], dict[int, str]] | None = None) -> ResultView:
    """A batch job's page of results.

    An unfiltered page in input order reads only its own rows, with the counts from the job's
    summary. A filtered or sorted one reads the job's result columns (kept in memory once the
    job has ended), picks the page's rows there and reads those alone (see BENCHMARKS.md,
    "Console"). `final` applies what else decides a row's category (the reviewers' decisions)
    to the rows read; `decided` gives those decisions by row, for the filters and counts.
    """
    summary = job.result or {}
    per_category = summary.get("per_category")
    if query.plain and isinstance(per_category, dict):
        rows: Iterable[ResultRow] = batches.iter_results(job.id, offset=query.offset,
                                                         limit=query.limit)
        categories = Counter({name: sum(counts.values())
                              for name, counts in per_category.items()})
        decisions = Counter({d: int(summary[d]) for d in ("auto", "review") if summary.get(d)})
        return ResultView(total=job.total_rows or 0,
                          rows=list(final(rows) if final is not None else rows),
                          categories=categories, decisions=decisions)
    index = batches.result_index(job.id, finished=job.finished_at is not None)
    view, picked = _indexed(index, query, decided() if decided is not None else {})
    rows = batches.rows_at(index, sorted(picked))
    by_row = {r.row: r for r in (final(rows) if final is not None else rows)}
    view.rows = [by_row[row] for row in picked if row in by_row]
    return view


def _indexed(index: ResultIndex, query: ResultQuery,
             decided: dict[int, str]) -> tuple[ResultView, list[int]]:
    """The query's counts and total, and the row numbers of its page, from the columns alone."""
    categories = list(index.categories)
    codes = {name: code for code, name in enumerate(categories)}
    category = index.category
    if decided:  # a reviewer's category replaces the model's
        rows = np.fromiter(decided, dtype=np.int64, count=len(decided))
        at = np.searchsorted(index.rows, rows)
        present = (at < len(index.rows)) & (index.rows[np.minimum(at, len(index.rows) - 1)]
                                            == rows)
        new = np.array([codes.setdefault(c, len(codes)) for c in decided.values()],
                       dtype=np.int32)
        categories = list(codes)
        category = category.copy()
        category[at[present]] = new[present]
    mask = np.ones(len(index.rows), dtype=bool)
    if query.decision is not None:
        code = DECISIONS.index(query.decision) if query.decision in DECISIONS[1:] else -1
        mask &= index.decision == code
    if query.category is not None:
        mask &= category == codes.get(query.category, -2)
    if query.min_confidence is not None:
        mask &= index.confidence >= query.min_confidence  # NaN (no confidence) is never
    if query.max_confidence is not None:
        mask &= index.confidence <= query.max_confidence
    filed = category[category >= 0]
    view = ResultView(
        total=int(mask.sum()), rows=[],
        categories=Counter({categories[c]: int(n) for c, n in
                            enumerate(np.bincount(filed, minlength=len(categories))) if n}),
        decisions=Counter({name: int(n) for name, n in
                           zip(DECISIONS, np.bincount(index.decision, minlength=len(DECISIONS)),
                               strict=False)
                           if n and name is not None}))
    if query.sort == "row":
        chosen = np.flatnonzero(mask)
    else:
        order = index.order(descending=query.sort == "-confidence")
        chosen = order[mask[order]]
    page = chosen[query.offset:query.offset + query.limit]
    return view, [int(row) for row in index.rows[page]]
