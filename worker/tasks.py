"""Thin tasks over core: each turns a job id into inputs, calls core, and owns retries and acks.

Every task is safe to run twice (late acks redeliver a killed worker's message): training
re-runs from its stored inputs, and a batch chunk whose result is stored is skipped.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, cast

from celery import Task, shared_task
from celery.exceptions import SoftTimeLimitExceeded
from celery.utils.time import get_exponential_backoff_interval

from core import metrics
from core.batch import categorize_rows
from core.batch_store import BatchStore, RowResult
from core.data import parse_csv_catalog
from core.db import cross_process_lock
from core.drift_monitor import answers_profile
from core.errors import InvalidRequest, JobNotFound, NotFound, StoreUnavailable, Unavailable
from core.jobs import Job, JobStore
from core.leases import WHOLE_JOB, Heartbeat, LeaseStore, held_lease
from core.prediction import Classifier, collector_paused
from core.registry import Registry
from core.review import ReviewStore, review_items_writer
from core.service import train_and_register
from core.shadow import ShadowBatch, chunk_batch, score
from core.sources import TrainingSource, load_source
from worker.context import get_context
from worker.names import (
    BATCH_CHUNK_TASK,
    BATCH_START_TASK,
    INFERENCE_QUEUE,
    SHADOW_CHUNK_TASK,
    SHADOW_SCORE_TASK,
    TRAINING_TASK,
)

logger = logging.getLogger(__name__)

# About half an hour of backoff (30 s apart at most) before a job gives up on its database.
DATABASE_OUTAGE_RETRIES = 60


class JobCancelled(Exception):
    """The job was cancelled while it ran."""


def _superseded(task: Task, job: Job) -> bool:
    """This message was replaced: the sweeper sent the job again under another task id
    (core/sweeper.py). Redeliveries keep their id; a job enqueued a moment ago may have none yet."""
    if job.task_id is None or task.request.id is None or task.request.id == job.task_id:
        return False
    logger.warning("job %s: message %s was superseded by %s; dropping it",
                   job.id, task.request.id, job.task_id)
    return True


def _lease(task: Task, job_id: str, idx: int, *,
           on_lost: Callable[[str], None] | None = None
           ) -> AbstractContextManager[Heartbeat | None]:
    """Hold the lease on a chunk (or the job's own task) with a heartbeat while it runs."""
    ctx = get_context()
    return held_lease(
        LeaseStore(ctx.store), job_id=job_id, idx=idx, task_id=task.request.id or "direct",
        worker=task.request.hostname or socket.gethostname(), pid=os.getpid(),
        seconds=ctx.settings.lease_seconds, every=ctx.settings.heartbeat_seconds,
        on_lost=on_lost,
    )


def _let_go(task: Task, job_id: str, idx: int) -> None:
    """This message ends without working: drop the lease it took on receipt (worker.receipt),
    if it holds one, so that the sweeper does not send the work again when it expires."""
    if task.request.id is None:
        return
    try:
        LeaseStore(get_context().store).release(job_id=job_id, idx=idx,
                                                task_id=task.request.id)
    except Exception as exc:  # left to expire: the sweeper skips work that is done or ended
        logger.warning("job %s: could not release the lease on %s: %s", job_id, idx, exc)


def _stop_this_process(reason: str) -> None:
    """Fence a training whose lease is lost: another worker is (or soon will be) running it,
    and a training must never run twice at once. The pool process dies at once; the worker
    replaces it, and the message it held comes back as superseded and is dropped."""
    logger.error("stopping this process (pid %d): %s", os.getpid(), reason)
    os.kill(os.getpid(), signal.SIGKILL)


def _give_up(task: Task, job_id: str, exc: BaseException) -> None:
    """Fail at once on a wrong request; retry anything else with backoff while attempts remain
    (an outage of the job store for longer), then record a final failure that says why."""
    retries = task.request.retries
    if isinstance(exc, InvalidRequest | NotFound):  # wrong, not transient: retrying cannot help
        if metrics.enabled():
            metrics.get_metrics().task_failures.labels(task=task.name).inc()
        get_context().store.fail(job_id, f"{exc.__class__.__name__}: {exc}")
        return
    if isinstance(exc, StoreUnavailable) and retries < DATABASE_OUTAGE_RETRIES:
        # The job store is where the failure would be recorded: wait the outage out.
        logger.warning("job %s: job database unavailable; retry %d", job_id, retries + 1)
        raise task.retry(exc=exc, countdown=min(30, 2 ** min(retries + 1, 5)),
                         max_retries=DATABASE_OUTAGE_RETRIES)
    if retries < task.max_retries:
        logger.warning("job %s: %s; retry %d of %d", job_id, exc, retries + 1, task.max_retries)
        # Celery's own retry_backoff formula: exponential, capped, with full jitter.
        raise task.retry(exc=exc, countdown=get_exponential_backoff_interval(
            factor=2, retries=retries, maximum=60, full_jitter=True))
    if metrics.enabled():
        metrics.get_metrics().task_failures.labels(task=task.name).inc()
    get_context().store.fail(
        job_id, f"failed after {retries + 1} attempts: {exc.__class__.__name__}: {exc}")


@shared_task(name=TRAINING_TASK, bind=True)  # max_retries: TASK_MAX_RETRIES (celery_app)
def run_training(self: Task, job_id: str) -> None:
    """Train, register and gate a model for a training job."""
    try:
        _run_training(self, job_id)
    except StoreUnavailable as exc:
        _give_up(self, job_id, exc)


def _run_training(self: Task, job_id: str) -> None:
    ctx = get_context()
    store = ctx.store
    try:
        job = store.get(job_id)
    except JobNotFound:
        logger.warning("training job %s does not exist; dropping the message", job_id)
        return
    if job.terminal or _superseded(self, job):
        return
    if job.attempts >= ctx.settings.task_max_retries + 1 and self.request.retries == 0:
        # Redelivered after workers died on it again and again: stop the loop.
        store.fail(job_id, f"gave up after {job.attempts} attempts: the worker was lost each time")
        return
    with _lease(self, job_id, WHOLE_JOB, on_lost=_stop_this_process) as held:
        if held is None:
            logger.warning("training job %s runs on another worker; dropping message %s",
                           job_id, self.request.id)
            return
        _train(self, store, job)


def _train(self: Task, store: JobStore, job: Job) -> None:
    ctx = get_context()
    job_id = job.id
    store.start(job_id, stage="loading data")

    def on_stage(stage: str) -> None:
        if store.is_cancelled(job_id):
            raise JobCancelled(job_id)
        store.set_stage(job_id, stage)

    params = job.params
    try:
        if params.get("upload"):
            catalog = parse_csv_catalog(store.get_upload(job_id),
                                        source=params.get("filename") or "uploaded file")
        else:  # checked again as it is read: what was allowed may have changed since
            catalog = load_source(ctx.settings, TrainingSource.from_params(params),
                                  max_bytes=ctx.settings.max_upload_bytes)
        outcome = train_and_register(
            # Training logs runs and registers versions: it needs MLflow's Registry, which is
            # what a worker process holds (the context types only what serving reads).
            registry=cast(Registry, ctx.registry), settings=ctx.settings, catalog=catalog,
            on_stage=on_stage, promotion_lock=lambda: cross_process_lock(store.engine, "registry"),
            tags={"job_id": job_id}, label_store=ReviewStore(store.engine),
            include_labels=params.get("include_labels", True), job_id=job_id,
        )
    except JobCancelled:
        logger.info("training job %s cancelled", job_id)
        return
    except Unavailable as exc:  # MLflow or the job store is down: wait it out, then give up
        _give_up(self, job_id, exc)
        return
    except (InvalidRequest, NotFound, ValueError) as exc:
        store.fail(job_id, str(exc))  # the data or request is wrong: retrying cannot help
        return
    except SoftTimeLimitExceeded:
        store.fail(job_id, f"training exceeded the {ctx.settings.training_time_limit}s limit")
        return
    except Exception as exc:
        _give_up(self, job_id, exc)
        return
    store.succeed(job_id, outcome.as_dict(), model_version=outcome.version)


@shared_task(name=BATCH_START_TASK, bind=True)
def start_batch(self: Task, job_id: str) -> None:
    """Pin the champion version for a batch job and fan its chunks out to inference workers."""
    try:
        ctx = get_context()  # a fresh process creates the schema here: it may meet an outage
        store = ctx.store
        job = store.get(job_id)
        if job.terminal or _superseded(self, job):
            return
        # Leased before the registry is asked: a fresh process's first call to MLflow takes
        # seconds, and a host lost meanwhile would leave the message with no lease.
        with _lease(self, job_id, WHOLE_JOB) as held:
            if held is None:
                return  # another worker is fanning it out
            version = job.model_version or ctx.registry.champion_version()
            if version is None:
                store.fail(job_id, "no champion model yet: train one first")
                return
            if not store.start(job_id, stage="categorizing", model_version=version):
                return
            pending = ctx.batches.chunks_pending(job_id)
            for idx in pending:
                self.app.send_task(BATCH_CHUNK_TASK, args=[job_id, idx], queue=INFERENCE_QUEUE)
        if not pending:
            _finish_if_complete(job_id)
    except JobNotFound:
        logger.warning("batch job %s does not exist; dropping the message", job_id)
    except Exception as exc:
        _give_up(self, job_id, exc)


@shared_task(name=BATCH_CHUNK_TASK, bind=True)
def process_chunk(self: Task, job_id: str, idx: int) -> None:
    """Categorize one stored chunk of a batch job and store its results once."""
    try:
        ctx = get_context()
        store = ctx.store
        job = store.get(job_id)
        if job.state != "running" or job.model_version is None:
            _let_go(self, job_id, idx)
            return  # cancelled or failed: stop consuming this worker
        if ctx.batches.has_result(job_id, idx):
            _let_go(self, job_id, idx)  # done already (a message sent twice)
        else:
            with _lease(self, job_id, idx) as held:
                if held is None:
                    return  # another worker is on it; its lease says so until it finishes
                classifier = ctx.models.get(job.model_version)
                # A chunk is a few objects per row, all freed by the time _categorize_chunk
                # returns: the cyclic collector is held off until then (core.prediction).
                with collector_paused():
                    stored = _categorize_chunk(ctx.batches, classifier, job_id, idx)
            if stored:
                _shadow_chunk(self, job, idx)
        _finish_if_complete(job_id)
    except JobNotFound:
        return
    except Exception as exc:
        _give_up(self, job_id, exc)


def _categorize_chunk(batches: BatchStore, classifier: Classifier, job_id: str,
                      idx: int) -> bool:
    """Categorize and store a chunk; True when this run stored it."""
    took = metrics.timer()
    rows = batches.get_chunk(job_id, idx)
    results = categorize_rows(classifier, rows)
    items = review_items_writer(job_id, idx, rows, results, model_version=classifier.version)
    if not batches.put_result(job_id, idx, results, also=items):  # counted once, however often
        return False
    metrics.record_chunk(version=classifier.version, classes=classifier.classes,
                         results=results, seconds=took.seconds)
    _record_drift(classifier, [row.name for row in rows], results)
    return True


def _shadow_chunk(task: Task, job: Job, idx: int) -> None:
    """Have the challenger score the stored chunk too, in a task of its own (core/shadow.py)."""
    try:
        challenger = get_context().challenger_version()
        if challenger is not None and challenger != job.model_version:
            task.app.send_task(SHADOW_CHUNK_TASK, args=[job.id, idx, challenger],
                               queue=INFERENCE_QUEUE)
    except Exception as exc:  # the shadow is never the batch's failure
        logger.warning("job %s chunk %d: no shadow scoring: %s", job.id, idx, exc)


@shared_task(name=SHADOW_SCORE_TASK)
def shadow_score(challenger_version: int, champion_version: int, names: list[str],
                 categories: list[str], confidences: list[float], source: str) -> None:
    """Score names a serving process sampled with the challenger; add to its record."""
    _shadow(ShadowBatch(challenger_version, champion_version, names, categories, confidences,
                        source))


@shared_task(name=SHADOW_CHUNK_TASK)
def shadow_chunk(job_id: str, idx: int, challenger_version: int) -> None:
    """Score a stored batch chunk with the challenger; add to its record."""
    try:
        batch = chunk_batch(get_context().batches, job_id, idx, challenger_version)
    except JobNotFound:
        return
    if batch is not None:
        _shadow(batch)


def _shadow(batch: ShadowBatch) -> None:
    if not batch.names:
        return
    ctx = get_context()
    try:
        challenger = ctx.models.get(batch.challenger_version)
        score(batch, challenger, ctx.drift_monitor().store,
              keep=ctx.settings.shadow_max_disagreements)
    except Exception as exc:  # best effort: a lost sample, never a retry storm
        logger.warning("shadow scoring by v%s failed: %s", batch.challenger_version, exc)


def _record_drift(classifier: Classifier, names: list[str], results: list[RowResult]) -> None:
    """Add the chunk's profile to the drift window; best effort, never the chunk's failure."""
    try:
        monitor = get_context().drift_monitor()
        answers = [(name, r.category, r.confidence, r.decision or "review")
                   for name, r in zip(names, results, strict=True) if r.category is not None]
        vocabulary = monitor.vocabulary(classifier.version, classifier.pipeline)
        monitor.add(version=classifier.version, source="batch",
                    live=answers_profile(answers, vocabulary))  # type: ignore[arg-type]
    except Exception as exc:
        logger.warning("drift profile of a chunk not stored: %s", exc)


def _finish_if_complete(job_id: str) -> None:
    ctx = get_context()
    store = ctx.store
    job = store.get(job_id)
    if job.n_chunks is not None and ctx.batches.chunks_done(job_id) >= job.n_chunks:
        result: dict[str, Any] = {"rows": job.total_rows, "chunks": job.n_chunks,
                                  "model_version": job.model_version,
                                  **ctx.batches.decision_counts(job_id)}
        store.succeed(job_id, result)
