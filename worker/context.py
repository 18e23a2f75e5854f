"""What a worker process holds: its settings, job store, registry and loaded models, made once."""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import lru_cache

from core.batch_store import BatchStore
from core.config import Settings, get_settings
from core.drift_monitor import DriftMonitor
from core.jobs import JobStore
from core.model_registry import ModelRegistry
from core.monitoring_store import MonitoringStore
from core.service import registry_from_settings
from core.serving import VersionCache


@dataclass
class WorkerContext:
    settings: Settings
    store: JobStore
    batches: BatchStore
    registry: ModelRegistry
    models: VersionCache
    drift: DriftMonitor | None = None
    _challenger_read: tuple[float, int | None] = (-1e18, None)

    def challenger_version(self) -> int | None:
        """The challenger alias, read at most every MODEL_REFRESH_SECONDS per process."""
        now = time.monotonic()
        if now - self._challenger_read[0] > self.settings.model_refresh_seconds:
            self._challenger_read = (now, self.registry.challenger_version())
        return self._challenger_read[1]

    def drift_monitor(self) -> DriftMonitor:
        """Drift profiles go to the job store's engine (made on first use)."""
        if self.drift is None:
            # Its tables are the job store's, made with them (core.db migrations).
            self.drift = DriftMonitor(store=MonitoringStore(self.store.engine),
                                      registry=self.registry, settings=self.settings)
        return self.drift


@lru_cache
def get_context() -> WorkerContext:
    settings = get_settings()
    store = JobStore.from_url(settings.effective_database_url)
    store.create_schema()
    registry = registry_from_settings(settings)
    return WorkerContext(settings=settings, store=store, batches=BatchStore(store),
                         registry=registry,
                         models=VersionCache(registry, top_k=settings.top_k))
