"""Train a categorizer: grouped held-out split, cross-validated selection, scoring."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, StratifiedGroupKFold
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from core.data import SAMPLE_CATALOG, Catalog, check_trainable, duplicate_key, load_catalog
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
    # Weight of each row of the built-in sample catalog, added to the training rows of a linear
    # model as a vocabulary prior (0 turns it off). See `prior_rows`.
    prior_weight: float = 0.1

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
    n_prior: int = 0  # built-in sample rows added to the training rows (see prior_rows)


def duplicate_groups(names: list[str]) -> np.ndarray:
    """One group id per distinct name, so exact duplicates never straddle a split."""
    ids: dict[str, int] = {}
    return np.array([ids.setdefault(duplicate_key(n), len(ids)) for n in names])


def prior_rows(catalog: Catalog) -> tuple[list[str], list[str]]:
    """The built-in sample catalog's rows that may be added to `catalog`'s training rows.

    The sample catalog is synthetic (scripts/generate_sample_catalog.py), in six categories.
    Mixed into training at a small weight it teaches the model hardware vocabulary a store's own
    catalog lacks, which matters most for product families the store's catalog has never listed
    (BENCHMARKS.md, "Model quality"). It is used only when the catalog has exactly those
    categories, never when the catalog is mostly the sample catalog itself, and without the
    sample rows whose name the catalog lists too (anywhere, held-out rows included), so no prior
    row can stand in for a test row.
    """
    if not SAMPLE_CATALOG.exists():
        return [], []
    prior = load_catalog(SAMPLE_CATALOG)
    if set(prior.categories) != set(catalog.categories):
        return [], []
    own = {duplicate_key(name) for name in catalog.names}
    prior_keys = {duplicate_key(name) for name in prior.names}
    if len(own & prior_keys) * 2 > len(own):
        return [], []
    kept = [(n, c) for n, c in zip(prior.names, prior.categories, strict=True)
            if duplicate_key(n) not in own]
    return [n for n, _ in kept], [c for _, c in kept]


def fit_with_prior(
    pipeline: Pipeline, x: list[str], y: list[str], *,
    prior: tuple[list[str], list[str]] = ([], []), prior_weight: float = 0.0,
) -> Pipeline:
    """Fit on the rows, plus the prior rows weighted `prior_weight` when there are any."""
    if prior_weight > 0 and prior[0]:
        weights = np.concatenate([np.ones(len(x)), np.full(len(prior[0]), prior_weight)])
        return pipeline.fit([*x, *prior[0]], [*y, *prior[1]], classifier__sample_weight=weights)
    return pipeline.fit(x, y)


@dataclass(frozen=True)
class Selection:
    """The chosen parameters, their cross-validated score, and the model refit with them."""

    model: Pipeline
    best_params: dict[str, Any]
    cv_macro_f1: float
    splits: list[tuple[np.ndarray, np.ndarray]]  # the inner CV's (train, test) over x_train


def select(
    pipeline: Pipeline,
    grid: dict[str, list[Any]],
    x_train: list[str],
    y_train: list[str],
    *,
    prior: tuple[list[str], list[str]] = ([], []),
    prior_weight: float = 0.0,
    cv_folds: int,
    seed: int,
    n_jobs: int,
) -> Selection:
    """Grid-search by grouped, stratified CV on macro-F1, then refit the best on all the rows.

    Selection runs on the catalog's own rows; the prior rows (weighted `prior_weight`) join the
    final fit only. So no prior row is ever scored, and the selection fits stay the size of the
    store's catalog: with the prior in every fit, selection took three times as long for no
    better model (BENCHMARKS.md, "Model quality").
    """
    inner = StratifiedGroupKFold(n_splits=cv_folds, shuffle=True, random_state=seed)
    splits = list(inner.split(x_train, y_train, duplicate_groups(x_train)))
    search = GridSearchCV(pipeline, grid, scoring="f1_macro", cv=splits, n_jobs=n_jobs,
                          refit=False, error_score="raise")
    # These fits are small: one BLAS thread each is faster than several fighting over 2 cores.
    with threadpool_limits(limits=1):
        search.fit(x_train, y_train)
        model = fit_with_prior(clone(pipeline).set_params(**search.best_params_),
                               x_train, y_train, prior=prior, prior_weight=prior_weight)
    return Selection(model=model, best_params=dict(search.best_params_),
                     cv_macro_f1=float(search.best_score_), splits=splits)


def split_holdout(
    catalog: Catalog, *, test_size: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Stratified, duplicate-grouped train/test indices."""
    n_splits = max(2, round(1 / test_size))
    splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    groups = duplicate_groups(catalog.names)
    train_idx, test_idx = next(splitter.split(catalog.names, catalog.categories, groups))
    return train_idx, test_idx


def check_catalog(catalog: Catalog, params: TrainParams | None = None, *,
                  name_categories: bool = False) -> None:
    """Refuse, with the reason, a catalog that `train` could not split and select on."""
    params = params or TrainParams()
    check_trainable(catalog, min_per_category=max(params.min_per_category, params.cv_folds),
                    name_categories=name_categories)


def train(
    *, catalog: Catalog, params: TrainParams, on_stage: StageCallback | None = None
) -> TrainResult:
    """Select a model by grouped, stratified cross-validation on macro-F1 and score it held-out."""
    stage = on_stage or (lambda _stage: None)
    started = time.perf_counter()
    check_catalog(catalog, params)

    stage("splitting")
    names = np.array(catalog.names, dtype=object)
    categories = np.array(catalog.categories, dtype=object)
    train_idx, test_idx = split_holdout(catalog, test_size=params.test_size, seed=params.seed)
    x_train, y_train = names[train_idx].tolist(), categories[train_idx].tolist()
    x_test, y_test = names[test_idx].tolist(), categories[test_idx].tolist()

    stage("selecting")
    pipeline, grid = search_space(params.family, params.preprocessing, seed=params.seed)
    use_prior = params.family == "linear" and params.prior_weight > 0
    prior = prior_rows(catalog) if use_prior else ([], [])
    selection = select(pipeline, grid, x_train, y_train, prior=prior,
                       prior_weight=params.prior_weight, cv_folds=params.cv_folds,
                       seed=params.seed, n_jobs=params.n_jobs)
    model = selection.model
    logger.info("selected %s (cv macro-F1 %.4f)", selection.best_params, selection.cv_macro_f1)

    stage("evaluating")
    metrics = score(y_test, model.predict(x_test).tolist())
    return TrainResult(
        model=model,
        test_names=x_test,
        test_categories=y_test,
        metrics=metrics,
        best_params=selection.best_params,
        cv_macro_f1=selection.cv_macro_f1,
        n_train=len(x_train),
        n_prior=len(prior[0]),
        seconds=time.perf_counter() - started,
    )
