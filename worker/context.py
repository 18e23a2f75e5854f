"""What a worker process holds: its settings, job store, registry and loaded models, made once."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from core.config import Settings, get_settings
from core.drift_monitor import DriftMonitor
from core.jobs import JobStore
from core.monitoring_store import MonitoringStore
from core.registry import Registry
from core.service import registry_from_settings
from core.serving import VersionCache


@dataclass
class WorkerContext:
    settings: Settings
    store: JobStore
    registry: Registry
    models: VersionCache
    drift: DriftMonitor | None = None

    def drift_monitor(self) -> DriftMonitor:
        """Drift profiles go to the job store's engine (made on first use)."""
        if self.drift is None:
            monitoring = MonitoringStore(self.store.engine)
            monitoring.create_schema()
            self.drift = DriftMonitor(store=monitoring, registry=self.registry,
                                      settings=self.settings)
        return self.drift


@lru_cache
def get_context() -> WorkerContext:
    settings = get_settings()
    store = JobStore.from_url(settings.effective_database_url)
    store.create_schema()
    registry = registry_from_settings(settings)
    return WorkerContext(settings=settings, store=store, registry=registry,
                         models=VersionCache(registry, top_k=settings.top_k))
