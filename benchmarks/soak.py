"""Soak: mixed traffic for N minutes against one API process and two workers; nothing may slip.

    python benchmarks/soak.py [--minutes 10] [--rate 20] [--batch-every 20] [--json PATH]

Starts its own services: a private `redis-server` with the production persistence settings
(appendonly yes, appendfsync everysec) on a free port, a scratch PostgreSQL database (dropped
afterwards), an MLflow store in a temp DATA_DIR holding two registered versions (v1 champion),
one `uvicorn` API process and two `celery -A worker worker` processes (both queues, 2 pool
processes each). Then, for the whole run:

- synchronous inference at a steady rate (1-20 names a request, from the sample catalog);
- a batch submission every --batch-every seconds (500-20,000 rows), one in four submitted twice
  with the same Idempotency-Key (the second answer must name the same job);
- status polling of every open batch job, once a second;
- halfway, `POST /v1/models/2/promote`; inference must answer with v2 within 30 s.

Every batch is then read back page by page and as CSV: each input row exactly once, in order,
categorized. Any request that should have succeeded and did not is a failure. Resident memory
of every process (API, each worker's main process and pool processes) is sampled after a
warm-up minute, just before the promotion, 20 s after it and at the end: it must stay flat
while each champion serves. Prints a JSON summary; exits 1 if any check failed.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
import sqlalchemy as sa
from _stack import ADMIN_KEY, PG_ADMIN_URL, REPO, Proc, Stack, free_port, log, machine, wait_until

sys.path.insert(0, str(REPO))

from core.config import Settings  # noqa: E402
from core.data import SAMPLE_CATALOG, load_catalog  # noqa: E402
from core.evaluation import score  # noqa: E402
from core.models import linear_pipeline  # noqa: E402
from core.promotion import PromotionGate  # noqa: E402
from core.service import registry_from_settings  # noqa: E402
from core.training import TrainParams, TrainResult  # noqa: E402

PROMOTE_DEADLINE = 30.0


# -- services ----------------------------------------------------------------------------------

@contextlib.contextmanager
def private_redis(directory: Path):  # type: ignore[no-untyped-def]
    port = free_port()
    directory.mkdir(parents=True)
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", str(directory),
         "--appendonly", "yes", "--appendfsync", "everysec", "--save", "",
         "--logfile", str(directory / "redis.log")],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_until(lambda: _redis_ping(port), timeout=20, what="the private Redis")
        yield f"redis://127.0.0.1:{port}/0", process
    finally:
        process.terminate()
        process.wait(timeout=20)


def _redis_ping(port: int) -> bool:
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
        sock.sendall(b"PING\r\n")
        return sock.recv(16).startswith(b"+PONG")


@contextlib.contextmanager
def scratch_database():  # type: ignore[no-untyped-def]
    name = f"categorizer_soak_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def register_two_versions(data_dir: Path) -> None:
    """v1 (champion) and v2 (registered, not promoted), each fitted on half the sample."""
    from threadpoolctl import threadpool_limits

    catalog = load_catalog(SAMPLE_CATALOG)
    settings = Settings(_env_file=None, data_dir=data_dir, database_url=None, redis_url=None,
                        mlflow_tracking_uri=None)
    settings.ensure_data_dir()
    registry = registry_from_settings(settings)
    test = slice(2, None, 10)
    for version, part in ((1, slice(0, None, 2)), (2, slice(1, None, 2))):
        with threadpool_limits(limits=1, user_api="blas"):
            model = linear_pipeline().fit(catalog.names[part], catalog.categories[part])
        names, categories = catalog.names[test], catalog.categories[test]
        result = TrainResult(model=model, test_names=names, test_categories=categories,
                             metrics=score(categories, model.predict(names).tolist()),
                             best_params={}, cv_macro_f1=0.0, n_train=len(names), seconds=0.0)
        run_id, registered = registry.log_run(result=result, catalog=catalog,
                                              params=TrainParams())
        assert registered == version
        if version == 1:
            registry.gate(version=1, run_id=run_id, result=result, gate=PromotionGate())
    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):  # exported by MLflow
        os.environ.pop(name, None)


# -- traffic -----------------------------------------------------------------------------------

@dataclass
class Tally:
    lock: threading.Lock = field(default_factory=threading.Lock)
    requests: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)
    versions_after_promotion: Counter[int] = field(default_factory=Counter)

    def ok(self, kind: str, started: float | None = None) -> None:
        with self.lock:
            self.requests[kind] += 1
            if started is not None:
                self.latencies_ms.append((time.perf_counter() - started) * 1000)

    def fail(self, kind: str, what: str) -> None:
        with self.lock:
            self.requests[kind] += 1
            self.failures.append(f"{kind}: {what}"[:300])


@dataclass
class Batch:
    job_id: str
    names: list[str]
    submitted_at: float
    state: str = "queued"
    finished_at: float | None = None


class Traffic:
    def __init__(self, url: str, names: list[str], *, rate: float, batch_every: float,
                 seconds: float, seed: int = 7) -> None:
        self.url = url
        self.names = names
        self.rate = rate
        self.batch_every = batch_every
        self.seconds = seconds
        self.random = random.Random(seed)
        self.tally = Tally()
        self.batches: list[Batch] = []
        self.batches_lock = threading.Lock()
        self.stop = threading.Event()
        self.promoted_at: float | None = None
        self.serving_v2_after: float | None = None

    def run(self) -> None:
        threads = [threading.Thread(target=self._inference, args=(i,), daemon=True)
                   for i in range(2)]
        threads += [threading.Thread(target=target, daemon=True)
                    for target in (self._batches, self._poll, self._promote)]
        for thread in threads:
            thread.start()
        self.stop.wait(self.seconds)
        self.stop.set()
        for thread in threads:
            thread.join(timeout=60)

    def _inference(self, index: int) -> None:
        interval = 2 / self.rate  # two threads share the rate
        rng = random.Random(index)
        next_at = time.monotonic() + index * interval / 2
        with httpx.Client(base_url=self.url, timeout=30) as client:
            while not self.stop.is_set():
                next_at += interval
                names = rng.sample(self.names, rng.randint(1, 20))
                started = time.perf_counter()
                try:
                    response = client.post("/v1/categorizer/inference",
                                           json={"product_list": names})
                    body = response.json()
                    if response.status_code != 200 or len(body["categories"]) != len(names):
                        self.tally.fail("inference", f"{response.status_code} {response.text}")
                    else:
                        self.tally.ok("inference", started)
                        if self.promoted_at is not None:
                            self._after_promotion(int(body["model_version"]))
                except (httpx.HTTPError, ValueError, KeyError) as exc:
                    self.tally.fail("inference", repr(exc))
                self.stop.wait(max(0.0, next_at - time.monotonic()))

    def _after_promotion(self, version: int) -> None:
        assert self.promoted_at is not None
        with self.tally.lock:
            self.tally.versions_after_promotion[version] += 1
            if version == 2 and self.serving_v2_after is None:
                self.serving_v2_after = time.monotonic() - self.promoted_at

    def _batches(self) -> None:
        with httpx.Client(base_url=self.url, timeout=120) as client:
            while not self.stop.wait(self.batch_every if self.batches else 2):
                size = self.random.randint(500, 20_000)
                names = [self.random.choice(self.names) for _ in range(size)]
                items = [{"id": f"r{i}", "name": n} for i, n in enumerate(names)]
                key = uuid.uuid4().hex
                try:
                    response = client.post("/v1/batch-jobs", json={"items": items},
                                           headers={"Idempotency-Key": key})
                    if response.status_code != 202:
                        self.tally.fail("batch", f"{response.status_code} {response.text}")
                        continue
                    job_id = response.json()["job_id"]
                    self.tally.ok("batch")
                    with self.batches_lock:
                        self.batches.append(Batch(job_id, names, time.monotonic()))
                    if self.random.random() < 0.25:
                        again = client.post("/v1/batch-jobs", json={"items": items},
                                            headers={"Idempotency-Key": key})
                        if again.status_code != 202 or again.json()["job_id"] != job_id:
                            self.tally.fail("batch-repeat", f"{again.status_code} {again.text}")
                        else:
                            self.tally.ok("batch-repeat")
                except (httpx.HTTPError, ValueError, KeyError) as exc:
                    self.tally.fail("batch", repr(exc))

    def _poll(self) -> None:
        with httpx.Client(base_url=self.url, timeout=30) as client:
            while not self.stop.wait(1.0):
                self.poll_once(client)

    def poll_once(self, client: httpx.Client) -> int:
        """Poll every open job once; return how many are still open."""
        with self.batches_lock:
            open_jobs = [b for b in self.batches if b.state not in ("succeeded", "failed")]
        for batch in open_jobs:
            try:
                response = client.get(f"/v1/batch-jobs/{batch.job_id}")
                if response.status_code != 200:
                    self.tally.fail("poll", f"{response.status_code} {response.text}")
                    continue
                self.tally.ok("poll")
                batch.state = response.json()["state"]
                if batch.state in ("succeeded", "failed", "cancelled"):
                    batch.finished_at = time.monotonic()
            except (httpx.HTTPError, ValueError, KeyError) as exc:
                self.tally.fail("poll", repr(exc))
        return sum(b.state not in ("succeeded", "failed", "cancelled") for b in open_jobs)

    def _promote(self) -> None:
        if self.stop.wait(self.seconds / 2):
            return
        with httpx.Client(base_url=self.url, timeout=60,
                          headers={"X-API-Key": ADMIN_KEY}) as client:
            try:
                response = client.post("/v1/models/2/promote")
                if response.status_code == 200:
                    self.tally.ok("promote")
                    self.promoted_at = time.monotonic()
                else:
                    self.tally.fail("promote", f"{response.status_code} {response.text}")
            except httpx.HTTPError as exc:
                self.tally.fail("promote", repr(exc))


def verify_batch(client: httpx.Client, batch: Batch) -> str | None:
    """None if the job returned each input row exactly once, in order, categorized."""
    if batch.state != "succeeded":
        return f"{batch.job_id} ended {batch.state}"
    rows: list[dict[str, Any]] = []
    for offset in range(0, len(batch.names), 10_000):
        page = client.get(f"/v1/batch-jobs/{batch.job_id}/results",
                          params={"offset": offset, "limit": 10_000})
        if page.status_code != 200:
            return f"{batch.job_id} results page {offset}: {page.status_code}"
        rows.extend(page.json()["items"])
    expected = [(f"r{i}", name) for i, name in enumerate(batch.names)]
    if [r["row"] for r in rows] != list(range(len(batch.names))):
        return f"{batch.job_id}: {len(rows)} rows for {len(batch.names)} submitted"
    if [(r["id"], r["name"]) for r in rows] != expected:
        return f"{batch.job_id}: rows out of order or altered"
    if not all(r["category"] and r["error"] is None for r in rows):
        return f"{batch.job_id}: uncategorized rows"
    download = client.get(f"/v1/batch-jobs/{batch.job_id}/results.csv")
    lines = list(csv.reader(io.StringIO(download.text, newline="")))
    if download.status_code != 200 or len(lines) != len(batch.names) + 1:
        return f"{batch.job_id}: CSV download has {len(lines) - 1} rows"
    return None


# -- memory ------------------------------------------------------------------------------------

def rss_mb(procs: list[Proc]) -> dict[str, float]:
    """Resident memory of each process: the API, and each worker's main and pool processes."""
    sizes: dict[str, float] = {}
    for proc in procs:
        main, *children = proc.tree() or [None]
        if main is None:
            continue
        labelled = [(proc.name if not children else f"{proc.name}/main", main)]
        labelled += [(f"{proc.name}/pool-{i}", child) for i, child in
                     enumerate(sorted(children, key=lambda p: p.pid), start=1)]
        for label, process in labelled:
            with contextlib.suppress(psutil.Error):
                sizes[label] = round(process.memory_info().rss / 2**20, 1)
    return sizes


# -- main --------------------------------------------------------------------------------------

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=20.0, help="inference requests a second")
    parser.add_argument("--batch-every", type=float, default=20.0, help="seconds between batches")
    parser.add_argument("--warmup", type=float, default=60.0,
                        help="seconds of traffic before the start RSS is taken")
    parser.add_argument("--json", type=Path, help="also write the summary here")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs)")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="categorizer-soak-"))
    seconds = args.minutes * 60
    summary: dict[str, Any] = {"machine": machine(), "minutes": args.minutes,
                               "inference_rate": args.rate, "batch_every_s": args.batch_every}
    with private_redis(tmp / "redis") as (redis_url, _), scratch_database() as database_url:
        data_dir = tmp / "data"
        log("registering v1 (champion) and v2")
        register_two_versions(data_dir)
        env = {k: v for k, v in os.environ.items()
               if k not in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
        env.update({"DATA_DIR": str(data_dir), "REDIS_URL": redis_url,
                    "DATABASE_URL": database_url, "ADMIN_API_KEY": ADMIN_KEY,
                    "BATCH_CHUNK_SIZE": "1000", "MODEL_REFRESH_SECONDS": "2",
                    "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
                    "PYTHONPATH": str(REPO)})
        stack = Stack(tmp=tmp, env=env)
        try:
            stack.api()
            for name in ("worker-1", "worker-2"):
                stack.worker(name, queues="training,inference", concurrency=2)
            names = load_catalog(SAMPLE_CATALOG).names
            traffic = Traffic(stack.api_url, names, rate=args.rate,
                              batch_every=args.batch_every, seconds=seconds)
            log(f"soaking for {args.minutes:g} min: {args.rate:g} inference req/s, "
                f"a batch every {args.batch_every:g} s, promotion at half time")
            runner = threading.Thread(target=traffic.run)
            began = time.monotonic()
            runner.start()
            # RSS after warm-up, just before the promotion, once the new model is in, at the end.
            time.sleep(min(args.warmup, seconds / 4))
            rss = {"start": rss_mb(stack.procs)}
            time.sleep(max(0.0, began + seconds / 2 - 2 - time.monotonic()))
            rss["before_promotion"] = rss_mb(stack.procs)
            time.sleep(max(0.0, began + seconds / 2 + 20 - time.monotonic()))
            rss["after_promotion"] = rss_mb(stack.procs)
            runner.join()
            rss["end"] = rss_mb(stack.procs)

            log("draining: waiting for the last batches, then reading every row back")
            with httpx.Client(base_url=stack.api_url, timeout=120) as client:
                deadline = time.monotonic() + 300
                while traffic.poll_once(client) and time.monotonic() < deadline:
                    time.sleep(1)
                verdicts = {b.job_id: verify_batch(client, b) for b in traffic.batches}
            rss["after_drain"] = rss_mb(stack.procs)
        finally:
            stack.stop_all()

    tally = traffic.tally
    problems = [problem for problem in verdicts.values() if problem]
    latencies = sorted(tally.latencies_ms)

    def pct(q: float) -> float | None:
        return round(latencies[min(len(latencies) - 1, int(q * len(latencies)))], 1) \
            if latencies else None

    summary.update({
        "requests": dict(tally.requests),
        "failed_requests": len(tally.failures),
        "failures": tally.failures[:20],
        "inference_latency_ms": {"p50": pct(0.5), "p99": pct(0.99), "max": pct(1.0)},
        "batches": len(traffic.batches),
        "rows_submitted": sum(len(b.names) for b in traffic.batches),
        "rows_checked_exactly_once": sum(len(b.names) for b in traffic.batches
                                         if verdicts[b.job_id] is None),
        "batch_problems": problems,
        "batch_seconds_max": round(max((b.finished_at or 0) - b.submitted_at
                                       for b in traffic.batches), 1) if traffic.batches else None,
        "promotion": {"v2_served_after_s": None if traffic.serving_v2_after is None
                      else round(traffic.serving_v2_after, 1),
                      "answers_after_promotion": dict(tally.versions_after_promotion)},
        "rss_mb": {label: {moment: sizes.get(label) for moment, sizes in rss.items()}
                   for label in sorted({label for sizes in rss.values() for label in sizes})},
    })
    checks = {
        "no failed requests": not tally.failures,
        "every row exactly once": not problems,
        "promotion served": traffic.serving_v2_after is not None
        and traffic.serving_v2_after <= PROMOTE_DEADLINE,
        # Flat while each champion serves; loading the promoted model may add its own size.
        "memory flat": all(_flat(v["start"], v["before_promotion"])
                           and _flat(v["after_promotion"], v["end"])
                           for v in summary["rss_mb"].values()),
    }
    summary["checks"] = checks
    text = json.dumps(summary, indent=2, ensure_ascii=False)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    if args.keep:
        log(f"kept {tmp}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0 if all(checks.values()) else 1


def _flat(start: float | None, end: float | None) -> bool:
    """Flat: grew by less than 10% or 25 MB (allocator noise, a cache filling once)."""
    if start is None or end is None:
        return True  # a pool process replaced (max_tasks_per_child) has no pair to compare
    return end - start < max(25.0, 0.10 * start)


if __name__ == "__main__":
    sys.exit(main())
