"""Job records and their lifecycle: queued, running, then succeeded, failed or cancelled.

Celery reports every unknown task id as PENDING, so the truth about a job lives here, written
before its task is enqueued. A job's state only moves forward: once it has ended, nothing
changes it again. Batch rows are stored by `core.batch_store`; the tables are in `core.db`.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from core import db
from core.db import (
    JOB_CHILD_TABLES,
    as_utc,
    jobs_table,
    results_table,
    transaction,
    uploads_table,
)
from core.errors import JobNotFound

JobKind = Literal["training", "batch"]
JobState = Literal["queued", "running", "succeeded", "failed", "cancelled"]
TERMINAL_STATES: tuple[JobState, ...] = ("succeeded", "failed", "cancelled")
ACTIVE_STATES: tuple[JobState, ...] = ("queued", "running")


@dataclass(frozen=True)
class Job:
    id: str
    kind: JobKind
    state: JobState
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


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def new_job_id() -> str:
    return uuid.uuid4().hex


def insert_job(connection: sa.Connection, job_id: str, *, kind: JobKind,
               params: dict[str, Any], key: str | None) -> None:
    """Insert a queued job's row (inside the caller's transaction)."""
    at = now()
    connection.execute(jobs_table.insert().values(
        id=job_id, kind=kind, state="queued", params=params, attempts=0,
        idempotency_key=key, created_at=at, updated_at=at, resends=0,
    ))


class JobStore:
    """Jobs and their uploads over one SQLAlchemy engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def from_url(cls, url: str) -> JobStore:
        return cls(db.create_db_engine(url))

    def create_schema(self) -> None:
        """Create or upgrade the tables (core.db.upgrade); every process calls it at start-up."""
        db.upgrade(self.engine)

    def ping(self) -> None:
        db.ping(self.engine)

    # -- jobs ----------------------------------------------------------------------------------

    def create_job(
        self, *, kind: JobKind, params: dict[str, Any], idempotency_key: str | None = None
    ) -> tuple[Job, bool]:
        """Record a new queued job; with an idempotency key already used, return that job.

        Returns (job, created).
        """
        if idempotency_key is not None:
            existing = self.find_by_key(idempotency_key)
            if existing is not None:
                return existing, False
        job_id = new_job_id()
        try:
            with transaction(self.engine) as connection:
                insert_job(connection, job_id, kind=kind, params=params, key=idempotency_key)
        except sa.exc.IntegrityError as exc:
            return self.race_winner(idempotency_key, exc), False
        return self.get(job_id), True

    def race_winner(self, key: str | None, error: sa.exc.IntegrityError) -> Job:
        """The job a concurrent request with the same idempotency key created first; `error`
        is raised again when no such job explains it."""
        existing = self.find_by_key(key) if key else None
        if existing is None:
            raise error
        return existing

    def find_by_key(self, key: str) -> Job | None:
        """The job created with this idempotency key, if any."""
        with transaction(self.engine) as connection:
            row = connection.execute(
                sa.select(jobs_table.c.id).where(jobs_table.c.idempotency_key == key)
            ).first()
        return self.get(row.id) if row else None

    def delete(self, job_id: str) -> None:
        """Remove a job and everything stored for it."""
        with transaction(self.engine) as connection:
            for table in JOB_CHILD_TABLES:
                connection.execute(table.delete().where(table.c.job_id == job_id))
            connection.execute(jobs_table.delete().where(jobs_table.c.id == job_id))

    def get(self, job_id: str) -> Job:
        with transaction(self.engine) as connection:
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

    def list_jobs(self, *, kind: JobKind | None = None, state: JobState | None = None,
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
        with transaction(self.engine) as connection:
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
        with transaction(self.engine) as connection:
            result = connection.execute(
                jobs_table.update()
                .where(jobs_table.c.id == job_id, jobs_table.c.state.in_(list(only_from)),
                       *where)
                .values(updated_at=now(), **values)
            )
        return bool(result.rowcount)

    def start(self, job_id: str, *, stage: str | None = None,
              model_version: int | None = None) -> bool:
        """Move a queued (or retried running) job to running; False if it has ended."""
        values: dict[str, Any] = {"state": "running", "started_at": now(),
                                  "attempts": jobs_table.c.attempts + 1}
        if stage is not None:
            values["stage"] = stage
        if model_version is not None:
            values["model_version"] = model_version
        return self._update(job_id, only_from=ACTIVE_STATES, **values)

    def set_task_id(self, job_id: str, task_id: str) -> None:
        with transaction(self.engine) as connection:
            connection.execute(jobs_table.update().where(jobs_table.c.id == job_id)
                               .values(task_id=task_id))

    def set_stage(self, job_id: str, stage: str) -> bool:
        return self._update(job_id, only_from=ACTIVE_STATES, stage=stage)

    def succeed(self, job_id: str, result: dict[str, Any], *,
                model_version: int | None = None) -> bool:
        values: dict[str, Any] = {"state": "succeeded", "result": result, "stage": "done",
                                  "finished_at": now()}
        if model_version is not None:
            values["model_version"] = model_version
        return self._update(job_id, only_from=ACTIVE_STATES, **values)

    def fail(self, job_id: str, error: str) -> bool:
        return self._update(job_id, only_from=ACTIVE_STATES, **_failed(error))

    def cancel(self, job_id: str) -> bool:
        """Cancel a job that has not ended; False if it already had."""
        self.get(job_id)
        return self._update(job_id, only_from=ACTIVE_STATES, state="cancelled",
                            finished_at=now())

    def is_cancelled(self, job_id: str) -> bool:
        return self.get(job_id).state == "cancelled"

    # -- jobs nothing is heard of (core.sweeper) -------------------------------------------------

    def stale_jobs(self, *, older_than: dt.timedelta) -> list[Job]:
        """Queued or running jobs with no sign of life (`updated_at`) for `older_than`."""
        with transaction(self.engine) as connection:
            ids = list(connection.execute(
                sa.select(jobs_table.c.id)
                .where(jobs_table.c.state.in_(ACTIVE_STATES), _silent_since(now() - older_than))
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
        cutoff = now() - older_than
        with transaction(self.engine) as connection:
            ids = [r.id for r in connection.execute(
                sa.select(jobs_table.c.id).where(
                    jobs_table.c.state.in_(TERMINAL_STATES), jobs_table.c.finished_at < cutoff)
            )]
            for table in JOB_CHILD_TABLES:
                connection.execute(table.delete().where(table.c.job_id.in_(ids)))
            connection.execute(jobs_table.delete().where(jobs_table.c.id.in_(ids)))
        return len(ids)

    # -- uploads -------------------------------------------------------------------------------

    def put_upload(self, job_id: str, content: bytes) -> None:
        with transaction(self.engine) as connection:
            connection.execute(uploads_table.insert().values(job_id=job_id, content=content))

    def get_upload(self, job_id: str) -> bytes:
        with transaction(self.engine) as connection:
            content = connection.execute(
                sa.select(uploads_table.c.content).where(uploads_table.c.job_id == job_id)
            ).scalar_one_or_none()
        if content is None:
            raise JobNotFound(f"{job_id} has no uploaded file")
        return bytes(content)


def _job(row: Any, rows_done: int) -> Job:
    return Job(
        id=row["id"], kind=row["kind"], state=row["state"], stage=row["stage"],
        params=row["params"] or {}, result=row["result"], error=row["error"],
        model_version=row["model_version"], total_rows=row["total_rows"],
        n_chunks=row["n_chunks"], rows_done=rows_done, attempts=row["attempts"],
        task_id=row["task_id"],
        created_at=as_utc(row["created_at"]), started_at=as_utc(row["started_at"]),
        finished_at=as_utc(row["finished_at"]), updated_at=as_utc(row["updated_at"]),
        resends=row["resends"] or 0,
    )


def _silent_since(cutoff: dt.datetime) -> Any:
    """No sign of life since `cutoff` (a row written before `updated_at` existed: its creation)."""
    return sa.func.coalesce(jobs_table.c.updated_at, jobs_table.c.created_at) < cutoff


def _as_read(job: Job, older_than: dt.timedelta) -> tuple[Any, ...]:
    """The job is as the sweeper read it: still silent, and not sent again since."""
    return (_silent_since(now() - older_than), jobs_table.c.resends == job.resends)


def _failed(error: str) -> dict[str, Any]:
    return {"state": "failed", "error": error[:4000], "finished_at": now()}
