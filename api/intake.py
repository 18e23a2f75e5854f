"""Batch intake off the serving process: reading, checking and chunking a batch's rows.

Reading 200,000 rows is seconds of Python. Done in a thread of the API process it holds the GIL
against the event loop, and every synchronous inference request of that process waits in turn
(BENCHMARKS.md, "Hosts come and go"). So the API process only receives the body; a small pool
of intake processes (`INTAKE_PROCESSES`, started with the API in the background, or at the
first batch with `INTAKE_AT_STARTUP=false`; never at import) parses it,
checks every row and hands back the chunks packed as they are stored. The API process then
records them in one transaction and enqueues the job on its thread pool, as before. What a
client is told does not change: a body that cannot be a batch is refused before the 202, with
the same message.

The functions named `*_chunks` and `training_catalog_check` (a training upload's whole check)
run in an intake process (or on the thread pool with
`INTAKE_PROCESSES=0`); what they raise must survive pickling, so an HTTP refusal travels as
`IntakeRefused` and becomes the HTTPException again here.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import multiprocessing
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any, TypeVar

from fastapi import HTTPException, status
from starlette.concurrency import run_in_threadpool

from api.schemas import BatchJobCreate
from api.uploads import parse_json
from core.batch import check_id, chunked, limit_rows, rows_from_csv, rows_from_items
from core.batch_store import InputRow, PackedChunk, pack_chunk
from core.config import Settings
from core.data import parse_csv_catalog
from core.errors import Unavailable

if TYPE_CHECKING:
    from core.training import TrainParams

T = TypeVar("T")

_COPY_BUFFER = 1024 * 1024


class IntakeUnavailable(Unavailable):
    """The intake process died under a request (killed, out of memory): 503, try again."""


class IntakeRefused(Exception):
    """An HTTP refusal found while reading a batch (status and detail), that pickles."""

    def __init__(self, status_code: int, detail: Any) -> None:
        super().__init__(status_code, detail)
        self.status_code = status_code
        self.detail = detail


@dataclass(frozen=True)
class IntakeLimits:
    """The settings intake needs, small enough to send with every batch."""

    max_name_length: int
    max_id_length: int
    chunk_size: int
    max_rows: int

    @classmethod
    def of(cls, settings: Settings) -> IntakeLimits:
        return cls(max_name_length=settings.max_name_length,
                   max_id_length=settings.max_id_length,
                   chunk_size=settings.batch_chunk_size, max_rows=settings.max_batch_rows)


def json_chunks(body: bytes, limits: IntakeLimits) -> list[PackedChunk]:
    """A JSON batch body's rows, checked and packed a chunk at a time."""
    try:
        return _packed(_json_rows(body, limits), limits)
    except HTTPException as exc:
        raise IntakeRefused(exc.status_code, exc.detail) from None


def csv_chunks(source: str | IO[bytes], limits: IntakeLimits) -> list[PackedChunk]:
    """An uploaded CSV's rows (a file's path, or its open stream), checked and packed."""
    if isinstance(source, str):
        with open(source, "rb") as stream:
            return csv_chunks(stream, limits)
    return _packed(rows_from_csv(source, max_length=limits.max_name_length,
                                 max_id_length=limits.max_id_length), limits)


def training_catalog_check(source: str | IO[bytes], filename: str, params: TrainParams) -> None:
    """Refuse an uploaded training catalog (a file's path, or its stream) that cannot train (a
    CatalogError that says why), checked with the parameters the worker will train with: its
    CATEGORY_SEPARATOR for the paths, and the folds it needs per category."""
    # Imported here, not at the top: the fork server preloads this module for every batch,
    # and core.training brings scikit-learn.
    from core.training import check_catalog

    if isinstance(source, str):
        with open(source, "rb") as stream:
            content = stream.read()
    else:
        source.seek(0)
        content = source.read()
    check_catalog(parse_csv_catalog(content, source=filename), params, name_categories=True)


def _packed(rows: Iterator[InputRow], limits: IntakeLimits) -> list[PackedChunk]:
    """Every row read before any is stored: BatchInputError, RowLimitExceeded or a 422 come
    before the job exists."""
    return [pack_chunk(chunk)
            for chunk in limit_rows(chunked(rows, limits.chunk_size), limits.max_rows)]


def _json_rows(body: bytes, limits: IntakeLimits) -> Iterator[InputRow]:
    items = parse_json(body, BatchJobCreate).items
    for index, item in enumerate(items):
        problem = None if item.id is None else check_id(str(item.id),
                                                        max_length=limits.max_id_length)
        if problem:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                                f"items[{index}].id: {problem}")
    return rows_from_items(((i.id, i.name) for i in items), max_length=limits.max_name_length,
                           max_id_length=limits.max_id_length)


def _context() -> Any:
    """Processes forked from a clean server process that has imported this module once.

    Not `fork`: a fork of the API process would copy its threads' locks mid-use (and its
    model). Not `spawn`: each new process would import FastAPI and SQLAlchemy again.
    """
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])
    return context


class IntakePool:
    """The API process's intake processes, started with the API (`start`) or at the first
    batch; 0 processes means the thread pool of the API process itself (slower inference while
    a batch is read)."""

    def __init__(self, processes: int) -> None:
        self.processes = processes
        self._executor: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    @property
    def started(self) -> bool:
        return self._executor is not None

    def _pool(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = ProcessPoolExecutor(max_workers=self.processes,
                                                     mp_context=_context())
            return self._executor

    async def run(self, function: Callable[..., T], *args: Any) -> T:
        """`function(*args)` in an intake process; an IntakeRefused comes back as the
        HTTPException it was."""
        try:
            if self.processes <= 0:
                return await run_in_threadpool(function, *args)
            # Submitting may start a process (the first batch, or after one died): the fork
            # server's start and its answer are waited for, so not on the event loop.
            executor = await run_in_threadpool(self._pool)
            try:
                future = await run_in_threadpool(executor.submit, function, *args)
                return await asyncio.wrap_future(future)
            except BrokenProcessPool as exc:
                self._discard(executor)
                raise IntakeUnavailable(
                    "the batch intake process stopped; retry shortly") from exc
        except IntakeRefused as exc:
            raise HTTPException(exc.status_code, exc.detail) from None

    def start(self) -> None:
        """Start the processes now (the API's start-up), not at the first batch: starting one
        costs a fork server and an import of this module, CPU the first batch would otherwise
        take from the inference requests answered meanwhile."""
        if self.processes <= 0:
            return
        executor = self._pool()
        # The executor starts its processes at the first task; one round trip per process.
        for future in [executor.submit(os.getpid) for _ in range(self.processes)]:
            future.result(timeout=120)

    async def json_batch(self, body: bytes, limits: IntakeLimits) -> list[PackedChunk]:
        return await self.run(json_chunks, body, limits)

    async def csv_batch(self, stream: IO[bytes], limits: IntakeLimits) -> list[PackedChunk]:
        """An upload's rows."""
        return await self._run_on_file(csv_chunks, stream, limits)

    async def training_catalog(self, content: bytes, filename: str,
                               params: TrainParams) -> None:
        """Check an uploaded training catalog whole (`training_catalog_check`)."""
        await self._run_on_file(training_catalog_check, io.BytesIO(content), filename, params)

    async def _run_on_file(self, function: Callable[..., T], stream: IO[bytes],
                           *args: Any) -> T:
        """`function(source, *args)` on an upload: the stream itself on the thread pool, or in
        an intake process a temporary copy of it by path (written on the thread pool: disk I/O,
        not Python), so that up to MAX_UPLOAD_BYTES is not also pickled through a pipe."""
        if self.processes <= 0:
            return await self.run(function, stream, *args)
        path = await run_in_threadpool(_spill, stream)
        try:
            return await self.run(function, path, *args)
        finally:
            with contextlib.suppress(OSError):
                os.unlink(path)

    def _discard(self, executor: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._executor is executor:
                self._executor = None
        executor.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        """Stop the processes (at shutdown); a later batch would start new ones."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)


def _spill(stream: IO[bytes]) -> str:
    stream.seek(0)
    descriptor, path = tempfile.mkstemp(prefix="batch-intake-", suffix=".csv")
    try:
        with os.fdopen(descriptor, "wb") as copy:
            shutil.copyfileobj(stream, copy, _COPY_BUFFER)
    except BaseException:
        os.unlink(path)
        raise
    return path
