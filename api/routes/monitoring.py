"""Prometheus metrics of this process and the store-wide figures it reads in the background."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, Response, status
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from api.deps import get_state

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
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
