"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.deps import StateDep
from api.schemas import ReadinessPublic

router = APIRouter(tags=["health"])


@router.get("/health")
async def health() -> dict[str, str]:
    """Report that the process is up."""
    return {"status": "ok"}


@router.get("/ready", response_model=ReadinessPublic,
            responses={503: {"model": ReadinessPublic, "description": "not ready"}})
def ready(state: StateDep) -> JSONResponse:
    """Report whether Redis, the database, MLflow and the served model are each ready."""
    checks: dict[str, str] = {}
    for name, probe in (("broker", state.queue.ping), ("database", state.store.ping),
                        ("mlflow", state.registry.champion_version)):
        try:
            probe()
            checks[name] = "ok"
        except Exception as exc:
            checks[name] = f"unavailable: {exc.__class__.__name__}"
    holder = state.champion
    checks["model"] = "ok" if holder.loaded else f"not loaded: {holder.last_error or 'loading'}"
    is_ready = all(value == "ok" for value in checks.values())
    body = ReadinessPublic(
        ready=is_ready, checks=checks,
        model_version=holder.classifier.version if holder.loaded else None,
    )
    return JSONResponse(body.model_dump(), status_code=200 if is_ready else 503)


