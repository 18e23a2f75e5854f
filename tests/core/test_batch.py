"""Batch intake (CSV and JSON rows), chunking, per-row categorization and the CSV download."""

from __future__ import annotations

import csv
import io
import random
import re
from typing import Any

import pytest
from sklearn.pipeline import Pipeline

import core.batch
from core.batch import (
    BatchInputError,
    categorize_rows,
    check_name,
    chunked,
    make_row,
    results_csv_lines,
    rows_from_csv,
    rows_from_items,
)
from core.batch_store import InputRow, ResultRow, RowResult
from core.prediction import Classifier

MAX = 50


def _rows(content: bytes, max_length: int = MAX) -> list[tuple[str | None, str, str | None]]:
    return [(r.id, r.name, r.error)
            for r in rows_from_csv(io.BytesIO(content), max_length=max_length)]


# -- rows_from_csv -------------------------------------------------------------------------------

@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"], ids=["comma", "semicolon", "tab",
                                                                    "pipe"])
def test_the_delimiter_is_the_one_the_header_splits_on(delimiter: str) -> None:
    content = delimiter.join(["id", "name", "price"]) + "\n"
    content += delimiter.join(["1", "Tubo PVC 1/2 hidráulico", "10,5"]) + "\n"
    content += delimiter.join(["2", "Foco LED 9W", "3"]) + "\n"

    assert _rows(content.encode()) == [("1", "Tubo PVC 1/2 hidráulico", None),
                                       ("2", "Foco LED 9W", None)]


def test_a_byte_order_mark_is_not_part_of_the_header() -> None:
    content = "\ufeffname;id\nTaladro 1/2\";7\n".encode()

    assert _rows(content) == [("7", "Taladro 1/2\"", None)]


def test_quoted_fields_keep_doubled_quotes_and_delimiters() -> None:
    content = b'id,name\n1,"Tubo PVC 1-1/4"""\n2,"Codo 90"", cobre"\n3,"Abrazadera 1/2"" a 1"""\n'

    assert _rows(content) == [("1", 'Tubo PVC 1-1/4"', None), ("2", 'Codo 90", cobre', None),
                              ("3", 'Abrazadera 1/2" a 1"', None)]


def test_a_quoted_header_with_semicolons() -> None:
    content = b'"SKU";"Nombre"\n"A-1";"Cinta 3/4"" x 20 m"\n'

    assert _rows(content) == [("A-1", 'Cinta 3/4" x 20 m', None)]


@pytest.mark.parametrize("header", ["name", "Name", " NAME ", "product_name", "nombre"])
def test_the_name_column_may_go_by_several_names(header: str) -> None:
    assert _rows(f"{header}\nFoco LED\n".encode()) == [(None, "Foco LED", None)]


def test_without_an_id_column_rows_have_no_id() -> None:
    assert _rows(b"category,name\nX,Foco\nY,Tubo\n") == [(None, "Foco", None),
                                                        (None, "Tubo", None)]


def test_blank_lines_are_skipped_and_short_rows_kept() -> None:
    content = b"id,name\r\n1,Foco\r\n\r\n  \r\n,,\r\n2,Tubo\r\n3\r\n"

    assert _rows(content) == [("1", "Foco", None), ("2", "Tubo", None), ("3", "", "empty name")]


def test_an_invalid_utf8_row_gets_its_own_error() -> None:
    # A UTF-8 file (its accents decode) with one row of stray Latin-1 bytes.
    content = "id,name\n1,Foco cálido\n".encode() + b"2,Pintura ba\xf1o\n3,Tubo\n"

    rows = _rows(content)

    assert rows[0] == ("1", "Foco cálido", None)
    assert rows[2] == ("3", "Tubo", None)
    assert rows[1][0] == "2"
    assert "not valid UTF-8" in (rows[1][2] or "")
    assert rows[1][1] == "Pintura ba\ufffdo"  # stored visibly replaced


def test_a_long_name_is_cut_and_gets_an_error() -> None:
    [(_, name, error)] = _rows(b"name\n" + b"x" * (MAX + 10) + b"\n")

    assert error == f"name is {MAX + 10} characters long; the limit is {MAX}"
    assert name == "x" * MAX + "…"


def test_a_file_larger_than_the_sniffed_head_is_read_whole() -> None:
    # 70 KB: past the 64 KB head, with a two-byte character straddling wherever the cut falls.
    names = [f"Llave española número {i}" for i in range(3000)]
    content = ("id,name\n" + "".join(f"{i},{n}\n" for i, n in enumerate(names))).encode()
    assert len(content) > 64 * 1024

    rows = _rows(content)

    assert [r[1] for r in rows] == names
    assert [r[0] for r in rows] == [str(i) for i in range(3000)]
    assert all(r[2] is None for r in rows)


@pytest.mark.parametrize(("content", "problem"), [
    (b"id,name\n1,Fo\x00co\n", "binary data"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary data"),
    (b"", "empty"),
    (b"  \r\n\n", "empty"),
    (b"id,product\n1,Foco\n", "no 'name' column (header: id, product)"),
    (b"\xef\xbb\xbfid;sku\n1;Foco\n", "no 'name' column"),
], ids=["nul", "png", "empty", "blank", "no-name-column", "bom-no-name-semicolon"])
def test_an_upload_that_is_not_a_batch_is_refused_before_any_row(content: bytes,
                                                                 problem: str) -> None:
    rows = rows_from_csv(io.BytesIO(content), max_length=MAX)

    with pytest.raises(BatchInputError, match=re.escape(problem)):
        next(rows)


@pytest.mark.parametrize("content", [b"\xef\xbb\xbf", b"\xff\xfe\xfd", b"\xe9"],
                         ids=["bom-only", "undecodable", "one-latin-1-byte"])
def test_an_upload_with_no_decodable_header_is_a_batch_input_error(content: bytes) -> None:
    rows = rows_from_csv(io.BytesIO(content), max_length=MAX)

    with pytest.raises(BatchInputError):
        next(rows)


def test_the_error_shows_an_undecodable_header_as_text() -> None:
    content = "código,descripción\n1,Foco\n".encode() + b"\xff\n"
    rows = rows_from_csv(io.BytesIO(content), max_length=MAX)

    with pytest.raises(BatchInputError) as error:
        next(rows)

    message = str(error.value)
    assert "no 'name' column (header: código, descripción)" in message
    message.encode("utf-8")  # no lone surrogates: an HTTP error body must be able to carry it


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "cp1252",
                                      "latin-1"])
def test_an_upload_in_each_common_encoding_is_read_as_written(encoding: str) -> None:
    names = ["Pintura baño", "Codo PVC 1/2\"", "Foco cálido", "Llave española Ñ"]
    content = ("sku;nombre\n" + "".join(f"{i};{n}\n" for i, n in enumerate(names)))

    rows = _rows(content.encode(encoding))

    assert rows == [(str(i), n, None) for i, n in enumerate(names)]


def test_an_upload_in_an_encoding_not_read_is_refused_saying_how_to_resave() -> None:
    content = "sku,name\n1,Молоток стальной\n2,Отвёртка\n".encode("koi8-r")

    with pytest.raises(BatchInputError, match="save it as 'CSV UTF-8'"):
        next(rows_from_csv(io.BytesIO(content), max_length=MAX))


def test_a_cell_past_the_csv_modules_limit_is_that_rows_error() -> None:
    content = b"id,name\n1,Foco\n2," + b"x" * 200_000 + b"\n3,Tubo\n"

    rows = _rows(content)

    assert rows[0] == ("1", "Foco", None)
    assert rows[1] == ("2", "x" * MAX + "…", f"name is 200000 characters long; the limit is {MAX}")
    assert rows[2] == ("3", "Tubo", None)


def test_an_unterminated_quote_refuses_the_upload_naming_its_line() -> None:
    content = b'id,name\n1,Foco\n2,"Tubo PVC\n3,Codo\n4,Llave\n'

    with pytest.raises(BatchInputError, match="a quote opened on line 3 is never closed"):
        list(rows_from_csv(io.BytesIO(content), max_length=MAX))


def test_text_after_a_closing_quote_is_that_rows_error() -> None:
    content = b'id,name\n1,Foco\n2,"Tubo" PVC\n3,Codo\n'

    rows = _rows(content)

    assert rows[0] == ("1", "Foco", None)
    assert rows[1][0] is None
    assert "malformed CSV on line 3" in (rows[1][2] or "")
    assert rows[2] == ("3", "Codo", None)


# Per 1,024-row block (the reader's rows): what is odd in it, at a few places.
_BLOCK_ODDITIES: list[dict[str, Any]] = [
    {"ids": ""},                        # blank ids only: the block path, ids become None
    {"ids": "id \udcff"},               # an undecodable id
    {"names": "Tubo \udc9f PVC"},        # an undecodable name
    {"names": ""},                      # blank names (with no id: a blank line, skipped)
    {"names": "x" * (MAX + 5)},         # too long
    {"names": None},                    # a row missing its name column
    {},                                 # nothing odd: the block path
]


@pytest.mark.parametrize("with_ids", [True, False], ids=["id-column", "no-id-column"])
def test_long_uploads_read_block_by_block_as_row_by_row(
    with_ids: bool, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Thousands of rows, blocks of common rows and blocks with odd rows among them: every row
    comes back in order exactly as `make_row` alone makes it."""
    rng = random.Random(7)
    lines, expected = [], []
    for block, oddity in enumerate(_BLOCK_ODDITIES):
        for i in range(1024):
            name: str | None = rng.choice(["Foco LED 9W", "Tubo PVC 1/2\"", "Codo cálido"])
            row_id = f"sku-{block}-{i}"
            if i % 300 == 17:
                name = oddity.get("names", name)
                row_id = oddity.get("ids", row_id)
            cells = ([row_id] if with_ids else []) + ([] if name is None else [name])
            lines.append(cells)
            if not "".join(cells).strip():
                continue  # a blank line is skipped, not a row
            reference = make_row(row_id if with_ids else None, name or "", max_length=MAX)
            expected.append((reference.id, reference.name, reference.error))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["id", "name"] if with_ids else ["name"])
    writer.writerows(lines)
    content = buffer.getvalue().encode("utf-8", "surrogateescape")
    plain_blocks: list[bool] = []
    real = core.batch._plain_block

    def spy(*args: Any, **kwargs: Any) -> Any:
        rows = real(*args, **kwargs)
        plain_blocks.append(rows is not None)
        return rows

    monkeypatch.setattr(core.batch, "_plain_block", spy)

    assert _rows(content) == expected
    assert sum(1 for _, _, error in expected if error) >= 8  # the odd rows really were there
    assert True in plain_blocks  # the block path ran
    assert False in plain_blocks  # and so did the row-by-row one


# -- JSON items, names, chunks -------------------------------------------------------------------

def test_items_keep_their_ids_as_text() -> None:
    rows = list(rows_from_items([(17, "Foco"), ("", "Tubo"), (None, "Codo"), ("A", None)],
                                max_length=MAX))

    assert [(r.id, r.name, r.error) for r in rows] == [
        ("17", "Foco", None), (None, "Tubo", None), (None, "Codo", None), ("A", "", "empty name")]


@pytest.mark.parametrize(("name", "problem"), [
    ("Tubo PVC", None),
    ("x" * MAX, None),
    ("ñ" * MAX, None),  # characters, not bytes
    ("", "empty name"),
    (" \t\n", "empty name"),
    ("x" * (MAX + 1), f"name is {MAX + 1} characters long; the limit is {MAX}"),
    ("Pintura ba\udcf1o", "name is not valid UTF-8 text"),
])
def test_check_name(name: str, problem: str | None) -> None:
    assert check_name(name, max_length=MAX) == problem


@pytest.mark.parametrize(("n", "size", "lengths"), [
    (0, 3, []), (1, 3, [1]), (6, 3, [3, 3]), (7, 3, [3, 3, 1]), (5, 10, [5]),
])
def test_chunked(n: int, size: int, lengths: list[int]) -> None:
    rows = [InputRow(id=None, name=str(i)) for i in range(n)]

    chunks = list(chunked(iter(rows), size))

    assert [len(c) for c in chunks] == lengths
    assert [r for c in chunks for r in c] == rows


# -- categorize_rows -----------------------------------------------------------------------------

@pytest.fixture
def classifier(app_pipeline: Pipeline) -> Classifier:
    return Classifier(app_pipeline, name="test", version=1)


def test_categorize_rows_keeps_order_and_intake_errors(classifier: Classifier,
                                                       app_pipeline: Pipeline) -> None:
    names = ["Tubo PVC 1/2\"", "", "Foco LED 9W", "Taladro 650W", "Pintura vinílica"]
    rows = [InputRow(id=None, name=n, error="empty name" if not n else None) for n in names]

    results = categorize_rows(classifier, rows)

    expected = app_pipeline.predict([n for n in names if n]).tolist()
    assert [r[0] for r in results] == [expected[0], None, *expected[1:]]
    assert results[1] == RowResult(None, None, "empty name")
    assert all(r[1] is not None and 0 < r[1] <= 1 and r[2] is None
               for i, r in enumerate(results) if i != 1)


def test_categorize_rows_carries_the_decision_top_k_and_known(app_pipeline: Pipeline) -> None:
    names = ["Tubo PVC 1/2\"", "Foco LED 9W", "木材"]
    rows = [InputRow(id=None, name=n) for n in names]
    classifier = Classifier(app_pipeline, name="test", version=1, auto_file_threshold=0.0)

    results = categorize_rows(classifier, rows)

    for name, result in zip(names, results, strict=True):
        prediction = classifier.predict(name)
        assert (result.decision, result.known) == (prediction.decision, prediction.known)
        assert result.top_k == prediction.top_k
        assert result.top_k[0] == (result.category, result.confidence)
    # Every known name clears a threshold of 0; the name of unseen characters never does.
    assert [r.decision for r in results] == ["auto", "auto", "review"]
    assert [r.known for r in results] == [True, True, False]


def test_categorize_rows_of_only_bad_rows(classifier: Classifier) -> None:
    rows = [InputRow(id=None, name="", error="empty name")] * 3

    assert categorize_rows(classifier, rows) == [RowResult(None, None, "empty name")] * 3


class _Poisoned:
    def __init__(self, real: Classifier, poison: str) -> None:
        self.real, self.poison = real, poison

    def predict(self, name: str) -> Any:
        if name == self.poison:
            raise ValueError("bad input")
        return self.real.predict(name)

    def predict_batch(self, names: list[str]) -> Any:
        if self.poison in names:
            raise ValueError("bad batch")
        return self.real.predict_batch(names)


def test_a_row_that_makes_the_model_raise_does_not_sink_the_others(
    classifier: Classifier, caplog: pytest.LogCaptureFixture
) -> None:
    names = ["Foco LED 9W", "poison", "Tubo PVC 1/2\""]
    rows = [InputRow(id=None, name=n) for n in names]

    results = categorize_rows(_Poisoned(classifier, "poison"), rows)  # type: ignore[arg-type]

    assert results[1] == RowResult(None, None, "prediction failed: ValueError")
    assert results[0][0] == classifier.predict("Foco LED 9W").category
    assert results[2][0] == classifier.predict("Tubo PVC 1/2\"").category
    assert "retrying row by row" in caplog.text


# -- results_csv_lines ---------------------------------------------------------------------------

def _result(row: int, name: str, row_id: str | None = None, error: str | None = None,
            category: str | None = "Plomería", confidence: float | None = 0.75) -> ResultRow:
    return ResultRow(row=row, id=row_id, name=name, category=category, confidence=confidence,
                     error=error, decision=None if error else "review",
                     known=None if error else True)


@pytest.mark.parametrize("prefix", ["=", "+", "-", "@", "\t", "\r"])
def test_the_download_neutralises_formula_cells(prefix: str) -> None:
    rows = [_result(0, f"{prefix}CMD()", row_id=f"{prefix}1", error=f"{prefix}err")]

    [header, line] = list(csv.reader(io.StringIO("".join(results_csv_lines(rows)))))

    assert header == ["row", "id", "name", "category", "confidence", "decision", "known",
                      "filed_under", "error", "source"]
    assert line == ["0", f"'{prefix}1", f"'{prefix}CMD()", "Plomería", "0.75", "", "", "",
                    f"'{prefix}err", "model"]


def test_the_download_leaves_ordinary_cells_alone() -> None:
    rows = [_result(0, 'Tubo PVC 1/2", cobre', row_id="SKU=1"),
            _result(1, "", error="empty name", category=None, confidence=None)]

    lines = list(csv.reader(io.StringIO("".join(results_csv_lines(rows)))))

    assert lines[1] == ["0", "SKU=1", 'Tubo PVC 1/2", cobre', "Plomería", "0.75", "review",
                        "true", "", "", "model"]
    assert lines[2] == ["1", "", "", "", "", "", "", "", "empty name", "model"]


def test_a_large_download_streams_in_pieces_with_every_row() -> None:
    rows = [_result(i, f"Llave de paso {i} " + "x" * 100, row_id=str(i)) for i in range(2000)]

    pieces = list(results_csv_lines(iter(rows)))

    assert len(pieces) > 1
    parsed = list(csv.reader(io.StringIO("".join(pieces))))
    assert [int(r[0]) for r in parsed[1:]] == list(range(2000))
