"""Training jobs and the status of any job."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, Response, status
from starlette.concurrency import run_in_threadpool

from api.deps import AdminDep, ApiKey, AppState, ReviewerDep, StateDep, check_admin_key
from api.schemas import (
    MAX_INT,
    JobAccepted,
    JobId,
    JobPublic,
    JobsPage,
    TrainingJobCreate,
    problems,
)
from api.submission import accepted, enqueue_job, job_public, record_uploaded_training
from api.uploads import is_json, json_body
from core.config import Settings
from core.data import SAMPLE_CATALOG
from core.jobs import Job, JobKind, JobState
from core.sources import TrainingSource, check_source
from worker.names import TRAINING_TASK

router = APIRouter(tags=["jobs"])

@router.post("/v1/training-jobs", status_code=status.HTTP_202_ACCEPTED,
             response_model=JobAccepted, dependencies=[AdminDep],
             responses=problems(401, 403, 415),
             openapi_extra={"requestBody": {"content": {
                 "application/json": {"schema": TrainingJobCreate.model_json_schema()},
                 "multipart/form-data": {"schema": {
                     "type": "object", "properties": {"file": {"type": "string",
                                                               "format": "binary"}},
                     "required": ["file"]}}}}})
async def create_training_job(
    request: Request, response: Response, state: StateDep,
    include_labels: Annotated[bool, Query(
        description="for an uploaded CSV: also learn from the stored review labels")] = True,
) -> JobAccepted:
    """Queue a training job from an uploaded CSV, a file in a training data folder, or a
    configured SQL source's table."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        job = await record_uploaded_training(request, state, include_labels=include_labels)
        job = await run_in_threadpool(_enqueued, state, job)
    elif is_json(content_type):
        body = await json_body(request, TrainingJobCreate)
        checked = await run_in_threadpool(lambda: check_source(
            state.settings, data=body.data, source=body.source, table=body.table,
            query=body.query))
        job = await run_in_threadpool(_submit_training, state, {
            **checked.as_params(), "include_labels": body.include_labels})
    else:
        raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
                            "send application/json or multipart/form-data with a 'file' field")
    return accepted(response, job)


def _submit_training(state: AppState, params: dict[str, Any]) -> Job:
    """Record a training job and enqueue it (on the thread pool: both may wait)."""
    job, _ = state.store.create_job(kind="training", params=params)
    return _enqueued(state, job)


def _enqueued(state: AppState, job: Job) -> Job:
    enqueue_job(state, job, TRAINING_TASK)
    return state.store.get(job.id)


def configured_source(settings: Settings) -> TrainingSource:
    """TRAINING_DATA (a file, or a TRAINING_SOURCES name with TRAINING_TABLE), checked."""
    data = settings.training_data or str(SAMPLE_CATALOG)
    if data in settings.training_sources:
        return check_source(settings, source=data, table=settings.training_table)
    return check_source(settings, data=data, table=settings.training_table)


@router.get("/training", status_code=status.HTTP_202_ACCEPTED, response_model=JobAccepted,
            dependencies=[AdminDep], deprecated=True, responses=problems(401, 403))
def legacy_training(response: Response, state: StateDep) -> JobAccepted:
    """Queue a training job from the configured source (the predecessor's endpoint)."""
    checked = configured_source(state.settings)
    return accepted(response, _submit_training(
        state, {**checked.as_params(), "include_labels": True}))


@router.get("/v1/jobs", response_model=JobsPage, responses=problems(401, 403))
def list_jobs(
    state: StateDep,
    role: ReviewerDep,
    kind: Annotated[JobKind | None, Query(description="training or batch")] = None,
    job_state: Annotated[JobState | None, Query(alias="state")] = None,
    offset: Annotated[int, Query(ge=0, le=MAX_INT)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> JobsPage:
    """List jobs, newest first, filtered by kind and state, a page at a time. Needs the reviewer
    or admin key (a batch job's id is what lets anyone read its results, so ids are never listed
    to whoever asks); training jobs are listed with the admin key only."""
    if role != "admin":
        if kind == "training":
            raise HTTPException(status.HTTP_403_FORBIDDEN, "training jobs need the admin key")
        kind = "batch"
    total, jobs = state.store.list_jobs(kind=kind, state=job_state, offset=offset, limit=limit)
    return JobsPage(total=total, offset=offset, limit=limit, items=[job_public(j) for j in jobs])


@router.get("/v1/jobs/{job_id}", response_model=JobPublic,
            responses=problems(401, 403, 404))
def get_job(job_id: JobId, state: StateDep, key: ApiKey = None) -> JobPublic:
    """Report a job's state, progress, result or error (a training job: with the admin key)."""
    job = state.store.get(job_id)
    if job.kind == "training":
        check_admin_key(state.settings, key)
    return job_public(job)


@router.delete("/v1/jobs/{job_id}", response_model=JobPublic, dependencies=[AdminDep],
               responses=problems(401, 403, 404, 409))
def cancel_job(job_id: JobId, state: StateDep) -> JobPublic:
    """Cancel a job that has not ended; it stops consuming workers."""
    job = state.store.get(job_id)
    if job.terminal:
        raise HTTPException(status.HTTP_409_CONFLICT, f"the job already ended: {job.state}")
    state.store.cancel(job_id)
    if job.kind == "training" and job.task_id:
        state.queue.revoke(job.task_id, terminate=True)
    return job_public(state.store.get(job_id))
