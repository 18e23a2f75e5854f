"""How long the console takes to answer its pages, measured in process.

Each page is requested through the app (Starlette's TestClient, no network) on a real SQLite
job store holding what a busy store holds: 120 jobs, one of them a 100,000-row import whose
names come from the real catalog, and 1,000 review items. The time is the whole request:
routing, the store's queries, the template's render. The target (issue 14): under 50 ms for
a page of 100 rows. Besides the wall time it reports the median CPU time per request (the
process's, all threads), which a loaded machine inflates less, and the first request's time
(before a finished job's result index is in memory).

    python benchmarks/console_render.py [--catalog ../shared/data/hardware_catalog_es.csv]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import quote

from _stack import catalog_path

from api.deps import AppState
from api.main import create_app
from core.batch_store import BatchStore, InputRow, RowResult
from core.config import Settings
from core.data import load_catalog
from core.jobs import JobStore
from core.results_view import ResultQuery, results_page
from core.review import NewItem
from core.service import registry_from_settings
from core.serving import ChampionHolder

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

CHUNK = 5000


class NoQueue:
    def enqueue(self, *args: Any, **kwargs: Any) -> str:
        return "task"

    def ping(self) -> None:
        pass

    def revoke(self, *args: Any, **kwargs: Any) -> None:
        pass


def _fill(state: AppState, names: list[str], categories: list[str], n_rows: int) -> str:
    """The jobs, the big import and its review items; returns the import's id."""
    rng = random.Random(0)
    store = state.store
    for i in range(119):
        job, _ = store.create_job(kind="training" if i % 5 == 0 else "batch", params={})
        store.start(job.id, stage="done")
        store.succeed(job.id, {"rows": 0})
    rows = [InputRow(id=f"SKU-{i}", name=names[i % len(names)]) for i in range(n_rows)]
    chunks = [rows[i:i + CHUNK] for i in range(0, n_rows, CHUNK)]
    batches = BatchStore(store)
    job, _ = batches.create_batch(chunks)
    store.start(job.id, stage="categorizing")
    review: list[NewItem] = []
    for idx, chunk in enumerate(chunks):
        results = []
        for offset in range(len(chunk)):
            row = idx * CHUNK + offset
            category = categories[row % len(categories)]
            confidence = rng.random()
            decision = "auto" if confidence > 0.5 else "review"
            other = categories[(row + 1) % len(categories)]
            results.append(RowResult(category, confidence, None, decision,
                                     [(category, confidence), (other, 1 - confidence)], True))
            if decision == "review" and len(review) < 1000:
                review.append(NewItem(row=row, name=chunk[offset].name, category=category,
                                      confidence=confidence,
                                      top_k=[{"category": category, "confidence": confidence},
                                             {"category": other, "confidence": 1 - confidence}]))
        batches.put_result(job.id, idx, results)
    store.succeed(job.id, {"rows": n_rows, **batches.decision_counts(job.id)})
    state.review.add_items(job.id, review, model_version=1)
    state.review.sync_model_categories(1, sorted(set(categories)))
    return job.id


def _time(client: TestClient, url: str, repeats: int) -> dict[str, float]:
    """Wall time per request, and the process's CPU time per request (all threads: the
    client's and the app's), which other work on a shared machine does not inflate."""
    started = time.perf_counter()
    assert client.get(url).status_code == 200, url
    first = (time.perf_counter() - started) * 1000
    for _ in range(2):
        assert client.get(url).status_code == 200, url
    samples, cpu = [], []
    for _ in range(repeats):
        started, started_cpu = time.perf_counter(), time.process_time()
        response = client.get(url)
        samples.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
        assert response.status_code == 200
    return {**_stats(samples), "cpu": statistics.median(cpu), "first": first}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--catalog", help="default ../shared/data/hardware_catalog_es.csv")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    catalog = load_catalog(catalog_path(args.catalog))
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(_env_file=None, data_dir=Path(tmp), admin_api_key="bench-admin",
                            reviewer_api_key="bench-reviewer", model_refresh_seconds=3600,
                            sweep_seconds=3600)
        store = JobStore.from_url(settings.effective_database_url)
        store.create_schema()
        registry = registry_from_settings(settings)
        state = AppState(settings=settings, store=store, batches=BatchStore(store),
                         registry=registry,
                         champion=ChampionHolder(registry, top_k=3), queue=NoQueue())  # type: ignore[arg-type]
        started = time.perf_counter()
        job_id = _fill(state, catalog.names, catalog.categories, args.rows)
        print(f"store filled in {time.perf_counter() - started:.1f} s "
              f"({args.rows:,} result rows, 120 jobs, 1,000 review items)")
        with TestClient(create_app(settings, state=state)) as client:
            client.cookies.set("categorizer_key", "bench-reviewer", path="/ui")
            pages = {
                "jobs list, 100 rows": "/ui/jobs",
                "import results, first 100 rows": f"/ui/jobs/{job_id}",
                "import results, rows 50,000-50,099": f"/ui/jobs/{job_id}?offset=50000",
                "import results, review rows, least confident first":
                    f"/ui/jobs/{job_id}?decision=review&sort=confidence",
                "import results, one category, most confident first":
                    f"/ui/jobs/{job_id}?category={quote(catalog.categories[0])}"
                    "&sort=-confidence",
                "import results, confidence 0.2-0.3, page 5":
                    f"/ui/jobs/{job_id}?min_confidence=0.2&max_confidence=0.3&offset=400",
                "review queue (10 items)": f"/ui/review/queue?job_id={job_id}",
                "import page": "/ui/import",
            }
            print(f"{'page (whole request)':<52} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} "
                  f"{'cpu ms':>8} {'1st ms':>8}")
            for name, url in pages.items():
                t = _time(client, url, args.repeats)
                print(f"{name:<52} {t['p50']:8.1f} {t['p95']:8.1f} {t['max']:8.1f} "
                      f"{t['cpu']:8.1f} {t['first']:8.1f}")
            t = _render_only(state, job_id, args.repeats)
            print(f"{'template alone, 100 result rows':<52} {t['p50']:8.1f} {t['p95']:8.1f} "
                  f"{t['max']:8.1f}")
            t = _page_read_only(state, job_id, args.repeats)
            print(f"{'store read alone, first 100 rows':<52} {t['p50']:8.1f} {t['p95']:8.1f} "
                  f"{t['max']:8.1f}")


def _stats(samples: list[float]) -> dict[str, float]:
    samples.sort()
    return {"p50": statistics.median(samples), "p95": samples[int(0.95 * (len(samples) - 1))],
            "max": samples[-1]}


def _page_read_only(state: AppState, job_id: str, repeats: int) -> dict[str, float]:
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        results_page(state.batches, state.store.get(job_id), ResultQuery())
        samples.append((time.perf_counter() - started) * 1000)
    return _stats(samples)


def _render_only(state: AppState, job_id: str, repeats: int) -> dict[str, float]:
    """The job page's template over an already read page of 100 rows."""
    from starlette.requests import Request

    from api.ui.i18n import translator
    from api.ui.jobs import SORTS, _job_row
    from api.ui.web import templates

    job = state.store.get(job_id)
    query = ResultQuery()
    view = results_page(state.batches, job, query)
    request = Request({"type": "http", "method": "GET", "path": f"/ui/jobs/{job_id}",
                       "query_string": b"", "headers": [], "scheme": "http",
                       "server": ("bench", 80), "root_path": ""})
    context = {"request": request, "lang": "en", "_": translator("en"), "role": None,
               "csrf_token": "x", "path": request.url.path, "job": _job_row(job), "view": view,
               "query": query, "filters": {}, "sorts": SORTS, "page": 100}
    template = templates.env.get_template("job.html")
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        template.render(context)
        samples.append((time.perf_counter() - started) * 1000)
    return _stats(samples)


if __name__ == "__main__":
    main()
