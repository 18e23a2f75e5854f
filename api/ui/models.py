"""Model versions: metrics, aliases, the gate's decision, figures; train, promote, roll back."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from api.deps import shadow_of
from api.submission import enqueue_job, record_uploaded_training
from api.ui.web import check_csrf, redirect, render, require_role, state_of
from core.errors import NoChampionError, RegistryError, RegistryUnavailable
from worker.names import TRAINING_TASK

router = APIRouter()
Form = Annotated[dict, Depends(check_csrf)]

# Tags and params the training writes that the page shows beside the metrics.
THRESHOLD_KEYS = ("auto_file_threshold",)
COVERAGE_KEYS = ("auto_file_coverage_test", "auto_file_coverage")


def _first(values: dict[str, Any], keys: tuple[str, ...]) -> float | None:
    """The first of `keys` holding a number ("none" means no threshold qualified)."""
    for key in keys:
        try:
            return float(values[key])
        except (KeyError, TypeError, ValueError):
            continue
    return None


@router.get("/models")
def models_page(request: Request) -> HTMLResponse:
    state = state_of(request)
    versions = state.registry.list_versions()
    rows = []
    for info in versions:
        details = state.registry.version_details(info.version)
        values = {**details.params, **details.metrics, **details.tags}
        rows.append({"info": info, "gate": details.tags.get("gate_decision"),
                     "threshold": _first(values, THRESHOLD_KEYS),
                     "coverage": _first(values, COVERAGE_KEYS),
                     "shadow": shadow_of(state, info.version)})
    holder = state.champion
    serving = holder.classifier.version if holder.loaded else None
    return render(request, "models.html", {
        "versions": rows, "serving": serving, "model_name": state.registry.model_name,
        "message": request.query_params.get("done")})


@router.get("/models/{version}")
def version_page(request: Request, version: int) -> HTMLResponse:
    state = state_of(request)
    try:
        details = state.registry.version_details(version)
    except RegistryUnavailable:
        raise
    except RegistryError as exc:
        return render(request, "error.html", {"message": str(exc)}, status_code=404)
    info = next((v for v in state.registry.list_versions() if v.version == version), None)
    values = {**details.params, **details.metrics, **details.tags}
    return render(request, "version.html", {
        "details": details, "info": info,
        "threshold": _first(values, THRESHOLD_KEYS), "coverage": _first(values, COVERAGE_KEYS)})


@router.get("/models/{version}/figures/{name}")
def figure(request: Request, version: int, name: str) -> Response:
    """A PNG logged with the version's run (confusion matrix, reliability diagram)."""
    state = state_of(request)
    details = state.registry.version_details(version)
    path = next((p for p in details.figures if p.rsplit("/", 1)[-1] == name), None)
    if path is None:
        return Response(status_code=404)
    content = state.registry.artifact_bytes(details.run_id, path)
    return Response(content, media_type="image/png",
                    headers={"Cache-Control": "private, max-age=3600"})


@router.get("/models/{version}/promote")
def confirm_promote(request: Request, version: int) -> HTMLResponse:
    require_role(request, "admin")
    return render(request, "confirm.html", {
        "question": ("Make version %(version)s the champion?", version),
        "action": f"/ui/models/{version}/promote", "button": "Promote"})


@router.post("/models/{version}/promote")
def promote(request: Request, version: int, form: Form) -> Response:
    require_role(request, "admin")
    state = state_of(request)
    state.registry.promote(version)
    state.champion.refresh()
    return redirect(f"/ui/models?done={version}")


@router.get("/models/rollback/confirm")
def confirm_rollback(request: Request) -> HTMLResponse:
    require_role(request, "admin")
    current = state_of(request).registry.champion_version()
    return render(request, "confirm.html", {
        "question": ("Roll back to the champion before version %(version)s?", current),
        "action": "/ui/models/rollback", "button": "Roll back"})


@router.post("/models/rollback")
def rollback(request: Request, form: Form) -> Response:
    require_role(request, "admin")
    state = state_of(request)
    try:
        restored = state.registry.rollback()
    except NoChampionError as exc:
        return render(request, "error.html", {"message": str(exc)}, status_code=404)
    state.champion.refresh()
    return redirect(f"/ui/models?done={restored}")


@router.post("/models/train")
async def train(request: Request, form: Form) -> Response:
    """Queue a training job from an uploaded catalog, then show it."""
    require_role(request, "admin")
    state = state_of(request)
    job = await record_uploaded_training(request, state)
    await run_in_threadpool(enqueue_job, state, job, TRAINING_TASK)
    return redirect(f"/ui/jobs/{job.id}")
