"""Train a categorizer: grouped held-out split, cross-validated selection, scoring."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.model_selection import GridSearchCV, StratifiedGroupKFold
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from core.data import Catalog, check_trainable, duplicate_key
from core.evaluation import score
from core.models import ModelFamily, PreprocessingOptions, search_space

logger = logging.getLogger(__name__)

StageCallback = Callable[[str], None]


@dataclass(frozen=True)
class TrainParams:
    """What to train and how to select it."""

    family: ModelFamily = "linear"
    preprocessing: PreprocessingOptions = field(default_factory=PreprocessingOptions)
    test_size: float = 0.2
    cv_folds: int = 5
    seed: int = 42
    n_jobs: int = 1
    min_per_category: int = 5

    def as_dict(self) -> dict[str, Any]:
        flat = {k: v for k, v in self.__dict__.items() if k != "preprocessing"}
        flat.update({f"pre_{k}": v for k, v in self.preprocessing.__dict__.items()})
        return flat


@dataclass(frozen=True)
class TrainResult:
    """A fitted pipeline, the frozen test split it was scored on, and what selection found."""

    model: Pipeline
    test_names: list[str]
    test_categories: list[str]
    metrics: dict[str, Any]
    best_params: dict[str, Any]
    cv_macro_f1: float
    n_train: int
    seconds: float


def duplicate_groups(names: list[str]) -> np.ndarray:
    """One group id per distinct name, so exact duplicates never straddle a split."""
    ids: dict[str, int] = {}
    return np.array([ids.setdefault(duplicate_key(n), len(ids)) for n in names])


def split_holdout(
    catalog: Catalog, *, test_size: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Stratified, duplicate-grouped train/test indices."""
    n_splits = max(2, round(1 / test_size))
    splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    groups = duplicate_groups(catalog.names)
    train_idx, test_idx = next(splitter.split(catalog.names, catalog.categories, groups))
    return train_idx, test_idx


def train(
    *, catalog: Catalog, params: TrainParams, on_stage: StageCallback | None = None
) -> TrainResult:
    """Select a model by grouped, stratified cross-validation on macro-F1 and score it held-out."""
    stage = on_stage or (lambda _stage: None)
    started = time.perf_counter()
    check_trainable(catalog, min_per_category=max(params.min_per_category, params.cv_folds))

    stage("splitting")
    names = np.array(catalog.names, dtype=object)
    categories = np.array(catalog.categories, dtype=object)
    train_idx, test_idx = split_holdout(catalog, test_size=params.test_size, seed=params.seed)
    x_train, y_train = names[train_idx].tolist(), categories[train_idx].tolist()
    x_test, y_test = names[test_idx].tolist(), categories[test_idx].tolist()

    stage("selecting")
    pipeline, grid = search_space(params.family, params.preprocessing, seed=params.seed)
    search = GridSearchCV(
        pipeline,
        grid,
        scoring="f1_macro",
        cv=StratifiedGroupKFold(n_splits=params.cv_folds, shuffle=True, random_state=params.seed),
        n_jobs=params.n_jobs,
        refit=True,
        error_score="raise",
    )
    # These fits are small: one BLAS thread each is faster than several fighting over 2 cores.
    with threadpool_limits(limits=1):
        search.fit(x_train, y_train, groups=duplicate_groups(x_train))
    model: Pipeline = search.best_estimator_
    logger.info("selected %s (cv macro-F1 %.4f)", search.best_params_, search.best_score_)

    stage("evaluating")
    metrics = score(y_test, model.predict(x_test).tolist())
    return TrainResult(
        model=model,
        test_names=x_test,
        test_categories=y_test,
        metrics=metrics,
        best_params=dict(search.best_params_),
        cv_macro_f1=float(search.best_score_),
        n_train=len(x_train),
        seconds=time.perf_counter() - started,
    )
