"""A batch job's rows: its input in chunks, and each chunk's results, stored once.

Rows are stored a chunk per database row (the same chunks the workers process), so a
million-row import is a few hundred inserts, and a chunk processed twice (a redelivered message)
writes its result once: the result's primary key is the chunk.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import sqlalchemy as sa

from core.db import chunks_table, connect, jobs_table, results_table, transaction
from core.errors import EmptyBatch, JobNotFound
from core.jobs import Job, JobStore, insert_job, new_job_id, now


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
    return PackedChunk(len(rows), _pack(rows))


def _pack(rows: list[Any]) -> bytes:
    """Rows (lists or tuples) as compressed JSON arrays."""
    return zlib.compress(json.dumps(rows, ensure_ascii=False, separators=(",", ":")).encode(), 1)


def _unpack(blob: bytes) -> list[list[Any]]:
    return json.loads(zlib.decompress(blob))


class BatchStore:
    """Batch jobs' chunks and results, beside the job records of `jobs`."""

    def __init__(self, jobs: JobStore) -> None:
        self.jobs = jobs
        self.engine = jobs.engine

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
                    job_id=job_id, idx=idx, n_rows=len(rows), rows=_pack(rows),
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
                inputs, outputs = _unpack(chunk.rows), _unpack(chunk.results)
                for i, ((row_id, name, _), output) in enumerate(
                    zip(inputs, outputs, strict=True)
                ):
                    row = chunk.first_row + i
                    if row < offset or (end is not None and row >= end):
                        continue
                    result = RowResult(*output)
                    yield ResultRow(row=row, id=row_id, name=name, category=result.category,
                                    confidence=result.confidence, error=result.error,
                                    decision=result.decision,
                                    top_k=[(c, s) for c, s in result.top_k or ()],
                                    known=result.known, filed_under=result.filed_under)

    def decision_counts(self, job_id: str) -> dict[str, Any]:
        """How many of a batch's rows were filed, wait for review or failed, in all and per
        category (read from the stored results alone)."""
        counts: dict[str, Any] = {"auto": 0, "review": 0, "errors": 0, "per_category": {}}
        per_category: dict[str, dict[str, int]] = counts["per_category"]
        with transaction(self.engine) as connection:
            blobs = connection.execute(
                sa.select(results_table.c.rows).where(results_table.c.job_id == job_id))
            for (blob,) in blobs:
                for output in _unpack(blob):
                    result = RowResult(*output)
                    if result.error is not None or result.category is None:
                        counts["errors"] += 1
                        continue
                    decision = "auto" if result.decision == "auto" else "review"
                    counts[decision] += 1
                    bucket = per_category.setdefault(result.category, {"auto": 0, "review": 0})
                    bucket[decision] += 1
        counts["per_category"] = dict(sorted(per_category.items()))
        return counts


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
