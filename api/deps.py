"""What routes depend on: the process's state, the served model, the admin check."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from fastapi import Depends, HTTPException, Request, Security, status
from fastapi.security import APIKeyHeader

from api.intake import IntakePool
from api.queue import JobQueue
from core import metrics
from core.batch_store import BatchStore
from core.config import Settings
from core.drift_monitor import DriftMonitor, LiveRecorder
from core.jobs import JobStore
from core.model_registry import ModelRegistry
from core.monitoring_store import MonitoringStore
from core.prediction import Classifier
from core.promotion import ShadowRule
from core.review import ReviewStore
from core.serving import ChampionHolder
from core.shadow import ShadowSampler, review_labels, shadow_record


@dataclass
class AppState:
    settings: Settings
    store: JobStore
    batches: BatchStore
    registry: ModelRegistry
    champion: ChampionHolder
    queue: JobQueue
    drift: DriftMonitor | None = None  # made at start-up from the store when not given
    recorder: LiveRecorder = field(default_factory=LiveRecorder)
    shadow: ShadowSampler = field(default_factory=lambda: ShadowSampler(0.0))  # rate set at start
    intake: IntakePool | None = None  # made from the settings at start-up or the first batch
    review: ReviewStore = field(init=False)
    trained_at: dict[int, float] = field(default_factory=dict)  # by version, for /metrics

    def __post_init__(self) -> None:
        # the same database as the jobs; every label a decision writes is counted in /metrics
        self.review = ReviewStore(self.store.engine, on_labels=_count_review_labels)


def _count_review_labels(n: int) -> None:
    metrics.get_metrics().labels_added.labels(source="review").inc(n)


def drift_monitor(state: AppState) -> DriftMonitor:
    """The process's drift monitor, made on the job store's engine when the state has none."""
    if state.drift is None:
        state.drift = DriftMonitor(store=MonitoringStore(state.store.engine),
                                   registry=state.registry, settings=state.settings)
    return state.drift


def shadow_of(state: AppState, version: int) -> dict[str, Any] | None:
    """A version's shadow record (core.shadow) judged against the review labels, with the
    promotion check; None if it was never scored."""
    settings = state.settings
    return shadow_record(
        drift_monitor(state).store, version, labels_of=review_labels(state.review),
        rule=ShadowRule(min_names=settings.shadow_min_labelled, alpha=settings.promotion_alpha))


def intake_pool(state: AppState) -> IntakePool:
    """The process's batch intake processes (api.intake), made at first use."""
    if state.intake is None:
        state.intake = IntakePool(state.settings.intake_processes)
    return state.intake


# The dependencies are `async def`: FastAPI runs a plain `def` dependency on the thread pool, a
# hop that costs more than a lean prediction (BENCHMARKS.md, "Synchronous inference").
async def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.categorizer
    return state


StateDep = Annotated[AppState, Depends(get_state)]


async def get_classifier(state: StateDep) -> Classifier:
    return state.champion.classifier  # NoChampionError -> 503 in api.errors

_api_key = APIKeyHeader(name="X-API-Key", auto_error=False,
                        description="ADMIN_API_KEY for admin endpoints; REVIEWER_API_KEY (or the "
                                    "admin key) for the review and label endpoints")

Role = Literal["admin", "reviewer"]


def _matches(key: str, expected: str) -> bool:
    return bool(expected) and secrets.compare_digest(key.encode(), expected.encode())


def _missing_key() -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, "missing X-API-Key header",
                         headers={"WWW-Authenticate": "APIKey"})


ApiKey = Annotated[str | None, Security(_api_key)]


async def require_admin(state: StateDep, key: ApiKey) -> None:
    """401 without a key, 403 with a wrong one; compared in constant time, never logged."""
    check_admin_key(state.settings, key)


def check_admin_key(settings: Settings, key: str | None) -> None:
    """The admin check, for routes where only some answers need the key."""
    if not key:
        raise _missing_key()
    if not _matches(key, settings.admin_api_key.get_secret_value()):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "invalid API key")


async def require_reviewer(state: StateDep, key: ApiKey) -> Role:
    """The caller's role for the review endpoints: the reviewer key, or the admin's."""
    if not key:
        raise _missing_key()
    if _matches(key, state.settings.admin_api_key.get_secret_value()):
        return "admin"
    reviewer = state.settings.reviewer_api_key
    if reviewer is not None and _matches(key, reviewer.get_secret_value()):
        return "reviewer"
    raise HTTPException(status.HTTP_403_FORBIDDEN, "invalid API key")


AdminDep = Depends(require_admin)
ReviewerDep = Annotated[Role, Depends(require_reviewer)]
