"""Domain errors from core mapped to HTTP statuses; core itself knows no HTTP.

The families of core.errors decide the status; a handler for a subclass wins over its family's.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from core.batch import RowLimitExceeded
from core.errors import (
    EmptyBatch,
    InvalidRequest,
    JobNotFound,
    NoChampionError,
    NotFound,
    RegistryUnavailable,
    StoreUnavailable,
    Unavailable,
)
from core.review import ReviewItemNotFound, UnknownCategory

logger = logging.getLogger(__name__)

_STATUS: list[tuple[type[Exception], int]] = [
    (InvalidRequest, 400),    # a catalog or batch upload that cannot be used
    (EmptyBatch, 422),        # well-formed, but nothing to do
    (UnknownCategory, 422),   # a review decision naming a category nobody knows
    (RowLimitExceeded, 413),  # more rows than one job may hold
    (NotFound, 404),          # a job, a model version or alias
    (NoChampionError, 503),   # no model to answer with yet
    (Unavailable, 503),       # the registry, the job store or the broker is down
]


# What a client is told when a dependency is down: which one, not the driver's message (it
# names backends, hosts and sometimes values); the log has the full message.
_PUBLIC_DETAIL = {
    StoreUnavailable: "job database unavailable; retry later",
    RegistryUnavailable: "model registry unavailable; retry later",
}


def install_error_handlers(app: FastAPI) -> None:
    for error, code in _STATUS:
        app.add_exception_handler(error, _handler(code))


def _handler(code: int):  # type: ignore[no-untyped-def]
    async def handle(request: Request, exc: Exception) -> JSONResponse:
        detail = str(exc)
        if isinstance(exc, JobNotFound):
            detail = "no such job (unknown id, or expired)"
        if isinstance(exc, ReviewItemNotFound):
            detail = _item_detail(exc)
        if code >= 500:
            logger.warning("%s %s -> %d: %s", request.method, request.url.path, code, detail)
            detail = next((public for kind, public in _PUBLIC_DETAIL.items()
                           if isinstance(exc, kind)), detail)
        headers = {"Retry-After": "5"} if code == 503 else None
        return JSONResponse({"detail": detail}, status_code=code, headers=headers)

    return handle


def _item_detail(exc: ReviewItemNotFound) -> str:
    shown = str(exc.args[0]) if exc.args else ""
    if shown.isdigit():
        return f"no review item with id {shown} (unknown id, or its job expired)"
    return f"{shown} (unknown id, or its job expired)"
