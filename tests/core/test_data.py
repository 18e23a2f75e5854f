"""Catalog loading: what stores export, SQL tables and queries, and clear refusals of bad data."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from core.data import (
    Catalog,
    CatalogError,
    check_trainable,
    load_catalog,
    parse_csv_catalog,
)

BOM = b"\xef\xbb\xbf"
SOURCE = "catalog.csv"
POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def csv_bytes(text: str) -> bytes:
    return text.encode("utf-8")


# -- CSV: what loads ---------------------------------------------------------------------------

GOOD_CSV = [
    pytest.param(csv_bytes("category,name\nPlomería,Tubo PVC\n"),
                 ["Tubo PVC"], ["Plomería"], id="utf8-without-bom"),
    pytest.param(BOM + csv_bytes("category,name\nPlomería,Tubo PVC\n"),
                 ["Tubo PVC"], ["Plomería"], id="utf8-with-bom"),
    pytest.param(csv_bytes('category,name\nFerretería,"Tornillo 8 x 1"" Ne"\n'),
                 ['Tornillo 8 x 1" Ne'], ["Ferretería"], id="doubled-quotes-for-inch-mark"),
    pytest.param(csv_bytes('category,name\nPlomería,"Reducción 3/4"" x 1/2"""\n'),
                 ['Reducción 3/4" x 1/2"'], ["Plomería"], id="inch-mark-closing-the-field"),
    pytest.param(csv_bytes('category,name\nFerretería,Tornillo 8 x 1" Ne\n'),
                 ['Tornillo 8 x 1" Ne'], ["Ferretería"], id="bare-inch-mark-unquoted"),
    pytest.param(csv_bytes('category,name\n"Aseo, Baños y Cocinas",Jabón líquido\n'),
                 ["Jabón líquido"], ["Aseo, Baños y Cocinas"], id="comma-in-quoted-category"),
    pytest.param(csv_bytes("name,category\nTaladro,Herramientas\n"),
                 ["Taladro"], ["Herramientas"], id="columns-in-other-order"),
    pytest.param(BOM + csv_bytes(" Name , CATEGORY \nTaladro,Herramientas\n"),
                 ["Taladro"], ["Herramientas"], id="header-case-and-spaces"),
    pytest.param(csv_bytes("sku,category,price,name\n1,Pinturas,9.5,Esmalte\n"),
                 ["Esmalte"], ["Pinturas"], id="extra-columns-ignored"),
    pytest.param(csv_bytes("category,name\n\nPinturas,Esmalte\n  ,  \n\nPinturas,Thinner\n\n"),
                 ["Esmalte", "Thinner"], ["Pinturas", "Pinturas"], id="blank-lines-skipped"),
    pytest.param(csv_bytes("category,name\r\nPinturas,Esmalte\r\nPlomería,Codo\r\n"),
                 ["Esmalte", "Codo"], ["Pinturas", "Plomería"], id="crlf-line-ends"),
    pytest.param(csv_bytes("category,name\n  Pinturas ,  Esmalte blanco  \n"),
                 ["Esmalte blanco"], ["Pinturas"], id="cells-stripped"),
]


@pytest.mark.parametrize(("raw", "names", "categories"), GOOD_CSV)
def test_csv_loads(raw: bytes, names: list[str], categories: list[str]) -> None:
    catalog = parse_csv_catalog(raw, source=SOURCE)
    assert catalog.names == names
    assert catalog.categories == categories
    assert catalog.source == SOURCE
    assert catalog.conflicts == []


def test_load_catalog_reads_a_csv_file_with_bom(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_bytes(BOM + csv_bytes('Category,Name\nPlomería,"Codo 1/2"""\nPinturas,Esmalte\n'))
    catalog = load_catalog(path)
    assert catalog.names == ['Codo 1/2"', "Esmalte"]
    assert catalog.categories == ["Plomería", "Pinturas"]
    assert catalog.source == str(path)
    assert catalog.category_counts == {"Pinturas": 1, "Plomería": 1}


# -- CSV: what is refused, and how it is named ---------------------------------------------------

BAD_CSV = [
    pytest.param(csv_bytes("category,product\nPinturas,Esmalte\n"), 1, "missing column(s) name",
                 id="missing-name-column"),
    pytest.param(csv_bytes("name\nEsmalte\n"), 1, "missing column(s) category",
                 id="missing-category-column"),
    pytest.param(csv_bytes("category,name\nPinturas,Esmalte\nPinturas,\n"), 3,
                 "empty product name", id="empty-name"),
    pytest.param(csv_bytes("category,name\nPinturas,Esmalte\nPinturas\n"), 3,
                 "empty product name", id="short-row"),
    pytest.param(csv_bytes("category,name\nPinturas,Esmalte\n  ,Thinner\n"), 3,
                 "empty category", id="empty-category"),
    pytest.param("category,name\nИнструменты,Молоток\n".encode("koi8-r"), None,
                 "not UTF-8 text; it looks like", id="koi8-r"),
    pytest.param(csv_bytes("category,name\nPinturas,Esmalte cálido\n") + b"Pinturas,Pl\xe1stico\n",
                 3, "line 3 is not valid UTF-8 text", id="stray-byte-in-utf-8"),
    pytest.param(b"category,name\nA,\x00\x01\x02\n", None, "contains binary data",
                 id="binary"),
    pytest.param(csv_bytes('category,name\nPinturas,Esmalte\nPinturas,"Thinner\nA,b\n'), 3,
                 "a quote opened on line 3 is never closed", id="broken-quote"),
    pytest.param(csv_bytes('category,name\nPinturas,"Esmalte" azul\nA,b\n'), 2,
                 "a quoted cell is followed by other text", id="text-after-quote"),
    pytest.param(b"", None, "the file is empty", id="empty-file"),
    pytest.param(BOM + b" \n\n", None, "the file is empty", id="bom-and-whitespace"),
    pytest.param(csv_bytes("category,name\n"), None, "no data rows", id="header-only"),
    pytest.param(csv_bytes("category,name\n\n\n"), None, "no data rows", id="header-and-blanks"),
]


@pytest.mark.parametrize(("raw", "row", "problem"), BAD_CSV)
def test_csv_refused_naming_source_row_and_problem(
    raw: bytes, row: int | None, problem: str
) -> None:
    with pytest.raises(CatalogError) as caught:
        parse_csv_catalog(raw, source=SOURCE)
    error = caught.value
    assert error.source == SOURCE
    assert error.row == row
    assert problem in error.problem
    where = SOURCE if row is None else f"{SOURCE}, row {row}"
    column = "" if error.column is None else f", column {error.column!r}"
    assert str(error) == f"{where}{column}: {error.problem}"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "cp1252", "latin-1"])
def test_a_catalog_in_each_common_encoding_is_read_as_written(encoding: str) -> None:
    text = "category,name\nPlomería,Tubo PVC ñ 1/2\"\nEléctricos,Foco cálido\n"

    catalog = parse_csv_catalog(text.encode(encoding), source=SOURCE)

    assert catalog.names == ['Tubo PVC ñ 1/2"', "Foco cálido"]
    assert catalog.categories == ["Plomería", "Eléctricos"]


def test_a_cell_over_the_csv_modules_limit_is_read_not_refused() -> None:
    catalog = parse_csv_catalog(csv_bytes('category,name\nPinturas,"' + "x" * 200_000 + '"\n'),
                                source=SOURCE)

    assert len(catalog.names[0]) == 200_000


def test_catalog_error_is_a_value_error() -> None:
    # The CLI and the API map ValueError to a user error; a CatalogError must be one.
    assert issubclass(CatalogError, ValueError)


def test_a_catalog_error_survives_pickling_whole() -> None:
    """It is raised in the API's intake processes too and travels back pickled."""
    import pickle

    error = CatalogError("mine.csv", "empty product name", row=3, column="name")

    copy = pickle.loads(pickle.dumps(error))

    assert type(copy) is CatalogError
    assert str(copy) == "mine.csv, row 3, column 'name': empty product name"
    assert (copy.source, copy.problem, copy.row, copy.column) == (
        "mine.csv", "empty product name", 3, "name")


def test_missing_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.csv"
    with pytest.raises(CatalogError, match="file not found") as caught:
        load_catalog(path)
    assert caught.value.source == str(path)
    assert str(path) in str(caught.value)


def test_unreadable_path_is_named(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="cannot read file") as caught:
        load_catalog(tmp_path)  # a directory
    assert str(tmp_path) in str(caught.value)


def test_table_or_query_needs_a_sql_source(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="need a SQLAlchemy URL"):
        load_catalog(tmp_path / "catalog.csv", table="products")


# -- conflicting labels and fingerprints ---------------------------------------------------------


def test_conflicting_labels_are_kept_and_reported(caplog: pytest.LogCaptureFixture) -> None:
    raw = csv_bytes(
        "category,name\nFerretería,Silicón transparente\nPlomería,Silicón transparente\n"
        "Pinturas,Esmalte\nAseo,Silicón transparente\nPinturas,Thinner\nPlomería,Esmalte\n"
    )
    with caplog.at_level(logging.WARNING, logger="core.data"):
        catalog = parse_csv_catalog(raw, source=SOURCE)
    assert len(catalog) == 6  # every row kept: the store's filing is what it is
    assert catalog.conflicts == ["Silicón transparente", "Esmalte"]
    assert "2 name(s) are filed under more than one category" in caplog.text


def catalog_of(rows: list[tuple[str, str]], source: str = SOURCE) -> Catalog:
    return Catalog(names=[n for _, n in rows], categories=[c for c, _ in rows], source=source)


def test_fingerprint_is_stable_and_ignores_the_source() -> None:
    rows = [("Pinturas", "Esmalte"), ("Plomería", "Codo 1/2\"")]
    assert catalog_of(rows).fingerprint == catalog_of(list(rows), source="other.csv").fingerprint
    assert len(catalog_of(rows).fingerprint) == 16


@pytest.mark.parametrize(
    "changed",
    [
        pytest.param([("Plomería", "Codo 1/2\""), ("Pinturas", "Esmalte")], id="order"),
        pytest.param([("Pinturas", "Esmalte"), ("Pinturas", "Codo 1/2\"")], id="category"),
        pytest.param([("Pinturas", "Esmalte"), ("Plomería", "Codo 3/4\"")], id="name"),
        pytest.param([("Pinturas", "Esmalte")], id="row-removed"),
        # The separators keep a boundary shift from colliding: ("ab", "c") vs ("a", "bc").
        pytest.param([("PinturasE", "smalte"), ("Plomería", "Codo 1/2\"")], id="boundary"),
    ],
)
def test_fingerprint_changes_with_content_and_order(changed: list[tuple[str, str]]) -> None:
    rows = [("Pinturas", "Esmalte"), ("Plomería", "Codo 1/2\"")]
    assert catalog_of(changed).fingerprint != catalog_of(rows).fingerprint


# -- check_trainable -----------------------------------------------------------------------------


def rows_for(category: str, names: list[str]) -> list[tuple[str, str]]:
    return [(category, name) for name in names]


TOOLS = rows_for("Herramientas", ["Taladro", "Martillo", "Serrucho", "Pinzas", "Nivel"])


def test_check_trainable_accepts_enough_distinct_names() -> None:
    paints = rows_for("Pinturas", ["Esmalte", "Thinner", "Sellador", "Aerosol", "Barniz"])
    check_trainable(catalog_of(TOOLS + paints), min_per_category=5)  # no error


@pytest.mark.parametrize(
    ("paint_names", "count"),
    [
        pytest.param(["Esmalte", "Thinner", "Sellador"], 3, id="few-rows"),
        pytest.param(["Esmalte", "Esmalte", "Thinner", "Thinner", "Esmalte", "Thinner"], 2,
                     id="many-rows-few-distinct"),
    ],
)
def test_check_trainable_refuses_small_category(paint_names: list[str], count: int) -> None:
    catalog = catalog_of(TOOLS + rows_for("Pinturas", paint_names))
    with pytest.raises(CatalogError) as caught:
        check_trainable(catalog, min_per_category=5, name_categories=True)
    message = str(caught.value)
    assert f"'Pinturas' has {count}" in message
    assert "need at least 5 per category" in message
    assert "Herramientas" not in message
    assert message.startswith(SOURCE)


def test_check_trainable_counts_names_as_the_split_groups_them() -> None:
    # The held-out split groups names case- and space-insensitively (duplicate_groups), so
    # five spellings of one product are one group: they cannot fill both sides of a split.
    spellings = ["Foco LED", "foco led", "FOCO LED", "foco  led", "Foco Led"]
    catalog = catalog_of(TOOLS + rows_for("Electricos", spellings))
    with pytest.raises(CatalogError, match="'Electricos' has 1"):
        check_trainable(catalog, min_per_category=5, name_categories=True)


def test_check_trainable_names_no_category_of_a_server_side_source() -> None:
    catalog = catalog_of(TOOLS + rows_for("Pinturas", ["Esmalte", "Thinner"]))
    with pytest.raises(CatalogError) as caught:
        check_trainable(catalog, min_per_category=5)
    message = str(caught.value)
    assert "1 of 2 categories are short; the smallest has 2" in message
    assert "Pinturas" not in message


def test_check_trainable_refuses_a_single_category() -> None:
    with pytest.raises(CatalogError, match="at least two categories"):
        check_trainable(catalog_of(TOOLS), min_per_category=5)


# -- SQL sources ---------------------------------------------------------------------------------

SQL_ROWS = [
    {"category": "Plomería", "name": 'Tubo PVC 1/2" hidráulico'},
    {"category": "Herramientas", "name": "Taladro percutor 650 W"},
    {"category": "Aseo, Baños y Cocinas", "name": "Jabón líquido 1 L"},
]


def create_products(engine: sa.Engine, table: str, *, columns: tuple[str, ...]) -> None:
    metadata = sa.MetaData()
    products = sa.Table(
        table, metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        *(sa.Column(column, sa.Text) for column in columns),
    )
    metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(
            sa.insert(products),
            [{k: v for k, v in row.items() if k in columns} for row in SQL_ROWS],
        )


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    engine = sa.create_engine(url)
    create_products(engine, "products", columns=("category", "name", "sku"))
    create_products(engine, "nameless", columns=("category", "sku"))
    engine.dispose()
    return url


def pairs(catalog: Catalog) -> list[tuple[str, str]]:
    return list(zip(catalog.categories, catalog.names, strict=True))


EXPECTED = [(row["category"], row["name"]) for row in SQL_ROWS]


def test_sqlite_table(sqlite_url: str) -> None:
    catalog = load_catalog(sqlite_url, table="products")
    assert sorted(pairs(catalog)) == sorted(EXPECTED)
    assert catalog.source.endswith("table products")


def test_sqlite_query(sqlite_url: str) -> None:
    query = "SELECT name AS NAME, category AS Category FROM products ORDER BY id"
    assert pairs(load_catalog(sqlite_url, query=query)) == EXPECTED


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        pytest.param({"table": "missing_table"}, "no table named 'missing_table'", id="no-table"),
        pytest.param({"table": "nameless"}, "missing column(s) name in table 'nameless'",
                     id="table-without-name"),
        pytest.param({"query": "SELECT category FROM products"}, "returns no column(s) name",
                     id="query-without-name"),
        pytest.param({"query": "SELECT * FROM nowhere"}, "database error", id="bad-query"),
        pytest.param({}, "exactly one of a table or a query", id="neither"),
        pytest.param({"table": "products", "query": "SELECT 1"},
                     "exactly one of a table or a query", id="both"),
    ],
)
def test_sqlite_refused(sqlite_url: str, kwargs: dict[str, str], problem: str) -> None:
    with pytest.raises(CatalogError) as caught:
        load_catalog(sqlite_url, **kwargs)
    assert problem in caught.value.problem
    assert "store.db" in caught.value.source


def test_sqlite_null_name_is_refused_with_its_row(sqlite_url: str) -> None:
    query = "SELECT category, name FROM products UNION ALL SELECT 'Pinturas', NULL"
    with pytest.raises(CatalogError, match="empty product name") as caught:
        load_catalog(sqlite_url, query=query)
    assert caught.value.row == 4


@pytest.fixture
def postgres_table() -> Iterator[str]:
    table = f"input_rf_categorizer_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(POSTGRES_URL)
    try:
        create_products(engine, table, columns=("category", "name", "sku"))
        create_products(engine, f"{table}_nameless", columns=("category", "sku"))
        yield table
    finally:
        with engine.begin() as connection:
            connection.execute(sa.text(f'DROP TABLE IF EXISTS "{table}", "{table}_nameless"'))
        engine.dispose()


@pytest.mark.integration
def test_postgres_table(postgres_table: str) -> None:
    catalog = load_catalog(POSTGRES_URL, table=postgres_table)
    assert sorted(pairs(catalog)) == sorted(EXPECTED)
    assert postgres_table in catalog.source


@pytest.mark.integration
def test_postgres_schema_qualified_table(postgres_table: str) -> None:
    catalog = load_catalog(POSTGRES_URL, table=f"public.{postgres_table}")
    assert sorted(pairs(catalog)) == sorted(EXPECTED)


@pytest.mark.integration
def test_postgres_query(postgres_table: str) -> None:
    query = f"SELECT category, name FROM {postgres_table} ORDER BY id"
    assert pairs(load_catalog(POSTGRES_URL, query=query)) == EXPECTED


@pytest.mark.integration
def test_postgres_missing_table(postgres_table: str) -> None:
    with pytest.raises(CatalogError, match=f"no table named '{postgres_table}_gone'"):
        load_catalog(POSTGRES_URL, table=f"{postgres_table}_gone")


@pytest.mark.integration
def test_postgres_table_without_name_column(postgres_table: str) -> None:
    with pytest.raises(CatalogError, match="missing column"):
        load_catalog(POSTGRES_URL, table=f"{postgres_table}_nameless")
