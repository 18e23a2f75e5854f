"""Console pages: import a CSV, watch its job, page through its results; the list of jobs."""

from __future__ import annotations

import math
from typing import Annotated, Any, cast

from fastapi import APIRouter, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse

from api.schemas import JobPublic
from api.submission import job_public
from api.ui.web import redirect, render, require_role, state_of
from core.errors import JobNotFound
from core.jobs import Job, JobKind, JobState
from core.results_view import ResultQuery, results_page

router = APIRouter()

PAGE = 100
JOBS_PAGE = 100
KINDS = ("batch", "training")
STATES = ("queued", "running", "succeeded", "failed", "cancelled")
SORTS = {"row": "Input order", "confidence": "Least confident first",
         "-confidence": "Most confident first"}


@router.get("/")
def home() -> RedirectResponse:
    return redirect("/ui/import")


@router.get("/import")
def import_page(request: Request) -> HTMLResponse:
    return render(request, "import.html")


@router.get("/jobs")
def jobs_page(
    request: Request,
    kind: Annotated[str | None, Query()] = None,
    state: Annotated[str | None, Query()] = None,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> HTMLResponse:
    kind = kind if kind in KINDS else None
    state = state if state in STATES else None
    # Listing needs a key, as in the API: a batch job's id is what lets anyone read its results.
    admin = require_role(request, "reviewer", "admin") == "admin"
    if not admin:  # training jobs are the admin's, as in the API
        kind = "batch"
    total, jobs = state_of(request).store.list_jobs(
        kind=cast("JobKind | None", kind), state=cast("JobState | None", state), offset=offset,
        limit=JOBS_PAGE)
    return render(request, "jobs.html", {
        "jobs": [_job_row(job) for job in jobs], "total": total, "offset": offset,
        "page": JOBS_PAGE, "kind": kind, "state": state, "states": STATES,
        "kinds": KINDS if admin else ("batch",)})


@router.get("/jobs/{job_id}")
def job_page(request: Request, job_id: str) -> HTMLResponse:
    job = _job_or_none(request, job_id)
    if job is None:
        return render(request, "error.html", {"message": "no such job (unknown id, or expired)"},
                      status_code=404)
    context: dict[str, Any] = {"job": _job_row(job)}
    if job.kind == "batch" and job.state == "succeeded":
        context.update(_results(request, job))
    return render(request, "job.html", context)


@router.get("/jobs/{job_id}/results")
def results_fragment(request: Request, job_id: str) -> HTMLResponse:
    """The results table alone, for the job page to fill in when the job ends."""
    job = _job_or_none(request, job_id)
    if job is None or job.kind != "batch" or job.state != "succeeded":
        return render(request, "error.html", {"message": "no results for this job"},
                      status_code=404)
    return render(request, "_results.html", {"job": _job_row(job), **_results(request, job)})


@router.get("/jobs/{job_id}/status")
def job_status(request: Request, job_id: str) -> JobPublic:
    """The job as GET /v1/jobs/{job_id} reports it, for the page's progress bar (the signed-in
    key comes from the cookie, which scripts cannot read to send as a header)."""
    job = _job_or_none(request, job_id)
    if job is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such job (unknown id, or expired)")
    return job_public(job)


def _job_or_none(request: Request, job_id: str) -> Job | None:
    """The job, or None if there is none; a training job needs the admin's key."""
    try:
        job = state_of(request).store.get(job_id)
    except JobNotFound:
        return None
    if job.kind == "training":
        require_role(request, "admin")
    return job


def _number(value: str | None) -> float | None:
    try:
        number = float(value) if value not in (None, "") else None  # type: ignore[arg-type]
    except ValueError:
        return None
    return number if number is not None and math.isfinite(number) else None


def _results(request: Request, job: Job) -> dict[str, Any]:
    params = request.query_params
    offset = params.get("offset", "0")
    query = ResultQuery(
        decision=params.get("decision") or None, category=params.get("category") or None,
        min_confidence=_number(params.get("min_confidence")),
        max_confidence=_number(params.get("max_confidence")),
        sort=params.get("sort") if params.get("sort") in SORTS else "row",  # type: ignore[arg-type]
        offset=int(offset) if offset.isdigit() else 0, limit=PAGE)
    state = state_of(request)
    view = results_page(state.batches, job, query,
                        final=lambda rows: state.review.with_decisions(job.id, rows),
                        decided=lambda: state.review.decided_rows(job.id, 0, job.total_rows or 0))
    filters = {k: v for k, v in {
        "decision": query.decision, "category": query.category,
        "min_confidence": params.get("min_confidence") or None,
        "max_confidence": params.get("max_confidence") or None,
        "sort": query.sort if query.sort != "row" else None}.items() if v is not None}
    return {"view": view, "query": query, "filters": filters, "sorts": SORTS, "page": PAGE}


def _job_row(job: Job) -> dict[str, Any]:
    """A job as the pages show it: the API's fields plus duration and rate."""
    public = job_public(job).model_dump()
    seconds = None
    if job.started_at is not None and job.finished_at is not None:
        seconds = (job.finished_at - job.started_at).total_seconds()
    done = job.rows_done if job.kind == "batch" else None
    total = job.total_rows
    rate = done / seconds if done and seconds else None
    public.update(seconds=seconds, rate=rate, rows_done=done, rows_total=total,
                  percent=(100 * done / total) if done is not None and total else
                  (100 if job.state == "succeeded" else 0))
    return public
