"""Train a categorizer: grouped held-out split, cross-validated selection, scoring."""

from __future__ import annotations

import logging
import time
import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

import numpy as np
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, StratifiedGroupKFold, StratifiedKFold
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from core.calibration import out_of_fold_scores
from core.data import (
    SAMPLE_CATALOG,
    Catalog,
    CatalogError,
    check_trainable,
    duplicate_key,
    load_catalog,
)
from core.evaluation import level_scores, score
from core.models import ModelFamily, PreprocessingOptions, choose_family, search_space
from core.prediction import Classifier
from core.taxonomy import (
    DEFAULT_SEPARATOR,
    PathError,
    canonical_categories,
    split_path,
    truncate,
)
from core.thresholds import Trust, calibrate_and_choose, with_test_split

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
    # What separates the levels of a category path (CATEGORY_SEPARATOR).
    separator: str = DEFAULT_SEPARATOR
    # Above this many training rows, selection scores each candidate on one grouped holdout
    # (1 / cv_folds of the rows) instead of cv_folds folds: a fifth of the fits where each fit
    # is long, and the holdout is then thousands of rows, plenty to rank a few candidates.
    cv_max_rows: int = 20_000
    # The auto-file threshold's guarantee (core/thresholds.py): precision of the names filed
    # with no human look at least `auto_file_precision`, with probability 1 - `auto_file_delta`.
    auto_file_precision: float = 0.995
    auto_file_delta: float = 0.05
    # Duplicate-grouped folds of the out-of-fold predictions the calibration and the threshold
    # are fitted on. More folds than selection uses: each fold's model then learns from 90 %
    # of the rows and is nearly as sure as the final model, which raised the held-out coverage
    # of the guaranteed threshold on the real catalog from 0.835 to 0.869 (BENCHMARKS.md,
    # "Review loop").
    calibration_folds: int = 10

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
    # Content hash of those rows (core.data.Catalog.fingerprint); "" when none were added.
    prior_fingerprint: str = ""
    family: str = "flat"  # the family "linear" resolved to (core.models.choose_family)
    selection: str = "cv"  # "cv": cv_folds folds; "holdout": one fold (see TrainParams)
    # Calibration and auto-file threshold, from out-of-fold predictions (core/thresholds.py).
    trust: Trust | None = None


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
    holdout: bool = False  # True when selection used one of the folds only


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
    cv_max_rows: int | None = None,
) -> Selection:
    """Grid-search by grouped, stratified CV on macro-F1, then refit the best on all the rows.

    Selection runs on the catalog's own rows; the prior rows (weighted `prior_weight`) join the
    final fit only. So no prior row is ever scored, and the selection fits stay the size of the
    store's catalog: with the prior in every fit, selection took three times as long for no
    better model (BENCHMARKS.md, "Model quality"). Above `cv_max_rows` rows, only the first of
    the folds is used, as one grouped holdout.
    """
    splits = grouped_folds(x_train, y_train, n_splits=cv_folds, seed=seed, large=cv_max_rows)
    holdout = cv_max_rows is not None and len(x_train) > cv_max_rows
    if holdout:
        splits = splits[:1]
    search = GridSearchCV(pipeline, grid, scoring="f1_macro", cv=splits, n_jobs=n_jobs,
                          refit=False, error_score="raise")
    # These fits are small: one BLAS thread each is faster than several fighting over 2 cores.
    with threadpool_limits(limits=1):
        search.fit(x_train, y_train)
        model = fit_with_prior(clone(pipeline).set_params(**search.best_params_),
                               x_train, y_train, prior=prior, prior_weight=prior_weight)
    return Selection(model=model, best_params=dict(search.best_params_),
                     cv_macro_f1=float(search.best_score_), splits=splits, holdout=holdout)


def grouped_folds(names: list[str], categories: list[str], *, n_splits: int, seed: int,
                  large: int | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified folds that never split a group of duplicate names.

    Up to `large` rows: scikit-learn's StratifiedGroupKFold, which balances every fold's
    category mix group by group. Its cost grows with groups times categories (15 s for one
    split of 15,000 rows in 300 categories, minutes at 1,000), so above `large` rows the
    groups are stratified instead, each by its first row's category (StratifiedKFold over
    groups): the same guarantee that no name straddles a split, in milliseconds.
    """
    groups = duplicate_groups(names)
    if large is None or len(names) <= large:
        splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
        return list(splitter.split(names, categories, groups))
    _, first = np.unique(groups, return_index=True)
    labels = np.asarray(categories, dtype=object)[first]
    rows = np.arange(len(names))
    folds = []
    with warnings.catch_warnings():
        # A category with fewer groups than folds is simply missing from some test folds.
        warnings.filterwarnings("ignore", message="The least populated class",
                                category=UserWarning)
        splitter = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
        for _, test_groups in splitter.split(np.zeros(len(labels)), labels):
            test = np.isin(groups, test_groups)
            folds.append((rows[~test], rows[test]))
    return folds


def split_holdout(
    catalog: Catalog, *, test_size: float, seed: int, large: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Stratified, duplicate-grouped train/test indices (`grouped_folds`' first fold)."""
    n_splits = max(2, round(1 / test_size))
    return grouped_folds(catalog.names, catalog.categories, n_splits=n_splits, seed=seed,
                         large=large)[0]


@dataclass(frozen=True)
class FrozenHoldout:
    """A held-out split that keeps the champion's test names held out.

    When stored labels change the training rows, the stratified split of the new rows would
    differ from the champion's, and the champion would be scored on rows it was trained on.
    Instead the test split is the champion's test names (as they are filed now) plus a share
    `test_size` of the names no model has seen (`fresh_keys`, reviewed names new to the
    catalog); every other row trains. Both models are then scored on rows neither learnt from.
    """

    test_keys: frozenset[str]
    fresh_keys: frozenset[str] = frozenset()


def split_frozen(catalog: Catalog, holdout: FrozenHoldout, *, test_size: float,
                 seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Train/test indices under a frozen holdout (duplicates stay together)."""
    keys = [duplicate_key(name) for name in catalog.names]
    fresh = sorted({k for k in keys if k in holdout.fresh_keys and k not in holdout.test_keys})
    rng = np.random.default_rng(seed)
    chosen = set(rng.permutation(fresh)[: round(test_size * len(fresh))].tolist())
    held = holdout.test_keys | chosen
    in_test = np.array([key in held for key in keys])
    return np.flatnonzero(~in_test), np.flatnonzero(in_test)


def check_catalog(catalog: Catalog, params: TrainParams | None = None, *,
                  name_categories: bool = False) -> None:
    """Refuse, with the reason, a catalog that `train` could not split and select on."""
    params = params or TrainParams()
    catalog = with_canonical_paths(catalog, separator=params.separator)
    check_trainable(catalog, min_per_category=max(params.min_per_category, params.cv_folds),
                    name_categories=name_categories)


def train(
    *, catalog: Catalog, params: TrainParams, on_stage: StageCallback | None = None,
    holdout: FrozenHoldout | None = None,
) -> TrainResult:
    """Select a model by grouped, stratified cross-validation on macro-F1 and score it held-out
    (on the split `holdout` freezes, when given)."""
    stage = on_stage or (lambda _stage: None)
    started = time.perf_counter()
    catalog = with_canonical_paths(catalog, separator=params.separator)
    check_catalog(catalog, params)

    stage("splitting")
    names = np.array(catalog.names, dtype=object)
    categories = np.array(catalog.categories, dtype=object)
    if holdout is None:
        train_idx, test_idx = split_holdout(catalog, test_size=params.test_size,
                                            seed=params.seed, large=params.cv_max_rows)
    else:
        train_idx, test_idx = split_frozen(catalog, holdout, test_size=params.test_size,
                                           seed=params.seed)
    x_train, y_train = names[train_idx].tolist(), categories[train_idx].tolist()
    x_test, y_test = names[test_idx].tolist(), categories[test_idx].tolist()

    stage("selecting")
    family = choose_family(params.family, catalog.categories, separator=params.separator)
    pipeline, grid = search_space(family, params.preprocessing, seed=params.seed,
                                  separator=params.separator)
    use_prior = family == "flat" and params.prior_weight > 0
    prior = prior_rows(catalog) if use_prior else ([], [])
    selection = select(pipeline, grid, x_train, y_train, prior=prior,
                       prior_weight=params.prior_weight, cv_folds=params.cv_folds,
                       seed=params.seed, n_jobs=params.n_jobs, cv_max_rows=params.cv_max_rows)
    model = selection.model
    logger.info("selected %s (cv macro-F1 %.4f)", selection.best_params, selection.cv_macro_f1)

    stage("calibrating")
    trust = calibrate(clone(pipeline).set_params(**selection.best_params), x_train, y_train,
                      prior=prior, params=params)
    logger.info("temperature %.4f; %s", trust.temperature, trust.auto_file.summary())

    stage("evaluating")
    predicted = model.predict(x_test).tolist()
    metrics = score(y_test, predicted)
    levels = level_scores(y_test, predicted, separator=params.separator)
    if levels:
        metrics["levels"] = levels
    trust = trust_on_test(model, trust, x_test, y_test, separator=params.separator)
    return TrainResult(
        model=model,
        test_names=x_test,
        test_categories=y_test,
        metrics=metrics,
        best_params=selection.best_params,
        cv_macro_f1=selection.cv_macro_f1,
        n_train=len(x_train),
        n_prior=len(prior[0]),
        prior_fingerprint=(Catalog(names=prior[0], categories=prior[1], source="prior").fingerprint
                           if prior[0] else ""),
        seconds=time.perf_counter() - started,
        family=family,
        selection="holdout" if selection.holdout else "cv",
        trust=trust,
    )


def calibrate(
    pipeline: Pipeline, x_train: list[str], y_train: list[str], *,
    prior: tuple[list[str], list[str]], params: TrainParams,
) -> Trust:
    """Temperature and auto-file threshold from out-of-fold predictions of the training rows.

    The folds are stratified and duplicate-grouped (a name and its exact duplicates never on
    both sides, or the out-of-fold predictions would be as sure as the model is of the names
    it learnt), `params.calibration_folds` of them (fewer when a category has fewer rows;
    three above `params.cv_max_rows` rows, where each fit is long: at 1,000 categories ten
    refits would be most of the training time), and each fold's model is fitted as the final
    one is, prior included.
    """
    smallest = min(Counter(y_train).values())
    wanted = params.calibration_folds if len(x_train) <= params.cv_max_rows else 3
    folds = max(2, min(wanted, smallest))
    splits = grouped_folds(x_train, y_train, n_splits=folds, seed=params.seed,
                           large=params.cv_max_rows)
    fit = partial(fit_with_prior, prior=prior, prior_weight=params.prior_weight)
    with threadpool_limits(limits=1):
        oof = out_of_fold_scores(pipeline, x_train, y_train, splits, fit=fit,
                                 n_jobs=params.n_jobs)
    return calibrate_and_choose(oof, precision=params.auto_file_precision,
                                delta=params.auto_file_delta, separator=params.separator)


def trust_on_test(model: Pipeline, trust: Trust, x_test: list[str], y_test: list[str], *,
                  separator: str = DEFAULT_SEPARATOR) -> Trust:
    """The calibration's and the threshold's figures on the frozen test split, as served.

    For category paths also, per depth d, the share of the names filed at exactly d levels
    (`filed_share_test_depth_d`) and how many of those are right there
    (`filed_precision_test_depth_d`), with the per-level thresholds.
    """
    served = Classifier(model, name="test", version=0, top_k=1, temperature=trust.temperature,
                        auto_file_threshold=trust.threshold, separator=separator,
                        level_thresholds=trust.level_thresholds).predict_batch(x_test)
    raw = Classifier(model, name="test", version=0, top_k=1).predict_batch(x_test)
    filed_metrics: dict[str, float] = {}
    if trust.levels and x_test:
        depths = np.array([0 if p.filed_under is None else len(split_path(p.filed_under, separator))
                           for p in served])
        right = np.array([p.filed_under is not None and p.filed_under == truncate(y, d, separator)
                          for p, y, d in zip(served, y_test, depths, strict=True)])
        for depth in range(1, len(trust.levels) + 1):
            at = depths == depth
            filed_metrics[f"filed_share_test_depth_{depth}"] = float(at.mean())
            if at.any():
                filed_metrics[f"filed_precision_test_depth_{depth}"] = float(right[at].mean())
    return with_test_split(
        trust, raw_confidence=[p.confidence for p in raw],
        confidence=[p.confidence for p in served],
        correct=[p.category == y for p, y in zip(served, y_test, strict=True)],
        filed=[p.decision == "auto" for p in served], filed_metrics=filed_metrics,
    )


def with_canonical_paths(catalog: Catalog, *, separator: str) -> Catalog:
    """The catalog with its category paths checked and written one way (core/taxonomy.py)."""
    try:
        categories = canonical_categories(catalog.categories, separator)
    except PathError as exc:
        where = (f" (data row {exc.position + 1}: {catalog.names[exc.position]!r})"
                 if exc.position is not None else "")
        raise CatalogError(catalog.source, f"{exc}{where}") from None
    if categories == catalog.categories:
        return catalog
    return replace(catalog, categories=categories)
