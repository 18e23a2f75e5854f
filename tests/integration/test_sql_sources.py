"""SQL training sources against the real PostgreSQL: read-only, bounded in time, nothing leaked."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from pydantic import SecretStr

from core.config import Settings
from core.data import CatalogError
from core.sources import (
    SourceRefused,
    SourceUnavailable,
    TrainingSource,
    check_source,
    load_source,
)
from tests.fixtures.services import REDIS_PORT, create_database

pytestmark = pytest.mark.integration

SECRET = "pg-secret-row-that-must-never-show"


@pytest.fixture(scope="module")
def erp_url() -> Iterator[str]:
    """A fresh database: products (trainable), secrets, and functions that write or stall."""
    url, drop = create_database("categorizer_src")
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(sa.text("CREATE TABLE products (category text, name text)"))
        connection.execute(sa.text(
            "INSERT INTO products SELECT c, c || ' producto ' || i "
            "FROM unnest(ARRAY['Pinturas', 'Plomería']) c, generate_series(1, 6) i"))
        connection.execute(sa.text("CREATE TABLE secrets (category text, name text)"))
        connection.execute(sa.text("INSERT INTO secrets VALUES (:s, :s)"), {"s": SECRET})
        connection.execute(sa.text(
            "CREATE FUNCTION wipe() RETURNS text AS $$ BEGIN DELETE FROM secrets; "
            "RETURN 'x'; END $$ LANGUAGE plpgsql"))
        connection.execute(sa.text(
            "CREATE FUNCTION stall() RETURNS text AS $$ BEGIN PERFORM pg_sleep(30); "
            "RETURN 'x'; END $$ LANGUAGE plpgsql"))
        connection.execute(sa.text("CREATE SEQUENCE counter"))
    engine.dispose()
    yield url
    drop()


@pytest.fixture
def settings(erp_url: str, tmp_path: Path) -> Settings:
    return Settings(
        _env_file=None, data_dir=tmp_path, training_queries=True,
        training_connect_timeout=2, training_statement_timeout=2,
        training_sources={"erp": SecretStr(erp_url),
                          # Redis answers TCP but never speaks PostgreSQL: the 130 s hang.
                          "redis": SecretStr(f"postgresql+psycopg://x@127.0.0.1:{REDIS_PORT}/x")})


def _state(url: str) -> tuple[int, int, list[str]]:
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        products = connection.execute(sa.text("SELECT count(*) FROM products")).scalar_one()
        secrets = connection.execute(sa.text("SELECT count(*) FROM secrets")).scalar_one()
        tables = connection.execute(sa.text(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")).scalars()
        state = (products, secrets, list(tables))
    engine.dispose()
    return state


REFUSED = [
    ("drop", "DROP TABLE secrets", "must be a SELECT"),
    ("truncate", "TRUNCATE secrets", "must be a SELECT"),
    ("multi", "SELECT category, name FROM products; DELETE FROM secrets", "one SELECT"),
    ("cte-delete", "WITH d AS (DELETE FROM secrets RETURNING *) SELECT category, name FROM d",
     "may only read"),
    ("select-into", "SELECT category, name INTO stolen FROM secrets", "may only read"),
    ("read-file", "SELECT pg_read_file('/etc/passwd') AS category, name FROM products",
     "may not call pg_read_file"),
    ("settings", "SELECT current_setting('data_directory') AS category, name FROM products",
     "may not call current_setting"),
    ("catalog", "SELECT usename AS category, passwd AS name FROM pg_shadow",
     "'pg_shadow', which is not a table"),
    ("other-schema", "SELECT table_name AS category, table_schema AS name "
                     "FROM information_schema.tables", "which is not a table"),
]


@pytest.mark.parametrize(("query", "problem"), [case[1:] for case in REFUSED],
                         ids=[case[0] for case in REFUSED])
def test_a_query_that_is_not_one_read_of_the_sources_tables_is_refused(
    settings: Settings, erp_url: str, query: str, problem: str
) -> None:
    before = _state(erp_url)

    with pytest.raises(SourceRefused, match=problem) as refused:
        check_source(settings, source="erp", query=query)

    assert SECRET not in str(refused.value)
    assert _state(erp_url) == before


@pytest.mark.parametrize("query", [
    "SELECT wipe() AS category, name FROM products",
    "SELECT nextval('counter')::text AS category, name FROM products",
], ids=["function-that-deletes", "sequence"])
def test_a_select_that_writes_is_stopped_by_the_read_only_transaction(
    settings: Settings, erp_url: str, query: str
) -> None:
    before = _state(erp_url)

    with pytest.raises(CatalogError) as error:
        load_source(settings, check_source(settings, source="erp", query=query), max_bytes=0)

    message = str(error.value)
    assert "the database refused the read" in message
    assert not any(word in message.lower() for word in ("postgres", "psycopg", "read-only",
                                                        "sqlstate", "127.0.0.1", SECRET))
    assert _state(erp_url) == before  # secrets still there


def test_a_read_past_the_statement_timeout_is_cancelled(settings: Settings) -> None:
    stall = "SELECT stall() AS category, name FROM products"
    started = time.monotonic()

    with pytest.raises(CatalogError, match="ran past the 2s statement timeout"):
        load_source(settings, TrainingSource(source="erp", query=stall), max_bytes=0)
    assert time.monotonic() - started < 15


def test_a_port_that_never_answers_is_given_up_after_the_connect_timeout(
    settings: Settings
) -> None:
    started = time.monotonic()

    with pytest.raises(SourceUnavailable, match="could not be reached within 2s") as error:
        check_source(settings, source="redis", table="products")

    assert time.monotonic() - started < 10
    assert str(REDIS_PORT) not in str(error.value)


def test_a_table_and_a_select_of_the_source_are_read(settings: Settings) -> None:
    table = load_source(settings, check_source(settings, source="erp", table="products"),
                        max_bytes=0)
    query = load_source(settings, check_source(
        settings, source="erp",
        query="SELECT lower(category) AS category, name FROM public.products"), max_bytes=0)

    assert len(table) == len(query) == 12
    assert set(query.categories) == {"pinturas", "plomería"}
    with pytest.raises(SourceRefused, match="has no table named 'secret'"):
        check_source(settings, source="erp", table="secret")
