"""How training and serving grow with the number of categories, on synthetic taxonomies.

    python benchmarks/taxonomy_scale.py [--categories 50 300 1000 3000] [--names 50] [--json]
                                        [--no-http] [--flat]

For each size, a deterministic synthetic catalog (`synthetic_catalog`) is written to a scratch
CSV, and on a scratch stack (benchmarks/_stack.py: temp DATA_DIR, SQLite MLflow store, scratch
PostgreSQL database, real Redis):

1. `categorizer train --data CSV --json` runs as its own process: wall time, peak resident
   memory of the process (sampled every 0.2 s), the model family and selection it used, the
   held-out macro-F1 per level (depth 1, depth 2, leaf) and the size of the model file;
2. in this process, the new champion is loaded (`Registry.load`): load time, the loaded
   version's memory (`Classifier.nbytes`), single-name `Classifier.predict` p50/p99 over 2,000
   names, and `Classifier.predict_batch` rows/s over every name in 5,000-row chunks;
3. one uvicorn API process serves it: single-name POST /v1/categorizer/inference p50/p99 over
   1,000 sequential requests.

The catalogs are built from the sample catalog's vocabulary (core/sample_data), so categories
overlap as a store's do: the top level follows the sample's six categories (numbered beyond
six), each parent and leaf is named by words drawn from its top category's words, leaves share
head words with a sibling, and names mix in sizes, brands and other categories' words. A name
that leaves out its leaf's distinguishing word is known at the parent only: that is where
back-off to a parent helps. Benchmarks, not tests: nothing here fails on a slow number.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import psutil
from _stack import BIN, log, machine, scratch_stack, wait_for_quiet, wait_until

from core.data import SAMPLE_CATALOG, Catalog, load_catalog
from core.taxonomy import DEFAULT_SEPARATOR

SIZES = (50, 300, 1000, 3000)
_CONTENT_WORD = re.compile(r"[a-záéíóúñü]{4,}")


def _vocabulary() -> tuple[dict[str, list[str]], list[str]]:
    """The sample catalog's content words per category, and its other tokens (sizes, brands)."""
    sample = load_catalog(SAMPLE_CATALOG)
    content: dict[str, set[str]] = {}
    modifiers: set[str] = set()
    for name, category in zip(sample.names, sample.categories, strict=True):
        for token in name.lower().split():
            if _CONTENT_WORD.fullmatch(token):
                content.setdefault(category, set()).add(token)
            elif len(token) > 1:
                modifiers.add(token)
    return {c: sorted(words) for c, words in sorted(content.items())}, sorted(modifiers)


def _branching(n_categories: int) -> list[int]:
    """Children per level above the leaves: two levels up to 100 categories, three above."""
    if n_categories <= 100:
        return [max(2, round(n_categories ** 0.5 / 1.5))]
    top = max(2, round(n_categories ** (1 / 3)))
    return [top, top]


def synthetic_catalog(n_categories: int, *, seed: int = 0,
                      names_per_category: int | None = None) -> Catalog:
    """A deterministic catalog of `n_categories` leaf paths, 2-3 levels deep.

    Each leaf gets `names_per_category` names, or 20-100 (triangular, mode 30: 50 on average).
    """
    rng = np.random.default_rng(seed)
    pools, modifiers = _vocabulary()
    tops = list(pools)
    branching = _branching(n_categories)
    n_parents = int(np.prod(branching))
    leaves_per_parent = np.full(n_parents, n_categories // n_parents)
    leaves_per_parent[: n_categories % n_parents] += 1

    def draw(pool: list[str], k: int) -> list[str]:
        return [pool[i] for i in rng.choice(len(pool), size=min(k, len(pool)), replace=False)]

    names: list[str] = []
    categories: list[str] = []
    parent = 0
    for t in range(branching[0]):
        base = tops[t % len(tops)]
        top = base if t < len(tops) else f"{base} {t // len(tops) + 1}"
        pool = pools[base]
        middles: list[str | None] = ([None] if len(branching) == 1
                                     else list(draw(pool, branching[1])))
        for middle in middles:
            n_leaves = int(leaves_per_parent[parent])
            parent += 1
            # Siblings share head words two by two; the qualifier tells them apart.
            heads = draw(pool, (n_leaves + 1) // 2)
            seen: set[str] = set()
            for leaf in range(n_leaves):
                head = heads[(leaf // 2) % len(heads)]
                qualifier = pool[int(rng.integers(len(pool)))]
                label = f"{head.title()} {qualifier}"
                while label in seen:
                    qualifier = pool[int(rng.integers(len(pool)))]
                    label = f"{head.title()} {qualifier}"
                seen.add(label)
                path = [top, *([middle.title()] if middle else []), label]
                count = names_per_category or int(round(rng.triangular(20, 30, 100)))
                for _ in range(count):
                    words = [head]
                    if rng.random() > 0.15:
                        words.append(qualifier)
                    if middle and rng.random() > 0.3:
                        words.append(middle)
                    n_mod = int(rng.integers(0, 4))
                    words += [modifiers[i] for i in rng.integers(len(modifiers), size=n_mod)]
                    if rng.random() < 0.3:  # a word of another category of the same store
                        other = pools[tops[int(rng.integers(len(tops)))]]
                        words.append(other[int(rng.integers(len(other)))])
                    tail = words[1:]
                    rng.shuffle(tail)
                    names.append(" ".join([words[0], *tail]))
                    categories.append(DEFAULT_SEPARATOR.join(path))
    return Catalog(names=names, categories=categories,
                   source=f"synthetic taxonomy of {n_categories} categories (seed {seed})")


def _write(catalog: Catalog, path: Path) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["category", "name"])
        writer.writerows(zip(catalog.categories, catalog.names, strict=True))
    return path


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = np.sort(np.asarray(samples))
    return {"p50_us": round(float(np.percentile(ordered, 50)) * 1e6, 1),
            "p99_us": round(float(np.percentile(ordered, 99)) * 1e6, 1)}


def _train(stack: Any, csv_path: Path) -> dict[str, Any]:
    """`categorizer train --json` as its own process, with its peak RSS sampled."""
    peak = 0
    stderr_path = stack.tmp / "train.log"
    started = time.perf_counter()
    with stderr_path.open("wb") as stderr:
        proc = subprocess.Popen([str(BIN / "categorizer"), "train", "--data", str(csv_path),
                                 "--json"], env=stack.env, cwd=stack.tmp,
                                stdout=subprocess.PIPE, stderr=stderr)
        done = threading.Event()
        out: list[bytes] = []
        reader = threading.Thread(target=lambda: (out.append(proc.stdout.read()),  # type: ignore[union-attr]
                                                  done.set()), daemon=True)
        reader.start()
        watched = psutil.Process(proc.pid)
        cpu = 0.0
        while not done.wait(0.2):
            try:
                rss = sum(p.memory_info().rss for p in [watched, *watched.children(True)])
                times = watched.cpu_times()
                cpu = times.user + times.system + times.children_user + times.children_system
            except psutil.Error:
                continue
            peak = max(peak, rss)
        proc.wait()
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"training failed:\n{stderr_path.read_text()[-3000:]}")
    outcome = json.loads(out[0])
    models = sorted(stack.tmp.rglob("model.skops"), key=lambda p: p.stat().st_mtime)
    # CPU seconds (sampled up to the last 0.2 s): training runs on one core, so on a quiet
    # machine its wall time is about this; on a shared one the wall time is longer.
    return {"seconds": round(seconds, 1), "cpu_seconds": round(cpu, 1),
            "peak_rss_mb": round(peak / 2**20),
            "model_mb": round(models[-1].stat().st_size / 2**20, 2) if models else None,
            "outcome": outcome, "stages": stderr_path.read_text(errors="replace")}


def _in_process(stack: Any, catalog: Catalog) -> dict[str, Any]:
    from core.config import Settings
    from core.prediction import Classifier
    from core.service import registry_from_settings

    settings = Settings(data_dir=Path(stack.env["DATA_DIR"]),
                        mlflow_tracking_uri=stack.env["MLFLOW_TRACKING_URI"])
    registry = registry_from_settings(settings)
    before = psutil.Process().memory_info().rss
    started = time.perf_counter()
    loaded = registry.load("champion")
    classifier = Classifier(loaded.pipeline, name=loaded.name, version=loaded.version)
    load_s = time.perf_counter() - started
    rss_mb = (psutil.Process().memory_info().rss - before) / 2**20
    rng = np.random.default_rng(1)
    sample = [catalog.names[i] for i in rng.choice(len(catalog), size=2000, replace=False)]
    for name in sample[:200]:
        classifier.predict(name)
    timings, cpu = [], []
    for name in sample:
        c0, t0 = time.thread_time_ns(), time.perf_counter()
        classifier.predict(name)
        timings.append(time.perf_counter() - t0)
        cpu.append((time.thread_time_ns() - c0) / 1e9)
    t0 = time.perf_counter()
    for start in range(0, len(catalog), 5000):
        classifier.predict_batch(catalog.names[start:start + 5000])
    batch_s = time.perf_counter() - t0
    return {"load_s": round(load_s, 2), "nbytes_mb": round(classifier.nbytes() / 2**20, 1),
            "rss_growth_mb": round(rss_mb), **_percentiles(timings),
            # This thread's CPU time per call: what a name costs, without the waits for a core
            # that other processes on a shared machine add to the wall time.
            **{f"cpu_{k}": v for k, v in _percentiles(cpu).items()},
            "batch_rows_per_s": round(len(catalog) / batch_s)}


def _http(stack: Any, catalog: Catalog, requests: int = 1000) -> dict[str, Any]:
    proc = stack.api(access_log=False)
    try:
        with stack.client() as client:
            wait_until(lambda: client.post("/v1/categorizer/inference", json={
                "product_list": ["x"]}).status_code == 200, timeout=300, what="a loaded model")
            rng = np.random.default_rng(2)
            names = [catalog.names[i] for i in rng.integers(len(catalog), size=requests)]
            timings = []
            for name in names:
                t0 = time.perf_counter()
                response = client.post("/v1/categorizer/inference",
                                       json={"product_list": [name]})
                timings.append(time.perf_counter() - t0)
                response.raise_for_status()
        return _percentiles(timings)
    finally:
        stack.stop(proc)


def flattened(catalog: Catalog) -> Catalog:
    """The same catalog with each path written as one flat category (levels joined by " / ")."""
    return Catalog(names=catalog.names, source=catalog.source,
                   categories=[c.replace(DEFAULT_SEPARATOR, " / ") for c in catalog.categories])


def measure(n_categories: int, *, names_per_category: int | None,
            http: bool, flat: bool = False) -> dict[str, Any]:
    catalog = synthetic_catalog(n_categories, names_per_category=names_per_category)
    if flat:
        catalog = flattened(catalog)
    log(f"{n_categories} categories, {len(catalog)} rows")
    with scratch_stack() as stack:
        csv_path = _write(catalog, stack.tmp / "catalog.csv")
        quiet = wait_for_quiet(timeout=120)
        train = _train(stack, csv_path)
        load_after = psutil.getloadavg()[0]
        serving = _in_process(stack, catalog)
        http_figures = _http(stack, catalog) if http else {}
    metrics = train["outcome"]["metrics"]
    return {"categories": n_categories, "flat": flat, "rows": len(catalog),
            "train_s": train["seconds"], "train_cpu_s": train["cpu_seconds"],
            "train_peak_mb": train["peak_rss_mb"],
            "model_mb": train["model_mb"], "family": train["outcome"].get("family"),
            "best_params": train["outcome"]["best_params"],
            "levels": metrics.get("levels", {}), "macro_f1": metrics["macro_f1"],
            "serving": serving, "http": http_figures, "load1_before": quiet["load1_before"],
            "load1_after_training": round(load_after, 2), "stages": train["stages"]}


def _cpu(serving: dict[str, Any]) -> str:
    if "cpu_p99_us" not in serving:
        return ""
    return f" (CPU {serving['cpu_p50_us']:.0f} / {serving['cpu_p99_us']:.0f})"


def markdown(results: list[dict[str, Any]]) -> Iterator[str]:
    yield ("| categories | rows | train s (CPU s) | train peak MB | model MB | loaded MB | "
           "p50 / p99 µs | HTTP p50 / p99 µs | batch rows/s | macro-F1 depth 1 / 2 / leaf | "
           "load before / after train |")
    yield "| ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | ---: | --- | --- |"
    for r in results:
        s, h = r["serving"], r["http"]
        levels = r["levels"]
        f1 = " / ".join(f"{levels[k]['macro_f1']:.3f}" for k in levels) or f"{r['macro_f1']:.3f}"
        http_text = f"{h['p50_us']:.0f} / {h['p99_us']:.0f}" if h else "-"
        yield (f"| {r['categories']:,} | {r['rows']:,} | {r['train_s']:.0f} "
               f"({r['train_cpu_s']:.0f}) | "
               f"{r['train_peak_mb']:,} | {r['model_mb']} | {s['nbytes_mb']} | "
               f"{s['p50_us']:.0f} / {s['p99_us']:.0f}{_cpu(s)} | {http_text} | "
               f"{s['batch_rows_per_s']:,} | {f1} | {r['load1_before']} / "
               f"{r['load1_after_training']} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--categories", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--names", type=int, default=None,
                        help="names per category (default: 20-100, 50 on average)")
    parser.add_argument("--no-http", action="store_true", help="skip the HTTP measurement")
    parser.add_argument("--flat", action="store_true",
                        help="the same catalogs with every path written as one flat category")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    args = parser.parse_args(argv)
    results = [measure(n, names_per_category=args.names, http=not args.no_http, flat=args.flat)
               for n in args.categories]
    if args.json:
        print(json.dumps({"machine": machine(), "results": results}, indent=2,
                         ensure_ascii=False))
    else:
        print("\n".join(markdown(results)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
