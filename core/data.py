"""Load a store's catalog (category, name) from a CSV file or a SQL table, refusing bad data."""

from __future__ import annotations

import hashlib
import io
import logging
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from core.textfiles import CsvRow

from core.errors import InvalidRequest

logger = logging.getLogger(__name__)

REQUIRED_COLUMNS = ("category", "name")
SAMPLE_CATALOG = Path(__file__).parent / "sample_data" / "sample_catalog.csv"


class CatalogError(InvalidRequest):
    """A catalog that cannot be used, with the source, row, column and problem named.

    The message never quotes the data itself (a server-side file or a database row may hold
    anything): it says where the problem is and what it is.
    """

    def __init__(self, source: str, problem: str, *, row: int | None = None,
                 column: str | None = None) -> None:
        self.source = source
        self.row = row
        self.column = column
        self.problem = problem
        where = source
        if row is not None:
            where += f", row {row}"
        if column is not None:
            where += f", column {column!r}"
        super().__init__(f"{where}: {problem}")

    def __reduce__(self) -> tuple[Any, ...]:
        # Raised in another process too (the API's intake processes): it must pickle whole.
        return (_catalog_error, (type(self), self.source, self.problem, self.row, self.column))


def _catalog_error(cls: type[CatalogError], source: str, problem: str, row: int | None,
                   column: str | None) -> CatalogError:
    return cls(source, problem, row=row, column=column)


@dataclass(frozen=True)
class Catalog:
    """Product names and the categories a store files them under, in source order."""

    names: list[str]
    categories: list[str]
    source: str
    conflicts: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.names)

    @property
    def category_counts(self) -> dict[str, int]:
        return dict(sorted(Counter(self.categories).items()))

    @property
    def fingerprint(self) -> str:
        """A content hash: the same rows in the same order give the same fingerprint."""
        digest = hashlib.sha256()
        for category, name in zip(self.categories, self.names, strict=True):
            digest.update(f"{category}\x1f{name}\x1e".encode())
        return digest.hexdigest()[:16]


def is_sql_url(source: str) -> bool:
    head = source.split(":", 1)[0].lower()
    return "://" in source and head.split("+")[0] in {
        "postgresql", "postgres", "sqlite", "mysql", "mariadb", "mssql", "oracle",
    }


def load_catalog(
    source: str | Path, *, table: str | None = None, query: str | None = None
) -> Catalog:
    """Load a catalog from a CSV path or a SQLAlchemy URL (with a table or a query)."""
    text = str(source)
    if is_sql_url(text):
        return load_sql_catalog(text, table=table, query=query)
    if table or query:
        raise CatalogError(text, "--table/--query need a SQLAlchemy URL as the data source")
    return load_csv_catalog(Path(text))


def load_csv_catalog(path: Path) -> Catalog:
    """Read a `category,name` CSV: UTF-8 with or without BOM, doubled quotes for inch marks."""
    source = str(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise CatalogError(source, "file not found") from None
    except OSError as exc:
        raise CatalogError(source, f"cannot read file ({exc.strerror})") from None
    return parse_csv_catalog(raw, source=source)


def parse_csv_catalog(raw: bytes, *, source: str) -> Catalog:
    """Parse CSV bytes into a catalog; `source` names the data in error messages.

    The encoding is detected (UTF-8 with or without BOM, UTF-16, Windows-1252/Latin-1; others
    refused saying how to re-save). Row numbers are the file's line numbers, as an editor shows.
    """
    from core.textfiles import BrokenQuote, UnreadableText, csv_rows, decode

    try:
        text = decode(raw)
    except UnreadableText as exc:
        raise CatalogError(source, str(exc), row=exc.line) from None
    if not text.strip():
        raise CatalogError(source, "the file is empty")
    records = csv_rows(io.StringIO(text.lstrip("\ufeff"), newline=""))
    try:
        header_row = next(records)
        if header_row.cells is None:
            raise CatalogError(source, "the header is not readable CSV", row=header_row.line)
        header = header_row.cells
        columns = [column.strip().lower() for column in header]
        missing = [column for column in REQUIRED_COLUMNS if column not in columns]
        if missing:
            raise CatalogError(
                source,
                f"missing column(s) {', '.join(missing)}; the header must name 'category' and "
                f"'name' (it has {len(header)} column(s))",
                row=1,
            )
        i_category, i_name = columns.index("category"), columns.index("name")
        return build_catalog(_records(records, i_category, i_name, source=source),
                             source=source)
    except BrokenQuote as exc:
        raise CatalogError(source, str(exc), row=exc.line) from None


def _records(rows: Iterator[CsvRow], i_category: int, i_name: int, *,
             source: str) -> Iterator[tuple[int, str, str]]:
    for row in rows:
        if row.cells is None:
            raise CatalogError(source, "a quoted cell is followed by other text (a quote inside "
                               "a quoted cell is written as two quotes)", row=row.line)
        if not any(cell.strip() for cell in row.cells):
            continue
        cells = row.cells
        yield (row.line, cells[i_category] if len(cells) > i_category else "",
               cells[i_name] if len(cells) > i_name else "")


def load_sql_catalog(url: str, *, table: str | None = None, query: str | None = None) -> Catalog:
    """Read a catalog from a table (reflected, so its name is never spliced into SQL) or a query."""
    import sqlalchemy as sa

    source = _redact(url) + (f" table {table}" if table else " query" if query else "")
    if bool(table) == bool(query):
        raise CatalogError(source, "give exactly one of a table or a query for a SQL source")
    try:
        engine = sa.create_engine(url)
    except (sa.exc.ArgumentError, ImportError) as exc:
        raise CatalogError(source, f"not a usable SQLAlchemy URL ({exc})") from None
    try:
        with engine.connect() as connection:
            if table:
                schema, _, name = table.rpartition(".")
                try:
                    reflected = sa.Table(
                        name, sa.MetaData(), schema=schema or None, autoload_with=connection
                    )
                except sa.exc.NoSuchTableError:
                    raise CatalogError(source, f"no table named {table!r}") from None
                columns = {c.name.lower(): c for c in reflected.columns}
                missing = [c for c in REQUIRED_COLUMNS if c not in columns]
                if missing:
                    raise CatalogError(
                        source, f"missing column(s) {', '.join(missing)} in table {table!r}"
                    )
                statement = sa.select(columns["category"], columns["name"])
                result = connection.execute(statement)
            else:
                result = connection.execute(sa.text(query or ""))
                keys = [key.lower() for key in result.keys()]
                missing = [c for c in REQUIRED_COLUMNS if c not in keys]
                if missing:
                    raise CatalogError(
                        source, f"the query returns no column(s) {', '.join(missing)}"
                    )
            mapping_rows = [dict(zip([k.lower() for k in result.keys()], row, strict=True))
                            for row in result]
    except sa.exc.SQLAlchemyError as exc:
        raise CatalogError(source, f"database error: {exc.__class__.__name__}: "
                           f"{str(exc.orig if hasattr(exc, 'orig') else exc).strip()}") from None
    finally:
        engine.dispose()
    records = (
        (number, _text(row["category"]), _text(row["name"]))
        for number, row in enumerate(mapping_rows, start=1)
    )
    return build_catalog(records, source=source)


def _text(value: object) -> str:
    return "" if value is None else str(value)


def _redact(url: str) -> str:
    import sqlalchemy as sa

    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return url.split("@")[-1]


def build_catalog(records: Iterable[tuple[int, str, str]], *, source: str) -> Catalog:
    """A catalog from (row number, category, name) records; blank names or categories refused."""
    names: list[str] = []
    categories: list[str] = []
    seen: dict[str, str] = {}
    conflicts: list[str] = []
    for number, category, name in records:
        category, name = category.strip(), name.strip()
        if not name:
            raise CatalogError(source, "empty product name", row=number, column="name")
        if not category:
            raise CatalogError(source, "empty category", row=number, column="category")
        previous = seen.setdefault(name, category)
        if previous != category and name not in conflicts:
            conflicts.append(name)
        names.append(name)
        categories.append(category)
    if not names:
        raise CatalogError(source, "no data rows after the header")
    if conflicts:
        logger.warning(
            "%s: %d name(s) are filed under more than one category, e.g. %r",
            source, len(conflicts), conflicts[0],
        )
    return Catalog(names=names, categories=categories, source=source, conflicts=conflicts)


def duplicate_key(name: str) -> str:
    """Names equal but for case and spacing are one product: they never straddle a split."""
    return " ".join(name.lower().split())


def check_trainable(catalog: Catalog, *, min_per_category: int,
                    name_categories: bool = False) -> None:
    """Refuse a catalog whose categories are too small to split for training and testing.

    Category names are quoted only when `name_categories` (the catalog is the requester's own
    upload); a server-side source's values never appear in an error.
    """
    distinct: dict[str, set[str]] = {}
    for category, name in zip(catalog.categories, catalog.names, strict=True):
        distinct.setdefault(category, set()).add(duplicate_key(name))
    if len(distinct) < 2:
        raise CatalogError(catalog.source, "needs at least two categories to learn from "
                           f"(found {len(distinct)})", column="category")
    small = {c: len(n) for c, n in distinct.items() if len(n) < min_per_category}
    if small:
        if name_categories:
            listed = ", ".join(f"{c!r} has {n}" for c, n in sorted(small.items()))
        else:
            listed = (f"{len(small)} of {len(distinct)} categories are short; the smallest "
                      f"has {min(small.values())}")
        raise CatalogError(
            catalog.source,
            f"too few distinct product names to split for training and testing "
            f"(need at least {min_per_category} per category): {listed}",
        )
