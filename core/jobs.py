"""Job records and batch rows, in a real database: SQLite embedded, PostgreSQL in production.

Celery reports every unknown task id as PENDING, so the truth about a job lives here, written
before its task is enqueued. Batch rows are stored a chunk per database row (the same chunks
the workers process), so a million-row import is a few hundred inserts, and a chunk processed
twice (a redelivered message) writes its result once: the result's primary key is the chunk.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple, overload

import sqlalchemy as sa
from sqlalchemy.engine import Engine

JobKind = Literal["training", "batch"]
JobState = Literal["queued", "running", "succeeded", "failed", "cancelled"]
TERMINAL_STATES = ("succeeded", "failed", "cancelled")
ACTIVE_STATES = ("queued", "running")

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
    sa.Column("rows", sa.LargeBinary, nullable=False),  # zlib(JSON [[id, name, error], ...])
)

results_table = sa.Table(
    "categorizer_batch_results", metadata,
    sa.Column("job_id", sa.String(32), sa.ForeignKey("categorizer_jobs.id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("idx", sa.Integer, primary_key=True),
    sa.Column("n_rows", sa.Integer, nullable=False),
    # zlib(JSON [[category, confidence, error, decision, top_k, known], ...]); results stored
    # before decisions existed hold the first three only.
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


class JobNotFound(LookupError):
    """No job with that id (never created, or expired)."""


class EmptyBatch(ValueError):
    """A batch with no rows at all."""


class StoreUnavailable(RuntimeError):
    """The job database cannot be reached."""


@dataclass(frozen=True)
class Job:
    id: str
    kind: str
    state: str
    stage: str | None
    params: dict[str, Any]
    result: dict[str, Any] | None
    error: str | None
    model_version: int | None
    total_rows: int | None
    n_chunks: int | None
    rows_done: int
    attempts: int
    task_id: str | None
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    updated_at: dt.datetime | None = None
    resends: int = 0

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL_STATES


class InputRow(NamedTuple):
    """One row of a batch import: the caller's id, the name, and an error found on intake.

    A named tuple: a million of them are made per million-row import, and they pack to JSON as
    they are.
    """

    id: str | None
    name: str
    error: str | None = None


class RowResult(NamedTuple):
    """What categorizing one input row gave (core/batch.py), stored as it is."""

    category: str | None
    confidence: float | None
    error: str | None
    decision: str | None = None  # "auto" | "review"; None for a row in error
    top_k: list[tuple[str, float]] | None = None
    known: bool | None = None
    filed_under: str | None = None  # category paths: the deepest level sure to be filed


@dataclass(frozen=True)
class ResultRow:
    row: int
    id: str | None
    name: str
    category: str | None
    confidence: float | None
    error: str | None
    decision: str | None = None
    top_k: list[tuple[str, float]] = field(default_factory=list)
    known: bool | None = None
    filed_under: str | None = None


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _pack(rows: list[Any]) -> bytes:
    """Rows (lists or tuples) as compressed JSON arrays."""
    return zlib.compress(json.dumps(rows, ensure_ascii=False, separators=(",", ":")).encode(), 1)


def _unpack(blob: bytes) -> list[list[Any]]:
    return json.loads(zlib.decompress(blob))


def create_db_engine(url: str) -> Engine:
    """An engine with settings that suit many short transactions from many processes."""
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"timeout": 30})

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
    return sa.create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10,
                            connect_args=connect_args)


class JobStore:
    """Jobs, uploads and batch chunks over one SQLAlchemy engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def from_url(cls, url: str) -> JobStore:
        return cls(create_db_engine(url))

    def create_schema(self) -> None:
        """Create the tables, and add the columns a store made by an earlier version lacks."""
        with self._begin() as connection:
            metadata.create_all(connection)
        try:
            with self._begin() as connection:
                _add_missing_columns(connection)
        except (sa.exc.ProgrammingError, StoreUnavailable):
            with self._begin() as connection:  # another process added them first
                _add_missing_columns(connection)

    @contextmanager
    def _begin(self) -> Iterator[sa.Connection]:
        try:
            with self.engine.begin() as connection:
                yield connection
        except sa.exc.OperationalError as exc:
            raise StoreUnavailable(f"job database unavailable: {exc.orig}") from exc

    @contextmanager
    def lock(self, name: str) -> Iterator[None]:
        """A lock held across processes (and hosts, on PostgreSQL) for the block's duration."""
        if self.engine.dialect.name == "postgresql":
            key = zlib.crc32(name.encode())
            with self.engine.connect() as connection:
                connection.execute(sa.text("SELECT pg_advisory_lock(:key)"), {"key": key})
                try:
                    yield
                finally:
                    connection.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": key})
                    connection.commit()
            return
        # SQLite is single-host by nature: a file lock beside the database file does.
        import fcntl

        database = self.engine.url.database or ":memory:"
        path = (f"{database}.{name}.lock" if database != ":memory:"
                else f"/tmp/categorizer.{name}.lock")
        with open(path, "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def ping(self) -> None:
        with self._begin() as connection:
            connection.execute(sa.text("SELECT 1"))

    # -- jobs ----------------------------------------------------------------------------------

    def create_job(
        self, *, kind: JobKind, params: dict[str, Any], idempotency_key: str | None = None
    ) -> tuple[Job, bool]:
        """Record a new queued job; with an idempotency key already used, return that job.

        Returns (job, created).
        """
        if idempotency_key is not None:
            existing = self._by_key(idempotency_key)
            if existing is not None:
                return existing, False
        job_id = uuid.uuid4().hex
        try:
            with self._begin() as connection:
                _insert_job(connection, job_id, kind=kind, params=params, key=idempotency_key)
        except sa.exc.IntegrityError as exc:
            return self._race_winner(idempotency_key, exc), False
        return self.get(job_id), True

    def _race_winner(self, key: str | None, error: sa.exc.IntegrityError) -> Job:
        """The job a concurrent request with the same idempotency key created first; `error`
        is raised again when no such job explains it."""
        existing = self._by_key(key) if key else None
        if existing is None:
            raise error
        return existing

    def find_by_key(self, key: str) -> Job | None:
        """The job created with this idempotency key, if any."""
        return self._by_key(key)

    def delete(self, job_id: str) -> None:
        """Remove a job and everything stored for it."""
        with self._begin() as connection:
            for table in (leases_table, results_table, chunks_table, uploads_table):
                connection.execute(table.delete().where(table.c.job_id == job_id))
            connection.execute(jobs_table.delete().where(jobs_table.c.id == job_id))

    def _by_key(self, key: str) -> Job | None:
        with self._begin() as connection:
            row = connection.execute(
                sa.select(jobs_table.c.id).where(jobs_table.c.idempotency_key == key)
            ).first()
        return self.get(row.id) if row else None

    def get(self, job_id: str) -> Job:
        with self._begin() as connection:
            row = connection.execute(
                sa.select(jobs_table).where(jobs_table.c.id == job_id)
            ).mappings().first()
            if row is None:
                raise JobNotFound(job_id)
            done = 0
            if row["kind"] == "batch":
                done = connection.execute(
                    sa.select(sa.func.coalesce(sa.func.sum(results_table.c.n_rows), 0))
                    .where(results_table.c.job_id == job_id)
                ).scalar_one()
        return _job(row, int(done))

    def list_jobs(self, *, kind: str | None = None, state: str | None = None,
                  offset: int = 0, limit: int = 50) -> tuple[int, list[Job]]:
        """A page of jobs, newest first, filtered by kind and state: (total matching, page)."""
        filters = []
        if kind is not None:
            filters.append(jobs_table.c.kind == kind)
        if state is not None:
            filters.append(jobs_table.c.state == state)
        done = (sa.select(results_table.c.job_id,
                          sa.func.sum(results_table.c.n_rows).label("rows_done"))
                .group_by(results_table.c.job_id).subquery())
        with self._begin() as connection:
            total = connection.execute(
                sa.select(sa.func.count()).select_from(jobs_table).where(*filters)
            ).scalar_one()
            rows = connection.execute(
                sa.select(jobs_table, sa.func.coalesce(done.c.rows_done, 0).label("rows_done"))
                .outerjoin(done, done.c.job_id == jobs_table.c.id).where(*filters)
                .order_by(jobs_table.c.created_at.desc(), jobs_table.c.id)
                .offset(offset).limit(limit)
            ).mappings().all()
        return int(total), [_job(row, int(row["rows_done"])) for row in rows]

    def _update(self, job_id: str, *, only_from: Iterable[str], where: Iterable[Any] = (),
                **values: Any) -> bool:
        with self._begin() as connection:
            result = connection.execute(
                jobs_table.update()
                .where(jobs_table.c.id == job_id, jobs_table.c.state.in_(list(only_from)),
                       *where)
                .values(updated_at=_now(), **values)
            )
        return bool(result.rowcount)

    def start(self, job_id: str, *, stage: str | None = None,
              model_version: int | None = None) -> bool:
        """Move a queued (or retried running) job to running; False if it has ended."""
        values: dict[str, Any] = {"state": "running", "started_at": _now(),
                                  "attempts": jobs_table.c.attempts + 1}
        if stage is not None:
            values["stage"] = stage
        if model_version is not None:
            values["model_version"] = model_version
        return self._update(job_id, only_from=ACTIVE_STATES, **values)

    def set_task_id(self, job_id: str, task_id: str) -> None:
        with self._begin() as connection:
            connection.execute(jobs_table.update().where(jobs_table.c.id == job_id)
                               .values(task_id=task_id))

    def set_stage(self, job_id: str, stage: str) -> bool:
        return self._update(job_id, only_from=ACTIVE_STATES, stage=stage)

    def succeed(self, job_id: str, result: dict[str, Any], *,
                model_version: int | None = None) -> bool:
        values: dict[str, Any] = {"state": "succeeded", "result": result, "stage": "done",
                                  "finished_at": _now()}
        if model_version is not None:
            values["model_version"] = model_version
        return self._update(job_id, only_from=ACTIVE_STATES, **values)

    def fail(self, job_id: str, error: str) -> bool:
        return self._update(job_id, only_from=ACTIVE_STATES, **_failed(error))

    def cancel(self, job_id: str) -> bool:
        """Cancel a job that has not ended; False if it already had."""
        self.get(job_id)
        return self._update(job_id, only_from=ACTIVE_STATES, state="cancelled",
                            finished_at=_now())

    def is_cancelled(self, job_id: str) -> bool:
        return self.get(job_id).state == "cancelled"

    # -- jobs nothing is heard of (core.sweeper) -------------------------------------------------

    def stale_jobs(self, *, older_than: dt.timedelta) -> list[Job]:
        """Queued or running jobs with no sign of life (`updated_at`) for `older_than`."""
        with self._begin() as connection:
            ids = list(connection.execute(
                sa.select(jobs_table.c.id)
                .where(jobs_table.c.state.in_(ACTIVE_STATES), _silent_since(_now() - older_than))
                .order_by(jobs_table.c.created_at)
            ).scalars())
        return [self.get(job_id) for job_id in ids]

    def claim_resend(self, job: Job, task_id: str, *, older_than: dt.timedelta) -> bool:
        """Record that `job` is being sent again as task `task_id`; False when it has shown a
        sign of life since, ended, or another sweeper claimed it first (one claim per resend)."""
        return self._update(job.id, only_from=ACTIVE_STATES, where=_as_read(job, older_than),
                            task_id=task_id, resends=jobs_table.c.resends + 1)

    def give_up(self, job: Job, error: str, *, older_than: dt.timedelta) -> bool:
        """Fail `job` if it is still silent and was not sent again meanwhile."""
        return self._update(job.id, only_from=ACTIVE_STATES, where=_as_read(job, older_than),
                            **_failed(error))

    def delete_expired(self, *, older_than: dt.timedelta) -> int:
        """Delete ended jobs (with their rows) finished longer ago than `older_than`."""
        cutoff = _now() - older_than
        with self._begin() as connection:
            ids = [r.id for r in connection.execute(
                sa.select(jobs_table.c.id).where(
                    jobs_table.c.state.in_(TERMINAL_STATES), jobs_table.c.finished_at < cutoff)
            )]
            for table in (leases_table, results_table, chunks_table, uploads_table):
                connection.execute(table.delete().where(table.c.job_id.in_(ids)))
            connection.execute(jobs_table.delete().where(jobs_table.c.id.in_(ids)))
        return len(ids)

    # -- uploads -------------------------------------------------------------------------------

    def put_upload(self, job_id: str, content: bytes) -> None:
        with self._begin() as connection:
            connection.execute(uploads_table.insert().values(job_id=job_id, content=content))

    def get_upload(self, job_id: str) -> bytes:
        with self._begin() as connection:
            content = connection.execute(
                sa.select(uploads_table.c.content).where(uploads_table.c.job_id == job_id)
            ).scalar_one_or_none()
        if content is None:
            raise JobNotFound(f"{job_id} has no uploaded file")
        return bytes(content)

    # -- batch rows ----------------------------------------------------------------------------

    def create_batch(
        self, chunks: Iterable[list[InputRow]], *, idempotency_key: str | None = None
    ) -> tuple[Job, bool]:
        """Record a queued batch job with all its rows in one transaction: all or nothing.

        An intake cut short (a database outage, a client gone, a limit hit) leaves no
        half-written job behind for an idempotent retry to find. Returns (job, created).
        """
        job_id = uuid.uuid4().hex
        try:
            with self._begin() as connection:
                _insert_job(connection, job_id, kind="batch", params={}, key=idempotency_key)
                total, _ = _insert_chunks(connection, job_id, chunks)
                if total == 0:
                    raise EmptyBatch("the batch has no rows")
        except sa.exc.IntegrityError as exc:
            return self._race_winner(idempotency_key, exc), False
        return self.get(job_id), True

    def add_chunks(self, job_id: str, chunks: Iterable[list[InputRow]]) -> tuple[int, int]:
        """Store an existing job's input rows; returns (total rows, number of chunks)."""
        with self._begin() as connection:
            return _insert_chunks(connection, job_id, chunks)

    def get_chunk(self, job_id: str, idx: int) -> list[InputRow]:
        with self._begin() as connection:
            blob = connection.execute(
                sa.select(chunks_table.c.rows)
                .where(chunks_table.c.job_id == job_id, chunks_table.c.idx == idx)
            ).scalar_one_or_none()
        if blob is None:
            raise JobNotFound(f"{job_id} has no chunk {idx}")
        return list(map(InputRow._make, _unpack(blob)))

    def has_result(self, job_id: str, idx: int) -> bool:
        with self._begin() as connection:
            return connection.execute(
                sa.select(results_table.c.idx)
                .where(results_table.c.job_id == job_id, results_table.c.idx == idx)
            ).first() is not None

    def put_result(self, job_id: str, idx: int, rows: list[RowResult] | list[tuple[Any, ...]]
                   ) -> bool:
        """Store a chunk's results once; a second write of the same chunk is ignored."""
        try:
            with self._begin() as connection:
                connection.execute(results_table.insert().values(
                    job_id=job_id, idx=idx, n_rows=len(rows), rows=_pack(rows),
                ))
                connection.execute(jobs_table.update().where(jobs_table.c.id == job_id)
                                   .values(updated_at=_now()))
        except sa.exc.IntegrityError:
            return False
        return True

    def chunks_done(self, job_id: str) -> int:
        with self._begin() as connection:
            return int(connection.execute(
                sa.select(sa.func.count()).select_from(results_table)
                .where(results_table.c.job_id == job_id)
            ).scalar_one())

    def chunks_pending(self, job_id: str) -> list[int]:
        """Chunk indexes with no result yet."""
        with self._begin() as connection:
            done = {r.idx for r in connection.execute(
                sa.select(results_table.c.idx).where(results_table.c.job_id == job_id))}
            every = [r.idx for r in connection.execute(
                sa.select(chunks_table.c.idx).where(chunks_table.c.job_id == job_id)
                .order_by(chunks_table.c.idx))]
        return [i for i in every if i not in done]

    def iter_results(self, job_id: str, *, offset: int = 0,
                     limit: int | None = None) -> Iterator[ResultRow]:
        """Result rows in input order, from `offset`; rows not yet processed are skipped."""
        end = None if limit is None else offset + limit
        query = (
            sa.select(chunks_table.c.idx, chunks_table.c.first_row, chunks_table.c.n_rows,
                      chunks_table.c.rows, results_table.c.rows.label("results"))
            .join(results_table, sa.and_(results_table.c.job_id == chunks_table.c.job_id,
                                         results_table.c.idx == chunks_table.c.idx))
            .where(chunks_table.c.job_id == job_id,
                   chunks_table.c.first_row + chunks_table.c.n_rows > offset)
            .order_by(chunks_table.c.idx)
        )
        if end is not None:
            query = query.where(chunks_table.c.first_row < end)
        try:
            connection = self.engine.connect()
        except sa.exc.OperationalError as exc:
            raise StoreUnavailable(f"job database unavailable: {exc.orig}") from exc
        with connection:
            for chunk in connection.execution_options(stream_results=True).execute(query):
                inputs, outputs = _unpack(chunk.rows), _unpack(chunk.results)
                for i, ((row_id, name, _), output) in enumerate(
                    zip(inputs, outputs, strict=True)
                ):
                    row = chunk.first_row + i
                    if row < offset or (end is not None and row >= end):
                        continue
                    result = RowResult(*output)
                    yield ResultRow(row=row, id=row_id, name=name, category=result.category,
                                    confidence=result.confidence, error=result.error,
                                    decision=result.decision,
                                    top_k=[(c, s) for c, s in result.top_k or ()],
                                    known=result.known, filed_under=result.filed_under)

    def decision_counts(self, job_id: str) -> dict[str, Any]:
        """How many of a batch's rows were filed, wait for review or failed, in all and per
        category (read from the stored results alone)."""
        counts: dict[str, Any] = {"auto": 0, "review": 0, "errors": 0, "per_category": {}}
        per_category: dict[str, dict[str, int]] = counts["per_category"]
        with self._begin() as connection:
            blobs = connection.execute(
                sa.select(results_table.c.rows).where(results_table.c.job_id == job_id))
            for (blob,) in blobs:
                for output in _unpack(blob):
                    result = RowResult(*output)
                    if result.error is not None or result.category is None:
                        counts["errors"] += 1
                        continue
                    decision = "auto" if result.decision == "auto" else "review"
                    counts[decision] += 1
                    bucket = per_category.setdefault(result.category, {"auto": 0, "review": 0})
                    bucket[decision] += 1
        counts["per_category"] = dict(sorted(per_category.items()))
        return counts


def _job(row: Any, rows_done: int) -> Job:
    return Job(
        id=row["id"], kind=row["kind"], state=row["state"], stage=row["stage"],
        params=row["params"] or {}, result=row["result"], error=row["error"],
        model_version=row["model_version"], total_rows=row["total_rows"],
        n_chunks=row["n_chunks"], rows_done=rows_done, attempts=row["attempts"],
        task_id=row["task_id"],
        created_at=_aware(row["created_at"]), started_at=_aware(row["started_at"]),
        finished_at=_aware(row["finished_at"]), updated_at=_aware(row["updated_at"]),
        resends=row["resends"] or 0,
    )


def _add_missing_columns(connection: sa.Connection) -> None:
    """Columns added to the jobs table since its first version (`updated_at`, `resends`).

    Alembic's operations emit each dialect's ALTER TABLE; an added column is the only change the
    schema has had, so no migration history is kept.
    """
    from alembic.operations import Operations
    from alembic.runtime.migration import MigrationContext

    present = {c["name"] for c in sa.inspect(connection).get_columns(jobs_table.name)}
    missing = [c for c in jobs_table.columns if c.name not in present]
    if not missing:
        return
    operations = Operations(MigrationContext.configure(connection))
    for column in missing:
        operations.add_column(jobs_table.name, sa.Column(
            column.name, column.type, nullable=column.nullable,
            server_default=column.server_default))


def _insert_job(connection: sa.Connection, job_id: str, *, kind: JobKind,
                params: dict[str, Any], key: str | None) -> None:
    now = _now()
    connection.execute(jobs_table.insert().values(
        id=job_id, kind=kind, state="queued", params=params, attempts=0,
        idempotency_key=key, created_at=now, updated_at=now, resends=0,
    ))


def _insert_chunks(connection: sa.Connection, job_id: str,
                   chunks: Iterable[list[InputRow]]) -> tuple[int, int]:
    """Store the rows a chunk per row and record the job's size: (total rows, chunks)."""
    total = n_chunks = 0
    for rows in chunks:
        connection.execute(chunks_table.insert().values(
            job_id=job_id, idx=n_chunks, first_row=total, n_rows=len(rows), rows=_pack(rows),
        ))
        total += len(rows)
        n_chunks += 1
    connection.execute(jobs_table.update().where(jobs_table.c.id == job_id)
                       .values(total_rows=total, n_chunks=n_chunks))
    return total, n_chunks


def _silent_since(cutoff: dt.datetime) -> Any:
    """No sign of life since `cutoff` (a row written before `updated_at` existed: its creation)."""
    return sa.func.coalesce(jobs_table.c.updated_at, jobs_table.c.created_at) < cutoff


def _as_read(job: Job, older_than: dt.timedelta) -> tuple[Any, ...]:
    """The job is as the sweeper read it: still silent, and not sent again since."""
    return (_silent_since(_now() - older_than), jobs_table.c.resends == job.resends)


def _failed(error: str) -> dict[str, Any]:
    return {"state": "failed", "error": error[:4000], "finished_at": _now()}


@overload
def _aware(value: dt.datetime) -> dt.datetime: ...
@overload
def _aware(value: dt.datetime | None) -> dt.datetime | None: ...
def _aware(value: dt.datetime | None) -> dt.datetime | None:
    # SQLite hands back naive datetimes; everything stored here is UTC.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value
