"""The training service: load a catalog, train, track, register and gate, as one call."""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass
from typing import Any

from core import metrics
from core.config import Settings
from core.data import Catalog, duplicate_key, load_catalog
from core.drift import reference_profile
from core.labels import LabelMerge, training_catalog
from core.promotion import PromotionGate
from core.registry import Registry
from core.review import ReviewStore
from core.training import FrozenHoldout, StageCallback, TrainParams, train

logger = logging.getLogger(__name__)


def registry_from_settings(settings: Settings) -> Registry:
    """The registry the settings point at (an embedded SQLite store by default)."""
    if settings.mlflow_tracking_uri is None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    return Registry(
        tracking_uri=settings.effective_tracking_uri,
        model_name=settings.model_name,
        experiment_name=settings.experiment_name,
        artifact_root=settings.artifact_root if settings.mlflow_tracking_uri is None else None,
    )


def params_from_settings(settings: Settings, **overrides: Any) -> TrainParams:
    """Training parameters with the settings' prior weight and auto-file guarantee."""
    values: dict[str, Any] = {
        "prior_weight": settings.prior_weight,
        "auto_file_precision": settings.auto_file_precision,
        "auto_file_delta": settings.auto_file_delta,
        "calibration_folds": settings.calibration_folds,
        "separator": settings.category_separator,
    }
    return TrainParams(**{**values, **overrides})


@dataclass(frozen=True)
class TrainingOutcome:
    version: int
    run_id: str
    promoted: bool
    reason: str
    rows: int
    metrics: dict[str, Any]
    best_params: dict[str, Any]
    cv_macro_f1: float
    champion_version: int | None
    champion_macro_f1: float | None
    p_value: float | None
    seconds: float
    family: str = "flat"  # the model family training used (core.models.choose_family)
    # The calibration and the auto-file threshold: `threshold` (None: nothing is filed
    # automatically), `summary` in words, coverage and precision on the frozen test split.
    auto_file: dict[str, Any] | None = None
    # What the stored labels changed in the training rows (core.labels.LabelMerge.summary);
    # None when training had no label store (the CLI).
    labels: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _log_reference(registry: Registry, version: int, run_id: str, result: Any) -> None:
    """Store the drift reference (core/drift.py) with the version: its held-out rows answered
    as it will be served. Best effort: without one, drift reports `no_data` for the version."""
    try:
        temperature, threshold = registry.calibration(version)
        registry.log_reference_profile(run_id, reference_profile(
            result.model, result.test_names, temperature=temperature,
            auto_file_threshold=threshold).as_dict())
    except Exception as exc:
        logger.warning("version %s: no drift reference profile stored: %s", version, exc)


def train_and_register(
    *,
    registry: Registry,
    settings: Settings,
    catalog: Catalog | None = None,
    source: str | None = None,
    table: str | None = None,
    query: str | None = None,
    params: TrainParams | None = None,
    on_stage: StageCallback | None = None,
    promotion_lock: Callable[[], AbstractContextManager[Any]] | None = None,
    tags: dict[str, str] | None = None,
    label_store: ReviewStore | None = None,
    include_labels: bool = True,
    job_id: str | None = None,
) -> TrainingOutcome:
    """Train from a catalog (given, or loaded from a source), log it, register it, gate it.

    With a `label_store`, the catalog's rows are recorded as labels of training job `job_id`,
    and, unless `include_labels` is off, the reviewers' labels are merged in (core.labels).
    """
    stage = on_stage or (lambda _stage: None)
    if catalog is None:
        if source is None:
            raise ValueError("give a catalog or a source to load one from")
        stage("loading data")
        catalog = load_catalog(source, table=table, query=query)
    params = params or params_from_settings(settings)
    labels = holdout = None
    if label_store is not None:
        stage("merging labels")
        # A category only labels know needs enough names that every fold of the selection's
        # cross-validation still has one after the held-out split.
        needed = math.ceil(max(params.min_per_category, params.cv_folds) / (1 - params.test_size))
        merge = training_catalog(label_store, catalog, job_id=job_id,
                                 include_labels=include_labels, min_per_category=needed)
        catalog, labels = merge.catalog, merge.summary()
        holdout = _champion_holdout(registry, merge) if merge.changed else None
    result = train(catalog=catalog, params=params, on_stage=stage, holdout=holdout)
    stage("logging to MLflow")
    run_id, version = registry.log_run(result=result, catalog=catalog, params=params, tags=tags)
    _log_reference(registry, version, run_id, result)
    stage("comparing with the champion")
    lock = promotion_lock or contextlib.nullcontext
    with lock():
        decision = registry.gate(
            version=version, run_id=run_id, result=result,
            gate=PromotionGate(min_delta=settings.promotion_min_delta,
                               alpha=settings.promotion_alpha),
        )
    metrics.observe_training(result.seconds, promoted=decision.promoted)
    return TrainingOutcome(
        version=version, run_id=run_id, promoted=decision.promoted, reason=decision.reason,
        rows=len(catalog), metrics=result.metrics, best_params=result.best_params,
        cv_macro_f1=result.cv_macro_f1, champion_version=decision.champion_version,
        champion_macro_f1=decision.champion_macro_f1, p_value=decision.p_value,
        seconds=result.seconds, family=result.family, labels=labels,
        auto_file=None if result.trust is None else result.trust.report(),
    )


def _champion_holdout(registry: Registry, merge: LabelMerge) -> FrozenHoldout | None:
    """The champion's test split, kept held out when labels changed the rows (FrozenHoldout)."""
    champion = registry.champion_version()
    if champion is None:
        return None
    names, _ = registry.test_split(champion)
    return FrozenHoldout(test_keys=frozenset(map(duplicate_key, names)),
                         fresh_keys=merge.fresh_keys)
