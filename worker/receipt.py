"""A lease from the moment a worker receives a message, not only once a pool process starts it.

With late acks, a message a worker has received sits in the broker's unacked set until the
worker acks it; if the worker's host is lost, Redis hands it back only after the visibility
timeout (two hours by default). The task's own lease (core.leases, taken when it starts) covers
the work once it runs, but not the moment between receipt and start: a host lost in that moment
would cost its chunk two hours. So the worker's main process leases each chunk message as it
receives it (`task_received`), for `LEASE_SECONDS` after it is due; the pool process that starts
it takes the same lease over (same task id) and heartbeats it. A message received by a host
that then dies is sent again by the sweeper like any other expired lease.

The main process talks to the job store through an engine without a connection pool: the pool
processes it forks later inherit no open connection.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import time
from dataclasses import dataclass, field
from typing import Any

from celery import signals
from sqlalchemy.pool import NullPool

from core.config import get_settings
from core.db import create_db_engine
from core.jobs import JobStore
from core.leases import LeaseStore
from worker.names import BATCH_CHUNK_TASK

logger = logging.getLogger(__name__)

# After a failed write, receipts stop leasing for this long: a job store outage must not make
# the worker's consumer wait on a connect timeout for every message it receives.
PAUSE_AFTER_FAILURE_SECONDS = 10.0


def leased_work(name: str, args: Any) -> tuple[str, int] | None:
    """(job id, chunk index) of a batch chunk message, or None: only chunks are leased on receipt.

    A job's own task (a training, a batch's fan-out) is not: two messages of one job may exist at
    once (a submission raced with itself, or the sweeper sent the job again), and the job's
    current task id decides which one runs. A lease taken on receipt by the superseded one would
    keep the current one from running; these messages take their lease when they start.
    """
    if name != BATCH_CHUNK_TASK:
        return None
    try:
        return str(args[0]), int(args[1])
    except (IndexError, KeyError, TypeError, ValueError):
        return None  # a malformed message: the task itself fails it


def lease_expiry_seconds(lease_seconds: float, eta: dt.datetime | None,
                         now: dt.datetime | None = None) -> float:
    """How long the receipt lease holds: LEASE_SECONDS after the message is due to run (a
    retry waits for its countdown in the worker that received it)."""
    if eta is None:
        return lease_seconds
    if eta.tzinfo is None:
        eta = eta.replace(tzinfo=dt.UTC)
    waiting = (eta - (now or dt.datetime.now(dt.UTC))).total_seconds()
    return lease_seconds + max(0.0, waiting)


@dataclass
class Receipts:
    """Leases received messages in the worker's main process."""

    leases: LeaseStore
    lease_seconds: float
    paused_until: float = 0.0
    pid: int = field(default_factory=os.getpid)

    def received(self, *, task_id: str, name: str, args: Any, worker: str,
                 eta: dt.datetime | None = None) -> bool:
        """Lease the message's work; True when this message now holds the lease."""
        work = leased_work(name, args)
        if work is None or time.monotonic() < self.paused_until:
            return False
        job_id, idx = work
        try:
            # Held by another task (a chunk sent twice): its holder's lease already covers it.
            return self.leases.acquire(job_id=job_id, idx=idx, task_id=task_id, worker=worker,
                                       pid=self.pid,
                                       seconds=lease_expiry_seconds(self.lease_seconds, eta))
        except Exception as exc:  # the message is not lost: the broker still holds it
            self.paused_until = time.monotonic() + PAUSE_AFTER_FAILURE_SECONDS
            logger.warning("could not lease message %s on receipt (%s); receipts paused %.0f s",
                           task_id, exc, PAUSE_AFTER_FAILURE_SECONDS)
            return False


_receipts: dict[str, Receipts] = {}


def _main_process_receipts() -> Receipts:
    receipts = _receipts.get("main")
    if receipts is None:
        settings = get_settings()
        engine = create_db_engine(settings.effective_database_url, poolclass=NullPool)
        receipts = Receipts(LeaseStore(JobStore(engine)), lease_seconds=settings.lease_seconds)
        _receipts["main"] = receipts
    return receipts


@signals.task_received.connect(dispatch_uid="categorizer-lease-on-receipt")
def lease_on_receipt(request: Any = None, **_: Any) -> None:
    if request is None:
        return
    _main_process_receipts().received(task_id=request.id, name=request.name, args=request.args,
                                      worker=request.hostname or "", eta=request.eta)
