"""How a chunk of batch rows is stored: compressed frames a page can read a few rows from.

A chunk holds thousands of rows; a page of results wants a hundred of them, and a page sorted
by confidence wants a hundred scattered over every chunk. So a blob is a header, an optional
column section (a result chunk's confidences, decisions and categories, read by filters and
sorts without decoding a row), then frames of `FRAME_ROWS` rows, each a JSON array of rows
compressed on its own. Reading a row decodes its frame alone (2-4 kB of JSON). A frame is
encoded whole, not a row at a time: per-row encoding would double the cost of writing a chunk.

    header   b"CBR2", rows, rows per frame, frames          (4 x 4 bytes, little-endian)
    ends     uint32 per frame: where it ends, from the start of the frames
    columns  uint32 length, then that many bytes (empty for input chunks)
    frames   zlib(JSON [[...], [...], ...])

Blobs written before this format (zlib of one JSON array of rows) read back as they were.
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # numpy is imported where columns are made: intake processes never load it
    import numpy as np

FRAME_ROWS = 32
MAGIC = b"CBR2"
_HEAD = struct.Struct("<4sIII")
_LENGTH = struct.Struct("<I")

_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))

# A result row's decision as a column: what the filters compare.
DECISIONS: tuple[str | None, ...] = (None, "auto", "review")


def pack(rows: Sequence[Any], *, columns: bytes = b"") -> bytes:
    """`rows` (lists or tuples of JSON values) as one blob."""
    encode, size = _ENCODER.encode, FRAME_ROWS
    frames = [zlib.compress(encode(rows[i:i + size]).encode(), 1)
              for i in range(0, len(rows), size)]
    ends, end = [], 0
    for frame in frames:
        end += len(frame)
        ends.append(end)
    return b"".join([_HEAD.pack(MAGIC, len(rows), FRAME_ROWS, len(frames)),
                     struct.pack(f"<{len(ends)}I", *ends), _LENGTH.pack(len(columns)), columns,
                     *frames])


class Blob:
    """A stored chunk, read a frame at a time."""

    def __init__(self, blob: bytes) -> None:
        self._legacy: list[list[Any]] | None = None
        if blob[:4] != MAGIC:
            self._legacy = json.loads(zlib.decompress(blob))
            self.n_rows = len(self._legacy)
            self.columns = b""
            return
        _, self.n_rows, self._frame_rows, n_frames = _HEAD.unpack_from(blob)
        at = _HEAD.size
        ends = struct.unpack_from(f"<{n_frames}I", blob, at)
        at += 4 * n_frames
        (length,) = _LENGTH.unpack_from(blob, at)
        at += _LENGTH.size
        self.columns = blob[at:at + length]
        start = at + length
        self._frames = [memoryview(blob)[a:b] for a, b in
                        zip((start, *(start + e for e in ends[:-1])),
                            (start + e for e in ends), strict=True)]

    def rows(self, start: int = 0, stop: int | None = None) -> list[list[Any]]:
        """Rows `start` to `stop` (local to the chunk), decoding only the frames they are in."""
        stop = self.n_rows if stop is None else min(stop, self.n_rows)
        if start >= stop:
            return []
        if self._legacy is not None:
            return self._legacy[start:stop]
        size = self._frame_rows
        out: list[list[Any]] = []
        for f in range(start // size, (stop - 1) // size + 1):
            out.extend(self._frame(f)[max(start - f * size, 0):stop - f * size])
        return out

    def pick(self, indexes: Iterable[int]) -> dict[int, list[Any]]:
        """The rows at `indexes` (local), each frame decoded once: a page sorted by confidence
        picks rows from everywhere."""
        if self._legacy is not None:
            return {i: self._legacy[i] for i in indexes}
        size = self._frame_rows
        frames: dict[int, list[list[Any]]] = {}
        out: dict[int, list[Any]] = {}
        for i in indexes:
            f = i // size
            if f not in frames:
                frames[f] = self._frame(f)
            out[i] = frames[f][i - f * size]
        return out

    def _frame(self, f: int) -> list[list[Any]]:
        rows: list[list[Any]] = json.loads(zlib.decompress(self._frames[f]))
        return rows


@dataclass(frozen=True)
class ResultColumns:
    """What filters and sorts read of each result row, as arrays (one entry per row)."""

    confidence: np.ndarray  # float64, NaN where there is none (a row in error)
    decision: np.ndarray  # int8, an index into DECISIONS
    category: np.ndarray  # int32, an index into `categories`; -1: none
    categories: list[str]


def result_columns(rows: Sequence[Sequence[Any]]) -> ResultColumns:
    """The columns of result rows ([category, confidence, error, decision, ...])."""
    import numpy as np

    names: dict[str, int] = {}
    code = names.setdefault
    category = np.array([-1 if r[0] is None else code(r[0], len(names)) for r in rows],
                        dtype=np.int32)
    confidence = np.array([np.nan if r[1] is None else r[1] for r in rows], dtype=np.float64)
    codes = {d: i for i, d in enumerate(DECISIONS)}
    decision = np.array([codes.get(r[3], 0) if len(r) > 3 else 0 for r in rows], dtype=np.int8)
    return ResultColumns(confidence, decision, category, list(names))


def encode_columns(columns: ResultColumns) -> bytes:
    names = json.dumps(columns.categories, ensure_ascii=False).encode()
    return zlib.compress(b"".join([_LENGTH.pack(len(names)), names,
                                   columns.confidence.astype("<f8").tobytes(),
                                   columns.category.astype("<i4").tobytes(),
                                   columns.decision.astype("i1").tobytes()]), 1)


def decode_columns(packed: bytes, n_rows: int) -> ResultColumns:
    import numpy as np

    data = zlib.decompress(packed)
    (length,) = _LENGTH.unpack_from(data)
    at = _LENGTH.size + length
    categories = json.loads(bytes(data[_LENGTH.size:at]))
    confidence = np.frombuffer(data, dtype="<f8", count=n_rows, offset=at)
    at += 8 * n_rows
    category = np.frombuffer(data, dtype="<i4", count=n_rows, offset=at)
    at += 4 * n_rows
    decision = np.frombuffer(data, dtype="i1", count=n_rows, offset=at)
    return ResultColumns(confidence, decision, category, categories)


def columns_of(blob: Blob) -> ResultColumns:
    """A result chunk's columns: stored with it, or (older blobs) worked out from its rows."""
    if blob.columns:
        return decode_columns(blob.columns, blob.n_rows)
    return result_columns(blob.rows())
