"""Celery workers: `celery -A worker worker -Q training` or `-Q inference`.

The app is built from settings on first access (`worker.app`), not at import.
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    if name == "app":
        from worker.celery_app import get_celery_app

        return get_celery_app()
    raise AttributeError(name)
