"""Synchronous inference p99 while jobs are submitted to the same API process, and while Redis
is down.

    python benchmarks/submission_latency.py [CATALOG] [--duration 10] [--clients 32] [--turns 2]
                                            [--cold]

One uvicorn process over a scratch PostgreSQL database and a private `redis-server` (so it can
be stopped), no workers: submitted jobs stay queued. wrk drives `POST /v1/categorizer/inference`
with 32 connections, one catalog name per request, in three conditions measured in turns:

- quiet: nothing else happens;
- submitting: a 200,000-row JSON batch is posted again and again for the whole run (each one a
  ~10 MB body parsed, checked, stored in PostgreSQL and enqueued);
- redis down: the private Redis is stopped and batch submissions keep arriving (each waits for
  the broker's connection retries and gets 503).

Before the turns, each API process gets a 3-s warm-up of inference requests and reads one
200,000-row batch; with `--cold` it reads none, so the first turn has the first batch the
process ever read (its intake process was started with the API, INTAKE_AT_STARTUP).

Each condition also reports the CPU seconds the API process spent (and its intake processes,
api/intake.py): a figure that a busy machine disturbs far less than latency.

    --compare DIR  also measures another tree of core/ api/ worker/ (say, `git archive main core
                   api worker | tar -x -C DIR`) in the same run: a second API process on the
                   same stack, measured in the same turns, one condition at a time.

Prints one JSON document; the target is a p99 at most 20 % above quiet in both other
conditions, with no inference request failing.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import psutil
from _stack import REPO, catalog_path, free_port, log, machine, scratch_stack, wait_until
from inference_load import _combine, lua_script, wrk

sys.path.insert(0, str(REPO))

from core.data import load_catalog  # noqa: E402

BATCH_ROWS = 200_000


class PrivateRedis:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.directory)],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        wait_until(self._up, timeout=20, what="the private Redis")

    def _up(self) -> bool:
        import redis

        return bool(redis.Redis(port=self.port, socket_timeout=1).ping())

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=20)


class Submitter(threading.Thread):
    """Posts batch bodies back to back until stopped; records each answer and its duration."""

    def __init__(self, url: str, body: bytes) -> None:
        super().__init__(daemon=True)
        self.url, self.body = url, body
        self.stopped = threading.Event()
        self.answers: list[tuple[int, float]] = []

    def run(self) -> None:
        with httpx.Client(timeout=300) as client:
            while not self.stopped.is_set():
                began = time.monotonic()
                response = client.post(f"{self.url}/v1/batch-jobs", content=self.body,
                                       headers={"Content-Type": "application/json"})
                self.answers.append((response.status_code, time.monotonic() - began))

    def summary(self) -> dict[str, Any]:
        statuses: dict[str, int] = {}
        for status, _ in self.answers:
            statuses[str(status)] = statuses.get(str(status), 0) + 1
        seconds = [s for _, s in self.answers]
        return {"submissions": len(self.answers), "statuses": statuses,
                "seconds_each": [round(s, 2) for s in seconds]}


def _cpu_seconds(pid: int) -> tuple[float, float]:
    """CPU seconds so far of the process and of its children (alive ones: the intake
    processes live as long as the API)."""
    main = psutil.Process(pid)
    own = sum(main.cpu_times()[:2])
    children = 0.0
    for child in main.children(recursive=True):
        with contextlib.suppress(psutil.Error):
            children += sum(child.cpu_times()[:2])
    return own, children


def measure(url: str, script: Path, *, duration: int, clients: int, submitter: Submitter | None,
            api_pid: int) -> dict[str, Any]:
    own, children = _cpu_seconds(api_pid)
    if submitter is not None:
        submitter.start()
        time.sleep(0.5)  # the first body is on its way
    try:
        result = wrk(f"{url}/v1/categorizer/inference", script, duration=duration,
                     clients=clients, threads=2)
    finally:
        if submitter is not None:
            submitter.stopped.set()
            submitter.join(timeout=300)
    if submitter is not None:
        result["submitter"] = submitter.summary()
    own_after, children_after = _cpu_seconds(api_pid)
    result["api_cpu_s"] = round(own_after - own, 2)
    result["intake_cpu_s"] = round(children_after - children, 2)
    return result


CONDITIONS = ("quiet", "submitting", "redis_down")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("catalog", nargs="?")
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--turns", type=int, default=2)
    parser.add_argument("--cold", action="store_true",
                        help="no warm-up batch: the first turn has the process's first batch")
    parser.add_argument("--compare", type=Path, default=None,
                        help="another tree of core/ api/ worker/ to measure in the same run")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk")
    catalog = catalog_path(args.catalog)
    names = load_catalog(catalog).names
    items = [{"id": f"sku-{i}", "name": names[i % len(names)]} for i in range(BATCH_ROWS)]
    body = json.dumps({"items": items}, ensure_ascii=False).encode()
    small = json.dumps({"items": items[:1000]}).encode()
    script = Path(tempfile.mkdtemp()) / "inference.lua"
    script.write_text(lua_script(names))
    codes: dict[str, Path | None] = {"this": None}
    if args.compare is not None:
        codes["compare"] = args.compare.resolve()

    parts: dict[str, dict[str, list[dict[str, Any]]]] = {
        code: {condition: [] for condition in CONDITIONS} for code in codes}
    with scratch_stack() as stack:
        redis_server = PrivateRedis(stack.tmp)
        redis_server.start()
        stack.env.update({"REDIS_URL": redis_server.url, "MODEL_REFRESH_SECONDS": "5"})
        try:
            stack.ensure_champion(catalog)
            apis, urls = {}, {}
            for code, root in codes.items():
                apis[code] = stack.api(access_log=False, name=f"api-{code}", code_root=root)
                urls[code] = stack.api_url
            for url in urls.values():
                wrk(f"{url}/v1/categorizer/inference", script, duration=3,
                    clients=args.clients, threads=2)  # warm-up
                if not args.cold:
                    # The first batch an API process reads is its first (imports, caches,
                    # allocations): measured with --cold, not in every run's first turn.
                    warm = httpx.post(f"{url}/v1/batch-jobs", content=body, timeout=300,
                                      headers={"Content-Type": "application/json"})
                    log(f"warm-up batch: {warm.status_code}")
            for turn in range(args.turns):
                for code, url in urls.items():
                    pid = apis[code].pid
                    log(f"turn {turn + 1}, {code}: quiet")
                    parts[code]["quiet"].append(measure(
                        url, script, duration=args.duration, clients=args.clients,
                        submitter=None, api_pid=pid))
                    log(f"turn {turn + 1}, {code}: submitting {BATCH_ROWS}-row batches")
                    parts[code]["submitting"].append(measure(
                        url, script, duration=args.duration, clients=args.clients,
                        submitter=Submitter(url, body), api_pid=pid))
                    log(f"turn {turn + 1}, {code}: Redis down, submissions arriving")
                    redis_server.stop()
                    try:
                        parts[code]["redis_down"].append(measure(
                            url, script, duration=args.duration, clients=args.clients,
                            submitter=Submitter(url, small), api_pid=pid))
                    finally:
                        redis_server.start()
        finally:
            redis_server.stop()

    report: dict[str, Any] = {
        "benchmark": "submission_latency",
        "machine": machine(),
        "clients": args.clients, "duration_s": args.duration, "turns": args.turns,
        "batch_rows": BATCH_ROWS, "batch_body_mb": round(len(body) / 1e6, 1),
        "warm_up_batch": not args.cold,
    }
    for code in codes:
        results: dict[str, Any] = {}
        for condition, runs in parts[code].items():
            results[condition] = _combine(runs)
            results[condition]["submitter"] = [r.get("submitter") for r in runs]
            results[condition]["p99_ms_each"] = [r["p99_ms"] for r in runs]
            for figure in ("api_cpu_s", "intake_cpu_s"):
                results[condition][figure] = [r[figure] for r in runs]
        quiet = results["quiet"]["p99_ms"]
        entry = {
            "code": str(codes[code] or "this checkout"),
            "results": results,
            "p99_rise": {condition: round(results[condition]["p99_ms"] / quiet - 1, 3)
                         for condition in ("submitting", "redis_down")},
            # per turn, against that turn's quiet: the figure a noisy machine blurs least
            "p99_rise_each": {condition: [
                round(run["p99_ms"] / calm["p99_ms"] - 1, 3)
                for run, calm in zip(parts[code][condition], parts[code]["quiet"], strict=True)]
                for condition in ("submitting", "redis_down")},
        }
        if code == "this":
            report.update(entry)
        else:
            report["compare"] = entry
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
