"""Send again the jobs nothing is heard of, fail them when that does not help, forget old ones.

A job lives twice: as a row in the job store and as a message in the broker. The broker hands a
message back when the worker holding it dies (late acks; after the visibility timeout when the
whole worker is gone), so most faults heal by themselves. Some lose the message outright: a
Redis restarted without its append-only file, a task that gave up while the database was away,
a broker that accepted the message and crashed before it was written. Such a job would stay
`queued` or `running` forever. `sweep` finds the jobs that have shown no sign of life (no state
or stage change, no chunk stored: `updated_at`) for `stale_after`, sends each again under a new
task id (a message of the old id that still turns up is then dropped by the task), and fails a
job that stayed silent after `max_resends` sends, with a reason the client can read. It also
deletes jobs that ended longer ago than `keep_for`.

Sending a job again is safe because every task is: a batch resumes its pending chunks and
skips stored ones; a training job's task checks its task id. `stale_after` must outlast the
broker's own redelivery (the visibility timeout), or the sweeper duplicates work Celery would
have redone anyway (harmless, wasted). Several processes may sweep at once: each resend or
failure is claimed with a conditional update, so exactly one of them acts.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from core import metrics
from core.jobs import Job, JobStore
from core.leases import WHOLE_JOB, Lease, LeaseStore

logger = logging.getLogger(__name__)

Resend = Callable[[Job, str], None]  # (job, new task id): put the job's task on the queue
ResendLeased = Callable[[Lease, str], None]  # (lease, new task id): put its work on the queue


@dataclass(frozen=True)
class SweepReport:
    resent: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    deleted: int = 0


@dataclass(frozen=True)
class Unacked:
    """A message the broker handed to a worker and holds unacknowledged: a batch chunk's
    (`idx` its chunk) or a job's own task (`idx` WHOLE_JOB: a training, a batch's fan-out)."""

    task_id: str
    job_id: str
    idx: int
    delivered_at: dt.datetime
    eta: dt.datetime | None = None  # a retry waits in its worker until then

    @property
    def due(self) -> dt.datetime:
        """When a worker could start it: its delivery, or a retry's eta if later."""
        return max(self.delivered_at, self.eta) if self.eta is not None else self.delivered_at


def _duration(delta: dt.timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    if seconds % 60 == 0:
        return f"{seconds // 60} min"
    return f"{seconds} s"


def _times(n: int) -> str:
    return {1: "once", 2: "twice"}.get(n, f"{n} times")


def sweep(store: JobStore, resend: Resend, *, stale_after: dt.timedelta, max_resends: int,
          keep_for: dt.timedelta) -> SweepReport:
    """One pass over the job store; see the module's docstring."""
    resent: list[str] = []
    failed: list[str] = []
    for job in store.stale_jobs(older_than=stale_after):
        if job.resends >= max_resends:
            again = f" after it was sent again {_times(job.resends)}" if job.resends else ""
            reason = (f"lost: no worker reported on this job for {_duration(stale_after)}{again}"
                      "; are workers consuming its queue? Submit it again")
            if store.give_up(job, reason, older_than=stale_after):
                logger.error("job %s (%s, %s): %s", job.id, job.kind, job.state, reason)
                failed.append(job.id)
            continue
        task_id = str(uuid.uuid4())
        if not store.claim_resend(job, task_id, older_than=stale_after):
            continue  # it moved meanwhile, or another sweeper took it
        try:
            resend(job, task_id)
        except Exception as exc:  # the broker is down: the next sweep after stale_after retries
            logger.warning("job %s: could not send it again: %s", job.id, exc)
            continue
        logger.warning("job %s (%s, %s) silent for %s: sent again as task %s (%d of %d)",
                       job.id, job.kind, job.state, _duration(stale_after), task_id,
                       job.resends + 1, max_resends)
        resent.append(job.id)
    deleted = store.delete_expired(older_than=keep_for)
    if deleted:
        logger.info("deleted %d jobs that ended more than %s ago", deleted, _duration(keep_for))
    return SweepReport(resent=resent, failed=failed, deleted=deleted)


def sweep_leases(leases: LeaseStore, resend: ResendLeased, *, max_resends: int) -> SweepReport:
    """Send again the work whose lease expired (its worker stopped renewing it: core.leases),
    under a new task id; fail the job once a piece of it was sent `max_resends` times.

    Run every HEARTBEAT_SECONDS by each API process; each resend or failure is claimed with a
    conditional update on the lease as read, so exactly one sweeper acts on it.
    """
    resent: list[str] = []
    failed: list[str] = []
    for lease in leases.expired():
        lost = f"{lease.what} was lost with its worker ({lease.holder})"
        if lease.resends >= max_resends:
            again = f", after it was sent again {_times(lease.resends)}" if lease.resends else ""
            reason = (f"{lost}{again}; gave up (TASK_MAX_RETRIES={max_resends}). "
                      "Are workers dying on it? Submit the job again")
            if leases.give_up(lease, reason):
                logger.error("job %s (%s): %s", lease.job_id, lease.job_kind, reason)
                failed.append(lease.job_id)
                metrics.lease_expired(lease.job_kind)
            continue
        task_id = str(uuid.uuid4())
        if not leases.claim_resend(lease, task_id):
            continue  # renewed, taken, or claimed by another sweeper meanwhile
        try:
            resend(lease, task_id)
        except Exception as exc:  # the broker is down: put the lease back for the next sweep
            logger.warning("job %s: could not send %s again: %s", lease.job_id, lease.what, exc)
            leases.unclaim(lease, task_id)
            continue
        logger.warning("job %s (%s): %s; sent again as task %s (%d of %d)", lease.job_id,
                       lease.job_kind, lost, task_id, lease.resends + 1, max_resends)
        resent.append(f"{lease.job_id}/{lease.idx}")
        metrics.lease_expired(lease.job_kind)
    return SweepReport(resent=resent, failed=failed)


def adopt_unleased(leases: LeaseStore, messages: Iterable[Unacked], *, lease_seconds: float,
                   grace: float, now: dt.datetime | None = None) -> list[str]:
    """Lease the messages a worker received and never leased, as if it had.

    A worker leases a chunk message the moment it receives it (worker.receipt), and a job's
    own task when it starts (after a fresh process has set up its job store); the
    broker has handed the message over before either. A host lost in between leaves the message
    unacknowledged with no lease, and Redis would hand it back only after its visibility timeout
    (two hours). `messages` are the broker's unacknowledged ones; each due more than `grace`
    seconds ago (a live worker leases a chunk within milliseconds) whose work has no lease,
    whose job is still active, and which is not done (a chunk's result) or superseded (a job's
    task) gets the lease its worker would have taken: the message's own task id, expiring
    `lease_seconds` after it was due. A worker that does start it takes the lease over;
    otherwise `sweep_leases` sends the work again once it expires, as for a lost host.
    """
    now = now or dt.datetime.now(dt.UTC)
    adopted: list[str] = []
    for message in messages:
        if (now - message.due).total_seconds() < grace:
            continue  # its worker may be leasing it right now, or waits for its eta
        expires_at = message.due + dt.timedelta(seconds=lease_seconds)
        if leases.adopt(job_id=message.job_id, idx=message.idx, task_id=message.task_id,
                        worker="no worker (received, never leased)", expires_at=expires_at):
            what = f"chunk {message.idx}" if message.idx != WHOLE_JOB else "the job's task"
            logger.warning("job %s: %s's message %s was received at %s and never leased "
                           "(its worker lost on receipt?); leased to it until %s",
                           message.job_id, what, message.task_id,
                           message.delivered_at.isoformat(timespec="seconds"),
                           expires_at.isoformat(timespec="seconds"))
            adopted.append(f"{message.job_id}/{message.idx}")
    return adopted
