"""A store adopting the product: auto-filing with a guarantee, and a reviewer for the rest.

    python benchmarks/review_loop.py [CATALOG.csv] [--seeds 42 43] [--folds 5] [--jobs 2] [--json]

CATALOG defaults to ../shared/data/hardware_catalog_es.csv (relative to the repository).

For each seed, the catalog is cut into `--folds` duplicate-grouped, stratified folds (exact
duplicates in one group, so no name is both learnt and scored). Each fold in turn is held out
from every round; the other rows are the store's catalog, cut (duplicate-grouped too) into
tenths: the store starts with three tenths (30 %), then imports the rest in three batches
(two, two and three tenths). Round by round:

1. the current champion (core.training.train on everything filed so far, as a training job
   trains: grid-searched, calibrated, auto-file threshold chosen on out-of-fold predictions)
   categorizes the batch; a row is filed automatically when its decision is "auto";
2. a simulated reviewer gives the true category to every "review" row (a human decision);
3. the next champion trains on everything filed so far: auto-filed rows under the model's
   category (right or wrong), reviewed rows under the reviewer's.

Reported per round: coverage (share auto-filed), precision of the auto-filed rows, the import's
final accuracy (auto-filed plus reviewed rows), human decisions per imported row, and the
macro-F1, coverage and precision on the held-out fold of the model that categorized the batch.
Then, for the last model (trained on all filed rows: the store's full catalog), on the held-out
fold: coverage and precision at its guaranteed threshold, the best coverage a threshold chosen
after the fact on those same rows could have had at AUTO_FILE_PRECISION, and the expected
calibration error (15 bins) before and after calibration. The guarantee's check counts the
folds x seeds whose auto-filed held-out precision met AUTO_FILE_PRECISION.

With --compare-calibration, for the first seed: on each fold's store catalog (true labels),
out-of-fold scores with 5 and 10 folds, calibrated by: nothing, our temperature, scikit-learn's
CalibratedClassifierCV over a FrozenEstimator (method "temperature", "sigmoid", "isotonic"),
each scored on the held-out fold with the final model (ECE, categories changed against the
model's own, coverage and precision at the threshold each one's out-of-fold confidences give).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.frozen import FrozenEstimator
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedGroupKFold
from threadpoolctl import threadpool_limits

from core.calibration import (
    decision_scores,
    expected_calibration_error,
    fit_temperature,
    out_of_fold_scores,
    probabilities_from_scores,
)
from core.data import Catalog, load_catalog
from core.prediction import Classifier
from core.thresholds import choose_threshold
from core.training import (
    TrainParams,
    TrainResult,
    duplicate_groups,
    fit_with_prior,
    prior_rows,
    train,
)

DEFAULT_CATALOG = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / \
    "hardware_catalog_es.csv"
START_TENTHS, BATCH_TENTHS = 3, (2, 2, 3)


def _grouped_parts(names: list[str], categories: list[str], n: int, seed: int) -> list[np.ndarray]:
    splitter = StratifiedGroupKFold(n_splits=n, shuffle=True, random_state=seed)
    return [test for _, test in splitter.split(names, categories, duplicate_groups(names))]


def _served(result: TrainResult, names: list[str]) -> list[Any]:
    trust = result.trust
    assert trust is not None
    return Classifier(result.model, name="bench", version=0, temperature=trust.temperature,
                      auto_file_threshold=trust.threshold).predict_batch(names)


def best_coverage_after_the_fact(confidence: np.ndarray, correct: np.ndarray,
                                 precision: float) -> float:
    """The largest share of rows a threshold chosen on these very rows files at `precision`."""
    if len(confidence) == 0:
        return 0.0
    order = np.argsort(-confidence, kind="stable")
    conf, right = confidence[order], correct[order]
    last_of_value = np.flatnonzero(np.append(conf[1:] != conf[:-1], True))
    covered = last_of_value + 1
    running = np.cumsum(right)[last_of_value] / covered
    ok = np.flatnonzero(running >= precision)
    return float(covered[ok.max()] / len(conf)) if len(ok) else 0.0


def _held_out(result: TrainResult, names: list[str], truth: list[str]) -> dict[str, Any]:
    served = _served(result, names)
    raw = Classifier(result.model, name="bench", version=0).predict_batch(names)
    predicted = [p.category for p in served]
    right = np.array([p == t for p, t in zip(predicted, truth, strict=True)])
    auto = np.array([p.decision == "auto" for p in served])
    confidence = np.array([p.confidence for p in served])
    return {
        "macro_f1": float(f1_score(truth, predicted, average="macro")),
        "accuracy": float(right.mean()),
        "coverage": float(auto.mean()),
        "auto": int(auto.sum()),
        "auto_right": int(right[auto].sum()),
        "precision": float(right[auto].mean()) if auto.any() else None,
        "ece": expected_calibration_error(confidence, right),
        "ece_uncalibrated": expected_calibration_error([p.confidence for p in raw], right),
        "n": len(names),
        "confidence": confidence,
        "correct": right,
    }


def run_fold(names: np.ndarray, categories: np.ndarray, store: np.ndarray, held: np.ndarray,
             *, seed: int, params: TrainParams) -> dict[str, Any]:
    """One held-out fold: start, three imports, and the final model on the held-out rows."""
    tenths = _grouped_parts(names[store].tolist(), categories[store].tolist(), 10, seed)
    start = store[np.concatenate(tenths[:START_TENTHS])]
    batches, at = [], START_TENTHS
    for size in BATCH_TENTHS:
        batches.append(store[np.concatenate(tenths[at:at + size])])
        at += size
    held_names, held_truth = names[held].tolist(), categories[held].tolist()
    filed_names, filed_labels = names[start].tolist(), categories[start].tolist()
    rounds = []
    for number, batch in enumerate(batches, start=1):
        started = time.perf_counter()
        result = train(catalog=Catalog(filed_names, filed_labels, source="filed so far"),
                       params=params)
        trained = time.perf_counter() - started
        batch_names, truth = names[batch].tolist(), categories[batch].tolist()
        served = _served(result, batch_names)
        auto = np.array([p.decision == "auto" for p in served])
        right = np.array([p.category == t for p, t in zip(served, truth, strict=True)])
        held_out = _held_out(result, held_names, held_truth)
        assert result.trust is not None
        rounds.append({
            "round": number, "trained_on": len(filed_names), "imported": len(batch),
            "threshold": result.trust.threshold, "coverage": float(auto.mean()),
            "precision": float(right[auto].mean()) if auto.any() else None,
            "auto": int(auto.sum()), "auto_right": int(right[auto].sum()),
            "final_accuracy": float((right | ~auto).mean()),
            "human_decisions": int((~auto).sum()),
            "held_out": {k: v for k, v in held_out.items() if k not in ("confidence", "correct")},
            "train_seconds": trained,
        })
        filed_names += batch_names
        filed_labels += [p.category if a else t for p, a, t in zip(served, auto, truth,
                                                                  strict=True)]
    final = train(catalog=Catalog(filed_names, filed_labels, source="filed so far"),
                  params=params)
    assert final.trust is not None
    held_out = _held_out(final, held_names, held_truth)
    held_out["best_coverage_after_the_fact"] = best_coverage_after_the_fact(
        held_out["confidence"], held_out["correct"], params.auto_file_precision)
    held_out["threshold"] = final.trust.threshold
    held_out["label_noise"] = float(np.mean([a != b for a, b in zip(
        filed_labels, categories[np.concatenate([start, *batches])].tolist(), strict=True)]))
    return {"rounds": rounds, "final": held_out}


class _Scores(ClassifierMixin, BaseEstimator):
    """Scores in, scores out: lets CalibratedClassifierCV calibrate given out-of-fold scores."""

    def __init__(self, classes: Sequence[str] = ()) -> None:
        self.classes = classes

    def fit(self, x: Any = None, y: Any = None) -> _Scores:
        self.classes_ = np.asarray(self.classes)
        return self

    def decision_function(self, x: Any) -> np.ndarray:
        return np.asarray(x)

    def predict(self, x: Any) -> np.ndarray:
        return self.classes_[np.asarray(x).argmax(axis=1)]


def compare_calibration(names: np.ndarray, categories: np.ndarray, store: np.ndarray,
                        held: np.ndarray, *, seed: int, params: TrainParams) -> dict[str, Any]:
    """Calibration methods side by side on one fold (see the module docstring)."""
    from core.models import linear_pipeline

    x, y = names[store].tolist(), categories[store].tolist()
    held_names, truth = names[held].tolist(), categories[held].tolist()
    catalog = Catalog(x, y, source="store")
    prior = prior_rows(catalog)
    fit = partial(fit_with_prior, prior=prior, prior_weight=params.prior_weight)
    pipeline = linear_pipeline(C=3.0, seed=seed)  # the C selection picks on this catalog
    with threadpool_limits(limits=1):
        final = fit(clone(pipeline), x, y)
    test_scores = decision_scores(final[-1], final[:-1].transform(held_names))
    model_top = test_scores.argmax(axis=1)
    classes = [str(c) for c in final.classes_]
    truth_idx = np.array([classes.index(t) for t in truth])
    out: dict[str, Any] = {}
    for folds in (5, 10):
        splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
        splits = list(splitter.split(x, y, duplicate_groups(x)))
        with threadpool_limits(limits=1):
            oof = out_of_fold_scores(pipeline, x, y, splits, fit=fit, n_jobs=params.n_jobs)
        assert oof.classes == classes
        temperature = fit_temperature(oof.scores, oof.labels)
        methods: dict[str, tuple[np.ndarray, np.ndarray]] = {
            "none": (probabilities_from_scores(oof.scores),
                     probabilities_from_scores(test_scores)),
            "temperature (ours)": (probabilities_from_scores(oof.scores, temperature),
                                   probabilities_from_scores(test_scores, temperature)),
        }
        for method in ("temperature", "sigmoid", "isotonic"):
            calibrator = CalibratedClassifierCV(
                FrozenEstimator(_Scores(list(range(len(classes)))).fit()), method=method,
            ).fit(oof.scores, oof.labels)
            # In-sample on the out-of-fold scores: what the threshold would be chosen on.
            methods[f"sklearn {method}"] = (calibrator.predict_proba(oof.scores),
                                            calibrator.predict_proba(test_scores))
        for method, (oof_p, test_p) in methods.items():
            oof_conf, oof_right = np.round(oof_p.max(axis=1), 6), oof_p.argmax(1) == oof.labels
            chosen = choose_threshold(oof_conf, oof_right, precision=params.auto_file_precision,
                                      delta=params.auto_file_delta)
            conf = np.round(test_p.max(axis=1), 6)
            top = test_p.argmax(axis=1)
            right = top == truth_idx
            auto = conf >= chosen.threshold if chosen.threshold is not None else conf < -1
            out[f"{folds} folds / {method}"] = {
                "ece": expected_calibration_error(conf, right),
                "changed": int((top != model_top).sum()),
                "accuracy": float(right.mean()),
                "threshold": chosen.threshold,
                "coverage_oof": chosen.coverage,
                "coverage": float(auto.mean()),
                "auto": int(auto.sum()),
                "auto_right": int(right[auto].sum()),
            }
    return out


def _fmt(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("catalog", nargs="?", default=str(DEFAULT_CATALOG))
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 43])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--compare-calibration", action="store_true")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--merge", nargs="+", metavar="REPORT.json",
                        help="print the tables of --json reports run apart (seeds in parallel)")
    args = parser.parse_args(argv)
    if args.merge:
        return merge(args.merge)

    catalog = load_catalog(args.catalog)
    names = np.array(catalog.names, dtype=object)
    categories = np.array(catalog.categories, dtype=object)
    params = TrainParams(n_jobs=args.jobs)
    started = time.perf_counter()
    report: dict[str, Any] = {"catalog": Path(args.catalog).name, "rows": len(catalog),
                              "seeds": args.seeds, "folds": args.folds,
                              "precision_target": params.auto_file_precision,
                              "delta": params.auto_file_delta, "runs": []}
    for seed in args.seeds:
        parts = _grouped_parts(catalog.names, catalog.categories, args.folds, seed)
        for fold, held in enumerate(parts):
            store = np.setdiff1d(np.arange(len(catalog)), held)
            outcome = run_fold(names, categories, store, held, seed=seed,
                               params=TrainParams(n_jobs=args.jobs, seed=seed))
            final = outcome["final"]
            print(f"seed {seed} fold {fold}: final coverage {final['coverage']:.3f} precision "
                  f"{_fmt(final['precision'])} (best after the fact "
                  f"{final['best_coverage_after_the_fact']:.3f}), ECE {final['ece']:.4f} "
                  f"[{time.perf_counter() - started:.0f}s]", file=sys.stderr, flush=True)
            report["runs"].append({"seed": seed, "fold": fold, **outcome})
            if args.compare_calibration and seed == args.seeds[0]:
                report.setdefault("calibration", []).append(
                    compare_calibration(names, categories, store, held, seed=seed,
                                        params=params))
    report["seconds"] = time.perf_counter() - started
    summary = summarize(report)
    if args.json:
        print(json.dumps(_jsonable({**report, "summary": summary}), ensure_ascii=False, indent=2))
    else:
        print_tables(report, summary)
    return 0


def merge(paths: Sequence[str]) -> int:
    """Pool reports of the same catalog and folds run apart, and print their tables."""
    reports = [json.loads(Path(path).read_text()) for path in paths]
    merged = {**reports[0], "seeds": [s for r in reports for s in r["seeds"]],
              "runs": [run for r in reports for run in r["runs"]],
              "seconds": max(r["seconds"] for r in reports)}
    for run in merged["runs"]:
        run["final"]["confidence"] = np.asarray(run["final"]["confidence"])
        run["final"]["correct"] = np.asarray(run["final"]["correct"], dtype=bool)
    calibration = [c for r in reports for c in r.get("calibration", [])]
    if calibration:
        merged["calibration"] = calibration
    print_tables(merged, summarize(merged))
    return 0


def summarize(report: dict[str, Any]) -> dict[str, Any]:
    runs = report["runs"]
    target = report["precision_target"]
    finals = [r["final"] for r in runs]
    auto = sum(f["auto"] for f in finals)
    right = sum(f["auto_right"] for f in finals)
    n = sum(f["n"] for f in finals)
    confidence = np.concatenate([f["confidence"] for f in finals])
    correct = np.concatenate([f["correct"] for f in finals])
    met = [f["precision"] is None or f["precision"] >= target for f in finals]
    by_round = []
    for number in range(1, len(BATCH_TENTHS) + 1):
        rows = [r["rounds"][number - 1] for r in runs]
        imported = sum(r["imported"] for r in rows)
        auto_rows = sum(r["auto"] for r in rows)
        auto_right = sum(r["auto_right"] for r in rows)
        by_round.append({
            "round": number,
            "trained_on": float(np.mean([r["trained_on"] for r in rows])),
            "coverage": auto_rows / imported,
            "precision": auto_right / auto_rows if auto_rows else None,
            "final_accuracy": float(np.average([r["final_accuracy"] for r in rows],
                                               weights=[r["imported"] for r in rows])),
            "human_decisions_per_row": sum(r["human_decisions"] for r in rows) / imported,
            "held_out_macro_f1": float(np.mean([r["held_out"]["macro_f1"] for r in rows])),
            "held_out_coverage": float(np.mean([r["held_out"]["coverage"] for r in rows])),
        })
    final_f1 = float(np.mean([f["macro_f1"] for f in finals]))
    return {
        "by_round": by_round,
        "final": {
            "macro_f1": final_f1,
            "coverage": auto / n,
            "precision": right / auto if auto else None,
            "auto": auto, "auto_right": right, "n": n,
            "min_fold_precision": min((f["precision"] for f in finals
                                       if f["precision"] is not None), default=None),
            "best_coverage_after_the_fact": best_coverage_after_the_fact(
                confidence, correct, target),
            "mean_fold_best_coverage_after_the_fact": float(np.mean(
                [f["best_coverage_after_the_fact"] for f in finals])),
            "ece": expected_calibration_error(confidence, correct),
            "ece_uncalibrated": float(np.mean([f["ece_uncalibrated"] for f in finals])),
            "mean_fold_ece": float(np.mean([f["ece"] for f in finals])),
            "max_fold_ece": float(np.max([f["ece"] for f in finals])),
            "guarantee_met": f"{sum(met)} of {len(met)}",
            "label_noise": float(np.mean([f["label_noise"] for f in finals])),
        },
    }


def print_tables(report: dict[str, Any], summary: dict[str, Any]) -> None:
    print(f"{report['catalog']}: {report['rows']} rows; seeds {report['seeds']}, "
          f"{report['folds']} duplicate-grouped folds held out in turn; target precision "
          f"{report['precision_target']} at delta {report['delta']}; "
          f"{report['seconds'] / 60:.1f} min\n")
    print("| round | trained on (rows) | coverage | precision of auto-filed | import's final "
          "accuracy | human decisions per row | held-out macro-F1 | held-out coverage |")
    print("|---|---|---|---|---|---|---|---|")
    for r in summary["by_round"]:
        print(f"| {r['round']} | {r['trained_on']:.0f} | {r['coverage']:.3f} | "
              f"{_fmt(r['precision'])} | {r['final_accuracy']:.4f} | "
              f"{r['human_decisions_per_row']:.3f} | {r['held_out_macro_f1']:.4f} | "
              f"{r['held_out_coverage']:.3f} |")
    f = summary["final"]
    print(f"\nFinal model (all filed rows), on held-out rows pooled over folds and seeds: "
          f"coverage {f['coverage']:.3f}, precision {_fmt(f['precision'])} "
          f"({f['auto_right']}/{f['auto']}), lowest fold {_fmt(f['min_fold_precision'])}; "
          f"guarantee met in {f['guarantee_met']} folds x seeds; best coverage after the fact "
          f"{f['best_coverage_after_the_fact']:.3f} pooled "
          f"({f['mean_fold_best_coverage_after_the_fact']:.3f} per fold); ECE {f['ece']:.4f} "
          f"pooled (per fold mean {f['mean_fold_ece']:.4f}, max {f['max_fold_ece']:.4f}; "
          f"uncalibrated {f['ece_uncalibrated']:.4f}); macro-F1 {f['macro_f1']:.4f}; "
          f"labels wrongly auto-filed into training {f['label_noise']:.4f}")
    print("\n| seed | fold | threshold | coverage | precision | best after the fact | ECE |")
    print("|---|---|---|---|---|---|---|")
    for run in report["runs"]:
        g = run["final"]
        print(f"| {run['seed']} | {run['fold']} | {_fmt(g['threshold'])} | {g['coverage']:.3f} "
              f"| {_fmt(g['precision'])} ({g['auto_right']}/{g['auto']}) | "
              f"{g['best_coverage_after_the_fact']:.3f} | {g['ece']:.4f} |")
    if "calibration" in report:
        print("\n| OOF folds / method | ECE held-out | categories changed | coverage OOF | "
              "coverage held-out | precision held-out |")
        print("|---|---|---|---|---|---|")
        for key in report["calibration"][0]:
            rows = [c[key] for c in report["calibration"]]
            auto = sum(r["auto"] for r in rows)
            print(f"| {key} | {np.mean([r['ece'] for r in rows]):.4f} | "
                  f"{sum(r['changed'] for r in rows)} | "
                  f"{np.mean([r['coverage_oof'] for r in rows]):.3f} | "
                  f"{np.mean([r['coverage'] for r in rows]):.3f} | "
                  f"{_fmt(sum(r['auto_right'] for r in rows) / auto if auto else None)} |")


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()  # per-row held-out confidences: --merge pools them
    if isinstance(value, np.generic):
        return value.item()
    return value


if __name__ == "__main__":
    raise SystemExit(main())
