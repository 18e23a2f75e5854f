"""The service benchmarks, one after another on one scratch stack: `make bench` runs this.

    python benchmarks/run_all.py [CATALOG] [--json results.json] [--rows 1000000]

1. training job on the real catalog (its model becomes the champion the others use);
2. synchronous inference under load (wrk, 32 clients, 20 s per endpoint);
3. bulk import of a 1,000,000-row CSV with 1, 2 and 4 worker processes, plus one run on a CSV
   whose names are all distinct.

Each measurement first waits (up to --quiet-timeout seconds) for the machine to be quiet and
records the load next to its figures. Prints the figures as Markdown tables (the shape of
BENCHMARKS.md's "Service performance" section) and, with --json, writes them all. These are
benchmarks, not tests: nothing here fails on a slow number.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import bulk_import
import inference_load
import training_job
from _stack import catalog_path, log, machine, scratch_stack


def _load(figures: dict[str, Any]) -> str:
    text = f"{figures['load1_before']:.2f} / {figures['load1_after']:.2f}"
    if "foreign_cores" in figures:
        text += f" / {figures['foreign_cores']:.2f}"
    return text if figures.get("quiet", True) else text + " (busy)"


def markdown(results: dict[str, Any]) -> Iterator[str]:
    m = results["machine"]
    yield (f"Machine: {m['cores']} cores ({m['cpu']}), {m['memory_gib']} GiB, "
           f"Python {m['python']}; run took {results['minutes']:.1f} min.")
    yield ""
    yield ("Load column: 1-minute load average before / after the measurement / cores used, on "
           "average during the measurement, by processes other than the benchmark's own, "
           "PostgreSQL's and Redis's (other people's work on this shared machine).")
    yield ""
    if "training" in results:
        t = results["training"]
        yield "**Training job** (POST /v1/training-jobs to `succeeded`)"
        yield ""
        yield "| wall s | of which train s | rows | macro-F1 | worker peak RSS MB | load |"
        yield "| ---: | ---: | ---: | ---: | ---: | --- |"
        yield (f"| {t['seconds']:.1f} | {t['train_seconds']:.1f} | {t['rows']} | "
               f"{t['macro_f1']:.4f} | {max(t['peak_rss_mb'].values()):.0f} | {_load(t)} |")
        yield ""
        yield f"Stages first seen at (s): {t['stages_first_seen_s']}"
        yield ""
    if "inference" in results:
        inf = results["inference"]
        yield (f"**Synchronous inference**: one uvicorn process, wrk -t{inf['wrk_threads']} "
               f"-c{inf['clients']} -d{inf['duration_s']}s, one name per request cycling "
               "through the catalog.")
        yield ""
        yield "| access log | endpoint | req/s | p50 ms | p99 ms | non-2xx | load |"
        yield "| --- | --- | ---: | ---: | ---: | ---: | --- |"
        for label in ("access_log_on", "access_log_off"):
            for key, f in inf.get(label, {}).get("endpoints", {}).items():
                yield (f"| {label.split('_')[-1]} | {key} | {f['requests_per_s']:.0f} | "
                       f"{f['p50_ms']:.1f} | {f['p99_ms']:.1f} | {f['non_2xx'] + f['errors']} | "
                       f"{_load(f)} |")
        yield ""
        for label in ("access_log_on", "access_log_off"):
            if label in inf:
                yield f"Ratios ({label.replace('_', ' ')}): {inf[label]['ratios']}"
        yield ""
        ident = inf["identical"]
        yield (f"Identical predictions: {ident['names']} catalog names, "
               f"{ident['in_process_mismatches']} mismatches in process, "
               f"{ident['http_mismatches']} over HTTP. One name in process (CPU µs): "
               f"`Classifier.predict` {ident['predict_us_cold']} with a cold per-word cache, "
               f"{ident['predict_us_warm']} warm; `pipeline.predict([name])` "
               f"{ident['pipeline_predict_us']}.")
        yield ""
    if "bulk" in results:
        b = results["bulk"]
        base = b["in_process"]
        yield (f"**Bulk import** of {b['csv']['rows']:,} rows ({b['csv']['distinct_names']:,} "
               f"distinct names, {b['csv']['bytes'] / 2**20:.0f} MiB), chunks of "
               f"{b['chunk_rows']} rows.")
        yield ""
        yield (f"In-process baseline, the same names in the same chunks (rows/s; "
               f"`pipeline.predict` over the first {base['pipeline_rows']:,}):")
        yield ""
        yield "| | 1 process | 2 processes |"
        yield "| --- | ---: | ---: |"
        for key, label in (("pipeline_predict", "`pipeline.predict`"),
                           ("predict_batch", "`Classifier.predict_batch`")):
            yield (f"| {label} | {base[f'{key}_1p']['rows_per_s']:,} | "
                   f"{base[f'{key}_2p']['rows_per_s']:,} |")
        yield ""
        runs = list(b["runs"])
        if "unique_run" in b:
            runs.append({**b["unique_run"], "label": "2 (all names distinct)"})
        yield ("| worker processes | e2e s | intake s | rows/s | vs pipeline.predict | "
               "vs predict_batch | API peak MB | worker peak MB (main; pool) | rows back | "
               "load |")
        yield "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | --- |"
        for r in runs:
            cores = 1 if r["workers"] == 1 else 2
            peaks = r["peak_rss_mb"]
            api = peaks.get("api", 0)
            main = max((v for k, v in peaks.items() if k.endswith("/main")), default=0)
            pool = max((v for k, v in peaks.items() if "/child-" in k), default=0)
            back = (f"{r['rows_returned']:,} ({r['categorized']:,} + {r['errors']} errors; "
                    f"missing {r['missing_rows']}, duplicated {r['duplicate_rows']}; sample "
                    f"mismatches {r['sample_mismatches']}/{r['sample_checked']})")
            yield (f"| {r.get('label', r['workers'])} | {r['seconds']:.1f} | "
                   f"{r['intake_s']:.1f} | {r['rows_per_s']:,} | "
                   f"{r.get(f'vs_pipeline_predict_{cores}p', '-')} | "
                   f"{r.get(f'vs_predict_batch_{cores}p', '-')} | {api:.0f} | "
                   f"{main:.0f}; {pool:.0f} | {back} | {_load(r)} |")
        for r in runs:
            if "disturbed_attempt" in r:
                d = r["disturbed_attempt"]
                yield (f"The {r.get('label', r['workers'])}-process run was repeated: the first "
                       f"attempt ({d['rows_per_s']:,} rows/s) ran while other processes used "
                       f"{d['foreign_cores']} cores.")
        yield ""
        yield ("CPU seconds spent from the upload to the last stored result (the download of "
               "results.csv is timed apart: " + ", ".join(f"{r['download_s']} s" for r in runs)
               + "):")
        yield ""
        yield "| worker processes | API | workers | PostgreSQL | Redis | other |"
        yield "| --- | ---: | ---: | ---: | ---: | ---: |"
        for r in runs:
            cpu = r["cpu_s"]
            yield (f"| {r.get('label', r['workers'])} | {cpu.get('api', 0)} | "
                   f"{cpu.get('workers', 0)} | {cpu.get('postgres', 0)} | {cpu.get('redis', 0)} | "
                   f"{r['foreign_cores'] * r['seconds']:.1f} |")
        yield ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("catalog", nargs="?", help="default ../shared/data/hardware_catalog_es.csv")
    parser.add_argument("--json", type=Path, help="also write every figure here")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--duration", type=int, default=20, help="seconds per wrk run")
    parser.add_argument("--baseline-rows", type=int, default=200_000,
                        help="rows for the pipeline.predict baseline")
    parser.add_argument("--quiet-timeout", type=float, default=600,
                        help="longest wait for a quiet machine before each measurement")
    parser.add_argument("--skip", default="", help="comma-separated: training,inference,bulk")
    parser.add_argument("--no-unique-run", action="store_true",
                        help="skip the bulk run on a CSV whose names are all distinct")
    args = parser.parse_args(argv)
    catalog = catalog_path(args.catalog)
    skip = set(filter(None, args.skip.split(",")))
    started = time.monotonic()
    results: dict[str, Any] = {"machine": machine(), "catalog": str(catalog)}
    with scratch_stack() as stack:
        if "training" not in skip:
            log("training job")
            results["training"] = training_job.run(stack, catalog,
                                                   quiet_timeout=args.quiet_timeout)
        if "inference" not in skip:
            log("synchronous inference")
            results["inference"] = inference_load.run(stack, catalog, duration=args.duration,
                                                      quiet_timeout=args.quiet_timeout)
        if "bulk" not in skip:
            log("bulk import")
            results["bulk"] = bulk_import.run(
                stack, catalog, rows=args.rows,
                workers=tuple(int(n) for n in args.workers.split(",")),
                baseline_rows=args.baseline_rows, unique_run=not args.no_unique_run,
                quiet_timeout=args.quiet_timeout)
    results["minutes"] = round((time.monotonic() - started) / 60, 1)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, ensure_ascii=False))
    print("\n".join(markdown(results)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
