"""Training sources: only files in the training data folders, only named read-only SQL sources."""

from __future__ import annotations

import os
import socket
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic import SecretStr

from core.config import Settings
from core.data import CatalogError
from core.sources import (
    SourceRefused,
    SourceUnavailable,
    TrainingSource,
    check_select,
    check_source,
    load_source,
    resolve_training_file,
)

SECRET = "s3cr3t-line-that-must-never-show"
GOOD_CSV = "category,name\n" + "".join(
    f"{category},{category} producto {i}\n" for category in ("Pinturas", "Plomería")
    for i in range(6))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    root = tmp_path / "root"
    root.mkdir()
    return Settings(_env_file=None, data_dir=tmp_path / "data", training_data_dirs=[root],
                    training_queries=True, training_statement_timeout=5)


@pytest.fixture
def root(settings: Settings) -> Path:
    return settings.training_roots[0]


def _secret_file(tmp_path: Path) -> Path:
    outside = tmp_path / "outside.csv"
    outside.write_text(f"category,name\n{SECRET},{SECRET}\n")
    return outside


# -- files ----------------------------------------------------------------------------------------

def _symlink_out(root: Path, tmp_path: Path) -> str:
    (root / "link.csv").symlink_to(_secret_file(tmp_path))
    return "link.csv"


def _dir_symlink_out(root: Path, tmp_path: Path) -> str:
    _secret_file(tmp_path)
    (root / "sub").symlink_to(tmp_path)
    return "sub/outside.csv"


def _absolute_outside(root: Path, tmp_path: Path) -> str:
    return str(_secret_file(tmp_path))


def _dotdot(root: Path, tmp_path: Path) -> str:
    _secret_file(tmp_path)
    return "../outside.csv"


def _dotdot_inside(root: Path, tmp_path: Path) -> str:
    (root / "a").mkdir()
    (root / "b.csv").write_text(GOOD_CSV)
    return str(root / "a" / ".." / "b.csv")


def _fifo(root: Path, tmp_path: Path) -> str:
    os.mkfifo(root / "pipe.csv")
    return "pipe.csv"


def _socket(root: Path, tmp_path: Path) -> str:
    path = root / "sock.csv"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    server.close()
    return "sock.csv"


def _directory(root: Path, tmp_path: Path) -> str:
    (root / "folder.csv").mkdir()
    return "folder.csv"


def _device_link(root: Path, tmp_path: Path) -> str:
    (root / "zero.csv").symlink_to("/dev/zero")
    return "zero.csv"


def _proc_link(root: Path, tmp_path: Path) -> str:
    (root / "env.csv").symlink_to("/proc/self/environ")
    return "env.csv"


FILE_CASES: list[tuple[str, Callable[[Path, Path], str], str]] = [
    ("etc-passwd", lambda root, tmp: "/etc/passwd", "not a file in the training data folders"),
    ("proc-environ", lambda root, tmp: "/proc/self/environ",
     "not a file in the training data folders"),
    ("dev-zero", lambda root, tmp: "/dev/zero", "not a file in the training data folders"),
    ("absolute-outside", _absolute_outside, "not a file in the training data folders"),
    ("missing", lambda root, tmp: "missing.csv", "not a file in the training data folders"),
    ("dotdot", _dotdot, "'..' is not allowed"),
    ("dotdot-inside", _dotdot_inside, "'..' is not allowed"),
    ("symlink-out", _symlink_out, "not a file in the training data folders"),
    ("dir-symlink-out", _dir_symlink_out, "not a file in the training data folders"),
    ("symlink-to-proc", _proc_link, "not a file in the training data folders"),
    ("symlink-to-device", _device_link, "not a file in the training data folders"),
    ("fifo", _fifo, "is not a regular file"),
    ("socket", _socket, "is not a regular file"),
    ("directory", _directory, "is not a regular file"),
    ("http-url", lambda root, tmp: "http://example.com/catalog.csv", "URLs are not training"),
    ("https-url", lambda root, tmp: "https://example.com/catalog.csv", "URLs are not training"),
    ("file-url", lambda root, tmp: "file:///etc/passwd", "URLs are not training"),
    ("sqlite-url", lambda root, tmp: f"sqlite:///{tmp}/new.db", "database URL cannot be sent"),
    ("postgres-url", lambda root, tmp: "postgresql://postgres@127.0.0.1:5432/postgres",
     "database URL cannot be sent"),
    ("redis-port", lambda root, tmp: "postgresql://127.0.0.1:6379/x",
     "database URL cannot be sent"),
    ("nul", lambda root, tmp: "a\x00.csv", "NUL character"),
]


@pytest.mark.parametrize(("make", "problem"), [case[1:] for case in FILE_CASES],
                         ids=[case[0] for case in FILE_CASES])
def test_a_file_outside_the_folders_or_not_regular_is_refused(
    settings: Settings, root: Path, tmp_path: Path,
    make: Callable[[Path, Path], str], problem: str,
) -> None:
    data = make(root, tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())

    with pytest.raises(SourceRefused, match=problem) as refused:
        check_source(settings, data=data)

    assert SECRET not in str(refused.value)
    assert str(tmp_path / "outside.csv") not in str(refused.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing created


def test_a_file_in_a_folder_is_allowed_by_relative_or_absolute_path(
    settings: Settings, root: Path
) -> None:
    (root / "shop").mkdir()
    (root / "shop" / "catalog.csv").write_text(GOOD_CSV)
    (root / "alias.csv").symlink_to(root / "shop" / "catalog.csv")  # a link that stays inside

    for data in ("shop/catalog.csv", str(root / "shop" / "catalog.csv"), "alias.csv"):
        checked = check_source(settings, data=data)
        assert checked == TrainingSource(data=data)
        assert len(load_source(settings, checked, max_bytes=1 << 20)) == 12


def test_the_default_folders_are_the_sample_catalogs_and_data_dir_catalogs(
    tmp_path: Path,
) -> None:
    from core.data import SAMPLE_CATALOG

    settings = Settings(_env_file=None, data_dir=tmp_path)

    assert settings.training_roots == [SAMPLE_CATALOG.parent.resolve(),
                                       (tmp_path / "catalogs").resolve()]
    assert check_source(settings, data=str(SAMPLE_CATALOG)).data == str(SAMPLE_CATALOG)


@pytest.mark.parametrize(("value", "expected"), [
    ('["/a", "/b"]', ["/a", "/b"]), ("/a:/b", ["/a", "/b"]), ("/a", ["/a"])])
def test_training_data_dirs_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, value: str, expected: list[str]
) -> None:
    monkeypatch.setenv("TRAINING_DATA_DIRS", value)

    assert Settings(_env_file=None).training_data_dirs == [Path(p) for p in expected]


def test_a_symlink_swapped_in_after_the_check_is_refused_on_load(
    settings: Settings, root: Path, tmp_path: Path
) -> None:
    (root / "catalog.csv").write_text(GOOD_CSV)
    checked = check_source(settings, data="catalog.csv")
    (root / "catalog.csv").unlink()
    (root / "catalog.csv").symlink_to(_secret_file(tmp_path))

    with pytest.raises(SourceRefused, match="not a file in the training data folders"):
        load_source(settings, checked, max_bytes=1 << 20)


def test_a_file_over_the_size_limit_is_refused_unread(settings: Settings, root: Path) -> None:
    (root / "big.csv").write_text(GOOD_CSV * 10)

    with pytest.raises(SourceRefused, match="larger than the 100-byte limit"):
        load_source(settings, TrainingSource(data="big.csv"), max_bytes=100)


def test_a_bad_server_side_file_names_row_and_column_never_its_content(
    settings: Settings, root: Path
) -> None:
    (root / "bad.csv").write_text(f"category,name\n{SECRET},x\n,{SECRET}\n")

    with pytest.raises(CatalogError) as error:
        load_source(settings, TrainingSource(data="bad.csv"), max_bytes=1 << 20)

    assert str(error.value) == "bad.csv, row 3, column 'category': empty category"


def test_a_stored_job_with_a_url_is_refused_when_the_worker_loads_it(
    settings: Settings, tmp_path: Path
) -> None:
    """A job queued before the upgrade (params with a URL) is refused, not connected to."""
    legacy = TrainingSource.from_params({"data": f"sqlite:///{tmp_path}/x.db", "table": "t",
                                         "query": None})

    with pytest.raises(SourceRefused):
        load_source(settings, legacy, max_bytes=1 << 20)
    assert not (tmp_path / "x.db").exists()


# -- SQL sources (real SQLite files) -----------------------------------------------------------

@pytest.fixture
def erp(settings: Settings, tmp_path: Path) -> Path:
    """A SQLite file configured as source 'erp': products (trainable) and secrets."""
    path = tmp_path / "erp.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE products (category TEXT, name TEXT)")
        connection.executemany("INSERT INTO products VALUES (?, ?)", [
            (category, f"{category} producto {i}") for category in ("Pinturas", "Plomería")
            for i in range(6)])
        connection.execute("CREATE TABLE secrets (category TEXT, name TEXT)")
        connection.execute("INSERT INTO secrets VALUES (?, ?)", (SECRET, SECRET))
        connection.execute("CREATE TABLE blanks (category TEXT, name TEXT)")
        connection.execute("INSERT INTO blanks VALUES (?, NULL)", (SECRET,))
    connection.close()
    settings.training_sources = {"erp": SecretStr(f"sqlite:///{path}")}
    return path


def _tables(path: Path) -> list[tuple[str, int]]:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as connection:
        names = [r[0] for r in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        counts = [(n, connection.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0])
                  for n in names]
    connection.close()
    return counts


SQL_CASES = [
    ("unknown-source", {"source": "crm", "table": "products"}, "no SQL source named 'crm'"),
    ("unknown-table", {"source": "erp", "table": "prices"}, "has no table named 'prices'"),
    ("system-table", {"source": "erp", "table": "sqlite_master"}, "has no table named"),
    ("no-table-nor-query", {"source": "erp"}, "needs a 'table'"),
    ("drop", {"source": "erp", "query": "DROP TABLE secrets"}, "must be a SELECT"),
    ("delete", {"source": "erp", "query": "DELETE FROM products"}, "must be a SELECT"),
    ("insert", {"source": "erp", "query": "INSERT INTO products VALUES ('a', 'b')"},
     "must be a SELECT"),
    ("update", {"source": "erp", "query": "UPDATE products SET name = 'x'"}, "must be a SELECT"),
    ("attach", {"source": "erp", "query": "ATTACH DATABASE 'x.db' AS x"}, "must be a SELECT"),
    ("pragma", {"source": "erp", "query": "PRAGMA writable_schema = 1"}, "must be a SELECT"),
    ("two-statements", {"source": "erp", "query": "SELECT category, name FROM products; "
                                                  "DROP TABLE secrets"}, "one SELECT statement"),
    ("select-into", {"source": "erp", "query": "SELECT category, name INTO copy FROM products"},
     "may only read"),
    ("cte-delete", {"source": "erp", "query": "WITH d AS (DELETE FROM secrets RETURNING *) "
                                              "SELECT category, name FROM d"}, "may only read"),
    ("system-catalog", {"source": "erp", "query": "SELECT name AS category, sql AS name "
                                                  "FROM sqlite_master"},
     "'sqlite_master', which is not a table"),
    ("file-function", {"source": "erp", "query": "SELECT readfile('/etc/passwd') AS category, "
                                                 "name FROM products"}, "may not call readfile"),
    ("not-sql", {"source": "erp", "query": "SELECT FROM WHERE ((("}, "not SQL"),
]


@pytest.mark.parametrize(("request_", "problem"), [case[1:] for case in SQL_CASES],
                         ids=[case[0] for case in SQL_CASES])
def test_a_sql_source_request_that_could_write_or_escape_is_refused(
    settings: Settings, erp: Path, tmp_path: Path, request_: dict[str, str], problem: str
) -> None:
    before = _tables(erp)
    files = sorted(p.name for p in tmp_path.iterdir())

    with pytest.raises(SourceRefused, match=problem) as refused:
        check_source(settings, **request_)

    assert SECRET not in str(refused.value)
    assert _tables(erp) == before  # nothing dropped, inserted or deleted
    assert sorted(p.name for p in tmp_path.iterdir()) == files  # nothing created


def test_queries_are_refused_when_the_setting_is_off(settings: Settings, erp: Path) -> None:
    settings.training_queries = False

    with pytest.raises(SourceRefused, match="queries are turned off"):
        check_source(settings, source="erp", query="SELECT category, name FROM products")


def test_a_named_table_and_a_select_are_read(settings: Settings, erp: Path) -> None:
    by_table = load_source(settings, check_source(settings, source="erp", table="products"),
                           max_bytes=0)
    by_query = load_source(settings, check_source(
        settings, source="erp",
        query="WITH p AS (SELECT * FROM products) SELECT category, name FROM p "
              "WHERE name LIKE 'Pinturas%' OR category = 'Plomería'"), max_bytes=0)

    assert len(by_table) == len(by_query) == 12
    assert by_table.source == "source 'erp' table products"


def test_a_missing_sqlite_file_is_unavailable_and_never_created(
    settings: Settings, tmp_path: Path
) -> None:
    settings.training_sources = {"erp": SecretStr(f"sqlite:///{tmp_path}/missing.db")}

    with pytest.raises(SourceUnavailable, match="could not be reached"):
        check_source(settings, source="erp", table="products")
    assert not (tmp_path / "missing.db").exists()


def test_a_bad_database_row_names_the_row_and_column_never_its_content(
    settings: Settings, erp: Path
) -> None:
    with pytest.raises(CatalogError) as error:
        load_source(settings, check_source(settings, source="erp", table="blanks"), max_bytes=0)

    assert str(error.value) == "source 'erp' table blanks, row 1, column 'name': " \
                               "empty product name"


def test_a_query_that_fails_in_the_database_names_no_driver_or_backend(
    settings: Settings, erp: Path
) -> None:
    query = "SELECT category, name FROM products WHERE no_such_column = 1"

    with pytest.raises(CatalogError) as error:
        load_source(settings, TrainingSource(source="erp", query=query), max_bytes=0)

    message = str(error.value).lower()
    assert "the database refused the read" in message
    assert not any(word in message for word in ("sqlite", "no_such_column", "operational",
                                                "sqlalchemy", str(erp).lower()))


def test_a_read_past_the_statement_timeout_is_stopped(settings: Settings, erp: Path) -> None:
    settings.training_statement_timeout = 1
    endless = ("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) "
               "SELECT 'a' AS category, 'b' AS name FROM n WHERE i < 0")

    with pytest.raises(CatalogError, match="ran past the 1s statement timeout"):
        load_source(settings, check_source(settings, source="erp", query=endless), max_bytes=0)


@pytest.mark.parametrize("url", ["mysql://x@db/erp", "http://db/erp", "not a url"])
def test_only_postgresql_and_sqlite_sources_can_be_configured(url: str) -> None:
    with pytest.raises(ValueError, match="only postgresql and sqlite"):
        Settings(_env_file=None, training_sources={"erp": url})


def test_check_select_allows_a_plain_select() -> None:
    check_select("SELECT category, name FROM products WHERE name <> ''", dialect="postgres")
    with pytest.raises(SourceRefused, match="may not call pg_read_file"):
        check_select("SELECT pg_read_file('/etc/passwd') AS category, name FROM products",
                     dialect="postgres")


def test_resolve_refuses_when_no_folder_is_configured() -> None:
    with pytest.raises(SourceRefused, match="no training data folders"):
        resolve_training_file("catalog.csv", [])
