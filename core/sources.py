"""Training sources an operator allows: files under TRAINING_DATA_DIRS, SQL sources by name.

A request never names a URL or a file outside the configured folders. What a request may send:

- `{"data": "catalog.csv"}`: a regular file in one of TRAINING_DATA_DIRS (relative to the
  folders, or absolute), checked after symlinks are resolved; no `..`, no devices, no sockets.
- `{"source": "erp", "table": "products"}`: a table the operator's connection `erp`
  (TRAINING_SOURCES) reflects; or, when TRAINING_QUERIES is on, `{"source": "erp", "query":
  "SELECT ..."}`: one SELECT over that connection's tables, run in a read-only transaction with
  connect and statement timeouts.

Checks run twice: in the API before a job exists (so a refusal is a 400), and again in the
worker when it reads (a symlink swapped in between is still refused). Errors name the problem,
never a file's or a row's content, a path outside the folders, a driver's message or a backend.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from core.data import REQUIRED_COLUMNS, Catalog, CatalogError, build_catalog, parse_csv_catalog
from core.errors import InvalidRequest, Unavailable

if TYPE_CHECKING:
    import sqlalchemy as sa

    from core.config import Settings

logger = logging.getLogger(__name__)

# Never data, whatever a root says: kernel and device file systems.
_SYSTEM_TREES = (Path("/proc"), Path("/sys"), Path("/dev"), Path("/run"))
# Functions that reach outside the tables a query names (files, other servers, settings).
_UNSAFE_FUNCTION_PREFIXES = ("pg_", "lo_", "dblink")
_UNSAFE_FUNCTIONS = {"current_setting", "set_config", "query_to_xml", "table_to_xml",
                     "cursor_to_xml", "query_to_xml_and_xmlschema", "load_extension",
                     "readfile", "writefile", "edit", "fts3_tokenizer", "txid_current"}


class SourceRefused(InvalidRequest):
    """A training source the operator does not allow, or a request that names one badly."""


class SourceUnavailable(Unavailable):
    """An allowed SQL source that cannot be reached now (a transient failure: retry)."""


@dataclass(frozen=True)
class TrainingSource:
    """A checked source, as a training job stores it: a file, or a named SQL table or query."""

    data: str | None = None  # a file, as the request named it
    source: str | None = None  # a TRAINING_SOURCES name
    table: str | None = None
    query: str | None = None

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> TrainingSource:
        """From a stored job's params (older jobs' URLs included: they are refused on load)."""
        return cls(**{key: params.get(key) for key in ("data", "source", "table", "query")})

    def as_params(self) -> dict[str, str | None]:
        return {"data": self.data, "source": self.source, "table": self.table,
                "query": self.query}

    @property
    def label(self) -> str:
        """How errors name the source: the request's own words, never a URL."""
        if self.source is None:
            return str(self.data)
        return f"source {self.source!r} " + (f"table {self.table}" if self.table else "query")


def check_source(
    settings: Settings, *, data: str | None = None, source: str | None = None,
    table: str | None = None, query: str | None = None,
) -> TrainingSource:
    """The source a request names, checked; SourceRefused says why it is not allowed."""
    if source is None:
        if table or query:
            raise SourceRefused("'table' and 'query' go with a 'source' (a connection the "
                                "operator configured in TRAINING_SOURCES), not with 'data'")
        if not data:
            raise SourceRefused("give 'data' (a file under the training data folders) or "
                                "'source' (a configured SQL connection)")
        resolve_training_file(data, settings.training_roots)
        return TrainingSource(data=data)
    if data:
        raise SourceRefused("give 'data' (a file) or 'source' (a SQL connection), not both")
    _connection_url(settings, source)
    if bool(table) == bool(query):
        raise SourceRefused(f"source {source!r} needs a 'table' (or a 'query'), not both")
    checked = TrainingSource(source=source, table=table, query=query)
    if query is not None:
        if not settings.training_queries:
            raise SourceRefused("queries are turned off on this server (TRAINING_QUERIES); "
                                "name a 'table' instead")
        check_select(query, dialect=_dialect(settings, source))
    with _read_only(settings, source) as connection:
        if table is not None:
            _reflect(connection, checked, table)
        else:
            _check_query_tables(connection, checked, query or "")
    return checked


def load_source(settings: Settings, checked: TrainingSource, *, max_bytes: int) -> Catalog:
    """Read a checked source again, re-checking it: what was allowed may have changed."""
    if checked.source is None:
        path = resolve_training_file(str(checked.data), settings.training_roots)
        return parse_csv_catalog(_read_regular_file(path, max_bytes=max_bytes, label=checked.label),
                                 source=checked.label)
    check_source(settings, source=checked.source, table=checked.table, query=checked.query)
    return _load_sql(settings, checked)


# Files ---------------------------------------------------------------------------------------

def resolve_training_file(text: str, roots: Sequence[Path]) -> Path:
    """The file a request names, inside one of `roots` after symlinks, or SourceRefused."""
    lowered = text.strip().lower()
    if "://" in lowered or lowered.startswith(("http:", "https:", "ftp:", "file:")):
        if lowered.startswith(("http", "ftp", "file:")):
            raise SourceRefused("URLs are not training sources: the service does not download "
                                "files; upload the CSV (multipart 'file') or have the operator "
                                "place it in a training data folder")
        raise SourceRefused("a database URL cannot be sent in a request; name a SQL source the "
                            "operator configured (TRAINING_SOURCES): "
                            '{"source": "<name>", "table": "<table>"}')
    if "\x00" in text:
        raise SourceRefused("the file name contains a NUL character")
    path = Path(text)
    if ".." in path.parts:
        raise SourceRefused("'..' is not allowed in a training file's path")
    if not roots:
        raise SourceRefused("no training data folders are configured (TRAINING_DATA_DIRS)")
    candidates = [path] if path.is_absolute() else [root / path for root in roots]
    for candidate in candidates:
        resolved = Path(os.path.realpath(candidate))
        if not any(resolved.is_relative_to(root) for root in roots) or any(
                resolved.is_relative_to(tree) for tree in _SYSTEM_TREES):
            continue
        try:
            info = resolved.stat()
        except OSError:
            continue
        if not stat.S_ISREG(info.st_mode):
            raise SourceRefused(f"{text!r} is not a regular file")
        return resolved
    # One answer for "outside the folders" and "missing": no probing of what exists elsewhere.
    # The path is not echoed: it may name something outside the folders.
    raise SourceRefused("the file named is not a file in the training data folders "
                        "(TRAINING_DATA_DIRS); upload the CSV instead, or ask the operator to "
                        "place it there")


def _read_regular_file(path: Path, *, max_bytes: int, label: str) -> bytes:
    """Read without following a last-moment symlink and only if still a regular file."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        raise SourceRefused(f"{label!r} cannot be opened as a regular file") from None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise SourceRefused(f"{label!r} is not a regular file")
        if info.st_size > max_bytes:
            raise SourceRefused(f"{label!r} is larger than the {max_bytes}-byte limit")
        return handle.read(max_bytes + 1)[:max_bytes]


# SQL -----------------------------------------------------------------------------------------

def _connection_url(settings: Settings, name: str) -> str:
    url = settings.training_sources.get(name)
    if url is None:
        known = ", ".join(sorted(settings.training_sources)) or "none are configured"
        raise SourceRefused(f"no SQL source named {name!r} (TRAINING_SOURCES: {known})")
    return url.get_secret_value()


def _dialect(settings: Settings, name: str) -> str:
    scheme = _connection_url(settings, name).split(":", 1)[0].split("+", 1)[0].lower()
    return "sqlite" if scheme == "sqlite" else "postgres"


def check_select(query: str, *, dialect: str) -> None:
    """Refuse anything but one plain SELECT (sqlglot's parse tree, not pattern matching)."""
    import sqlglot
    from sqlglot import exp

    try:
        statements = [s for s in sqlglot.parse(query, read=dialect) if s is not None]
    except sqlglot.errors.SqlglotError:
        raise SourceRefused("the query is not SQL this server can check") from None
    if len(statements) != 1:
        raise SourceRefused(f"the query must be one SELECT statement (found {len(statements)})")
    tree = statements[0]
    if not isinstance(tree, exp.Query):
        raise SourceRefused(f"the query must be a SELECT (found {tree.key.upper()})")
    writes = (exp.Insert, exp.Update, exp.Delete, exp.Merge, exp.Create, exp.Drop, exp.Alter,
              exp.Command, exp.Into, exp.Lock, exp.Set, exp.Pragma)
    found = next(tree.find_all(*writes), None)
    if found is not None:
        raise SourceRefused(f"the query may only read: it contains {found.key.upper()}")
    for function in tree.find_all(exp.Func):
        name = (function.name if isinstance(function, exp.Anonymous)
                else function.sql_name()).lower()
        if name.startswith(_UNSAFE_FUNCTION_PREFIXES) or name in _UNSAFE_FUNCTIONS:
            raise SourceRefused(f"the query may not call {name}()")


def _query_tables(query: str, *, dialect: str) -> set[tuple[str | None, str]]:
    """The (schema, table) pairs a checked query reads, its own CTE names aside."""
    import sqlglot
    from sqlglot import exp

    tree = sqlglot.parse_one(query, read=dialect)
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    return {(table.db or None, table.name) for table in tree.find_all(exp.Table)
            if table.db or table.name.lower() not in ctes}


@contextlib.contextmanager
def _read_only(settings: Settings, name: str) -> Iterator[sa.Connection]:
    """A connection in a read-only transaction with connect and statement timeouts."""
    import sqlalchemy as sa

    url = sa.engine.make_url(_connection_url(settings, name))
    timeout = settings.training_statement_timeout
    if url.get_backend_name() == "sqlite":
        engine = _sqlite_read_only(url.database or "", settings)
    else:
        engine = sa.create_engine(url, poolclass=sa.pool.NullPool, connect_args={
            "connect_timeout": settings.training_connect_timeout,
            # Read-only and bounded from the first statement, whatever the role's defaults.
            "options": f"-c default_transaction_read_only=on -c statement_timeout={timeout}s",
        })
    try:
        try:
            connection = engine.connect()
        except sa.exc.SQLAlchemyError as exc:
            logger.warning("training source %r unreachable: %s", name, exc)
            raise SourceUnavailable(
                f"SQL source {name!r} could not be reached within "
                f"{settings.training_connect_timeout}s; try again later") from None
        with connection, connection.begin():
            if engine.dialect.name == "postgresql":
                connection.execute(sa.text("SET TRANSACTION READ ONLY"))
                connection.execute(sa.text(f"SET LOCAL statement_timeout = {timeout * 1000}"))
            yield connection
    finally:
        engine.dispose()


def _sqlite_read_only(path: str, settings: Settings) -> sa.Engine:
    """SQLite opened `mode=ro` (a missing file is an error, never created), with a deadline."""
    import sqlite3
    import time

    import sqlalchemy as sa

    timeout = settings.training_statement_timeout

    def connect() -> sqlite3.Connection:
        uri = f"file:{quote(os.path.abspath(path))}?mode=ro"
        connection = sqlite3.connect(uri, uri=True, timeout=settings.training_connect_timeout,
                                     check_same_thread=False)
        deadline = time.monotonic() + timeout
        # SQLite has no statement timeout: a progress handler interrupts a read past its deadline.
        connection.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)
        return connection

    return sa.create_engine("sqlite://", creator=connect, poolclass=sa.pool.NullPool)


def _reflect(connection: sa.Connection, checked: TrainingSource, table: str) -> sa.Table:
    import sqlalchemy as sa

    schema, _, name = table.rpartition(".")
    try:
        names = sa.inspect(connection).get_table_names(schema=schema or None)
    except sa.exc.SQLAlchemyError:
        names = []
    if name not in names:
        raise SourceRefused(f"source {checked.source!r} has no table named {table!r}")
    reflected = sa.Table(name, sa.MetaData(), schema=schema or None, autoload_with=connection)
    columns = {c.name.lower() for c in reflected.columns}
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise SourceRefused(f"table {table!r} of source {checked.source!r} has no column(s) "
                            f"{', '.join(missing)}")
    return reflected


def _check_query_tables(connection: sa.Connection, checked: TrainingSource, query: str) -> None:
    """Every table the query reads must be one the connection reflects (no system catalogs)."""
    import sqlalchemy as sa

    inspector = sa.inspect(connection)
    dialect = "sqlite" if connection.dialect.name == "sqlite" else "postgres"
    for schema, name in sorted(_query_tables(query, dialect=dialect), key=str):
        if name not in inspector.get_table_names(schema=schema):
            shown = f"{schema}.{name}" if schema else name
            raise SourceRefused(f"the query reads {shown!r}, which is not a table of source "
                                f"{checked.source!r}")


def _load_sql(settings: Settings, checked: TrainingSource) -> Catalog:
    import sqlalchemy as sa

    name = str(checked.source)
    with _read_only(settings, name) as connection:
        try:
            if checked.table:
                reflected = _reflect(connection, checked, checked.table)
                columns = {c.name.lower(): c for c in reflected.columns}
                result = connection.execute(sa.select(columns["category"], columns["name"]))
                rows: list[tuple[Any, Any]] = [(r[0], r[1]) for r in result]
            else:
                result = connection.execute(sa.text(checked.query or ""))
                keys = [key.lower() for key in result.keys()]
                missing = [c for c in REQUIRED_COLUMNS if c not in keys]
                if missing:
                    raise SourceRefused(f"the query returns no column(s) {', '.join(missing)}")
                i_category, i_name = keys.index("category"), keys.index("name")
                rows = [(r[i_category], r[i_name]) for r in result]
        except sa.exc.SQLAlchemyError as exc:
            logger.warning("training source %r: read failed: %s", name, exc)
            if _timed_out(exc):
                problem = (f"the read ran past the {settings.training_statement_timeout}s "
                           "statement timeout (TRAINING_STATEMENT_TIMEOUT)")
            else:
                problem = "the database refused the read; the worker's log has the details"
            raise CatalogError(checked.label, problem) from None
    records = ((number, _text(category), _text(product))
               for number, (category, product) in enumerate(rows, start=1))
    return build_catalog(records, source=checked.label)


def _timed_out(exc: Exception) -> bool:
    """PostgreSQL's query_canceled, or SQLite interrupted by the deadline's progress handler."""
    orig = getattr(exc, "orig", None)
    return getattr(orig, "sqlstate", None) == "57014" or str(orig) == "interrupted"


def _text(value: object) -> str:
    return "" if value is None else str(value)
