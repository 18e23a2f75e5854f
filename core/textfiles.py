"""Uploaded CSV text: its encoding found (or refused with how to re-save), its rows read with
their line numbers, a broken quote named by the line it opens on, and no cell too long to read.
"""

from __future__ import annotations

import codecs
import csv
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from core.errors import InvalidRequest

_RESAVE = ("open it in a spreadsheet or text editor and save it as 'CSV UTF-8' "
           "(or UTF-8 text)")
# The cell size the csv module reads: as large as an upload may be, so that an over-long cell
# becomes its row's error (the name checks refuse it) instead of sinking the whole file.
_FIELD_LIMIT = min(sys.maxsize, 2**31 - 1)


class UnreadableText(InvalidRequest):
    """Bytes that are not text in an encoding the service reads; the message says what to do."""

    def __init__(self, message: str, *, line: int | None = None) -> None:
        self.line = line
        super().__init__(message)


class BrokenQuote(InvalidRequest):
    """A quoted cell never closed: everything after its opening quote would be one cell."""

    def __init__(self, line: int) -> None:
        self.line = line
        super().__init__(f"a quote opened on line {line} is never closed; check that every "
                         "quoted cell ends with a quote (an inch mark inside a quoted cell is "
                         "written as two quotes: \"\")")


def detect_encoding(sample: bytes, *, complete: bool = True) -> str:
    """The codec to read `sample` (a whole file, or its start when not `complete`) with.

    In order: a BOM (UTF-8, UTF-16, UTF-32); zero bytes: UTF-16/32 without a BOM (by
    charset-normalizer) or binary, refused; UTF-8, also with stray bytes that do not decode
    when more characters do (those rows get their own error); Windows-1252 when its reading is
    Western text (accented letters inside words, as Spanish, Portuguese, French or Catalan write
    them), which reads Latin-1 too; UTF-8 with a few stray bytes; anything else is refused,
    naming charset-normalizer's guess and how to re-save the file.
    """
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return "utf-32"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    from charset_normalizer import from_bytes

    if b"\x00" in sample:
        best = from_bytes(sample).best()
        found = None if best is None else best.encoding
        if found is not None and found.startswith(("utf_16", "utf_32")) and _looks_like_text(
                sample, found, complete=complete):
            return found
        raise UnreadableText("the file is not CSV text (it contains binary data); if it is a "
                             f"spreadsheet, {_RESAVE}")
    text = codecs.getincrementaldecoder("utf-8")("replace").decode(sample, final=complete)
    bad = text.count("\ufffd") - sample.count("\ufffd".encode())
    if bad == 0 or sum(1 for ch in text if ord(ch) > 127) - bad >= bad:
        return "utf-8"
    western = "cp1252"
    try:
        as_western = sample.decode(western)
    except UnicodeDecodeError:  # five bytes cp1252 leaves undefined: Latin-1 has them
        western = "latin-1"
        as_western = sample.decode(western)
    if _reads_as_western(as_western):
        return western
    if bad <= max(3, sample.count(b"\n") // 100):
        return "utf-8"  # a few stray bytes in ASCII text: their rows get their own error
    best = from_bytes(sample).best()
    found = None if best is None else best.encoding
    raise UnreadableText("the file is not UTF-8 text; "
                         + (f"it looks like {found}" if found else "its encoding is unknown")
                         + f"; {_RESAVE}")


_WESTERN_MARKS = set("¡¿°ºª´‘’“”–—…€½¼¾²³·«»©®™•§±µ¨")


def _reads_as_western(text: str) -> bool:
    """Most non-ASCII characters are letters or marks standing alone or next to an ASCII
    letter: words like "baño", "código" or "informação", not runs of high bytes (Cyrillic or
    CJK read as Latin-1)."""
    wide = [i for i, ch in enumerate(text) if ord(ch) > 127 and ch.isprintable()]
    if not wide:
        return True
    fitting = 0
    for i in wide:
        ch = text[i]
        if not (ch.isalpha() or ch in _WESTERN_MARKS):
            continue
        neighbours = text[max(i - 1, 0):i] + text[i + 1:i + 2]
        if (ch in _WESTERN_MARKS or any(n.isascii() and n.isalpha() for n in neighbours)
                or all(n.isascii() for n in neighbours)):
            fitting += 1
    return fitting >= 0.8 * len(wide)


def _looks_like_text(sample: bytes, encoding: str, *, complete: bool) -> bool:
    """A BOM-less UTF-16 guess that decodes to lines: not binary read as CJK characters."""
    try:
        text = codecs.getincrementaldecoder(encoding)().decode(sample, final=complete)
    except UnicodeDecodeError:
        return False
    return "\n" in text and "\x00" not in text


def decode(raw: bytes) -> str:
    """A whole file's text, in the encoding detected (UnreadableText if none, or naming the
    first line that does not decode)."""
    encoding = detect_encoding(raw, complete=True)
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise UnreadableText(f"line {line} is not valid UTF-8 text; {_RESAVE}", line=line) \
            from None


@dataclass(frozen=True)
class CsvRow:
    """One record: the line it starts on, and its cells (None with `problem` when unreadable)."""

    line: int
    cells: list[str] | None
    problem: str | None = None


def csv_rows(lines: Iterable[str], *, delimiter: str = ",") -> Iterator[CsvRow]:
    """The records of CSV text with the line each starts on.

    Quoting is strict: an unterminated quote raises BrokenQuote naming the line it opened on
    (it would swallow the rest of the file), and a record the csv module cannot read comes back
    with `problem` set, so that the records after it are still read.
    """
    reader = _reader(lines, delimiter)
    previous = 0
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            start = previous + 1
            if "unexpected end of data" in str(exc):
                raise BrokenQuote(start) from None
            previous = reader.line_num
            yield CsvRow(start, None, f"malformed CSV on line {start}: {exc}")
            continue
        yield CsvRow(previous + 1, cells)
        previous = reader.line_num


def csv_blocks(lines: Iterable[str], *, delimiter: str = ",",
               size: int = 1024) -> Iterator[tuple[list[list[str] | CsvRow], bool]]:
    """`csv_rows` for bulk intake: blocks of up to `size` records, and whether all are plain
    cell lists (True) or some are unreadable records given as a CsvRow with its problem.

    The header is the first record of the first block.
    """
    reader = _reader(lines, delimiter)
    block: list[list[str] | CsvRow] = []
    plain = True
    previous = 0
    while True:
        try:
            for cells in reader:
                block.append(cells)
                previous = reader.line_num
                if len(block) >= size:
                    yield block, plain
                    block, plain = [], True
            break
        except csv.Error as exc:
            start = previous + 1
            if "unexpected end of data" in str(exc):
                raise BrokenQuote(start) from None
            previous = reader.line_num
            block.append(CsvRow(start, None, f"malformed CSV on line {start}: {exc}"))
            plain = False
    if block:
        yield block, plain


def _reader(lines: Iterable[str], delimiter: str) -> Any:
    if csv.field_size_limit() < _FIELD_LIMIT:
        csv.field_size_limit(_FIELD_LIMIT)
    return csv.reader(lines, delimiter=delimiter, strict=True)
