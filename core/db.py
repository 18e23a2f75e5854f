"""The job database: engine, tables, a lock across processes, and the schema's migrations.

SQLite embedded, PostgreSQL in production. The tables here are the schema as it is now; the
migrations under `core/migrations/versions` are how a database gets there, whatever release
created it (Alembic, with its revision kept in `categorizer_schema_version`). Every process
runs `upgrade()` at start-up, under a lock, so the first one migrates and the others find it done.
"""

from __future__ import annotations

import datetime as dt
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, overload

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from core.errors import StoreUnavailable

# Not Alembic's default `alembic_version`: the job store may share a database with other
# applications that keep their own (MLflow's tracking store does).
VERSION_TABLE = "categorizer_schema_version"
MIGRATIONS = Path(__file__).parent / "migrations"

metadata = sa.MetaData()

jobs_table = sa.Table(
    "categorizer_jobs", metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("state", sa.String(16), nullable=False, index=True),
    sa.Column("stage", sa.String(64)),
    sa.Column("params", sa.JSON, nullable=False),
    sa.Column("result", sa.JSON),
    sa.Column("error", sa.Text),
    sa.Column("model_version", sa.Integer),
    sa.Column("total_rows", sa.Integer),
    sa.Column("n_chunks", sa.Integer),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("task_id", sa.String(64)),
    sa.Column("idempotency_key", sa.String(200), unique=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("started_at", sa.DateTime(timezone=True)),
    sa.Column("finished_at", sa.DateTime(timezone=True)),
    # The last sign of life: every state or stage change, and every chunk result stored.
    sa.Column("updated_at", sa.DateTime(timezone=True)),
    # How often core.sweeper sent the job again after its messages were lost.
    sa.Column("resends", sa.Integer, nullable=False, default=0, server_default="0"),
)

uploads_table = sa.Table(
    "categorizer_uploads", metadata,
    sa.Column("job_id", sa.String(32), sa.ForeignKey("categorizer_jobs.id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("content", sa.LargeBinary, nullable=False),
)

chunks_table = sa.Table(
    "categorizer_batch_chunks", metadata,
    sa.Column("job_id", sa.String(32), sa.ForeignKey("categorizer_jobs.id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("idx", sa.Integer, primary_key=True),
    sa.Column("first_row", sa.Integer, nullable=False),
    sa.Column("n_rows", sa.Integer, nullable=False),
    # [id, name, error] per row, in core/row_blob.py's frames
    sa.Column("rows", sa.LargeBinary, nullable=False),
)

results_table = sa.Table(
    "categorizer_batch_results", metadata,
    sa.Column("job_id", sa.String(32), sa.ForeignKey("categorizer_jobs.id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("idx", sa.Integer, primary_key=True),
    sa.Column("n_rows", sa.Integer, nullable=False),
    # [category, confidence, error, decision, top_k, known, filed_under] per row, in
    # core/row_blob.py's frames with the columns filters read; results stored before decisions
    # existed hold the first three only.
    sa.Column("rows", sa.LargeBinary, nullable=False),
)

# Who runs a batch chunk or a job's own task now, until when (core/leases.py).
leases_table = sa.Table(
    "categorizer_leases", metadata,
    sa.Column("job_id", sa.String(32), sa.ForeignKey("categorizer_jobs.id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("idx", sa.Integer, primary_key=True),  # the chunk; -1: the job's own task
    sa.Column("task_id", sa.String(64), nullable=False),
    sa.Column("worker", sa.String(200)),
    sa.Column("pid", sa.Integer),
    # NULL: sent again, no worker has taken it yet.
    sa.Column("expires_at", sa.DateTime(timezone=True), index=True),
    sa.Column("resends", sa.Integer, nullable=False, default=0, server_default="0"),
)

# Monitoring (core/monitoring_store.py): live drift profiles and the challenger's shadow record.
drift_profiles_table = sa.Table(
    "categorizer_drift_profiles", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("model_version", sa.Integer, nullable=False, index=True),
    sa.Column("source", sa.String(16), nullable=False),  # "sync" or "batch"
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("rows", sa.Integer, nullable=False),
    sa.Column("profile", sa.JSON, nullable=False),
)

shadow_tallies_table = sa.Table(
    "categorizer_shadow_tallies", metadata,
    sa.Column("challenger_version", sa.Integer, primary_key=True),
    sa.Column("champion_version", sa.Integer, primary_key=True),
    sa.Column("compared", sa.Integer, nullable=False),
    sa.Column("agreed", sa.Integer, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

shadow_disagreements_table = sa.Table(
    "categorizer_shadow_disagreements", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("challenger_version", sa.Integer, nullable=False, index=True),
    sa.Column("champion_version", sa.Integer, nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("champion_category", sa.Text, nullable=False),
    sa.Column("challenger_category", sa.Text, nullable=False),
    sa.Column("champion_confidence", sa.Float),
    sa.Column("challenger_confidence", sa.Float),
    sa.Column("source", sa.String(16), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

# The review loop (core/review.py): batch rows the model sent to a person, the decisions taken
# on them, labels (reviewed rows and the catalog rows training read), and the categories a
# reviewer may name.
review_items_table = sa.Table(
    "categorizer_review_items", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("job_id", sa.String(32), sa.ForeignKey("categorizer_jobs.id", ondelete="CASCADE"),
              nullable=False),
    sa.Column("row", sa.Integer, nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("category", sa.Text, nullable=False),  # what the model proposed
    sa.Column("confidence", sa.Float, nullable=False),
    sa.Column("top_k", sa.JSON, nullable=False),
    sa.Column("model_version", sa.Integer),  # the version that proposed it
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("decided_category", sa.Text),
    sa.Column("decided_at", sa.DateTime(timezone=True)),
    sa.Column("decided_by", sa.String(16)),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("job_id", "row", name="uq_review_items_job_row"),
    # The queue is read least confident first, under any one filter: each has its index.
    sa.Index("ix_review_items_confidence", "confidence", "id"),
    sa.Index("ix_review_items_state_confidence", "state", "confidence", "id"),
    sa.Index("ix_review_items_job_confidence", "job_id", "state", "confidence"),
    sa.Index("ix_review_items_category_confidence", "category", "state", "confidence"),
)

review_decisions_table = sa.Table(
    "categorizer_review_decisions", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("item_id", sa.Integer,
              sa.ForeignKey("categorizer_review_items.id", ondelete="CASCADE"),
              nullable=False, index=True),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("category", sa.Text),
    sa.Column("decided_by", sa.String(16), nullable=False),
    sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("model_version", sa.Integer),
)

labels_table = sa.Table(
    "categorizer_labels", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("name_key", sa.Text, nullable=False, index=True),  # core.data.duplicate_key
    sa.Column("category", sa.Text, nullable=False),
    sa.Column("source", sa.String(16), nullable=False),
    # Labels outlive the jobs they came from (jobs expire after JOB_TTL_DAYS): no foreign key.
    sa.Column("job_id", sa.String(32), index=True),
    sa.Column("model_version", sa.Integer),
    sa.Column("decided_by", sa.String(16)),
    sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False, index=True),
    # A review label belongs to one item: deciding the item again replaces it.
    sa.Column("item_id", sa.Integer,
              sa.ForeignKey("categorizer_review_items.id", ondelete="SET NULL"), unique=True),
    sa.Index("ix_labels_source_id", "source", "id"),
)

categories_table = sa.Table(
    "categorizer_categories", metadata,
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("source", sa.String(16), nullable=False),  # "model" or "admin"
    sa.Column("model_version", sa.Integer),  # the first version seen knowing it
    sa.Column("added_by", sa.String(16)),
    sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
)

# Rows that belong to a job, deleted with it (children first; an item's decisions go with it,
# and its label stays: labels outlive the jobs they came from).
JOB_CHILD_TABLES = (review_items_table, leases_table, results_table, chunks_table,
                    uploads_table)


def create_db_engine(url: str, *, poolclass: type[sa.pool.Pool] | None = None) -> Engine:
    """An engine with settings that suit many short transactions from many processes.

    `poolclass=NullPool` keeps no connection open between calls: for a process that forks
    children later (a worker's main process), which must inherit no connection.
    """
    pooling: dict[str, Any] = {"poolclass": poolclass} if poolclass is not None else {}
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"timeout": 30}, **pooling)

        @sa.event.listens_for(engine, "connect")
        def _sqlite_pragmas(connection: Any, _record: Any) -> None:
            cursor = connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")  # readers never wait for the writer
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    connect_args: dict[str, Any] = {}
    if url.startswith("postgresql"):
        # A database host that vanishes (a cut link, not a refused connection) must fail calls
        # in seconds, not after TCP's retransmissions (minutes): a worker's lease heartbeat
        # and the API's 503 depend on it.
        connect_args = {"connect_timeout": 5, "keepalives": 1, "keepalives_idle": 10,
                        "keepalives_interval": 5, "keepalives_count": 3,
                        "tcp_user_timeout": 15_000}
    if poolclass is None:
        pooling = {"pool_pre_ping": True, "pool_size": 5, "max_overflow": 10}
    return sa.create_engine(url, connect_args=connect_args, **pooling)


def _unavailable(exc: sa.exc.OperationalError) -> StoreUnavailable:
    return StoreUnavailable(f"job database unavailable: {exc.orig}")


@contextmanager
def transaction(engine: Engine) -> Iterator[sa.Connection]:
    """A connection in a transaction; a database that cannot be reached is StoreUnavailable."""
    try:
        with engine.begin() as connection:
            yield connection
    except sa.exc.OperationalError as exc:
        raise _unavailable(exc) from exc


def connect(engine: Engine) -> sa.Connection:
    """A connection (for streaming reads); a database that cannot be reached is StoreUnavailable."""
    try:
        return engine.connect()
    except sa.exc.OperationalError as exc:
        raise _unavailable(exc) from exc


def ping(engine: Engine) -> None:
    with transaction(engine) as connection:
        connection.execute(sa.text("SELECT 1"))


@contextmanager
def cross_process_lock(engine: Engine, name: str) -> Iterator[None]:
    """A lock held across processes (and hosts, on PostgreSQL) for the block's duration."""
    if engine.dialect.name == "postgresql":
        key = zlib.crc32(name.encode())
        with connect(engine) as connection:
            try:
                connection.execute(sa.text("SELECT pg_advisory_lock(:key)"), {"key": key})
            except sa.exc.OperationalError as exc:
                raise _unavailable(exc) from exc
            try:
                yield
            finally:
                connection.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": key})
                connection.commit()
        return
    # SQLite is single-host by nature: a file lock beside the database file does.
    import fcntl

    database = engine.url.database or ":memory:"
    path = (f"{database}.{name}.lock" if database != ":memory:"
            else f"/tmp/categorizer.{name}.lock")
    try:
        handle = open(path, "a+")  # noqa: SIM115 (closed below, after the unlock)
    except OSError as exc:
        raise StoreUnavailable(f"job database unavailable: {exc}") from exc
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def import_for(url: str) -> None:
    """Import what `upgrade()` and an engine for `url` will use (Alembic, the database driver)
    now rather than on first use: a prefork worker's main process calls this before its pool
    forks (worker/warmup.py), so no pool process imports them again."""
    import alembic.command  # noqa: F401
    import alembic.config  # noqa: F401
    import alembic.runtime.migration  # noqa: F401
    import alembic.script  # noqa: F401

    sa.engine.make_url(url).get_dialect().import_dbapi()


def upgrade(engine: Engine) -> None:
    """Bring the database to the current schema (every process calls this at start-up).

    A database made before the migration history began (no version table) runs every migration
    too: the first ones create only what is missing.

    A database already at the newest migration is left as it is without taking the lock. So a
    process that starts while another holds it does not wait: not even when the holder was on a
    host that was lost, whose session PostgreSQL keeps (with the lock) until it notices the host
    is gone, two hours with the server's default TCP keepalive.
    """
    from alembic import command
    from alembic.config import Config

    if current_revision(engine) == head_revision():
        return
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with cross_process_lock(engine, "schema"), transaction(engine) as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def current_revision(engine: Engine) -> str | None:
    """The migration the database is at, or None before any ran."""
    from alembic.runtime.migration import MigrationContext

    with transaction(engine) as connection:
        context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
        return context.get_current_revision()


def head_revision() -> str:
    """The newest migration: where `upgrade()` brings every database."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    assert head is not None
    return head


@overload
def as_utc(value: dt.datetime) -> dt.datetime: ...
@overload
def as_utc(value: dt.datetime | None) -> dt.datetime | None: ...
def as_utc(value: dt.datetime | None) -> dt.datetime | None:
    """A stored time as an aware UTC datetime: SQLite hands back naive ones, and everything
    this project stores is UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value
