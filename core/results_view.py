"""One page of a batch job's results, filtered and sorted, read in one pass over its rows.

The rows stream from the store; only the page is kept (a bounded heap when sorting by
confidence), so a page of a million-row import costs one read and memory for the page alone.
"""

from __future__ import annotations

import heapq
import itertools
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

from core.batch_store import BatchStore, ResultRow
from core.jobs import Job

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
                 ) -> ResultView:
    """A finished batch job's page of results.

    An unfiltered page in input order reads only its own chunks, with the counts from the job's
    summary; a filtered or sorted one reads every row once (see BENCHMARKS.md, "Console").
    `final` applies what else decides a row's category (the reviewers' decisions) as rows are
    read.
    """

    def read(offset: int = 0, limit: int | None = None) -> Iterable[ResultRow]:
        rows = batches.iter_results(job.id, offset=offset, limit=limit)
        return final(rows) if final is not None else rows

    summary = job.result or {}
    per_category = summary.get("per_category")
    if query.plain and isinstance(per_category, dict):
        rows = list(read(query.offset, query.limit))
        categories = Counter({name: sum(counts.values())
                              for name, counts in per_category.items()})
        decisions = Counter({d: int(summary[d]) for d in ("auto", "review") if summary.get(d)})
        return ResultView(total=job.total_rows or 0, rows=rows, categories=categories,
                          decisions=decisions)
    return view_results(read(), query)
