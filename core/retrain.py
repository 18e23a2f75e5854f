"""Retraining when it pays: queue one training job when drift alerts or enough labels arrived.

Off by default: `RETRAIN_ON_DRIFT=true` turns on the drift trigger, `RETRAIN_AFTER_LABELS=N` the
labels trigger (N labels since the champion was trained, or since the last automatic retrain,
whichever is later). Every API process runs the check after its job sweep; a lock in the job
store and the rule "no training job queued or running" make sure only one job is ever queued,
and automatic jobs are at least RETRAIN_MIN_INTERVAL_SECONDS apart, so a drift that a retrained
model does not cure (it was not promoted) does not queue a job every minute.

The job trains from the champion's own source (its training job's parameters, or its upload)
plus the stored labels, and records why it was queued: `params.trigger` ("drift" or "labels")
and `params.reason` in words.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from core import metrics
from core.config import Settings
from core.data import SAMPLE_CATALOG
from core.db import as_utc, cross_process_lock, jobs_table
from core.drift_monitor import DriftReport
from core.jobs import ACTIVE_STATES, Job, JobStore
from core.sources import check_source

logger = logging.getLogger(__name__)

LabelsSince = Callable[[dt.datetime], int]


@dataclass(frozen=True)
class Trigger:
    kind: str  # "drift" or "labels"
    reason: str


def enabled(settings: Settings) -> bool:
    return settings.retrain_on_drift or settings.retrain_after_labels is not None


def _recent_training_jobs(store: JobStore, limit: int = 50) -> list[dict[str, Any]]:
    query = (sa.select(jobs_table.c.id, jobs_table.c.state, jobs_table.c.params,
                       jobs_table.c.created_at, jobs_table.c.model_version)
             .where(jobs_table.c.kind == "training")
             .order_by(jobs_table.c.created_at.desc()).limit(limit))
    with store.engine.connect() as connection:
        return [dict(row) for row in connection.execute(query).mappings()]


def find_trigger(*, settings: Settings, drift: DriftReport | None, labels: int | None,
                 since: dt.datetime | None) -> Trigger | None:
    """Why to retrain now, or None. Drift first: it says the model is failing its traffic."""
    if settings.retrain_on_drift and drift is not None and drift.state == "alert":
        alerts = ", ".join(
            f"{name} {signal.value:+.3f} (alert from {signal.alert:g})"
            for name, signal in drift.signals.items()
            if signal.state == "alert" and signal.value is not None)
        return Trigger("drift", f"drift alert on model v{drift.model_version}: {alerts}")
    wanted = settings.retrain_after_labels
    if wanted is not None and labels is not None and labels >= wanted:
        when = since.isoformat(timespec="seconds") if since else "the start"
        return Trigger("labels", f"{labels} new labels since {when} (retrain after {wanted})")
    return None


def training_params(store: JobStore, settings: Settings, champion_version: int | None,
                    recent: list[dict[str, Any]]) -> tuple[dict[str, Any], bytes | None]:
    """The champion's own training source (and its upload), else the configured source."""
    for job in recent:
        if champion_version is not None and job["model_version"] == champion_version:
            params = {k: v for k, v in (job["params"] or {}).items()
                      if k not in ("trigger", "reason")}
            upload = store.get_upload(job["id"]) if params.get("upload") else None
            return params, upload
    data = settings.training_data or str(SAMPLE_CATALOG)
    if data in settings.training_sources:  # as GET /training reads TRAINING_DATA
        checked = check_source(settings, source=data, table=settings.training_table)
    else:
        checked = check_source(settings, data=data, table=settings.training_table)
    return dict(checked.as_params()), None


def check_retrain(
    *, store: JobStore, settings: Settings, champion_version: int | None,
    champion_trained_at: dt.datetime | None, drift: Callable[[], DriftReport] | None,
    labels_since: LabelsSince | None, enqueue: Callable[[Job], None],
    now: dt.datetime | None = None,
) -> Job | None:
    """Queue one training job if a trigger fires; returns it (None when nothing was queued)."""
    if not enabled(settings):
        return None
    now = now or dt.datetime.now(dt.UTC)
    with cross_process_lock(store.engine, "retrain"):
        recent = _recent_training_jobs(store)
        if any(job["state"] in ACTIVE_STATES for job in recent):
            return None  # never two at once, whoever queued the other
        automatic = [job for job in recent if (job["params"] or {}).get("trigger")]
        last = as_utc(automatic[0]["created_at"]) if automatic else None
        if last is not None and now - last < dt.timedelta(
                seconds=settings.retrain_min_interval_seconds):
            return None
        since = max((t for t in (champion_trained_at, last) if t is not None), default=None)
        labels = None
        if settings.retrain_after_labels is not None and labels_since is not None:
            labels = labels_since(since or dt.datetime.min.replace(tzinfo=dt.UTC))
        report = drift() if settings.retrain_on_drift and drift is not None else None
        trigger = find_trigger(settings=settings, drift=report, labels=labels, since=since)
        if trigger is None:
            return None
        params, upload = training_params(store, settings, champion_version, recent)
        params.update(trigger=trigger.kind, reason=trigger.reason)
        job, _ = store.create_job(kind="training", params=params)
        if upload is not None:
            store.put_upload(job.id, upload)
    logger.warning("queueing training job %s: %s", job.id, trigger.reason)
    if metrics.enabled():
        metrics.get_metrics().retrains.labels(trigger=trigger.kind).inc()
    enqueue(job)
    return job
