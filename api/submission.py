"""What the job routes and the console share: record a job, put it on its queue, answer 202,
show a job."""

from __future__ import annotations

from fastapi import Request, Response
from starlette.concurrency import run_in_threadpool

from api.deps import AppState, intake_pool
from api.schemas import JobAccepted, JobProgress, JobPublic
from api.uploads import read_upload
from core.errors import QueueUnavailable
from core.jobs import Job
from core.service import params_from_settings


def job_public(job: Job) -> JobPublic:
    links = {"self": f"/v1/jobs/{job.id}"}
    if job.kind == "batch" and job.state == "succeeded":
        links["results"] = f"/v1/batch-jobs/{job.id}/results"
        links["results_csv"] = f"/v1/batch-jobs/{job.id}/results.csv"
    return JobPublic(
        job_id=job.id, kind=job.kind, state=job.state,
        progress=JobProgress(
            stage=job.stage,
            rows_done=job.rows_done if job.kind == "batch" else None,
            rows_total=job.total_rows,
        ),
        model_version=job.model_version, created_at=job.created_at, started_at=job.started_at,
        finished_at=job.finished_at, result=job.result, error=job.error, links=links,
        reason=job.params.get("reason") if job.kind == "training" else None,
    )


def accepted(response: Response, job: Job) -> JobAccepted:
    location = f"/v1/jobs/{job.id}"
    response.headers["Location"] = location
    return JobAccepted(job_id=job.id, state=job.state, status_url=location)


def enqueue_job(state: AppState, job: Job, task_name: str) -> None:
    """Enqueue a recorded job; if the broker refuses, the job is failed and the client gets 503."""
    try:
        task_id = state.queue.enqueue(task_name, job.id)
    except QueueUnavailable:
        state.store.fail(job.id, "the job queue was unavailable when the job was submitted")
        raise
    state.store.set_task_id(job.id, task_id)


async def record_uploaded_training(request: Request, state: AppState, *,
                                   include_labels: bool = True) -> Job:
    """Record a training job from the multipart upload's catalog (also the console's form)."""
    filename, content = await read_upload(request, state.settings.max_upload_bytes)
    # The whole file is checked now: a catalog that cannot train is a 400 that says why. Reading
    # a large catalog is seconds of Python, so it happens in an intake process (api/intake.py),
    # not on a thread that holds the GIL against the event loop.
    await intake_pool(state).training_catalog(content, filename,
                                              params_from_settings(state.settings))
    return await run_in_threadpool(_record_upload, state, filename, content, include_labels)


def _record_upload(state: AppState, filename: str, content: bytes,
                   include_labels: bool = True) -> Job:
    job, _ = state.store.create_job(
        kind="training", params={"upload": True, "filename": filename,
                                 "include_labels": include_labels})
    state.store.put_upload(job.id, content)
    return job
