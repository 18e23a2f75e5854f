"""Synchronous inference under load: one API process, 32 concurrent clients, 20 s per endpoint.

    python benchmarks/inference_load.py [CATALOG] [--duration 20] [--clients 32]

Serves benchmarks/bench_app.py (the product's app plus reference routes) with one uvicorn
process and drives it with wrk (-t2 -c32 --latency) from a Lua script that cycles through the
catalog's names, one name per request. Measures the product endpoint, the constant-answer
ceiling, the predecessor's approach and a plain scikit-learn `pipeline.predict` per request.
The product and the ceiling, whose ratio is the target, are measured in turns (5 turns of 4 s
each by default) so that the machine's drifting speed falls on both alike. Before loading it,
checks that the product's answers are the pipeline's own on every catalog name, in process and
through HTTP.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _stack import (
    CpuAudit,
    Stack,
    catalog_path,
    log,
    scratch_stack,
    wait_for_quiet,
)

PRODUCT = "/v1/categorizer/inference"
ENDPOINTS = {
    "product": PRODUCT,
    "ceiling": "/bench/ceiling",
    "predecessor": "/bench/predecessor",
    "sklearn": "/bench/sklearn",
}

_LUA = """
local bodies = {
%s
}
local i = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

request = function()
  i = i %% #bodies + 1
  return wrk.format(nil, nil, nil, bodies[i])
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRK_JSON {\\"requests\\":%%d,\\"duration_us\\":%%d,\\"errors\\":%%d," ..
    "\\"status_errors\\":%%d," ..
    "\\"p50_us\\":%%d,\\"p90_us\\":%%d,\\"p99_us\\":%%d,\\"max_us\\":%%d}\\n",
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"""


def lua_script(names: list[str]) -> str:
    bodies = []
    for name in names:
        body = json.dumps({"product_list": [name]}, ensure_ascii=False)
        level = "=" * next(n for n in range(1, 10) if f"]{'=' * n}]" not in body)
        bodies.append(f"  [{level}[{body}]{level}],")
    return _LUA % "\n".join(bodies)


def wrk(url: str, script: Path, *, duration: int, clients: int, threads: int) -> dict[str, Any]:
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{clients}", f"-d{duration}s", "--latency", "-s", str(script),
         url], capture_output=True, text=True, check=True, timeout=duration + 60,
    ).stdout
    found = re.search(r"WRK_JSON (\{.*\})", out)
    if not found:
        raise RuntimeError(f"wrk printed no summary:\n{out}")
    raw = json.loads(found.group(1))
    return {
        "requests_per_s": round(raw["requests"] / (raw["duration_us"] / 1e6), 1),
        "p50_ms": round(raw["p50_us"] / 1000, 2),
        "p90_ms": round(raw["p90_us"] / 1000, 2),
        "p99_ms": round(raw["p99_us"] / 1000, 2),
        "max_ms": round(raw["max_us"] / 1000, 1),
        "requests": raw["requests"],
        "errors": raw["errors"],
        "non_2xx": raw["status_errors"],
    }


def _combine(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """One figure from several wrk runs of one endpoint: total requests over total time; the
    median p50/p90 of the runs and the worst p99 and max."""
    requests = sum(p["requests"] for p in parts)
    seconds = sum(p["requests"] / p["requests_per_s"] for p in parts if p["requests_per_s"])
    return {
        "requests_per_s": round(requests / seconds, 1) if seconds else 0.0,
        "p50_ms": statistics.median(p["p50_ms"] for p in parts),
        "p90_ms": statistics.median(p["p90_ms"] for p in parts),
        "p99_ms": max(p["p99_ms"] for p in parts),
        "max_ms": max(p["max_ms"] for p in parts),
        "requests": requests,
        "errors": sum(p["errors"] for p in parts),
        "non_2xx": sum(p["non_2xx"] for p in parts),
        "slices": len(parts),
        "slice_requests_per_s": [p["requests_per_s"] for p in parts],
        "slice_p50_ms": [p["p50_ms"] for p in parts],
        "slice_p99_ms": [p["p99_ms"] for p in parts],
    }


def interleaved(urls: dict[str, str], script: Path, *, duration: int, clients: int,
                threads: int, slices: int) -> dict[str, dict[str, Any]]:
    """Endpoints measured in turns (A, B, A, B, ...), `slices` turns of duration/slices seconds
    each, so that a drift in the machine's speed falls on both alike."""
    each = max(1, round(duration / slices))
    parts: dict[str, list[dict[str, Any]]] = {key: [] for key in urls}
    for _ in range(slices):
        for key, url in urls.items():
            parts[key].append(wrk(url, script, duration=each, clients=clients, threads=threads))
    return {key: _combine(runs) for key, runs in parts.items()}


def check_identical(stack: Stack, names: list[str]) -> dict[str, Any]:
    """The product's category for every catalog name == the champion pipeline's prediction.

    Also times one name at a time in process (CPU µs per name, mean over the catalog):
    `Classifier.predict` with its per-word cache cold (a fresh Classifier) and warm, and
    scikit-learn's `pipeline.predict([name])`.
    """
    from core.prediction import Classifier
    from core.registry import Registry

    registry = Registry(tracking_uri=stack.env["MLFLOW_TRACKING_URI"],
                        model_name="product-categorizer", experiment_name="product-categorizer")
    loaded = registry.load("champion")
    expected = loaded.pipeline.predict(names).tolist()
    classifier = Classifier(loaded.pipeline, name=loaded.name, version=loaded.version)

    def per_name(predict: Any) -> tuple[list[Any], float]:
        started = time.process_time()
        answers = [predict(name) for name in names]
        return answers, round((time.process_time() - started) / len(names) * 1e6, 1)

    in_process, cold_us = per_name(classifier.predict)
    _, warm_us = per_name(classifier.predict)
    _, sklearn_us = per_name(lambda name: loaded.pipeline.predict([name]))
    with stack.client() as client:
        over_http = [client.post(PRODUCT, json={"product_list": [name]}).json()["categories"][0]
                     for name in names]
    return {
        "names": len(names),
        "lean_path": classifier.lean is not None,
        "in_process_mismatches": sum(p.category != e
                                     for p, e in zip(in_process, expected, strict=True)),
        "http_mismatches": sum(a != b for a, b in zip(over_http, expected, strict=True)),
        "predict_us_cold": cold_us, "predict_us_warm": warm_us,
        "pipeline_predict_us": sklearn_us,
    }


def _ratios(results: dict[str, Any]) -> dict[str, float]:
    ratios: dict[str, float] = {}
    ceiling = results.get("ceiling", {}).get("requests_per_s")
    for key, figures in results.items():
        if ceiling and key != "ceiling":
            ratios[f"{key}_vs_ceiling"] = round(figures["requests_per_s"] / ceiling, 3)
    if "product" in results and "predecessor" in results:
        ratios["product_vs_predecessor"] = round(
            results["product"]["requests_per_s"] / results["predecessor"]["requests_per_s"], 1)
    if "product" in results and "sklearn" in results:
        ratios["product_vs_sklearn"] = round(
            results["product"]["requests_per_s"] / results["sklearn"]["requests_per_s"], 1)
    return ratios


def run(stack: Stack, catalog: Path, *, duration: int = 20, clients: int = 32,
        threads: int = 2, endpoints: tuple[str, ...] = tuple(ENDPOINTS),
        quiet_timeout: float = 600, slices: int = 5) -> dict[str, Any]:
    """Each endpoint as deployed (uvicorn's defaults: access log on), then the product and the
    ceiling again with the access log off. The product and the ceiling are measured in turns
    (`interleaved`): this machine's speed drifts within minutes, and a ratio of two runs taken
    one after the other moved by ±0.1 with it."""
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk")
    from core.data import load_catalog

    names = load_catalog(str(catalog)).names
    stack.ensure_champion(catalog)
    stack.env["BENCH_CATALOG"] = str(catalog)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(lua_script(names))
        script = Path(handle.name)
    identical: dict[str, Any] = {}
    settings = {"access_log_on": (True, endpoints),
                "access_log_off": (False, tuple(k for k in ("product", "ceiling")
                                                if k in endpoints))}
    runs: dict[str, Any] = {}
    try:
        for label, (access_log, keys) in settings.items():
            if not keys:
                continue
            api = stack.api("bench_app:app", name=f"bench-api-{label}", access_log=access_log)
            try:
                if not identical:
                    identical = check_identical(stack, names)
                    log(f"predictions: {identical}")
                results: dict[str, Any] = {}
                paired = [key for key in ("product", "ceiling") if key in keys]
                if paired:  # the ratio's two sides, in turns
                    urls = {key: stack.api_url + ENDPOINTS[key] for key in paired}
                    for url in urls.values():
                        wrk(url, script, duration=3, clients=clients, threads=threads)  # warm up
                    quiet = wait_for_quiet(timeout=quiet_timeout)
                    with CpuAudit(lambda api=api: {"api": api.tree()}) as audit:
                        figures = interleaved(urls, script, duration=duration, clients=clients,
                                              threads=threads, slices=slices)
                    for key in paired:
                        results[key] = {**figures[key], **quiet, **audit.result}
                        log(f"{label} {key}: {results[key]}")
                for key in (k for k in keys if k not in paired):
                    url = stack.api_url + ENDPOINTS[key]
                    wrk(url, script, duration=3, clients=clients, threads=threads)  # warm up
                    quiet = wait_for_quiet(timeout=quiet_timeout)
                    with CpuAudit(lambda api=api: {"api": api.tree()}) as audit:
                        figures = wrk(url, script, duration=duration, clients=clients,
                                      threads=threads)
                    results[key] = {**figures, **quiet, **audit.result}
                    log(f"{label} {key}: {results[key]}")
            finally:
                stack.stop(api)
            runs[label] = {"endpoints": results, "ratios": _ratios(results)}
    finally:
        script.unlink()
    return {"clients": clients, "wrk_threads": threads, "duration_s": duration,
            "slices": slices, "identical": identical, **runs}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("catalog", nargs="?")
    parser.add_argument("--duration", type=int, default=20)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--endpoints", default=",".join(ENDPOINTS))
    parser.add_argument("--quiet-timeout", type=float, default=600)
    parser.add_argument("--slices", type=int, default=5,
                        help="turns in which the product and the ceiling alternate")
    args = parser.parse_args(argv)
    catalog = catalog_path(args.catalog)
    with scratch_stack() as stack:
        result = run(stack, catalog, duration=args.duration, clients=args.clients,
                     endpoints=tuple(args.endpoints.split(",")), quiet_timeout=args.quiet_timeout,
                     slices=args.slices)
    json.dump(result, sys.stdout, indent=2, ensure_ascii=False)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
