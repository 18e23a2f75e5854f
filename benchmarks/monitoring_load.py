"""What monitoring costs the synchronous route: metrics on vs off, a scrape under load, the shadow.

    python benchmarks/monitoring_load.py [CATALOG] [--duration 20] [--clients 32]

One scratch stack (PostgreSQL, Redis, MLflow in a temp dir) with a champion and a challenger
trained on the catalog, one inference worker (it scores the shadow's samples), and four API
processes (`--no-access-log`), all idle but the one under load:

1. metrics: METRICS_ENABLED=true vs false, measured in turns (wrk, 32 clients, one name per
   request); the target is on >= 0.9 x off in requests per second;
2. scrape: GET /metrics timed from a separate client, 200 times, while wrk loads that API
   with 32 clients, and as the API's own histogram saw it (server-side); target < 5 ms;
3. shadow: SHADOW_SAMPLE_RATE=0.1 vs 0 with the challenger present, in turns; target: p50 and
   p99 within noise (the spread of the off turns).

Prints one JSON document.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from _stack import Stack, catalog_path, log, scratch_stack, wait_for_quiet
from inference_load import _combine, lua_script, wrk

PRODUCT = "/v1/categorizer/inference"


def api_with(stack: Stack, name: str, **env: str) -> tuple[Any, str]:
    saved = dict(stack.env)
    stack.env.update(env)
    try:
        proc = stack.api(name=name, access_log=False)
    finally:
        stack.env.clear()
        stack.env.update(saved)
    return proc, stack.api_url


def _cpu(proc: Any) -> float:
    """CPU seconds the API process has used: insensitive to what other processes do."""
    total = 0.0
    for process in proc.tree():
        times = process.cpu_times()
        total += times.user + times.system
    return total


def in_turns(targets: dict[str, tuple[Any, str]], script: Path, *, duration: int, clients: int,
             slices: int) -> dict[str, Any]:
    """Like inference_load.interleaved (alternating which side goes first), plus each API's
    CPU per request over its turns."""
    each = max(1, round(duration / slices))
    parts: dict[str, list[dict[str, Any]]] = {key: [] for key in targets}
    cpu = dict.fromkeys(targets, 0.0)
    for turn in range(slices):
        # A-B then B-A: neither side always runs right after the same neighbour
        order = list(targets.items())
        for key, (proc, url) in (order if turn % 2 == 0 else order[::-1]):
            before = _cpu(proc)
            parts[key].append(wrk(url + PRODUCT, script, duration=each, clients=clients,
                                  threads=2))
            cpu[key] += _cpu(proc) - before
    figures = {key: _combine(runs) for key, runs in parts.items()}
    for key, figure in figures.items():
        figure["api_cpu_us_per_request"] = round(cpu[key] / figure["requests"] * 1e6, 1)
    return figures


def scrape_cpu(proc: Any, url: str, n: int = 300) -> float:
    """The API's CPU per GET /metrics, in ms, over `n` scrapes of an idle process."""
    with httpx.Client(timeout=10) as client:
        client.get(url + "/metrics")
        before = _cpu(proc)
        for _ in range(n):
            client.get(url + "/metrics")
        return round((_cpu(proc) - before) / n * 1000, 3)


def scrape_under_load(url: str, script: Path, *, clients: int, seconds: int) -> dict[str, Any]:
    """Time GET /metrics while wrk loads the inference route of the same process."""
    result: dict[str, Any] = {}

    def load() -> None:
        result["load"] = wrk(url + PRODUCT, script, duration=seconds, clients=clients, threads=2)

    loader = threading.Thread(target=load)
    loader.start()
    time.sleep(2)
    timings: list[float] = []
    sizes: list[int] = []
    with httpx.Client(timeout=10) as client:
        while loader.is_alive() and len(timings) < 200:
            started = time.perf_counter()
            answer = client.get(url + "/metrics")
            timings.append((time.perf_counter() - started) * 1000)
            sizes.append(len(answer.content))
            time.sleep(0.02)
    loader.join()
    timings.sort()
    with httpx.Client(timeout=10) as client:
        text = client.get(url + "/metrics").text
    server = {}
    for line in text.splitlines():
        if 'route="/metrics"' in line and line.startswith(
                "categorizer_http_request_duration_seconds_"):
            key = line.split("{")[0].rsplit("_", 1)[-1]
            if key in ("sum", "count"):
                server[key] = server.get(key, 0.0) + float(line.rsplit(" ", 1)[1])
    idle = []
    with httpx.Client(timeout=10) as client:
        for _ in range(50):
            started = time.perf_counter()
            client.get(url + "/metrics")
            idle.append((time.perf_counter() - started) * 1000)
    return {
        "scrapes": len(timings), "bytes": statistics.median(sizes),
        "client_ms_p50": round(statistics.median(timings), 2),
        "client_ms_p99": round(timings[int(len(timings) * 0.99) - 1], 2),
        "server_ms_mean": round(server["sum"] / server["count"] * 1000, 2)
        if server.get("count") else None,
        "idle_client_ms_p50": round(statistics.median(idle), 2),
        "load": result.get("load"),
    }


def run(stack: Stack, catalog: Path, *, duration: int, clients: int, slices: int,
        quiet_timeout: float = 600) -> dict:
    from core.data import load_catalog

    names = load_catalog(str(catalog)).names
    stack.ensure_champion(catalog)
    log("training a challenger (categorizer train)")
    stack.cli("train", "--data", str(catalog))
    challenger = json.loads(stack.cli("models", "--json"))
    log(f"versions: {[(v['version'], v['aliases']) for v in challenger]}")
    stack.worker("shadow", queues="inference", concurrency=1)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(lua_script(names))
        script = Path(handle.name)
    report: dict[str, Any] = {"clients": clients, "duration_s": duration, "slices": slices}
    try:
        on_proc, on = api_with(stack, "metrics-on", METRICS_ENABLED="true",
                               SHADOW_SAMPLE_RATE="0")
        off_proc, off = api_with(stack, "metrics-off", METRICS_ENABLED="false",
                                 SHADOW_SAMPLE_RATE="0")
        s_on_proc, shadow_on = api_with(stack, "shadow-on", SHADOW_SAMPLE_RATE="0.1",
                                        MODEL_REFRESH_SECONDS="1")
        s_off_proc, shadow_off = api_with(stack, "shadow-off", SHADOW_SAMPLE_RATE="0",
                                          MODEL_REFRESH_SECONDS="1")
        for url in (on, off, shadow_on, shadow_off):
            wrk(url + PRODUCT, script, duration=3, clients=clients, threads=2)  # warm up
        report["quiet"] = wait_for_quiet(timeout=quiet_timeout)
        figures = in_turns({"metrics_on": (on_proc, on), "metrics_off": (off_proc, off)},
                           script, duration=duration, clients=clients, slices=slices)
        report["metrics"] = {**figures, "on_vs_off": round(
            figures["metrics_on"]["requests_per_s"] / figures["metrics_off"]["requests_per_s"],
            3), "cpu_per_request_on_vs_off": round(
            figures["metrics_on"]["api_cpu_us_per_request"]
            / figures["metrics_off"]["api_cpu_us_per_request"], 3)}
        log(f"metrics: {report['metrics']['on_vs_off']} req/s, "
            f"{report['metrics']['cpu_per_request_on_vs_off']} CPU per request")
        report["scrape_cpu_ms_idle"] = scrape_cpu(on_proc, on)
        report["scrape"] = scrape_under_load(on, script, clients=clients, seconds=12)
        log(f"scrape: {report['scrape']}")
        figures = in_turns({"shadow_on": (s_on_proc, shadow_on),
                            "shadow_off": (s_off_proc, shadow_off)},
                           script, duration=duration, clients=clients, slices=slices)
        time.sleep(3)  # the last samples reach the worker
        with httpx.Client(timeout=30) as client:
            versions = client.get(shadow_on + "/v1/models").json()["versions"]
        report["shadow"] = {**figures, "records": {
            v["version"]: v["shadow"] and {k: v["shadow"][k] for k in
                                           ("compared", "agreed", "agreement")}
            for v in versions}}
        log(f"shadow: p50 {figures['shadow_on']['p50_ms']} vs {figures['shadow_off']['p50_ms']},"
            f" p99 {figures['shadow_on']['p99_ms']} vs {figures['shadow_off']['p99_ms']}")
    finally:
        script.unlink()
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("catalog", nargs="?")
    parser.add_argument("--duration", type=int, default=20)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--slices", type=int, default=5)
    parser.add_argument("--quiet-timeout", type=float, default=600,
                        help="seconds to wait for a quiet machine before measuring anyway")
    args = parser.parse_args(argv)
    catalog = catalog_path(args.catalog)
    with scratch_stack() as stack:
        report = run(stack, catalog, duration=args.duration, clients=args.clients,
                     slices=args.slices, quiet_timeout=args.quiet_timeout)
    print(json.dumps(report, indent=1, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
