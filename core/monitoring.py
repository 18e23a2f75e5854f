"""Store-wide figures for the metrics: queue depth, jobs by state, the champion's age.

Read by the API in the background (api.main) every METRICS_REFRESH_SECONDS and reported by
`core.metrics.StoreGauges` at scrape time. Each figure is read on its own: a store that is down
leaves its figures out of the reading rather than failing the others.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from core.config import Settings
from core.db import jobs_table
from core.jobs import JobStore
from core.metrics import StoreReading

logger = logging.getLogger(__name__)


def queue_depths(settings: Settings, queues: Iterable[str]) -> dict[str, int]:
    """Messages waiting per Celery queue: Redis `LLEN`, or the embedded broker's files."""
    names = list(queues)
    if settings.redis_url:
        with _redis(settings.redis_url).pipeline(transaction=False) as pipe:
            for name in names:
                pipe.llen(name)
            return {n: int(d) for n, d in zip(names, pipe.execute(), strict=True)}
    return embedded_queue_depths(settings.broker_dir / "out", names)


@functools.lru_cache(maxsize=4)
def _redis(url: str) -> Any:
    """One client (and connection pool) per URL for the periodic reading: a new connection
    each time cost about ten times the LLENs themselves."""
    import redis

    return redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)


def embedded_queue_depths(folder: Path, queues: Iterable[str]) -> dict[str, int]:
    """kombu's filesystem transport keeps one `<time>_<uuid>.<queue>.msg` file per message."""
    depths = dict.fromkeys(queues, 0)
    if folder.is_dir():
        for entry in folder.iterdir():
            name = entry.name
            if name.endswith(".msg"):
                queue = name[:-4].rsplit(".", 1)[-1]
                if queue in depths:
                    depths[queue] += 1
    return depths


def job_counts(store: JobStore) -> dict[tuple[str, str], int]:
    """Jobs by (kind, state)."""
    query = (sa.select(jobs_table.c.kind, jobs_table.c.state, sa.func.count())
             .group_by(jobs_table.c.kind, jobs_table.c.state))
    with store.engine.connect() as connection:
        return {(kind, state): int(n) for kind, state, n in connection.execute(query)}


def _attempt(what: str, read: Callable[[], Any]) -> Any:
    try:
        return read()
    except Exception as exc:  # one store down: report the rest
        logger.warning("metrics: could not read %s: %s", what, exc)
        return None


def read_stores(
    *, settings: Settings, store: JobStore, queues: Iterable[str],
    champion: Callable[[], tuple[int, float] | None],
    review_pending: Callable[[], int] | None = None,
    drift: Callable[[], tuple[dict[str, float | None], dict[str, int]]] | None = None,
) -> StoreReading:
    """One reading of every store-wide figure (None or empty where a store did not answer)."""
    champ = _attempt("the champion", champion)
    drift_read = _attempt("drift", drift) if drift is not None else None
    return StoreReading(
        queues=_attempt("queue depth", lambda: queue_depths(settings, queues)) or {},
        jobs=_attempt("jobs by state", lambda: job_counts(store)) or {},
        review_pending=_attempt("review items", review_pending) if review_pending else None,
        champion_version=champ[0] if champ else None,
        champion_trained_at=champ[1] if champ else None,
        drift_values=drift_read[0] if drift_read else {},
        drift_states=drift_read[1] if drift_read else {},
        read_at=time.time(),
    )
