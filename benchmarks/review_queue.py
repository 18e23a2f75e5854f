"""The review queue at scale: 1,000 categories and a few hundred thousand review items.

On a scratch PostgreSQL database (dropped afterwards), fills the queue through the store's own
insert (as the workers do), then times what the console and the API do: the first page least
confident first, each filter, a deep page, a category search over 1,000 categories, one decision
and a bulk accept of 1,000 items. Every read pages and counts in SQL; nothing loads the queue.

    python benchmarks/review_queue.py --items 300000 --categories 1000
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable
from typing import Any

from _stack import log, machine, scratch_stack

from core.jobs import JobStore
from core.review import NewItem, ReviewStore


def timed(call: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Median milliseconds of `repeat` calls, and the last call's answer."""
    times, answer = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        answer = call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), answer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=300_000)
    parser.add_argument("--categories", type=int, default=1000)
    parser.add_argument("--per-job", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    rng = random.Random(42)
    categories = [f"Departamento {d:02d} > Familia {f:03d}"
                  for d in range(args.categories // 50 or 1) for f in range(50)][:args.categories]

    with scratch_stack() as stack:
        jobs = JobStore.from_url(stack.env["DATABASE_URL"])
        jobs.create_schema()
        review = ReviewStore(jobs.engine)
        review.sync_model_categories(1, categories)
        started = time.perf_counter()
        job_ids = []
        for first in range(0, args.items, args.per_job):
            job, _ = jobs.create_job(kind="batch", params={})
            job_ids.append(job.id)
            count = min(args.per_job, args.items - first)
            items = []
            for row in range(count):
                proposed = rng.choice(categories)
                confidence = round(rng.random(), 6)
                items.append(NewItem(row=row, name=f"producto {first + row}", category=proposed,
                                     confidence=confidence,
                                     top_k=[{"category": proposed, "confidence": confidence},
                                            {"category": rng.choice(categories),
                                             "confidence": round(confidence / 2, 6)}]))
            for start in range(0, count, 5000):  # a chunk's items, as a worker stores them
                review.add_items(job.id, items[start:start + 5000], model_version=1)
        fill = time.perf_counter() - started
        log(f"filled {args.items} items in {fill:.1f} s")

        middle = job_ids[len(job_ids) // 2]
        reads: dict[str, Callable[[], Any]] = {
            "first page (50), least confident first": lambda: review.list_items(limit=50),
            "state=pending": lambda: review.list_items(state="pending", limit=50),
            "job_id=": lambda: review.list_items(job_id=middle, state="pending", limit=50),
            "category=": lambda: review.list_items(category=categories[7], limit=50),
            "confidence 0.40-0.45": lambda: review.list_items(min_confidence=0.40,
                                                              max_confidence=0.45, limit=50),
            f"offset {args.items // 2}": lambda: review.list_items(offset=args.items // 2,
                                                                  limit=50),
            "categories: first page": lambda: review.list_categories(limit=50),
            "categories: q=familia 01": lambda: review.list_categories(q="familia 01", limit=50),
        }
        results = {}
        for name, call in reads.items():
            ms, page = timed(call, args.repeat)
            results[name] = ms
            log(f"{name:42s} {ms:8.1f} ms  (total {page.total})")

        pending = review.list_items(state="pending", limit=1001).items
        ms, _ = timed(lambda: review.decide(pending[0].id, by="reviewer",
                                            category=categories[3]), args.repeat)
        log(f"{'one decision':42s} {ms:8.1f} ms")
        started = time.perf_counter()
        review.accept([item.id for item in pending[1:]], by="reviewer")
        log(f"{'bulk accept of 1,000 items':42s} {(time.perf_counter() - started) * 1000:8.1f} ms")
        jobs.engine.dispose()
    log(f"machine: {machine()}")


if __name__ == "__main__":
    main()
