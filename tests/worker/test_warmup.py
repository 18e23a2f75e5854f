"""The worker's pool processes start with MLflow, skops, Alembic and the driver imported."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WARMED = ("mlflow.sklearn", "mlflow.store.tracking.sqlalchemy_store", "skops.io",
          "alembic.command", "psycopg")

# What a `celery -A worker worker` main process does before its pool forks: build the app,
# import the modules it includes (connecting their signal handlers), send `worker_init`.
PROBE = f"""
import json, sys, threading
from celery import signals
from worker.celery_app import get_celery_app
get_celery_app().loader.import_default_modules()
before = [m for m in {WARMED!r} if m in sys.modules]
signals.worker_init.send(sender=None)
after = [m for m in {WARMED!r} if m in sys.modules]
print(json.dumps({{"before": before, "after": after, "threads": threading.active_count()}}))
"""


def test_the_main_process_imports_what_a_pool_process_needs_before_the_pool_forks(
    tmp_path: Path,
) -> None:
    env = {name: value for name, value in os.environ.items()
           if not name.startswith(("MLFLOW_", "DATABASE_URL", "REDIS_URL"))}
    env.update(DATA_DIR=str(tmp_path), PYTHONPATH=str(ROOT),
               # Only parsed, never connected to: the driver is imported, nothing else.
               DATABASE_URL="postgresql+psycopg://nobody@127.0.0.1:1/none")
    result = subprocess.run([sys.executable, "-c", PROBE], env=env, cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])

    assert seen["before"] == [], "imported at import time: the lazy imports came back"
    assert seen["after"] == list(WARMED)
    assert seen["threads"] == 1, "a thread started before the fork would not survive it"


def test_a_warm_up_that_fails_leaves_the_worker_starting(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    """A database URL naming no installed driver: the warm-up says so and the worker goes on
    (its first task reports the bad URL where it always has)."""
    from core.config import get_settings
    from worker.warmup import import_before_fork

    monkeypatch.setenv("DATABASE_URL", "nosuchdb://somewhere/jobs")
    get_settings.cache_clear()
    try:
        with caplog.at_level(logging.WARNING, logger="worker.warmup"):
            import_before_fork()
    finally:
        get_settings.cache_clear()
    assert "pool warm-up skipped" in caplog.text
    assert "nosuchdb" in caplog.text
