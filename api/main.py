"""The FastAPI app: `create_app()` wires settings, stores, the queue and the cached champion."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import AsyncIterator, Callable

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline
from starlette.concurrency import run_in_threadpool

from api.deps import AppState, drift_monitor, intake_pool
from api.docs import DocsPolicy
from api.errors import install_error_handlers
from api.metrics import HttpMetrics
from api.queue import HeldMessage, TaskQueue
from api.routes import batch, health, inference, jobs, models, monitoring, review
from api.schemas import problems
from api.submission import enqueue_job
from api.ui import install as install_console
from api.uploads import BodySizeLimit
from core import metrics, retrain
from core.batch_store import BatchStore
from core.config import Settings, get_settings
from core.errors import QueueUnavailable
from core.jobs import Job, JobStore
from core.leases import WHOLE_JOB, Lease, LeaseStore
from core.monitoring import read_stores
from core.prediction import freeze_heap
from core.service import registry_from_settings
from core.serving import ChampionHolder
from core.sweeper import SweepReport, Unacked, adopt_unleased, sweep, sweep_leases
from worker.names import (
    BATCH_CHUNK_TASK,
    INFERENCE_QUEUE,
    JOB_TASKS,
    SHADOW_SCORE_TASK,
    TRAINING_QUEUE,
    TRAINING_TASK,
)

logger = logging.getLogger(__name__)


def build_state(settings: Settings) -> AppState:
    """The real dependencies, from settings."""
    from worker.celery_app import create_celery_app  # the one place the Celery app is built

    settings.ensure_data_dir()
    store = JobStore.from_url(settings.effective_database_url)
    registry = registry_from_settings(settings)
    return AppState(
        settings=settings, store=store, batches=BatchStore(store), registry=registry,
        champion=ChampionHolder(registry, top_k=settings.top_k),
        queue=TaskQueue(create_celery_app(settings)),
    )


def sweep_jobs(state: AppState) -> SweepReport:
    """Send again the jobs nothing is heard of, through this API's queue (core.sweeper)."""
    settings = state.settings

    def resend(job: Job, task_id: str) -> None:
        state.queue.enqueue(JOB_TASKS[job.kind], job.id, task_id=task_id)

    return sweep(state.store, resend, stale_after=settings.stale_after,
                 max_resends=settings.job_max_resends,
                 keep_for=dt.timedelta(days=settings.job_ttl_days))


def retrain_if_it_pays(state: AppState) -> Job | None:
    """Queue one training job when drift alerts or enough labels arrived (core.retrain)."""
    settings = state.settings
    if not retrain.enabled(settings):
        return None
    version = state.registry.champion_version()
    trained = (dt.datetime.fromtimestamp(state.registry.trained_at(version), dt.UTC)
               if version is not None else None)
    return retrain.check_retrain(
        store=state.store, settings=settings, champion_version=version,
        champion_trained_at=trained, drift=lambda: drift_monitor(state).report(version),
        labels_since=state.review.labels_since,
        enqueue=lambda job: enqueue_job(state, job, TRAINING_TASK))


# The tasks whose work is leased: a batch's chunks, and each job kind's own task.
LEASED_TASKS = frozenset({BATCH_CHUNK_TASK, *JOB_TASKS.values()})


def unleased_candidates(messages: list[HeldMessage]) -> list[Unacked]:
    """The work each held message is for: a chunk (job id, index) or a job's own task."""
    work: list[Unacked] = []
    for message in messages:
        try:
            idx = int(message.args[1]) if message.name == BATCH_CHUNK_TASK else WHOLE_JOB
            work.append(Unacked(task_id=message.task_id, job_id=str(message.args[0]), idx=idx,
                                delivered_at=message.delivered_at, eta=message.eta))
        except (IndexError, TypeError, ValueError):
            continue  # a malformed message: its task fails it
    return work


def sweep_expired_leases(state: AppState) -> SweepReport:
    """Send again the work whose worker stopped renewing its lease (core.leases)."""

    def resend(lease: Lease, task_id: str) -> None:
        if lease.idx == WHOLE_JOB:
            state.queue.enqueue(JOB_TASKS[lease.job_kind], lease.job_id, task_id=task_id)
        else:
            state.queue.enqueue(BATCH_CHUNK_TASK, lease.job_id, lease.idx, task_id=task_id)

    leases = LeaseStore(state.store)
    settings = state.settings
    try:  # messages whose worker was lost before it leased them (core.sweeper)
        held = state.queue.unacked(LEASED_TASKS, older_than=settings.heartbeat_seconds)
        adopt_unleased(leases, unleased_candidates(held), lease_seconds=settings.lease_seconds,
                       grace=settings.heartbeat_seconds)
    except QueueUnavailable as exc:
        logger.warning("could not read the broker's unacknowledged messages: %s", exc)
    return sweep_leases(leases, resend, max_resends=settings.task_max_retries)


def read_monitoring(state: AppState) -> None:
    """Read the store-wide figures /metrics reports (core.monitoring)."""
    trained = state.trained_at  # a version's training time never changes: asked once
    asked: list[int | None] = []  # the champion's version, asked of the registry once

    def champion_version() -> int | None:
        if not asked:
            asked.append(state.registry.champion_version())
        return asked[0]

    def champion() -> tuple[int, float] | None:
        version = champion_version()
        if version is None:
            return None
        if version not in trained:
            trained[version] = state.registry.trained_at(version)
        return version, trained[version]

    def drift() -> tuple[dict[str, float | None], dict[str, int]]:
        return drift_monitor(state).report(champion_version()).gauges()

    metrics.store_gauges().update(read_stores(
        settings=state.settings, store=state.store, queues=(INFERENCE_QUEUE, TRAINING_QUEUE),
        champion=champion, drift=drift,
        review_pending=lambda: state.review.list_items(state="pending", limit=1).total,
    ))


def flush_drift(state: AppState) -> int:
    """Store what this process answered since the last flush as live profiles."""
    holder = state.champion

    def pipeline_of(version: int) -> object | None:
        served = holder.classifier if holder.loaded else None
        return served.pipeline if served is not None and served.version == version else None

    return drift_monitor(state).flush(state.recorder, pipeline_of)


async def _every(seconds: float, state: AppState, *steps: Callable[[AppState], object],
                 at_once: bool = False) -> None:
    """Run `steps` on the thread pool every `seconds` (first at once, or after one wait). A
    failing step is logged and tried again next time: a store or broker outage heals itself."""
    if not at_once:
        await asyncio.sleep(seconds)
    while True:
        for step in steps:
            try:
                await run_in_threadpool(step, state)
            except Exception as exc:
                logger.warning("%s failed: %s", step.__name__, exc)
        await asyncio.sleep(seconds)




def send_shadow(state: AppState) -> int:
    """Send the names sampled for the shadow challenger to an inference worker."""
    sent = 0
    for sample in state.shadow.drain():
        try:
            state.queue.enqueue(SHADOW_SCORE_TASK, *sample.as_args())
        except Exception as exc:  # the broker is down: this sample is dropped, serving goes on
            logger.warning("shadow sample of %d names dropped: %s", len(sample.names), exc)
            continue
        sent += len(sample.names)
    return sent


async def _start_intake(state: AppState) -> None:
    """The intake processes, started in the background after start-up (INTAKE_AT_STARTUP)."""
    try:
        await run_in_threadpool(intake_pool(state).start)
    except Exception as exc:  # noqa: BLE001 - the first batch tries again
        logger.warning("could not start the batch intake processes: %s", exc)


async def _send_shadow(state: AppState) -> None:
    """About once a second, off the request path."""
    while True:
        await asyncio.sleep(1.0)
        await run_in_threadpool(send_shadow, state)


async def _watch_champion(state: AppState) -> None:
    """Pick up a newly promoted champion without a restart."""
    while True:
        await asyncio.sleep(state.settings.model_refresh_seconds)
        await run_in_threadpool(state.champion.refresh)


def create_app(settings: Settings | None = None, *, state: AppState | None = None) -> FastAPI:
    """Build the app; tests pass a ready-made `state` of fakes."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app_state = state or build_state(settings or get_settings())
        app.state.categorizer = app_state
        app_state.shadow.rate = app_state.settings.shadow_sample_rate
        try:
            await run_in_threadpool(app_state.store.create_schema)
        except Exception as exc:  # not fatal: /ready says so, and requests get 503s
            logger.error("job database unavailable at start-up: %s", exc)
        await run_in_threadpool(app_state.champion.refresh)
        freeze_heap()  # what start-up built lives as long as the process: see there
        loops = [asyncio.create_task(_watch_champion(app_state)),
                 # every SWEEP_SECONDS; each API process sweeps, the store lets one act on a job
                 asyncio.create_task(_every(app_state.settings.sweep_seconds, app_state,
                                            sweep_jobs, retrain_if_it_pays)),
                 # off the request path: what this process answered, as live drift profiles
                 asyncio.create_task(_every(app_state.settings.drift_flush_seconds, app_state,
                                            flush_drift)),
                 asyncio.create_task(_send_shadow(app_state)),
                 # a lost worker's work goes out again within about a lease
                 asyncio.create_task(_every(app_state.settings.heartbeat_seconds, app_state,
                                            sweep_expired_leases))]
        if app_state.settings.intake_at_startup:
            loops.append(asyncio.create_task(_start_intake(app_state)))
        if app_state.settings.metrics_enabled:  # so a scrape never waits for a store
            loops.append(asyncio.create_task(_every(
                app_state.settings.metrics_refresh_seconds, app_state, read_monitoring,
                at_once=True)))
        try:
            yield
        finally:
            for loop in loops:
                loop.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await loop
            if app_state.intake is not None:
                app_state.intake.close()

    limits = settings or (state.settings if state else get_settings())
    # /docs and /redoc with Swagger UI's and ReDoc's assets from the installed fastapi-offline
    # package (under /static-offline-docs/): a store's server without internet still shows them.
    app = FastAPIOffline(
        title="Hardware-store product categorizer",
        summary="Learns a store's category filing from its catalog and applies it to names.",
        description="A web console for imports, review and models is at [/ui/](/ui/).",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.add_middleware(BodySizeLimit, max_json=limits.max_request_bytes,
                       max_upload=limits.max_upload_bytes)
    app.add_middleware(DocsPolicy)
    if limits.metrics_enabled:
        app.add_middleware(HttpMetrics)
    metrics.set_enabled(limits.metrics_enabled)
    metrics.configure_categories(limits.metrics_max_categories, limits.category_separator)
    install_error_handlers(app)
    # Every route can meet these: a malformed or oversize body, and a dependency that is down.
    common = problems(400, 413, 422, 503)
    for module in (health, inference, jobs, batch, models, monitoring, review):
        app.include_router(module.router, responses=common)
    install_console(app)
    return app


app = create_app()
