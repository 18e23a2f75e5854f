"""Pool processes that start warm: the imports their first task needs happen once, pre-fork.

The registry and the job store import MLflow, skops, Alembic and the database driver on first
use (core.registry, core.db), so that a process which never needs them never pays for them. In
a prefork worker every pool process would then pay for them on its first task, and again each
time the pool replaces a process (a child lost to the OOM killer, `--max-tasks-per-child`). The
main process imports them at `worker_init`, before the pool forks; each pool process inherits
them. Measured with benchmarks/worker_warmup.py (BENCHMARKS.md, "Worker pool start-up").
"""

from __future__ import annotations

import logging
from typing import Any

from celery import signals

from core.config import get_settings
from core.db import import_for
from core.registry import import_client

logger = logging.getLogger(__name__)


@signals.worker_init.connect(dispatch_uid="categorizer-warm-pool")
def import_before_fork(**_: Any) -> None:
    """Import the job store's and the registry's modules in the main process, pre-fork.

    Only a head start: if an import fails here (a database URL naming no installed driver), the
    worker starts anyway and the first task meets the same error where it is reported today.
    """
    try:
        import_for(get_settings().effective_database_url)
        import_client()
    except Exception as exc:
        logger.warning("pool warm-up skipped, pool processes import on first use: %s", exc)
