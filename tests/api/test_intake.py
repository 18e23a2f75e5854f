"""Batch intake in a process of its own: rows read, checked and packed there, refusals carried
back as the API's answers, a dead intake process a 503 that heals."""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any

import psutil
import pytest
from fastapi import HTTPException
from fastapi.testclient import TestClient

from api.deps import AppState
from api.intake import (
    IntakeLimits,
    IntakePool,
    IntakeRefused,
    IntakeUnavailable,
    csv_chunks,
    json_chunks,
)
from core.batch import BatchInputError, RowLimitExceeded
from core.batch_store import BatchStore, InputRow, PackedChunk
from core.jobs import JobStore
from tests.fixtures.app import ADMIN
from tests.fixtures.processes import wait_until

LIMITS = IntakeLimits(max_name_length=20, max_id_length=8, chunk_size=3, max_rows=10)


def _body(*items: Any) -> bytes:
    return json.dumps({"items": list(items)}).encode()


def _stored(store: JobStore,
            chunks: list[list[InputRow]] | list[PackedChunk]) -> list[InputRow]:
    batches = BatchStore(store)
    job, _ = batches.create_batch(chunks)
    return [row for idx in range(job.n_chunks or 0) for row in batches.get_chunk(job.id, idx)]


@pytest.fixture
def pool() -> Iterator[IntakePool]:
    intake = IntakePool(1)
    yield intake
    intake.close()


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


# -- what an intake process runs -----------------------------------------------------------------

def test_json_rows_come_back_packed_in_chunks_and_store_as_sent(job_store: JobStore) -> None:
    items = [{"id": f"A{i}", "name": f"tubo {i}"} for i in range(7)] + [{"name": " "}]

    chunks = json_chunks(_body(*items), LIMITS)

    assert [chunk.n_rows for chunk in chunks] == [3, 3, 2]
    rows = _stored(job_store, chunks)
    assert rows[:7] == [InputRow(f"A{i}", f"tubo {i}") for i in range(7)]
    assert rows[7] == InputRow(None, " ", "empty name")  # a row's own error, kept in its place


def test_csv_rows_come_back_the_same_from_a_path_or_a_stream(
    tmp_path: Path, job_store: JobStore
) -> None:
    content = b"sku;nombre\nA-1;Tubo PVC\nA-2;Foco LED\n"
    path = tmp_path / "items.csv"
    path.write_bytes(content)

    from_path = csv_chunks(str(path), LIMITS)

    assert from_path == csv_chunks(io.BytesIO(content), LIMITS)
    assert _stored(job_store, from_path) == [InputRow("A-1", "Tubo PVC"),
                                              InputRow("A-2", "Foco LED")]


@pytest.mark.parametrize(("body", "status", "shown"), [
    (b"{not json", 422, "json_invalid"),
    (_body({"id": "123456789", "name": "tubo"}), 422,
     "items[0].id: id is 9 characters long; the limit is 8 (MAX_ID_LENGTH)"),
])
def test_a_body_that_cannot_be_a_batch_is_refused_with_its_reason(
    body: bytes, status: int, shown: str
) -> None:
    with pytest.raises(IntakeRefused) as refused:
        json_chunks(body, LIMITS)

    assert refused.value.status_code == status
    assert shown in str(refused.value.detail)


def test_more_rows_than_the_limit_are_refused_before_anything_is_packed() -> None:
    with pytest.raises(RowLimitExceeded) as refused:
        json_chunks(_body(*[{"name": "tubo"}] * 11), LIMITS)

    assert refused.value.limit == 10


# -- the pool ------------------------------------------------------------------------------------

def test_the_pool_starts_at_its_first_use_and_runs_in_another_process(pool: IntakePool) -> None:
    assert not pool.started  # nothing at construction (nor at import)

    pid = asyncio.run(pool.run(os.getpid))

    assert pool.started
    assert pid != os.getpid()


def test_start_runs_every_process_before_any_batch() -> None:
    pool = IntakePool(2)
    try:
        pool.start()

        executor = pool._pool()
        pids = {process.pid for process in executor._processes.values()}
        assert len(pids) == 2
        assert all(psutil.pid_exists(pid) and pid != os.getpid() for pid in pids)
    finally:
        pool.close()


def test_no_processes_means_nothing_to_start() -> None:
    pool = IntakePool(0)
    pool.start()
    assert not pool.started


def test_processes_are_started_off_the_event_loop(pool: IntakePool) -> None:
    """Submitting starts a process when there is none (the fork server's start and answer are
    waited for): never on the thread that serves inference."""
    submitted_on: list[int] = []
    pool_of = pool._pool

    class Spy:
        def __init__(self, executor: ProcessPoolExecutor) -> None:
            self.executor = executor

        def submit(self, *args: object) -> Future[object]:
            submitted_on.append(threading.get_ident())
            return self.executor.submit(*args)  # type: ignore[arg-type]

    pool._pool = lambda: Spy(pool_of())  # type: ignore[assignment,method-assign,return-value]

    async def loop_and_pid() -> tuple[int, int]:
        return threading.get_ident(), await pool.run(os.getpid)

    loop_thread, pid = asyncio.run(loop_and_pid())

    assert pid != os.getpid()
    assert submitted_on
    assert loop_thread not in submitted_on


def test_refusals_come_back_from_the_process_as_they_were_raised(pool: IntakePool) -> None:
    with pytest.raises(HTTPException) as refused:
        asyncio.run(pool.json_batch(_body({"id": "123456789", "name": "tubo"}), LIMITS))
    assert refused.value.status_code == 422
    assert refused.value.detail == ("items[0].id: id is 9 characters long; "
                                    "the limit is 8 (MAX_ID_LENGTH)")

    with pytest.raises(RowLimitExceeded) as too_many:
        asyncio.run(pool.json_batch(_body(*[{"name": "tubo"}] * 11), LIMITS))
    assert (too_many.value.limit, str(too_many.value)) == (
        10, "more than 10 rows in one batch job")

    with pytest.raises(BatchInputError, match=r"the CSV has no 'name' column \(header: id\)"):
        asyncio.run(pool.csv_batch(io.BytesIO(b"id\n1\n"), LIMITS))


def test_an_upload_is_read_from_a_copy_that_is_removed_afterwards(
    pool: IntakePool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, job_store: JobStore
) -> None:
    spills = tmp_path / "spills"
    spills.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spills))
    stream = io.BytesIO(b"name\nTubo PVC\n")
    stream.read()  # where a form parser may leave it

    chunks = asyncio.run(pool.csv_batch(stream, LIMITS))

    assert _stored(job_store, chunks) == [InputRow(None, "Tubo PVC")]
    assert list(spills.iterdir()) == []


def test_a_killed_intake_process_is_a_503_and_the_next_batch_gets_a_new_one(
    pool: IntakePool
) -> None:
    first = asyncio.run(pool.run(os.getpid))

    with pytest.raises(IntakeUnavailable):
        asyncio.run(pool.run(_die))

    assert asyncio.run(pool.json_batch(_body({"name": "tubo"}), LIMITS))[0].n_rows == 1
    assert asyncio.run(pool.run(os.getpid)) != first


def test_intake_imports_no_model_libraries() -> None:
    """An intake process holds rows, not scikit-learn and numpy (hundreds of MB each)."""
    import subprocess

    code = "import sys, api.intake; print(sorted({'numpy', 'sklearn', 'mlflow', 'celery'} " \
           "& set(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120, check=True, cwd=Path(__file__).resolve().parents[2])
    assert result.stdout.strip() == "[]"


# -- through the app -----------------------------------------------------------------------------

@pytest.mark.parametrize("processes", [1, 0])
def test_a_batch_is_read_by_the_intake_processes_or_by_threads_when_there_are_none(
    app_state: AppState, api_client: TestClient, job_store: JobStore, processes: int
) -> None:
    app_state.settings = app_state.settings.model_copy(update={"intake_processes": processes})
    items = [{"id": f"A{i}", "name": f"tubo {i}"} for i in range(10)]

    response = api_client.post("/v1/batch-jobs", json={"items": items})

    assert response.status_code == 202
    assert app_state.intake is not None
    assert app_state.intake.processes == processes
    assert app_state.intake.started is (processes > 0)
    rows = [row for idx in range(job_store.get(response.json()["job_id"]).n_chunks or 0)
            for row in BatchStore(job_store).get_chunk(response.json()["job_id"], idx)]
    assert rows == [InputRow(f"A{i}", f"tubo {i}") for i in range(10)]


@pytest.mark.parametrize("processes", [1, 0])
def test_a_training_upload_is_checked_by_the_intake_processes_or_by_threads(
    app_state: AppState, api_client: TestClient, job_store: JobStore, processes: int
) -> None:
    """A training catalog is read whole before the 202: in an intake process when there is
    one, and a catalog that cannot train comes back as the same 400, row and column named."""
    app_state.settings = app_state.settings.model_copy(update={"intake_processes": processes})
    bad = b"category,name\nPlomeria,Tubo\nPlomeria,\n"

    response = api_client.post("/v1/training-jobs", headers=ADMIN,
                               files={"file": ("mine.csv", bad, "text/csv")})

    assert response.status_code == 400
    assert response.json()["detail"] == "mine.csv, row 3, column 'name': empty product name"
    assert app_state.intake is not None
    assert app_state.intake.started is (processes > 0)
    good = "category,name\n" + "".join(f"A,tubo {i}\nB,foco {i}\n" for i in range(6))
    response = api_client.post("/v1/training-jobs", headers=ADMIN,
                               files={"file": ("mine.csv", good.encode(), "text/csv")})
    assert response.status_code == 202
    assert job_store.get_upload(response.json()["job_id"]) == good.encode()


@pytest.mark.parametrize("at_startup", [True, False])
def test_the_api_starts_its_intake_processes_at_startup_unless_told_not_to(
    app_state: AppState, make_client: Callable[[], TestClient], at_startup: bool
) -> None:
    """INTAKE_AT_STARTUP (the default): the first batch finds its process running; it does
    not start one while the API answers inference requests."""
    app_state.settings = app_state.settings.model_copy(
        update={"intake_processes": 1, "intake_at_startup": at_startup})

    client = make_client()
    assert client.get("/health").status_code == 200

    def processes() -> int:
        intake = app_state.intake
        if intake is None or not intake.started:
            return 0
        return len(intake._pool()._processes or {})

    if at_startup:
        # The pool is made first, its process a moment later: wait for the process itself.
        wait_until(lambda: processes() == 1, timeout=60, what="the intake process to start")
    else:
        time.sleep(2)  # the started case above takes well under a second
        assert processes() == 0
