"""Training job on the real catalog: wall time from POST /v1/training-jobs to `succeeded`.

    python benchmarks/training_job.py [CATALOG]

Starts one API process and one training worker (`-Q training -c 1`, as scripts/run.py does),
posts a training job naming the catalog's path, and polls the job every 0.25 s, noting when
each stage is first seen. The job trains with the default parameters (the same model
`categorizer train` makes) and, on an empty registry, becomes the champion that the other
service benchmarks use.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from _stack import (
    ADMIN_KEY,
    CpuAudit,
    RssSampler,
    Stack,
    catalog_path,
    log,
    scratch_stack,
    wait_for_quiet,
)


def run(stack: Stack, catalog: Path, *, quiet_timeout: float = 600) -> dict[str, Any]:
    # The operator's way to let a training request name a server-side file: its folder.
    stack.env["TRAINING_DATA_DIRS"] = str(catalog.resolve().parent)
    worker = stack.worker("training", queues="training", concurrency=1)
    api = stack.api()
    try:
        def groups() -> dict[str, list[Any]]:
            return {"api": api.tree(), "workers": worker.tree()}

        quiet = wait_for_quiet(timeout=quiet_timeout)
        stages: dict[str, float] = {}
        with RssSampler([worker]) as rss, CpuAudit(groups) as audit:
            started = time.perf_counter()
            with stack.client(admin=True) as client:
                response = client.post("/v1/training-jobs", json={"data": str(catalog)})
            response.raise_for_status()
            job_id = response.json()["job_id"]
            while True:
                job = httpx.get(f"{stack.api_url}/v1/jobs/{job_id}", timeout=30,
                                headers={"X-API-Key": ADMIN_KEY}).json()
                stage = job["progress"]["stage"] or job["state"]
                stages.setdefault(stage, round(time.perf_counter() - started, 1))
                if job["state"] in ("succeeded", "failed", "cancelled"):
                    break
                time.sleep(0.25)
            seconds = time.perf_counter() - started
        if job["state"] != "succeeded":
            raise RuntimeError(f"training job ended {job['state']}: {job.get('error')}")
        result = job["result"]
        figures = {
            "seconds": round(seconds, 1),
            "train_seconds": round(result["seconds"], 1),  # selection + fit + scoring
            "rows": result["rows"], "version": result["version"],
            "promoted": result["promoted"], "macro_f1": round(result["metrics"]["macro_f1"], 4),
            "stages_first_seen_s": stages, "peak_rss_mb": rss.peaks_mb(),
            **quiet, **audit.result,
        }
        log(f"training job: {figures}")
        return figures
    finally:
        stack.stop(api)
        stack.stop(worker)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("catalog", nargs="?")
    parser.add_argument("--quiet-timeout", type=float, default=600)
    args = parser.parse_args(argv)
    catalog = catalog_path(args.catalog)
    with scratch_stack() as stack:
        result = run(stack, catalog, quiet_timeout=args.quiet_timeout)
    json.dump(result, sys.stdout, indent=2, ensure_ascii=False)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
