"""Prometheus metrics of this process and the store-wide figures it reads in the background."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, Response, status
from prometheus_client import CONTENT_TYPE_LATEST

from api.deps import StateDep, drift_monitor, get_state
from api.schemas import DriftPublic, problems
from core import metrics

router = APIRouter(tags=["monitoring"])


# `async def`: no I/O here (the store-wide figures are read in the background), and a hop to the
# thread pool would cost more than the rendering.
@router.get("/metrics", response_class=Response, include_in_schema=True,
            responses={200: {"content": {CONTENT_TYPE_LATEST: {}},
                             "description": "Prometheus text format"}})
async def prometheus_metrics(request: Request) -> Response:
    """Export this process's metrics in the Prometheus text format."""
    state = await get_state(request)
    if not state.settings.metrics_enabled:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "metrics are off (METRICS_ENABLED=false)")
    return Response(metrics.exposition().render(), media_type=CONTENT_TYPE_LATEST)


@router.get("/v1/monitoring/drift", response_model=DriftPublic, responses=problems(404))
def drift(state: StateDep,
          model_version: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None) -> Any:
    """Compare live traffic of a version (default: the champion) with its training profile."""
    version = model_version if model_version is not None else state.registry.champion_version()
    if model_version is not None:
        state.registry.calibration(model_version)  # an unknown version: RegistryError, 404
    return drift_monitor(state).report(version).as_dict()
