"""Leases on running work: which worker runs a batch chunk or a job's own task, and until when.

A worker that starts a chunk, a batch's fan-out or a training records a lease in the job store
(its name, its process id, an expiry `LEASE_SECONDS` ahead) and renews it every
`HEARTBEAT_SECONDS` while it works; a finished piece of work releases it. A worker whose host is
lost stops renewing, and its leases expire long before the broker's visibility timeout would
hand its messages back (two hours by default): the sweeper (core.sweeper.sweep_leases) sends
the work again under a new task id within a minute or so.

Sending a chunk twice is harmless (its result is stored once, keyed by job and chunk); a
training must never run twice at once, so a training's heartbeat fences its own process: when
its lease was taken over, or could not be renewed for `LEASE_SECONDS - HEARTBEAT_SECONDS` (the
lease may expire soon), `on_lost` is called, and the worker stops that training.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from core.db import as_utc, jobs_table, leases_table, results_table, transaction
from core.jobs import ACTIVE_STATES, JobStore

logger = logging.getLogger(__name__)

WHOLE_JOB = -1  # the lease index of a job's own task (a training, a batch's fan-out)


@dataclass(frozen=True)
class Lease:
    job_id: str
    idx: int
    task_id: str
    worker: str | None
    pid: int | None
    expires_at: dt.datetime | None
    resends: int
    job_kind: str = ""

    @property
    def what(self) -> str:
        """The leased work in words, for logs and a failed job's reason."""
        return f"chunk {self.idx}" if self.idx != WHOLE_JOB else f"the {self.job_kind} task"

    @property
    def holder(self) -> str:
        return f"{self.worker or 'an unknown worker'}, pid {self.pid}"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class LeaseStore:
    """Leases in the job store's database (the `categorizer_leases` table)."""

    def __init__(self, store: JobStore) -> None:
        self.store = store

    def _key(self, job_id: str, idx: int) -> tuple[Any, ...]:
        return (leases_table.c.job_id == job_id, leases_table.c.idx == idx)

    def acquire(self, *, job_id: str, idx: int, task_id: str, worker: str, pid: int,
                seconds: float) -> bool:
        """Take the lease for `seconds`; False while another task holds it unexpired.

        The same task id may take it again (a message redelivered after its pool process died),
        and anyone may take a lease that expired or was sent again and not yet taken.
        """
        now = _now()
        values = {"task_id": task_id, "worker": worker[:200], "pid": pid,
                  "expires_at": now + dt.timedelta(seconds=seconds)}
        free = sa.or_(leases_table.c.task_id == task_id, leases_table.c.expires_at.is_(None),
                      leases_table.c.expires_at < now)
        with transaction(self.store.engine) as connection:
            taken = connection.execute(
                leases_table.update().where(*self._key(job_id, idx), free).values(**values)
            ).rowcount
        if taken:
            return True
        try:
            with transaction(self.store.engine) as connection:
                connection.execute(leases_table.insert().values(
                    job_id=job_id, idx=idx, resends=0, **values))
        except sa.exc.IntegrityError:
            return False  # held by another task (or it inserted first)
        return True

    def adopt(self, *, job_id: str, idx: int, task_id: str, worker: str,
              expires_at: dt.datetime) -> bool:
        """Lease work to a message nobody leased (core.sweeper.adopt_unleased), to expire at
        `expires_at`; False when the work has a lease already, its job ended, a chunk is
        stored, or a job's own task is not the job's current task id (a superseded message).

        The lease is the message's own (its task id): if a worker does start it, it takes the
        lease over as from its own receipt or start; if not, the lease expires and is swept
        as any other.
        """
        with transaction(self.store.engine) as connection:
            job = connection.execute(
                sa.select(jobs_table.c.state, jobs_table.c.task_id)
                .where(jobs_table.c.id == job_id)).first()
            leased = connection.execute(
                sa.select(leases_table.c.idx).where(*self._key(job_id, idx))).first() is not None
            stored = idx != WHOLE_JOB and connection.execute(sa.select(results_table.c.idx).where(
                results_table.c.job_id == job_id, results_table.c.idx == idx)).first() is not None
        # Most messages held this long are running and leased: no insert that would fail.
        if job is None or job.state not in ACTIVE_STATES or leased or stored:
            return False
        if idx == WHOLE_JOB and job.task_id != task_id:
            return False
        try:
            with transaction(self.store.engine) as connection:
                connection.execute(leases_table.insert().values(
                    job_id=job_id, idx=idx, task_id=task_id, worker=worker[:200], pid=None,
                    expires_at=expires_at, resends=0))
        except sa.exc.IntegrityError:
            return False  # leased meanwhile (or already)
        return True

    def renew(self, *, job_id: str, idx: int, task_id: str, seconds: float) -> bool:
        """Push the expiry `seconds` ahead; False when the lease is no longer this task's."""
        with transaction(self.store.engine) as connection:
            return bool(connection.execute(
                leases_table.update()
                .where(*self._key(job_id, idx), leases_table.c.task_id == task_id)
                .values(expires_at=_now() + dt.timedelta(seconds=seconds))
            ).rowcount)

    def release(self, *, job_id: str, idx: int, task_id: str) -> None:
        """Drop the lease if this task still holds it (the work is done)."""
        with transaction(self.store.engine) as connection:
            connection.execute(leases_table.delete().where(
                *self._key(job_id, idx), leases_table.c.task_id == task_id))

    def get(self, job_id: str, idx: int) -> Lease | None:
        with transaction(self.store.engine) as connection:
            row = connection.execute(
                sa.select(leases_table, jobs_table.c.kind)
                .join(jobs_table, jobs_table.c.id == leases_table.c.job_id)
                .where(*self._key(job_id, idx))
            ).mappings().first()
        return _lease(row) if row else None

    def expired(self) -> list[Lease]:
        """Leases past their expiry on jobs still queued or running, whose work is not done."""
        no_result = ~sa.exists().where(results_table.c.job_id == leases_table.c.job_id,
                                       results_table.c.idx == leases_table.c.idx)
        with transaction(self.store.engine) as connection:
            rows = connection.execute(
                sa.select(leases_table, jobs_table.c.kind)
                .join(jobs_table, jobs_table.c.id == leases_table.c.job_id)
                .where(jobs_table.c.state.in_(ACTIVE_STATES),
                       leases_table.c.expires_at < _now(), no_result)
                .order_by(leases_table.c.expires_at)
            ).mappings().all()
        return [_lease(row) for row in rows]

    def _as_read(self, lease: Lease) -> tuple[Any, ...]:
        """The lease is as the sweeper read it: same holder, still expired, not sent since."""
        return (*self._key(lease.job_id, lease.idx), leases_table.c.task_id == lease.task_id,
                leases_table.c.resends == lease.resends, leases_table.c.expires_at < _now())

    def claim_resend(self, lease: Lease, task_id: str) -> bool:
        """Hand the expired lease to a new task id, to be sent; False if it moved meanwhile
        (renewed, taken, or claimed by another sweeper). A job's own task also becomes the
        job's task id, so that the old message is dropped as superseded if it ever turns up."""
        with transaction(self.store.engine) as connection:
            claimed = connection.execute(
                leases_table.update().where(*self._as_read(lease))
                .values(task_id=task_id, expires_at=None, resends=leases_table.c.resends + 1)
            ).rowcount
            if claimed and lease.idx == WHOLE_JOB:
                connection.execute(jobs_table.update().where(jobs_table.c.id == lease.job_id)
                                   .values(task_id=task_id, updated_at=_now()))
        return bool(claimed)

    def unclaim(self, lease: Lease, task_id: str) -> None:
        """The new task could not be sent (the broker is down): expired again, resends as
        before, so the next sweep tries again."""
        with transaction(self.store.engine) as connection:
            connection.execute(
                leases_table.update()
                .where(*self._key(lease.job_id, lease.idx), leases_table.c.task_id == task_id)
                .values(task_id=lease.task_id, expires_at=lease.expires_at,
                        resends=lease.resends)
            )

    def give_up(self, lease: Lease, reason: str) -> bool:
        """Fail the lease's job with `reason`, if the lease is still as read and the job active."""
        with transaction(self.store.engine) as connection:
            claimed = connection.execute(
                leases_table.update().where(*self._as_read(lease))
                .values(expires_at=None, resends=leases_table.c.resends + 1)
            ).rowcount
            if not claimed:
                return False
            now = _now()
            return bool(connection.execute(
                jobs_table.update()
                .where(jobs_table.c.id == lease.job_id, jobs_table.c.state.in_(ACTIVE_STATES))
                .values(state="failed", error=reason[:4000], finished_at=now, updated_at=now)
            ).rowcount)


def _lease(row: Any) -> Lease:
    return Lease(job_id=row["job_id"], idx=row["idx"], task_id=row["task_id"],
                 worker=row["worker"], pid=row["pid"], expires_at=as_utc(row["expires_at"]),
                 resends=row["resends"], job_kind=row["kind"])


class Heartbeat:
    """Renews one lease from a daemon thread every `every` seconds until stopped.

    With `on_lost`, a second thread watches the renewals: when the lease was taken over, or no
    renewal succeeded for `seconds - every` (a store that hangs or is cut off), `on_lost` is
    called once with the reason, before the lease can expire and the work be sent elsewhere.
    """

    def __init__(self, leases: LeaseStore, *, job_id: str, idx: int, task_id: str,
                 seconds: float, every: float,
                 on_lost: Callable[[str], None] | None = None) -> None:
        self.leases = leases
        self.job_id, self.idx, self.task_id = job_id, idx, task_id
        self.seconds, self.every = seconds, every
        self.on_lost = on_lost
        self.renewed_at = time.monotonic()
        self.lost: str | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        self.renewed_at = time.monotonic()
        self._threads = [threading.Thread(target=self._renew, daemon=True,
                                          name=f"lease-{self.job_id}-{self.idx}")]
        if self.on_lost is not None:
            self._threads.append(threading.Thread(target=self._watch, daemon=True,
                                                  name=f"lease-watch-{self.job_id}"))
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=1)  # a renewal stuck on a dead connection is left behind

    def _renew(self) -> None:
        while not self._stop.wait(self.every):
            try:
                held = self.leases.renew(job_id=self.job_id, idx=self.idx,
                                         task_id=self.task_id, seconds=self.seconds)
            except Exception as exc:  # the store is away: the watch decides when it is too long
                logger.warning("job %s: could not renew the lease on %s: %s",
                               self.job_id, self.idx, exc)
                continue
            if not held:
                self._lose("its lease was taken over: the work was sent to another worker")
                return
            self.renewed_at = time.monotonic()

    def _watch(self) -> None:
        limit = self.seconds - self.every
        while not self._stop.wait(min(1.0, self.every / 2)):
            silent = time.monotonic() - self.renewed_at
            if silent >= limit:
                self._lose(f"its lease could not be renewed for {silent:.0f} s "
                           f"(it expires after {self.seconds:.0f} s)")
                return

    def _lose(self, reason: str) -> None:
        with self._lock:
            if self.lost is not None or self._stop.is_set():
                return
            self.lost = reason
        logger.error("job %s: lost the lease on %s: %s", self.job_id, self.idx, reason)
        if self.on_lost is not None:
            self.on_lost(reason)


@contextmanager
def held_lease(leases: LeaseStore, *, job_id: str, idx: int, task_id: str, worker: str,
               pid: int, seconds: float, every: float,
               on_lost: Callable[[str], None] | None = None) -> Iterator[Heartbeat | None]:
    """Hold the lease with a heartbeat for the block; yields None when another task holds it.

    Released when the block ends, whether it ended well or not: an exception here means the task
    is retried or fails the job itself. A release the store refuses is left to expire.
    """
    if not leases.acquire(job_id=job_id, idx=idx, task_id=task_id, worker=worker, pid=pid,
                          seconds=seconds):
        yield None
        return
    heartbeat = Heartbeat(leases, job_id=job_id, idx=idx, task_id=task_id, seconds=seconds,
                          every=every, on_lost=on_lost)
    heartbeat.start()
    try:
        yield heartbeat
    finally:
        heartbeat.stop()
        try:
            leases.release(job_id=job_id, idx=idx, task_id=task_id)
        except Exception as exc:
            logger.warning("job %s: could not release the lease on %s: %s", job_id, idx, exc)
