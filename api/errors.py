"""Domain errors from core mapped to HTTP statuses; core itself knows no HTTP."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from api.queue import QueueUnavailable
from core.batch import BatchInputError, RowLimitExceeded
from core.data import CatalogError
from core.jobs import JobNotFound, StoreUnavailable
from core.registry import NoChampionError, RegistryError, RegistryUnavailable
from core.sources import SourceRefused, SourceUnavailable

logger = logging.getLogger(__name__)

_STATUS = [
    (JobNotFound, 404),
    (NoChampionError, 503),
    (RegistryUnavailable, 503),
    (RegistryError, 404),
    (CatalogError, 400),
    (SourceRefused, 400),
    (SourceUnavailable, 503),
    (RowLimitExceeded, 413),
    (BatchInputError, 400),
    (StoreUnavailable, 503),
    (QueueUnavailable, 503),
]


def install_error_handlers(app: FastAPI) -> None:
    for error, code in _STATUS:
        app.add_exception_handler(error, _handler(code))


def _handler(code: int):  # type: ignore[no-untyped-def]
    async def handle(request: Request, exc: Exception) -> JSONResponse:
        detail = str(exc)
        if isinstance(exc, JobNotFound):
            detail = "no such job (unknown id, or expired)"
        if code >= 500:
            logger.warning("%s %s -> %d: %s", request.method, request.url.path, code, detail)
        headers = {"Retry-After": "5"} if code == 503 else None
        return JSONResponse({"detail": detail}, status_code=code, headers=headers)

    return handle
