"""Model quality on a labelled catalog: the predecessor's baseline against the linear model.

    python benchmarks/model_quality.py CATALOG.csv [--seeds 42 43 44] [--jobs 2] [--json]

Prints markdown tables (or, with --json, one JSON document):

- Quality, by nested cross-validation. Two outer splits: duplicate-grouped stratified 5-fold
  (`StratifiedGroupKFold(5, shuffle=True)`, exact duplicates in one group, one run per seed) and
  family-held-out 5-fold (`GroupKFold(5)`, family = the name's first two words, lowercased, so a
  whole family is unseen when it is tested). In every outer fold the model family's grid
  (core.models.search_space) is searched by the inner CV core.training.train uses, on the
  training part only: the test fold never takes part in selection. Macro-F1 is averaged per fold.
  The linear model's training parts get the built-in sample catalog's rows at --prior-weight
  (core.training.prior_rows, as training adds them; never a name the catalog lists, never in a
  test part); --prior-weight 0 measures it without them.
- A preprocessing ablation: each ProductNameNormalizer switch flipped from its default, on the
  linear pipeline at its default hyperparameters (no inner search: seven variants of nested CV
  would not fit the time budget), on both split kinds.
- Training: `core.service.train_and_register` wall time (selection, final fit, MLflow logging,
  registration) into a scratch SQLite registry, and the model read back with `Registry.load`.
- Serving, on that reloaded model: `Classifier.predict` (the lean path) against
  `pipeline.predict([name])`, one name at a time over every catalog name, with a check that the
  two agree on every one; `Classifier.predict_batch` throughput.
- Transfer: a model trained on the project's sample catalog, scored on CATALOG.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import sklearn
from joblib import Parallel, delayed
from sklearn.base import clone
from sklearn.model_selection import GroupKFold, StratifiedGroupKFold
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from core.data import SAMPLE_CATALOG, Catalog, load_catalog
from core.evaluation import score
from core.models import PreprocessingOptions, linear_pipeline, search_space
from core.training import TrainParams, duplicate_groups, fit_with_prior, prior_rows, select

FOLDS = 5
SWITCHES = ("lowercase", "fold_accents", "keep_numbers", "stopwords", "stem", "lemmatize")
SANITY = {"taladro": "Herramientas", "foco led": "Electricos", "tubo pvc": "Plomería",
          "cinta de embalaje": "Ferretería"}
Split = tuple[np.ndarray, np.ndarray]
Prior = tuple[list[str], list[str]]


def families(names: Sequence[str]) -> np.ndarray:
    """A name's family: its first two words, lowercased."""
    return np.array([" ".join(name.lower().split()[:2]) for name in names])


def duplicate_splits(catalog: Catalog, seed: int) -> list[Split]:
    splitter = StratifiedGroupKFold(n_splits=FOLDS, shuffle=True, random_state=seed)
    return list(splitter.split(catalog.names, catalog.categories, duplicate_groups(catalog.names)))


def family_splits(catalog: Catalog) -> list[Split]:
    return list(GroupKFold(n_splits=FOLDS).split(catalog.names, catalog.categories,
                                                 families(catalog.names)))


def _fold(pipeline: Pipeline, grid: dict[str, list[Any]] | None, names: np.ndarray,
          categories: np.ndarray, split: Split, seed: int, prior: Prior,
          prior_weight: float) -> dict[str, Any]:
    train, test = split
    x_train, y_train = names[train].tolist(), categories[train].tolist()
    with threadpool_limits(limits=1):
        if grid:
            selection = select(clone(pipeline), grid, x_train, y_train, prior=prior,
                               prior_weight=prior_weight, cv_folds=FOLDS, seed=seed, n_jobs=1)
            model: Any = selection.model
            params = selection.best_params
        else:
            model = fit_with_prior(clone(pipeline), x_train, y_train, prior=prior,
                                   prior_weight=prior_weight)
            params = {}
        metrics = score(categories[test].tolist(), model.predict(names[test].tolist()).tolist())
    return {"macro_f1": metrics["macro_f1"], "accuracy": metrics["accuracy"], "params": params}


def _param(key: str, value: Any) -> str:
    name = key.split("__")[-1]
    return f"{name}={value:g}" if isinstance(value, int | float) else name


def cross_validate(catalog: Catalog, pipeline: Pipeline, grid: dict[str, list[Any]] | None, *,
                   seeds: Sequence[int], jobs: int, prior_weight: float = 0.0) -> dict[str, Any]:
    """Per-fold-averaged scores on both split kinds; with a grid, selection inside each fold.

    With `prior_weight`, the sample catalog's rows join every training part (never a test part)
    at that weight, as `core.training.train` adds them.
    """
    prior = prior_rows(catalog) if prior_weight > 0 else ([], [])
    names = np.array(catalog.names, dtype=object)
    categories = np.array(catalog.categories, dtype=object)
    tasks = [(f"duplicate/{seed}", split, seed)
             for seed in seeds for split in duplicate_splits(catalog, seed)]
    tasks += [("family", split, seeds[0]) for split in family_splits(catalog)]
    folds = Parallel(n_jobs=jobs)(
        delayed(_fold)(pipeline, grid, names, categories, split, seed, prior, prior_weight)
        for _, split, seed in tasks
    )
    runs: dict[str, list[dict[str, Any]]] = {}
    for (run, _, _), fold in zip(tasks, folds, strict=True):
        runs.setdefault(run, []).append(fold)
    per_run = {run: {metric: float(np.mean([f[metric] for f in fs]))
                     for metric in ("macro_f1", "accuracy")} for run, fs in runs.items()}
    duplicate = [per_run[f"duplicate/{seed}"] for seed in seeds]
    chosen = Counter(", ".join(_param(k, v) for k, v in sorted(f["params"].items()))
                     for f in folds)
    return {
        "duplicate_macro_f1": float(np.mean([r["macro_f1"] for r in duplicate])),
        "duplicate_macro_f1_per_seed": [r["macro_f1"] for r in duplicate],
        "duplicate_accuracy": float(np.mean([r["accuracy"] for r in duplicate])),
        "family_macro_f1": per_run["family"]["macro_f1"],
        "family_accuracy": per_run["family"]["accuracy"],
        "selected": dict(chosen.most_common()) if grid else {},
    }


def ablation(catalog: Catalog, *, seeds: Sequence[int], jobs: int,
             prior_weight: float) -> dict[str, dict[str, Any]]:
    default = PreprocessingOptions()
    variants = {"default": default}
    for switch in SWITCHES:
        flipped = not getattr(default, switch)
        variants[f"{switch}={flipped}"] = replace(default, **{switch: flipped})
    return {label: cross_validate(catalog, linear_pipeline(options), None, seeds=seeds, jobs=jobs,
                                  prior_weight=prior_weight)
            for label, options in variants.items()}


def _percentiles(samples_ns: list[int]) -> dict[str, float]:
    ordered = sorted(samples_ns)
    return {"p50_us": ordered[len(ordered) // 2] / 1e3,
            "p99_us": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] / 1e3}


def serving(pipeline: Pipeline, names: list[str], *, batch_rows: int) -> dict[str, Any]:
    """Single-name latency of both paths over every name, their agreement, batch throughput."""
    from core.prediction import Classifier

    classifier = Classifier(pipeline, name="bench", version=1)  # fresh: its word cache is cold
    lean_ns, lean_categories = [], []
    for name in names:
        started = time.perf_counter_ns()
        category = classifier.predict(name).category
        lean_ns.append(time.perf_counter_ns() - started)
        lean_categories.append(category)
    sklearn_ns, sklearn_categories = [], []
    for name in names:
        started = time.perf_counter_ns()
        category = str(pipeline.predict([name])[0])
        sklearn_ns.append(time.perf_counter_ns() - started)
        sklearn_categories.append(category)
    disagreements = [n for n, a, b in zip(names, lean_categories, sklearn_categories, strict=True)
                     if a != b]
    rows = (names * (batch_rows // len(names) + 1))[:batch_rows]
    fresh = Classifier(pipeline, name="bench", version=1)
    started = time.perf_counter()
    for start in range(0, len(rows), 5000):
        fresh.predict_batch(rows[start:start + 5000])
    batch_seconds = time.perf_counter() - started
    started = time.perf_counter()
    for start in range(0, len(rows), 5000):
        pipeline.predict(rows[start:start + 5000])
    sklearn_batch_seconds = time.perf_counter() - started
    return {
        "lean_path": classifier.lean is not None,
        "lean": _percentiles(lean_ns),
        "sklearn": _percentiles(sklearn_ns),
        "agreement": f"{len(names) - len(disagreements)}/{len(names)}",
        "disagreements": disagreements[:10],
        "batch_rows": len(rows),
        "predict_batch_rows_per_s": len(rows) / batch_seconds,
        "pipeline_predict_rows_per_s": len(rows) / sklearn_batch_seconds,
    }


def training(catalog_path: str, *, jobs: int,
             prior_weight: float) -> tuple[dict[str, Any], Pipeline]:
    """Wall time of train_and_register into a scratch registry; the model read back from it."""
    from core.config import Settings
    from core.service import registry_from_settings, train_and_register
    from core.training import TrainParams

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), mlflow_tracking_uri=None)
        started = time.perf_counter()
        registry = registry_from_settings(settings)  # imports MLflow: part of a CLI run's cost
        outcome = train_and_register(registry=registry, settings=settings, source=catalog_path,
                                     params=TrainParams(n_jobs=jobs, prior_weight=prior_weight))
        wall = time.perf_counter() - started
        started = time.perf_counter()
        loaded = registry.load(outcome.version)
        load_seconds = time.perf_counter() - started
    return {
        "n_jobs": jobs,
        "wall_seconds": wall,
        "train_seconds": outcome.seconds,
        "load_seconds": load_seconds,
        "best_params": outcome.best_params,
        "cv_macro_f1": outcome.cv_macro_f1,
        "test_macro_f1": outcome.metrics["macro_f1"],
        "test_accuracy": outcome.metrics["accuracy"],
    }, loaded.pipeline


def transfer(catalog: Catalog, *, jobs: int) -> dict[str, Any] | None:
    """A model selected and fitted on the sample catalog, scored on this catalog."""
    from core.training import TrainParams, train

    if not SAMPLE_CATALOG.exists():
        return None
    sample = load_catalog(SAMPLE_CATALOG)
    result = train(catalog=sample, params=TrainParams(n_jobs=jobs))
    metrics = score(catalog.categories, result.model.predict(catalog.names).tolist())
    predicted = dict(zip(SANITY, result.model.predict(list(SANITY)).tolist(), strict=True))
    return {
        "sample_rows": len(sample),
        "best_params": result.best_params,
        "macro_f1": metrics["macro_f1"],
        "accuracy": metrics["accuracy"],
        "sanity": {name: {"expected": SANITY[name], "predicted": predicted[name]}
                   for name in SANITY},
    }


# -- report ---------------------------------------------------------------------------------------


def _seeds_note(values: list[float]) -> str:
    return "" if len(values) < 2 else f" ({min(values):.4f}-{max(values):.4f})"


def markdown(report: dict[str, Any]) -> Iterator[str]:
    meta = report["meta"]
    yield (f"Catalog: `{meta['catalog']}`, {meta['rows']} rows, {meta['categories']} categories; "
           f"{FOLDS}-fold duplicate-grouped CV with seed(s) {', '.join(map(str, meta['seeds']))} "
           f"(mean over seeds, min-max in brackets), {FOLDS}-fold family-held-out CV. "
           f"Python {meta['python']}, scikit-learn {meta['sklearn']}, {meta['cpus']} CPUs, "
           f"n_jobs={meta['jobs']}.\n")
    yield "**Quality** (nested CV: each outer fold selects by inner grouped 5-fold CV)\n"
    yield ("| model | selected in outer folds | dup. accuracy | dup. macro-F1 "
           "| family accuracy | family macro-F1 |")
    yield "| --- | --- | ---: | ---: | ---: | ---: |"
    for label, row in report["quality"].items():
        selected = "; ".join(f"{p} ({n})" for p, n in row["selected"].items())
        yield (f"| {label} | {selected} | {row['duplicate_accuracy']:.4f} | "
               f"{row['duplicate_macro_f1']:.4f}{_seeds_note(row['duplicate_macro_f1_per_seed'])}"
               f" | {row['family_accuracy']:.4f} | {row['family_macro_f1']:.4f} |")
    yield ""
    yield (f"**Preprocessing ablation** (linear pipeline at its defaults, C="
           f"{linear_pipeline().get_params()['classifier__C']:g}; no inner search)\n")
    yield "| normalizer | dup. macro-F1 | change | family macro-F1 | change |"
    yield "| --- | ---: | ---: | ---: | ---: |"
    base = report["ablation"]["default"]
    for label, row in report["ablation"].items():
        yield (f"| {label} | {row['duplicate_macro_f1']:.4f} | "
               f"{row['duplicate_macro_f1'] - base['duplicate_macro_f1']:+.4f} | "
               f"{row['family_macro_f1']:.4f} | "
               f"{row['family_macro_f1'] - base['family_macro_f1']:+.4f} |")
    yield ""
    t = report["training"]
    yield (f"**Training** (`train_and_register`, n_jobs={t['n_jobs']}, scratch SQLite registry)\n")
    yield "| step | seconds |"
    yield "| --- | ---: |"
    yield f"| selection + final fit + test scoring (`train`) | {t['train_seconds']:.1f} |"
    yield (f"| whole call incl. MLflow import, logging, registration, gate | "
           f"{t['wall_seconds']:.1f} |")
    yield f"| `Registry.load` of the new version (skops) | {t['load_seconds']:.1f} |"
    yield ""
    yield (f"Selected {t['best_params']}; inner-CV macro-F1 {t['cv_macro_f1']:.4f}; held-out test "
           f"split macro-F1 {t['test_macro_f1']:.4f}, accuracy {t['test_accuracy']:.4f}.\n")
    s = report["serving"]
    yield (f"**Serving** (the reloaded model; every catalog name once, in order; lean path "
           f"{'on' if s['lean_path'] else 'OFF'}; lean and pipeline agree on {s['agreement']})\n")
    yield "| path | p50 µs | p99 µs | rows/s |"
    yield "| --- | ---: | ---: | ---: |"
    yield (f"| `Classifier.predict(name)` | {s['lean']['p50_us']:.0f} | "
           f"{s['lean']['p99_us']:.0f} | |")
    yield (f"| `pipeline.predict([name])` | {s['sklearn']['p50_us']:.0f} | "
           f"{s['sklearn']['p99_us']:.0f} | |")
    yield (f"| `Classifier.predict_batch`, {s['batch_rows']:,} rows in chunks of 5,000 | | | "
           f"{s['predict_batch_rows_per_s']:,.0f} |")
    yield f"| `pipeline.predict`, same chunks | | | {s['pipeline_predict_rows_per_s']:,.0f} |"
    yield ""
    x = report["transfer"]
    if x is None:
        yield f"**Transfer**: skipped, {SAMPLE_CATALOG} does not exist.\n"
        return
    sanity = ", ".join(
        f"`{n}` -> {v['predicted']}{'' if v['predicted'] == v['expected'] else ' (WRONG)'}"
        for n, v in x["sanity"].items()
    )
    yield (f"**Transfer**: trained on the sample catalog ({x['sample_rows']} rows, selected "
           f"{x['best_params']}), scored on this catalog: macro-F1 {x['macro_f1']:.4f}, "
           f"accuracy {x['accuracy']:.4f}. {sanity}.\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("catalog", help="labelled CSV (category,name)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[42],
                        help="seeds of the duplicate-grouped splits (default: 42, as training)")
    parser.add_argument("--jobs", type=int, default=2, help="parallel fits (default: 2)")
    parser.add_argument("--train-jobs", type=int, default=1,
                        help="n_jobs of the timed training run (default 1, as `categorizer train`)")
    parser.add_argument("--batch-rows", type=int, default=50_000)
    parser.add_argument("--prior-weight", type=float, default=TrainParams().prior_weight,
                        help="weight of the sample catalog's rows added to linear training "
                             "(default: training's; 0 measures the model without them)")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    args = parser.parse_args(argv)
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

    started = time.perf_counter()
    catalog = load_catalog(args.catalog)
    report: dict[str, Any] = {"meta": {
        "catalog": args.catalog, "rows": len(catalog), "categories": len(set(catalog.categories)),
        "seeds": args.seeds, "jobs": args.jobs, "python": platform.python_version(),
        "sklearn": sklearn.__version__, "cpus": os.cpu_count(), "prior_weight": args.prior_weight,
    }}
    # Training first, in a process that has not imported MLflow yet, as a CLI run would.
    report["training"], model = training(args.catalog, jobs=args.train_jobs,
                                         prior_weight=args.prior_weight)
    report["quality"] = {
        label: cross_validate(catalog, *search_space(family), seeds=args.seeds, jobs=args.jobs,
                              prior_weight=args.prior_weight if family == "linear" else 0.0)
        for label, family in (("predecessor (random forest)", "baseline"),
                              ("linear (TF-IDF + logistic regression)", "linear"))
    }
    report["ablation"] = ablation(catalog, seeds=args.seeds, jobs=args.jobs,
                                  prior_weight=args.prior_weight)
    with threadpool_limits(limits=1):
        report["serving"] = serving(model, catalog.names, batch_rows=args.batch_rows)
    report["transfer"] = transfer(catalog, jobs=args.jobs)
    report["meta"]["seconds"] = time.perf_counter() - started
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        print("\n".join(markdown(report)))
        print(f"_{report['meta']['seconds']:.0f} s in all._")
    return 0


if __name__ == "__main__":
    sys.exit(main())
