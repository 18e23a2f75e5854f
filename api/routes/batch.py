"""Bulk categorization jobs: submit rows, poll, page through or download the results."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Query, Request, Response, status
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from api.deps import AppState, StateDep, intake_pool
from api.intake import IntakeLimits
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
from api.uploads import drain_body, is_json, upload_file
from core.batch import results_csv_lines
from core.batch_store import PackedChunk
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
    # The event loop only moves bytes. The rows are read, checked and chunked in an intake
    # process (api.intake), so that CPU never holds this process's GIL; the store and the
    # broker are met on the thread pool, where a slow database or an unreachable Redis stalls
    # this request and no other.
    if idempotency_key:
        existing = await run_in_threadpool(_replay, state, idempotency_key)
        if existing is not None:
            await drain_body(request)  # some clients (urllib) fail on an answer sent unread
            return accepted(response, existing)
    limits = IntakeLimits.of(state.settings)
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        _, stream, form = await upload_file(request)
        try:
            chunks = await intake_pool(state).csv_batch(stream, limits)
        finally:
            await form.close()
    elif is_json(content_type):
        body = await request.body()
        chunks = await intake_pool(state).json_batch(body, limits)
    else:
        raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
                            "send application/json or multipart/form-data with a 'file' field")
    job = await run_in_threadpool(_submit, state, chunks, idempotency_key)
    return accepted(response, job)


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


def _submit(state: AppState, chunks: list[PackedChunk], key: str | None) -> Job:
    """Record the checked rows (all or nothing), then enqueue the job."""
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
