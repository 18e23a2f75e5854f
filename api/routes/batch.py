"""Bulk categorization jobs: submit rows, poll, page through or download the results."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from itertools import chain
from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Query, Request, Response, status
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from api.deps import AppState, StateDep
from api.schemas import (
    MAX_INT,
    BatchJobCreate,
    BatchResultItem,
    BatchResultsPage,
    JobAccepted,
    JobId,
    JobPublic,
    problems,
)
from api.submission import accepted, enqueue_job, job_public
from api.uploads import drain_body, is_json, parse_json, upload_file
from core.batch import (
    check_id,
    chunked,
    limit_rows,
    results_csv_lines,
    rows_from_csv,
    rows_from_items,
)
from core.batch_store import InputRow
from core.config import Settings
from core.jobs import Job
from worker.names import BATCH_START_TASK

router = APIRouter(tags=["batch"])


@router.post(
    "/v1/batch-jobs", status_code=status.HTTP_202_ACCEPTED, response_model=JobAccepted,
    responses=problems(415),
    openapi_extra={"requestBody": {"content": {
        "application/json": {"schema": BatchJobCreate.model_json_schema()},
        "multipart/form-data": {"schema": {
            "type": "object", "properties": {"file": {"type": "string", "format": "binary"}},
            "required": ["file"]}}}}},
)
async def create_batch_job(
    request: Request, response: Response, state: StateDep,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> JobAccepted:
    """Queue a batch of names (JSON items or a CSV upload) for the inference workers."""
    # The event loop only moves bytes; the store and the broker are met on the thread pool,
    # where a slow database or an unreachable Redis stalls this request and no other.
    if idempotency_key:
        existing = await run_in_threadpool(_replay, state, idempotency_key)
        if existing is not None:
            await drain_body(request)  # some clients (urllib) fail on an answer sent unread
            return accepted(response, existing)
    settings = state.settings
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        _, stream, form = await upload_file(request)
        try:
            job = await run_in_threadpool(
                _submit, state,
                lambda: rows_from_csv(stream, max_length=settings.max_name_length,
                                      max_id_length=settings.max_id_length),
                idempotency_key)
        finally:
            await form.close()
    elif is_json(content_type):
        body = await request.body()
        job = await run_in_threadpool(_submit, state, lambda: _json_rows(body, settings),
                                      idempotency_key)
    else:
        raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
                            "send application/json or multipart/form-data with a 'file' field")
    return accepted(response, job)


def _json_rows(body: bytes, settings: Settings) -> Iterator[InputRow]:
    items = parse_json(body, BatchJobCreate).items
    for index, item in enumerate(items):
        problem = None if item.id is None else check_id(str(item.id),
                                                        max_length=settings.max_id_length)
        if problem:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                                f"items[{index}].id: {problem}")
    return rows_from_items(((i.id, i.name) for i in items), max_length=settings.max_name_length,
                           max_id_length=settings.max_id_length)


def _replay(state: AppState, key: str) -> Job | None:
    """The job an earlier request with this Idempotency-Key made, sent on if it never was."""
    existing = state.store.find_by_key(key)
    if existing is not None and existing.task_id is None:
        if existing.state == "failed":  # its enqueue failed (503): record it anew
            state.store.delete(existing.id)
            return None
        if existing.state == "queued":  # recorded, but the 503 came before its enqueue
            enqueue_job(state, existing, BATCH_START_TASK)
    return None if existing is None else state.store.get(existing.id)


def _submit(state: AppState, make_rows: Callable[[], Iterator[InputRow]],
            key: str | None) -> Job:
    """Check and record every row (all or nothing), then enqueue the job."""
    settings = state.settings
    rows = make_rows()
    first = next(rows, None)  # a file that is not CSV fails here, before anything is stored
    rows = chain([first] if first is not None else [], rows)
    chunks = limit_rows(chunked(rows, settings.batch_chunk_size), settings.max_batch_rows)
    job, _ = state.batches.create_batch(chunks, idempotency_key=key)  # EmptyBatch: 422
    if job.state == "queued" and job.task_id is None:
        enqueue_job(state, job, BATCH_START_TASK)
    return state.store.get(job.id)


@router.get("/v1/batch-jobs/{job_id}", response_model=JobPublic, responses=problems(404))
def get_batch_job(job_id: JobId, state: StateDep) -> JobPublic:
    """Report a batch job's state and progress."""
    return job_public(_batch(state, job_id, finished=False))


def _batch(state: StateDep, job_id: str, *, finished: bool) -> Job:
    job = state.store.get(job_id)
    if job.kind != "batch":
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such batch job")
    if finished and job.state != "succeeded":
        detail = f"results are ready when the job has succeeded; it is {job.state}"
        if job.error:
            detail += f": {job.error}"
        raise HTTPException(status.HTTP_409_CONFLICT, detail)
    return job


@router.get("/v1/batch-jobs/{job_id}/results", response_model=BatchResultsPage,
            responses=problems(404, 409))
def get_batch_results(
    job_id: JobId, state: StateDep,
    offset: Annotated[int, Query(ge=0, le=MAX_INT)] = 0,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> BatchResultsPage:
    """Page through a finished batch job's results in input order, reviewers' decisions
    applied."""
    job = _batch(state, job_id, finished=True)
    rows = state.batches.iter_results(job_id, offset=offset, limit=limit)
    items = [BatchResultItem(**{**row.__dict__, "top_k": [
                 {"category": c, "confidence": s} for c, s in row.top_k]})
             for row in state.review.with_decisions(job_id, rows)]
    return BatchResultsPage(job_id=job_id, model_version=job.model_version,
                            total=job.total_rows or 0, offset=offset, limit=limit, items=items)


@router.get("/v1/batch-jobs/{job_id}/results.csv", response_class=StreamingResponse,
            responses={200: {"content": {"text/csv": {}}}, **problems(404, 409)})
def download_batch_results(job_id: JobId, state: StateDep) -> StreamingResponse:
    """Download a finished batch job's whole result as CSV (formula cells neutralised)."""
    _batch(state, job_id, finished=True)
    return StreamingResponse(
        results_csv_lines(state.review.with_decisions(job_id, state.batches.iter_results(job_id))),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{job_id}.csv"'},
    )
