"""The service as separate hosts (network namespaces): throughput per worker host, and what a
host cut off mid-chunk costs with the production lease settings.

    python benchmarks/hosts.py [CATALOG] [--rows 60000] [--cut-rows 100000]

Needs root (Linux network namespaces; tests/fixtures/hosts.py builds them): Redis, PostgreSQL
and an MLflow server on an infra host, the API on another, three inference-worker hosts (one
pool process each, DATA_DIR of their own). The champion is trained on the catalog by
`categorizer train` run on the API host. Then:

1. throughput: the same batch with one, two and three worker hosts consuming (rows per second
   from submission to the job's end, and chunks each host did);
2. a cut: a batch on three hosts; the link of one host is cut (`ip link set ... down`) while it
   holds a chunk, and its worker killed. Reported: seconds from the cut until the chunk it held
   is stored again, and until the job ends. LEASE_SECONDS and HEARTBEAT_SECONDS keep their
   defaults (60 s, 10 s), as does the visibility timeout (2 h).

Prints one JSON document.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from typing import Any

import httpx
from _stack import REPO, catalog_path, log, machine

sys.path.insert(0, str(REPO))

import sqlalchemy as sa  # noqa: E402

from core.batch_store import BatchStore  # noqa: E402
from core.config import Settings  # noqa: E402
from core.data import load_catalog  # noqa: E402
from core.db import leases_table  # noqa: E402
from core.jobs import JobStore  # noqa: E402
from tests.fixtures.hosts import (  # noqa: E402
    BIN,
    HostNetwork,
    HostProcess,
    add_worker_host,
    host_network,
    namespaces_unavailable,
    service_env,
    start_api,
    start_infrastructure,
    start_worker,
    wait_for_api,
    wait_for_infrastructure,
    wait_for_worker,
    wait_until,
)

CHUNK = 2000
SETTINGS = {"BATCH_CHUNK_SIZE": str(CHUNK), "MODEL_REFRESH_SECONDS": "2"}


def chunks_done(worker: HostProcess) -> int:
    return len(re.findall(r"Task batch\.chunk\[[^\]]+\] succeeded", worker.log_text()))


def control(urls: dict[str, str], hosts: list[str], *, stop: bool = False) -> None:
    from worker.celery_app import create_celery_app

    app = create_celery_app(Settings(_env_file=None, redis_url=urls["REDIS_URL"]))
    try:
        method = app.control.cancel_consumer if stop else app.control.add_consumer
        method("inference", destination=[f"{h}@{h}" for h in hosts], reply=True, timeout=10)
    finally:
        app.close()


def submit(api_url: str, names: list[str]) -> str:
    items = [{"id": f"sku-{i}", "name": n} for i, n in enumerate(names)]
    response = httpx.post(f"{api_url}/v1/batch-jobs", json={"items": items}, timeout=300)
    response.raise_for_status()
    return str(response.json()["job_id"])


def run_batch(network: HostNetwork, api_url: str, store: JobStore, names: list[str],
              workers: dict[str, HostProcess]) -> dict[str, Any]:
    before = {h: chunks_done(w) for h, w in workers.items()}
    began = time.monotonic()
    job_id = submit(api_url, names)
    wait_until(lambda: store.get(job_id).terminal, timeout=900, interval=0.25,
               what=f"job {job_id}")
    seconds = time.monotonic() - began
    job = store.get(job_id)
    assert job.state == "succeeded", job.error
    assert job.rows_done == len(names)
    done = {h: chunks_done(w) - before[h] for h, w in workers.items()}
    return {"rows": len(names), "seconds": round(seconds, 1),
            "rows_per_s": round(len(names) / seconds), "chunks_per_host": done,
            "rows_per_s_per_host": {h: round(c * CHUNK / seconds) for h, c in done.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("catalog", nargs="?")
    parser.add_argument("--rows", type=int, default=60_000)
    parser.add_argument("--cut-rows", type=int, default=100_000)
    parser.add_argument("--keep", action="store_true", help="keep the hosts' logs and stores")
    args = parser.parse_args()
    reason = namespaces_unavailable()
    if reason:
        raise SystemExit(f"network namespaces cannot be made here: {reason}")
    catalog = catalog_path(args.catalog)
    names_all = load_catalog(catalog).names
    report: dict[str, Any] = {"benchmark": "hosts", "machine": machine(), "chunk_rows": CHUNK,
                              "lease_seconds": Settings(_env_file=None).lease_seconds,
                              "heartbeat_seconds": Settings(_env_file=None).heartbeat_seconds}

    with host_network(keep=args.keep) as network:
        log(f"hosts under {network.root}")
        urls = start_infrastructure(network)
        for n in (1, 2, 3):
            add_worker_host(network, n)
        api_env = service_env(network, "api", urls, SETTINGS)
        api_url = start_api(network, api_env)
        workers = {"w1": start_worker(network, "w1", service_env(network, "w1", urls, SETTINGS))}
        for host in ("w2", "w3"):
            workers[host] = start_worker(network, host, service_env(network, host, urls, SETTINGS),
                                         queues="standby")
        wait_for_infrastructure(network, urls)
        log("training the champion on the API host (categorizer train)")
        trainer = network.start("api", "train", [str(BIN / "categorizer"), "train", "--data",
                                                 str(catalog)], env=api_env)
        assert trainer.process is not None
        trainer.process.wait(timeout=900)
        wait_for_api(network, api_url)
        for worker in workers.values():
            wait_for_worker(worker)
        store = JobStore.from_url(urls["DATABASE_URL"])
        with network.probe():
            wait_until(lambda: httpx.post(f"{api_url}/v1/categorizer/inference",
                                          json={"product_list": ["tubo"]},
                                          timeout=5).status_code == 200,
                       timeout=300, interval=1.0, what="the API to serve the champion")
            names = [names_all[i % len(names_all)] for i in range(args.rows)]
            throughput = {}
            for count, host in ((1, None), (2, "w2"), (3, "w3")):
                if host:
                    control(urls, [host])
                log(f"throughput with {count} worker host(s)")
                throughput[f"{count}_hosts"] = run_batch(network, api_url, store, names,
                                                         workers)
            report["throughput"] = throughput

            log("cut: a host loses its link mid-chunk")
            cut_names = [names_all[i % len(names_all)] for i in range(args.cut_rows)]
            job_id = submit(api_url, cut_names)
            held: list[int] = []

            def w3_holds() -> bool:
                with store.engine.connect() as connection:
                    held[:] = connection.execute(sa.select(leases_table.c.idx).where(
                        leases_table.c.job_id == job_id, leases_table.c.worker.like("w3@%"),
                        leases_table.c.idx >= 0)).scalars()
                return bool(held)

            wait_until(w3_holds, timeout=120, interval=0.05, what="w3 to hold a chunk")
            network.cut("w3")
            cut_at = time.monotonic()
            network.kill_host("w3")
            batches = BatchStore(store)
            lost = [i for i in held if not batches.has_result(job_id, i)]
            wait_until(lambda: all(batches.has_result(job_id, i) for i in lost), timeout=600,
                       interval=0.2, what="the lost chunks to be redone")
            redone = time.monotonic() - cut_at
            wait_until(lambda: store.get(job_id).terminal, timeout=900, interval=0.25,
                       what="the cut job to end")
            ended = time.monotonic() - cut_at
            job = store.get(job_id)
            rows = list(batches.iter_results(job_id))
            report["cut"] = {
                "rows": args.cut_rows, "state": job.state, "lost_chunks": lost,
                "seconds_cut_to_lost_chunks_stored": round(redone, 1),
                "seconds_cut_to_job_end": round(ended, 1),
                "every_row_once": [r.row for r in rows] == list(range(args.cut_rows)),
            }
            store.engine.dispose()
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
