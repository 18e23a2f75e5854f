"""A batch job's rows: its input in chunks, and each chunk's results, stored once.

Rows are stored a chunk per database row (the same chunks the workers process), so a
million-row import is a few hundred inserts, and a chunk processed twice (a redelivered message)
writes its result once: the result's primary key is the chunk. Each chunk is stored in frames
(core/row_blob.py) so that a page of results decodes its own rows and not the whole chunk.
"""

from __future__ import annotations

import bisect
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

import sqlalchemy as sa

from core.db import chunks_table, connect, jobs_table, results_table, transaction
from core.errors import EmptyBatch, JobNotFound
from core.jobs import Job, JobStore, insert_job, new_job_id, now
from core.row_blob import DECISIONS, Blob, columns_of, encode_columns, pack, result_columns

if TYPE_CHECKING:
    # Imported where it is used: intake processes (api/intake.py) pack rows with this module
    # and never load numpy.
    import numpy as np


class InputRow(NamedTuple):
    """One row of a batch import: the caller's id, the name, and an error found on intake.

    A named tuple: a million of them are made per million-row import, and they pack to JSON as
    they are.
    """

    id: str | None
    name: str
    error: str | None = None


class RowResult(NamedTuple):
    """What categorizing one input row gave (core/batch.py), stored as it is."""

    category: str | None
    confidence: float | None
    error: str | None
    decision: str | None = None  # "auto" | "review"; None for a row in error
    top_k: list[tuple[str, float]] | None = None
    known: bool | None = None
    filed_under: str | None = None  # category paths: the deepest level sure to be filed


@dataclass(frozen=True)
class ResultRow:
    row: int
    id: str | None
    name: str
    category: str | None
    confidence: float | None
    error: str | None
    decision: str | None = None
    top_k: list[tuple[str, float]] = field(default_factory=list)
    known: bool | None = None
    filed_under: str | None = None
    source: str = "model"  # "review" once a person decided the row (core.review)


class PackedChunk(NamedTuple):
    """A chunk of input rows as it is stored: its row count and its packed rows.

    What an intake process hands back to the API process: a few bytes per row to store, not a
    million objects to make again.
    """

    n_rows: int
    rows: bytes


def pack_chunk(rows: list[InputRow]) -> PackedChunk:
    return PackedChunk(len(rows), pack(rows))


def _unpack(blob: bytes) -> list[list[Any]]:
    return Blob(blob).rows()


@dataclass(frozen=True)
class ResultIndex:
    """A batch job's result columns end to end (`ResultColumns` with job-wide category codes)
    and where each stored chunk starts: what a filtered or sorted page reads first."""

    job_id: str
    rows: np.ndarray  # int64 row numbers, ascending (rows not yet processed are absent)
    confidence: np.ndarray
    decision: np.ndarray
    category: np.ndarray
    categories: list[str]
    chunk_starts: list[int]  # first row of each chunk with a result, ascending
    chunk_ids: list[int]
    finished: bool = False  # the job has ended: its index and chunks may be kept
    _orders: dict[bool, np.ndarray] = field(default_factory=dict, compare=False, repr=False)

    def order(self, *, descending: bool) -> np.ndarray:
        """Positions by confidence (rows without one last, ties in input order); worked out
        once per index."""
        import numpy as np

        order = self._orders.get(descending)
        if order is None:
            key = -self.confidence if descending else self.confidence
            order = np.argsort(np.where(np.isnan(key), np.inf, key), kind="stable")
            self._orders[descending] = order
        return order


class BatchStore:
    """Batch jobs' chunks and results, beside the job records of `jobs`."""

    # Kept per process for finished jobs (their results never change once the job has ended):
    # the indexes of a few, and their stored chunks up to a size.
    INDEXES_KEPT = 8
    CHUNK_BYTES_KEPT = 64 * 2**20

    def __init__(self, jobs: JobStore) -> None:
        self.jobs = jobs
        self.engine = jobs.engine
        self._indexes: OrderedDict[str, ResultIndex] = OrderedDict()
        self._blobs: OrderedDict[tuple[str, int], tuple[tuple[Blob, Blob], int]] = OrderedDict()
        self._blob_bytes = 0
        self._lock = threading.Lock()

    def create_batch(
        self, chunks: Iterable[list[InputRow]] | Iterable[PackedChunk], *,
        idempotency_key: str | None = None,
    ) -> tuple[Job, bool]:
        """Record a queued batch job with all its rows in one transaction: all or nothing.

        The chunks are lists of rows, or chunks already packed (`pack_chunk`).

        An intake cut short (a database outage, a client gone, a limit hit) leaves no
        half-written job behind for an idempotent retry to find. Returns (job, created).
        """
        job_id = new_job_id()
        try:
            with transaction(self.engine) as connection:
                insert_job(connection, job_id, kind="batch", params={}, key=idempotency_key)
                total, _ = _insert_chunks(connection, job_id, chunks)
                if total == 0:
                    raise EmptyBatch("the batch has no rows")
        except sa.exc.IntegrityError as exc:
            return self.jobs.race_winner(idempotency_key, exc), False
        return self.jobs.get(job_id), True

    def get_chunk(self, job_id: str, idx: int) -> list[InputRow]:
        with transaction(self.engine) as connection:
            blob = connection.execute(
                sa.select(chunks_table.c.rows)
                .where(chunks_table.c.job_id == job_id, chunks_table.c.idx == idx)
            ).scalar_one_or_none()
        if blob is None:
            raise JobNotFound(f"{job_id} has no chunk {idx}")
        return list(map(InputRow._make, _unpack(blob)))

    def has_result(self, job_id: str, idx: int) -> bool:
        with transaction(self.engine) as connection:
            return connection.execute(
                sa.select(results_table.c.idx)
                .where(results_table.c.job_id == job_id, results_table.c.idx == idx)
            ).first() is not None

    def put_result(self, job_id: str, idx: int, rows: list[RowResult] | list[tuple[Any, ...]],
                   *, also: Callable[[sa.Connection], None] | None = None) -> bool:
        """Store a chunk's results once; a second write of the same chunk is ignored.

        `also` makes more writes in the same transaction (the chunk's review items,
        core.review), so they too are made once or not at all.
        """
        try:
            with transaction(self.engine) as connection:
                connection.execute(results_table.insert().values(
                    job_id=job_id, idx=idx, n_rows=len(rows),
                    rows=pack(rows, columns=encode_columns(result_columns(rows))),
                ))
                if also is not None:
                    also(connection)
                connection.execute(jobs_table.update().where(jobs_table.c.id == job_id)
                                   .values(updated_at=now()))
        except sa.exc.IntegrityError:
            return False
        return True

    def chunks_done(self, job_id: str) -> int:
        with transaction(self.engine) as connection:
            return int(connection.execute(
                sa.select(sa.func.count()).select_from(results_table)
                .where(results_table.c.job_id == job_id)
            ).scalar_one())

    def chunks_pending(self, job_id: str) -> list[int]:
        """Chunk indexes with no result yet."""
        with transaction(self.engine) as connection:
            done = {r.idx for r in connection.execute(
                sa.select(results_table.c.idx).where(results_table.c.job_id == job_id))}
            every = [r.idx for r in connection.execute(
                sa.select(chunks_table.c.idx).where(chunks_table.c.job_id == job_id)
                .order_by(chunks_table.c.idx))]
        return [i for i in every if i not in done]

    def iter_results(self, job_id: str, *, offset: int = 0,
                     limit: int | None = None) -> Iterator[ResultRow]:
        """Result rows in input order, from `offset`; rows not yet processed are skipped."""
        end = None if limit is None else offset + limit
        query = (
            sa.select(chunks_table.c.idx, chunks_table.c.first_row, chunks_table.c.n_rows,
                      chunks_table.c.rows, results_table.c.rows.label("results"))
            .join(results_table, sa.and_(results_table.c.job_id == chunks_table.c.job_id,
                                         results_table.c.idx == chunks_table.c.idx))
            .where(chunks_table.c.job_id == job_id,
                   chunks_table.c.first_row + chunks_table.c.n_rows > offset)
            .order_by(chunks_table.c.idx)
        )
        if end is not None:
            query = query.where(chunks_table.c.first_row < end)
        with connect(self.engine) as connection:
            for chunk in connection.execution_options(stream_results=True).execute(query):
                start = max(offset - chunk.first_row, 0)
                stop = None if end is None else end - chunk.first_row
                inputs = Blob(chunk.rows).rows(start, stop)
                outputs = Blob(chunk.results).rows(start, stop)
                for i, (row, output) in enumerate(zip(inputs, outputs, strict=True)):
                    yield _result_row(chunk.first_row + start + i, row, output)

    def rows_at(self, index: ResultIndex, rows: list[int]) -> list[ResultRow]:
        """The result rows numbered `rows` (ascending), decoding only the frames they are in.

        A finished job's stored chunks are kept in memory as stored (compressed, a few MB per
        100,000 rows), so paging through a sorted view reads no chunk twice.
        """
        wanted: dict[int, list[int]] = {}
        for row in rows:
            at = bisect.bisect_right(index.chunk_starts, row) - 1
            wanted.setdefault(at, []).append(row)
        chunks = self._chunks(index, [index.chunk_ids[at] for at in wanted])
        found: dict[int, ResultRow] = {}
        for at, picked in wanted.items():
            inputs, outputs = chunks[index.chunk_ids[at]]
            first = index.chunk_starts[at]
            local = [row - first for row in picked]
            given, results = inputs.pick(local), outputs.pick(local)
            for i in local:
                found[first + i] = _result_row(first + i, given[i], results[i])
        return [found[row] for row in rows if row in found]

    def _chunks(self, index: ResultIndex, ids: list[int]) -> dict[int, tuple[Blob, Blob]]:
        """Chunks `ids` of the job (input and result), from memory where kept."""
        found: dict[int, tuple[Blob, Blob]] = {}
        with self._lock:
            for idx in ids:
                kept = self._blobs.get((index.job_id, idx))
                if kept is not None:
                    self._blobs.move_to_end((index.job_id, idx))
                    found[idx] = kept[0]
        missing = [idx for idx in ids if idx not in found]
        if not missing:
            return found
        with connect(self.engine) as connection:
            chunks = connection.execute(
                sa.select(chunks_table.c.idx, chunks_table.c.rows,
                          results_table.c.rows.label("results"))
                .join(results_table, sa.and_(results_table.c.job_id == chunks_table.c.job_id,
                                             results_table.c.idx == chunks_table.c.idx))
                .where(chunks_table.c.job_id == index.job_id, chunks_table.c.idx.in_(missing)))
            read = [(chunk.idx, Blob(chunk.rows), Blob(chunk.results),
                     len(chunk.rows) + len(chunk.results)) for chunk in chunks]
        for idx, inputs, outputs, _ in read:
            found[idx] = (inputs, outputs)
        if index.finished:
            with self._lock:
                for idx, inputs, outputs, size in read:
                    self._blobs[(index.job_id, idx)] = ((inputs, outputs), size)
                    self._blob_bytes += size
                while self._blob_bytes > self.CHUNK_BYTES_KEPT and self._blobs:
                    _, (_, size) = self._blobs.popitem(last=False)
                    self._blob_bytes -= size
        return found

    def result_index(self, job_id: str, *, finished: bool) -> ResultIndex:
        """The job's result columns, read from each result chunk's column section; kept in
        memory once the job has `finished` (its results never change after that)."""
        with self._lock:
            index = self._indexes.get(job_id)
            if index is not None:
                self._indexes.move_to_end(job_id)
                return index
        index = self._read_index(job_id, finished=finished)
        if finished:
            with self._lock:
                self._indexes[job_id] = index
                while len(self._indexes) > self.INDEXES_KEPT:
                    self._indexes.popitem(last=False)
        return index

    def _read_index(self, job_id: str, *, finished: bool) -> ResultIndex:
        import numpy as np

        names: dict[str, int] = {}
        parts: list[tuple[int, int, Any]] = []
        with connect(self.engine) as connection:
            chunks = connection.execution_options(stream_results=True).execute(
                sa.select(chunks_table.c.idx, chunks_table.c.first_row,
                          results_table.c.rows.label("results"))
                .join(results_table, sa.and_(results_table.c.job_id == chunks_table.c.job_id,
                                             results_table.c.idx == chunks_table.c.idx))
                .where(chunks_table.c.job_id == job_id).order_by(chunks_table.c.idx))
            for chunk in chunks:
                parts.append((chunk.idx, chunk.first_row, columns_of(Blob(chunk.results))))
        if not parts:
            return ResultIndex(job_id, np.zeros(0, np.int64), np.zeros(0), np.zeros(0, np.int8),
                               np.zeros(0, np.int32), [], [], [], finished)
        codes = []
        for _, _, columns in parts:
            remap = np.array([names.setdefault(c, len(names)) for c in columns.categories]
                             + [-1], dtype=np.int32)
            codes.append(remap[columns.category])  # -1 picks the trailing -1: no category
        return ResultIndex(
            job_id=job_id,
            rows=np.concatenate([np.arange(first, first + len(c.confidence))
                                 for _, first, c in parts]),
            confidence=np.concatenate([c.confidence for _, _, c in parts]),
            decision=np.concatenate([c.decision for _, _, c in parts]),
            category=np.concatenate(codes), categories=list(names),
            chunk_starts=[first for _, first, _ in parts], chunk_ids=[idx for idx, _, _ in parts],
            finished=finished)

    def decision_counts(self, job_id: str) -> dict[str, Any]:
        """How many of a batch's rows were filed, wait for review or failed, in all and per
        category (read from the stored results alone)."""
        import numpy as np

        counts: dict[str, Any] = {"auto": 0, "review": 0, "errors": 0, "per_category": {}}
        per_category: dict[str, dict[str, int]] = counts["per_category"]
        with transaction(self.engine) as connection:
            blobs = connection.execute(
                sa.select(results_table.c.rows).where(results_table.c.job_id == job_id))
            for (blob,) in blobs:
                columns = columns_of(Blob(blob))
                # A row in error has no category; any decision but "auto" waits for review.
                filed = columns.category >= 0
                auto = filed & (columns.decision == DECISIONS.index("auto"))
                counts["errors"] += int((~filed).sum())
                for decision, mask in (("auto", auto), ("review", filed & ~auto)):
                    counts[decision] += int(mask.sum())
                    for code, n in enumerate(np.bincount(columns.category[mask],
                                                         minlength=len(columns.categories))):
                        if n:
                            bucket = per_category.setdefault(columns.categories[code],
                                                             {"auto": 0, "review": 0})
                            bucket[decision] += int(n)
        counts["per_category"] = dict(sorted(per_category.items()))
        return counts


def _result_row(row: int, given: list[Any], output: list[Any]) -> ResultRow:
    row_id, name, _ = given
    result = RowResult(*output)
    return ResultRow(row=row, id=row_id, name=name, category=result.category,
                     confidence=result.confidence, error=result.error, decision=result.decision,
                     top_k=[(c, s) for c, s in result.top_k or ()], known=result.known,
                     filed_under=result.filed_under)


def _insert_chunks(connection: sa.Connection, job_id: str,
                   chunks: Iterable[list[InputRow]] | Iterable[PackedChunk]) -> tuple[int, int]:
    """Store the rows a chunk per row and record the job's size: (total rows, chunks)."""
    total = n_chunks = 0
    for chunk in chunks:
        packed = chunk if isinstance(chunk, PackedChunk) else pack_chunk(chunk)
        connection.execute(chunks_table.insert().values(
            job_id=job_id, idx=n_chunks, first_row=total, n_rows=packed.n_rows,
            rows=packed.rows,
        ))
        total += packed.n_rows
        n_chunks += 1
    connection.execute(jobs_table.update().where(jobs_table.c.id == job_id)
                       .values(total_rows=total, n_chunks=n_chunks))
    return total, n_chunks
