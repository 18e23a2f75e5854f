"""Drift signals on the real catalog: which move for held-out names, an unseen category, English.

    python benchmarks/drift.py [CATALOG] [--seed 42] [--min-rows 40]

The catalog is split, duplicate-grouped and stratified, into 75 % to train on and 25 % that no
model sees. A model is trained on the 75 % as training does it (its own held-out split is its
drift reference, exactly as stored with a version), and live windows are compared with that
reference with the service's own code (core.drift):

1. held-out: the 25 % no model saw (no alert expected);
2. unseen category: for each category C, a model trained on the 75 % without C, fed every name
   of C in the catalog (alert required);
3. English only: English names of the six categories written by the project's sample-catalog
   generator (scripts/generate_sample_catalog.py; the real catalog is Spanish).

The windows of a category with fewer rows than DRIFT_MIN_ROWS (default 100) would be `no_data`
in the service; the benchmark compares from --min-rows (40) so that every category is scored.
Prints one JSON document.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import random
import sys
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _stack import catalog_path, log  # noqa: E402

from core.data import Catalog, load_catalog  # noqa: E402
from core.drift import Profile, Thresholds, VocabularyCheck, compare, profile, reference_profile  # noqa: E402,E501
from core.prediction import Classifier  # noqa: E402
from core.training import TrainParams, split_holdout, train  # noqa: E402


def subset(catalog: Catalog, indices: list[int], source: str) -> Catalog:
    names = [catalog.names[i] for i in indices]
    categories = [catalog.categories[i] for i in indices]
    return Catalog(names=names, categories=categories, source=source)


def english_names(categories: list[str], per_category: int, seed: int) -> list[str]:
    """English names of the catalog's categories, from the sample-catalog generator."""
    path = ROOT / "scripts" / "generate_sample_catalog.py"
    spec = importlib.util.spec_from_file_location("sample_generator", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load {path}")
    generator = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = generator
    spec.loader.exec_module(generator)
    vocabulary = generator.load_vocabulary()
    rng = random.Random(seed)
    return [generator.family_name(vocabulary, category, "en", rng)
            for category in categories if "en" in vocabulary.families.get(category, {})
            for _ in range(per_category)]


class Model:
    """A model trained as training does it, and its drift reference."""

    def __init__(self, catalog: Catalog, seed: int) -> None:
        result = train(catalog=catalog, params=TrainParams(seed=seed, n_jobs=2))
        self.pipeline = result.model
        self.reference = reference_profile(result.model, result.test_names)
        self.classifier = Classifier(result.model, name="bench", version=1)
        self.vocabulary = VocabularyCheck(result.model)
        self.macro_f1 = result.metrics["macro_f1"]

    def live(self, names: list[str]) -> Profile:
        answers = self.classifier.predict_batch(names)
        return profile(names=names, categories=[a.category for a in answers],
                       confidences=[a.confidence for a in answers],
                       decisions=[a.decision for a in answers], vocabulary=self.vocabulary)


def scenario(model: Model, names: list[str], thresholds: Thresholds) -> dict[str, Any]:
    live = model.live(names)
    signals = compare(model.reference, live, thresholds)
    return {
        "rows": len(names),
        "state": max((s.state for s in signals.values()),
                     key=["no_data", "ok", "warn", "alert"].index),
        "signals": {k: {"value": None if s.value is None else round(s.value, 4),
                        "state": s.state} for k, s in signals.items()},
        "predicted_mix": dict(Counter(live.categories).most_common()),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("catalog", nargs="?")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--min-rows", type=int, default=40)
    args = parser.parse_args(argv)
    catalog = load_catalog(str(catalog_path(args.catalog)))
    thresholds = Thresholds(min_rows=args.min_rows)
    train_idx, unseen_idx = split_holdout(catalog, test_size=0.25, seed=args.seed)
    known = subset(catalog, sorted(train_idx), "75 %")
    held_out = [catalog.names[i] for i in sorted(unseen_idx)]
    log(f"training on {len(known)} rows; {len(held_out)} held out")
    model = Model(known, args.seed)
    report: dict[str, Any] = {
        "catalog_rows": len(catalog), "trained_on": len(known), "seed": args.seed,
        "thresholds": thresholds.__dict__, "reference_rows": model.reference.rows,
        "macro_f1": round(model.macro_f1, 4),
        "held_out": scenario(model, held_out, thresholds),
    }
    log(f"held-out: {report['held_out']['state']}")
    english = english_names(sorted(set(catalog.categories)), 40, args.seed)
    report["english_only"] = scenario(model, english, thresholds)
    report["english_only"]["examples"] = english[:5]
    log(f"english: {report['english_only']['state']}")
    unseen: dict[str, Any] = {}
    for category in sorted(set(catalog.categories)):
        without = subset(known, [i for i, c in enumerate(known.categories) if c != category],
                         f"75 % without {category}")
        log(f"training without {category} ({len(without)} rows)")
        blind = Model(without, args.seed)
        names = [n for n, c in zip(catalog.names, catalog.categories, strict=True)
                 if c == category]
        unseen[category] = scenario(blind, names, thresholds)
        log(f"unseen {category}: {unseen[category]['state']}")
    report["unseen_category"] = unseen
    report["unseen_category_all_alert"] = all(u["state"] == "alert" for u in unseen.values())
    print(json.dumps(report, indent=1, ensure_ascii=False))
    return 0 if report["unseen_category_all_alert"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
