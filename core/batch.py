"""Bulk categorization: turn an upload into checked rows and chunks, and categorize a chunk.

Every input row comes back exactly once. A row that cannot be categorized (empty, too long,
not valid UTF-8, or one that makes the model raise) keeps its place with an error instead.
"""

from __future__ import annotations

import csv
import io
import itertools
import logging
import re
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import IO, TYPE_CHECKING, Any

from core.batch_store import InputRow, ResultRow, RowResult
from core.collector import collector_paused
from core.errors import InvalidRequest
from core.textfiles import BrokenQuote, UnreadableText, csv_blocks, detect_encoding

if TYPE_CHECKING:  # intake processes read rows and never load a model (numpy, scikit-learn)
    from core.prediction import Classifier

logger = logging.getLogger(__name__)

NAME_COLUMNS = ("name", "product_name", "nombre")
ID_COLUMNS = ("id", "sku", "product_id")
_DELIMITERS = ",;\t|"
# Cells starting with these are run as formulas by spreadsheets (CSV injection).
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
# Undecodable bytes ride through the CSV reader as these surrogate escapes.
_UNDECODABLE = re.compile("[\udc80-\udcff]")
_BLOCK_ROWS = 1024  # CSV rows checked together on intake
_HEAD_BYTES = 64 * 1024  # the start of an upload, where its encoding and delimiter are found
MAX_ID_LENGTH = 200  # the default of the MAX_ID_LENGTH setting


class BatchInputError(InvalidRequest):
    """An upload that cannot be read as a batch at all (not CSV, no name column)."""


class RowLimitExceeded(InvalidRequest):
    """A batch with more rows than one job may hold (MAX_BATCH_ROWS)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"more than {limit} rows in one batch job")
        self.limit = limit

    def __reduce__(self) -> tuple[type[RowLimitExceeded], tuple[int]]:
        return type(self), (self.limit,)  # raised in an intake process, re-raised in the API's


def check_name(name: str, *, max_length: int) -> str | None:
    """Why a name cannot be categorized, or None when it can."""
    if _UNDECODABLE.search(name):
        return "name is not valid UTF-8 text"
    if not name.strip():
        return "empty name"
    if len(name) > max_length:
        return f"name is {len(name)} characters long; the limit is {max_length}"
    return None


def _clean(text: str) -> bool:
    """No surrogate escapes: the text is valid and already storable as it is."""
    if text.isascii():  # a flag check: free
        return True
    try:
        text.encode()  # refuses surrogates; faster than searching for them
    except UnicodeEncodeError:
        return False
    return True


def _storable(name: str) -> str:
    # Undecodable bytes ride as surrogate escapes; store them visibly replaced instead.
    if _clean(name):  # the round trip below would change nothing
        return name
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def check_id(row_id: str, *, max_length: int) -> str | None:
    """Why a row's id cannot be stored, or None when it can."""
    if len(row_id) > max_length:
        return f"id is {len(row_id)} characters long; the limit is {max_length} (MAX_ID_LENGTH)"
    return None


def make_row(row_id: Any, name: Any, *, max_length: int,
             max_id_length: int = MAX_ID_LENGTH) -> InputRow:
    text = "" if name is None else str(name)
    if (len(text) <= max_length and _clean(text) and text.strip()
            and (row_id is None or type(row_id) is str and _clean(row_id)
                 and len(row_id) <= max_id_length)):
        return InputRow(id=row_id or None, name=text)  # the common row, in one step
    error = check_name(text, max_length=max_length)
    if error is not None and len(text) > max_length:
        text = text[:max_length] + "…"  # keep the row recognisable, not the whole blob
    shown = None if row_id in (None, "") else str(row_id)
    if shown is not None and len(shown) > max_id_length:
        error = error or check_id(shown, max_length=max_id_length)
        shown = shown[:max_id_length] + "…"
    return InputRow(id=None if shown is None else _storable(shown),
                    name=_storable(text), error=error)


def rows_from_items(items: Iterable[tuple[Any, Any]], *, max_length: int,
                    max_id_length: int = MAX_ID_LENGTH) -> Iterator[InputRow]:
    """Rows from (id, name) pairs, as JSON requests send them."""
    for row_id, name in items:
        yield make_row(row_id, name, max_length=max_length, max_id_length=max_id_length)


def rows_from_csv(stream: IO[bytes], *, max_length: int,
                  max_id_length: int = MAX_ID_LENGTH) -> Iterator[InputRow]:
    """Rows from a CSV upload with a `name` column (and optionally an `id` column).

    The encoding is found from the first 64 KiB (UTF-8 with or without BOM, UTF-16,
    Windows-1252/Latin-1); the delimiter (, ; tab or |) is the one the header splits on. Raises
    BatchInputError before yielding anything if the upload is not CSV text in a readable
    encoding (saying how to re-save it) or has no name column, and later for a quote that is
    never closed (naming its line). Any other unreadable record, an over-long cell or bytes
    that do not decode are that row's error.
    """
    head = stream.read(_HEAD_BYTES)
    if not head.strip():
        raise BatchInputError("the CSV file is empty")
    try:
        encoding = detect_encoding(head, complete=len(head) < _HEAD_BYTES)
    except UnreadableText as exc:
        raise BatchInputError(str(exc)) from None
    text = io.TextIOWrapper(io.BufferedReader(_Prepend(head, stream)), encoding=encoding,
                            errors="surrogateescape", newline="")
    lines = head.decode(encoding, "ignore").lstrip("\ufeff").splitlines()
    header_line = lines[0] if lines else ""
    blocks = csv_blocks(text, delimiter=_delimiter(header_line), size=_BLOCK_ROWS)
    try:
        first, first_plain = next(blocks, ([], True))
        if not first or not first[0]:
            raise BatchInputError("the CSV file is empty")
        if not isinstance(first[0], list):
            raise BatchInputError(f"the CSV header is unreadable: {first[0].problem}")
        header = [cell.strip().lstrip("\ufeff").lower() for cell in first[0]]
        name_at = next((header.index(c) for c in NAME_COLUMNS if c in header), None)
        if name_at is None:
            shown = ", ".join(_storable(cell) for cell in header[:10]) or "nothing"
            raise BatchInputError(f"the CSV has no 'name' column (header: {shown})")
        id_at = next((header.index(c) for c in ID_COLUMNS if c in header), None)
        for block, plain in itertools.chain([(first[1:], first_plain)], blocks):
            rows = None
            if plain and block:
                rows = _plain_block(block, name_at, id_at,  # type: ignore[arg-type]
                                    max_length=max_length, max_id_length=max_id_length)
            if rows is not None:
                yield from rows
                continue
            for row in block:
                if not isinstance(row, list):  # a record the csv module could not read
                    yield InputRow(id=None, name="", error=row.problem)
                    continue
                if not "".join(row).strip():
                    continue  # blank line (or only blank cells), not a product
                name = row[name_at] if name_at < len(row) else ""
                row_id = row[id_at] if id_at is not None and id_at < len(row) else None
                yield make_row(row_id, name, max_length=max_length, max_id_length=max_id_length)
    except BrokenQuote as exc:
        raise BatchInputError(f"malformed CSV: {exc}") from None


def _plain_block(block: list[list[str]], name_at: int, id_at: int | None, *,
                 max_length: int, max_id_length: int) -> list[InputRow] | None:
    """The block's rows when every one is the common case, checked a column at a time.

    The common case is what `make_row` passes in one step: every row has the columns, a name
    that is not blank and not too long, and no undecodable bytes in name or id. None when any
    row is not, and the block goes row by row instead. (No blank line can hide among rows whose
    names are all non-blank.)
    """
    if min(map(len, block)) <= max(name_at, -1 if id_at is None else id_at):
        return None
    names = [row[name_at] for row in block]
    if not all(map(str.strip, names)) or max(map(len, names)) > max_length:
        return None
    if id_at is None:
        return [InputRow(None, name) for name in names] if _clean("".join(names)) else None
    ids = [row[id_at] or None for row in block]
    if max(map(len, filter(None, ids)), default=0) > max_id_length:
        return None
    if not _clean("".join(names) + "".join(filter(None, ids))):
        return None
    return list(map(InputRow, ids, names))


def _delimiter(header_line: str) -> str:
    """The delimiter that makes the header name a `name` column (`,` when none does).

    Only the header is inspected: csv.Sniffer also guesses quoting from its sample and, on a
    header without quotes, turns off the doubled-quote escapes that inch marks need.
    """
    for delimiter in _DELIMITERS:
        cells = [cell.strip().strip('"').lower() for cell in header_line.split(delimiter)]
        if any(column in cells for column in NAME_COLUMNS):
            return delimiter
    return ","


class _Prepend(io.RawIOBase):
    """A binary stream that replays bytes already read before the rest of the stream."""

    def __init__(self, head: bytes, rest: IO[bytes]) -> None:
        self._head = head
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._head:
            n = min(len(buffer), len(self._head))
            buffer[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._rest.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def limit_rows(chunks: Iterable[list[InputRow]], limit: int) -> Iterator[list[InputRow]]:
    """The chunks as they come, until the rows pass `limit`: then RowLimitExceeded, which
    rolls back the intake that consumes them."""
    total = 0
    for chunk in chunks:
        total += len(chunk)
        if total > limit:
            raise RowLimitExceeded(limit)
        yield chunk


def chunked(rows: Iterable[InputRow], size: int) -> Iterator[list[InputRow]]:
    iterator = iter(rows)
    while True:
        with collector_paused():  # reading a chunk allocates a few objects per row: see there
            chunk = list(islice(iterator, size))
        if not chunk:
            return
        yield chunk


def categorize_rows(classifier: Classifier, rows: list[InputRow]) -> list[RowResult]:
    """A result for every row, in order; one bad row never sinks the rest."""
    with collector_paused():
        return _categorize_rows(classifier, rows)


def _categorize_rows(classifier: Classifier, rows: list[InputRow]) -> list[RowResult]:
    results = [RowResult(None, None, row.error) for row in rows]
    valid = [i for i, row in enumerate(rows) if row.error is None]
    # Catalogs repeat names (a real one repeats about a quarter of its rows): each distinct name
    # in the chunk is categorized once, and its answer given to every row that carries it.
    distinct = list(dict.fromkeys(rows[i].name for i in valid))
    try:
        answers = dict(zip(distinct, classifier.predict_batch(distinct), strict=True))
    except Exception:
        logger.exception("batch prediction failed; retrying row by row")
        answers = None
    for i in valid:
        if answers is not None:
            prediction = answers[rows[i].name]
        else:
            try:
                prediction = classifier.predict(rows[i].name)
            except Exception as exc:  # a poison row gets its own error, the others go on
                results[i] = RowResult(None, None, f"prediction failed: {exc.__class__.__name__}")
                continue
        results[i] = RowResult(prediction.category, prediction.confidence, None,
                               prediction.decision, prediction.top_k, prediction.known,
                               prediction.filed_under)
    return results


def neutralise(cell: Any) -> Any:
    """Keep a spreadsheet from running a cell as a formula."""
    if isinstance(cell, str) and cell.startswith(_FORMULA_PREFIXES):
        return "'" + cell
    return cell


CSV_COLUMNS = ["row", "id", "name", "category", "confidence", "decision", "known", "filed_under",
               "error", "source"]


def results_csv_lines(rows: Iterable[ResultRow], *, with_source: bool = True) -> Iterator[str]:
    """The CSV download of a batch's results, a line at a time, formula cells neutralised.

    `source` (model or review) is left out where no person can have decided a row (the CLI).
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    width = len(CSV_COLUMNS) - (0 if with_source else 1)
    writer.writerow(CSV_COLUMNS[:width])
    for row in rows:
        writer.writerow([row.row, neutralise(row.id), neutralise(row.name),
                         neutralise(row.category), "" if row.confidence is None else row.confidence,
                         row.decision or "", "" if row.known is None else str(row.known).lower(),
                         neutralise(row.filed_under or ""), neutralise(row.error),
                         row.source][:width])
        if buffer.tell() > 64 * 1024:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
