"""Uploaded CSV text: every common encoding read right, others refused saying how to re-save."""

from __future__ import annotations

import codecs
import io
import pickle

import pytest

from core.textfiles import BrokenQuote, UnreadableText, csv_rows, decode, detect_encoding

TEXT = "category,name\nPlomería,Tubo PVC 1/2\" ñandú\nEléctricos,Foco cálido 9W\n"


@pytest.mark.parametrize(("raw", "codec"), [
    (TEXT.encode("utf-8"), "utf-8"),
    (codecs.BOM_UTF8 + TEXT.encode("utf-8"), "utf-8-sig"),
    (TEXT.encode("utf-16"), "utf-16"),  # with its BOM, as Excel's "Unicode text" writes
    (TEXT.encode("utf-16-le"), "utf_16_le"),  # without a BOM
    (TEXT.encode("cp1252"), "cp1252"),
    (TEXT.encode("latin-1"), "cp1252"),
    ((TEXT * 200).encode("cp1252"), "cp1252"),
], ids=["utf-8", "utf-8-bom", "utf-16", "utf-16-le-no-bom", "cp1252", "latin-1",
        "cp1252-long"])
def test_each_common_encoding_is_read_as_written(raw: bytes, codec: str) -> None:
    assert detect_encoding(raw) == codec
    assert decode(raw) == TEXT * (len(decode(raw)) // len(TEXT))
    assert decode(raw).startswith(TEXT)


def test_latin1_bytes_cp1252_leaves_undefined_are_still_read() -> None:
    raw = "category,name\nA,x\x81y ñ\n".encode("latin-1")

    assert decode(raw) == "category,name\nA,x\x81y ñ\n"


@pytest.mark.parametrize(("raw", "found"), [
    ("Категория,name\nИнструменты,Молоток\n".encode("koi8-r"), "it looks like"),
    (pickle.dumps({"a": 1}), "contains binary data"),
    (b"\x00\x01\x02\x03" * 100, "contains binary data"),
], ids=["koi8-r", "pickle", "binary"])
def test_other_bytes_are_refused_naming_what_was_found_and_how_to_resave(
    raw: bytes, found: str
) -> None:
    with pytest.raises(UnreadableText) as refused:
        detect_encoding(raw)

    assert found in str(refused.value)
    assert "save it as 'CSV UTF-8'" in str(refused.value)


def test_a_sample_cut_inside_a_utf8_character_is_still_utf8() -> None:
    raw = "ñ".encode() * 10

    assert detect_encoding(raw[:-1], complete=False) == "utf-8"


def _rows(text: str) -> list[tuple[int, list[str] | None, str | None]]:
    return [(r.line, r.cells, r.problem) for r in csv_rows(io.StringIO(text, newline=""))]


def test_rows_carry_the_line_they_start_on() -> None:
    text = 'name\n"two\nlines"\nplain\n'

    assert _rows(text) == [(1, ["name"], None), (2, ["two\nlines"], None), (4, ["plain"], None)]


def test_an_unterminated_quote_names_the_line_it_opens_on() -> None:
    with pytest.raises(BrokenQuote, match="a quote opened on line 3 is never closed"):
        _rows('name\nok\n"broken\nrest\nof the file\n')


def test_text_after_a_closing_quote_is_that_rows_problem_only() -> None:
    rows = _rows('name\n"Tubo" PVC\nFoco\n')

    assert rows[1][0] == 2
    assert rows[1][1] is None
    assert "malformed CSV on line 2" in (rows[1][2] or "")
    assert rows[2] == (3, ["Foco"], None)


def test_a_cell_over_the_csv_modules_default_limit_is_read() -> None:
    rows = _rows("name\n" + "x" * 300_000 + "\nFoco\n")

    assert [len(cells[0]) for _, cells, _ in rows if cells] == [4, 300_000, 4]


def test_inch_marks_in_unquoted_and_doubled_in_quoted_cells_are_kept() -> None:
    rows = _rows('name\nTubo 1/2" PVC\n"Codo 3/4"" PVC"\n')

    assert [cells for _, cells, _ in rows] == [["name"], ['Tubo 1/2" PVC'], ['Codo 3/4" PVC']]
