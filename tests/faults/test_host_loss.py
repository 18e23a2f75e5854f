"""A whole worker host lost mid-job, with the production defaults: the leases bring it back.

Nothing is shortened here: TRAINING_TIME_LIMIT is the default 3,600 s, so Redis would hand
back the messages a dead worker held only after its visibility timeout of two hours. The
lease (LEASE_SECONDS 60, renewed every HEARTBEAT_SECONDS 10; core/leases.py) is what sends the
work again. A "host" is a training worker and an inference worker, killed together with
SIGKILL while both work: a lost host, an OOM kill of the main process, a reclaimed spot
instance.
"""

from __future__ import annotations

import logging
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable

import pytest
import redis

from api.queue import TaskQueue, read_unacked
from core.batch_store import BatchStore, InputRow
from core.config import Settings
from core.data import SAMPLE_CATALOG
from core.leases import WHOLE_JOB, LeaseStore
from tests.fixtures.faults import FaultStack, batch_names
from tests.fixtures.services import ServiceProcess, wait_until
from worker.celery_app import create_celery_app
from worker.names import BATCH_CHUNK_TASK

pytestmark = pytest.mark.integration
logger = logging.getLogger(__name__)

FAULT_ENV = {"TRAINING_TIME_LIMIT": "3600", "BATCH_CHUNK_SIZE": "2000"}
FAULT_CHAMPION = "shuffled"
DEFAULTS = Settings(_env_file=None)
ROWS = 120_000  # 60 chunks: the job is still running when the host dies


def submit_training(stack: FaultStack) -> str:
    with stack.client(admin=True) as client:
        response = client.post("/v1/training-jobs", json={"data": str(SAMPLE_CATALOG)})
    assert response.status_code == 202, response.text
    return str(response.json()["job_id"])


def kill_host(workers: list[ServiceProcess]) -> float:
    """SIGKILL every process of the host's workers at once; the moment it happened."""
    for worker in workers:
        worker.signal(signal.SIGKILL)
    for worker in workers:
        assert worker.process is not None
        worker.process.wait(timeout=30)
    return time.monotonic()


def unfinished_chunk_messages(worker: ServiceProcess) -> set[str]:
    """Task ids of the chunk messages the worker received and never finished (from its log)."""
    log = worker.log_text()
    received = set(re.findall(r"Task batch\.chunk\[([0-9a-f-]+)\] received", log))
    ended = set(re.findall(r"Task batch\.chunk\[([0-9a-f-]+)\] (?:succeeded|failed|retry)", log))
    return received - ended


def unacked_chunks(redis_url: str, job_id: str) -> dict[str, int]:
    """Task id -> chunk index of the job's chunk messages the broker holds unacknowledged: the
    ones Redis would hand back only after the visibility timeout."""
    with redis.Redis.from_url(redis_url) as client:
        held = read_unacked(client, unacked_key="unacked", index_key="unacked_index",
                            task_names={BATCH_CHUNK_TASK}, before=time.time())
    return {message.task_id: int(message.args[1]) for message in held
            if message.args[0] == job_id}


@pytest.mark.timeout(600)  # the stack's start, a batch of 120,000 rows and a training
def test_a_host_killed_mid_batch_and_mid_training_costs_a_lease_not_the_visibility_timeout(
    fault_stack: FaultStack, fault_workers: Callable[..., ServiceProcess]
) -> None:
    """Guarantee (production defaults): SIGKILL of a whole host's workers while it runs batch
    chunks and a training. The chunks it held are sent again once their leases expire, and a
    worker on another host completes the batch, every row exactly once, within LEASE_SECONDS +
    one chunk + 30 s of the kill (the visibility timeout would take 2 h): the chunks it held
    are stored again within that time. The training is sent
    again within LEASE_SECONDS + 30 s, under a new task id, runs once more from the start, and
    succeeds; the lost run never registered a model, so one version carries the job's id."""
    stack = fault_stack
    assert stack.visibility_timeout == 7200
    host_a = [fault_workers("a-training", queues="training", concurrency=1),
              fault_workers("a-inference", queues="inference", concurrency=2)]
    names = batch_names(ROWS)
    batch_id = stack.submit_batch(names)
    stack.wait_for_rows(batch_id, at_least=2000)
    training_id = submit_training(stack)
    wait_until(lambda: stack.job(training_id).stage == "selecting", timeout=120, interval=0.05,
               what="the training to reach model selection")
    first_task = stack.job(training_id).task_id
    assert stack.store is not None
    leases = LeaseStore(stack.store)
    held_by_a = [lease for lease in (leases.get(batch_id, idx) for idx in range(60)) if lease]
    assert held_by_a, "host A held no chunk"

    killed_at = kill_host(host_a)
    assert not stack.job(batch_id).terminal, "the batch ended before the host was killed"
    # The chunk messages host A had received and not acknowledged: Redis would hand them back
    # only after the visibility timeout. Each is leased to its message, from its receipt
    # (worker/receipt.py) or its start; or its chunk is stored already (killed between storing
    # it and the ack); or, received in the moment before its receipt lease, it has none, and the
    # API's lease sweep leases it from its delivery (core.sweeper.adopt_unleased).
    unacked = unacked_chunks(stack.env["REDIS_URL"], batch_id)
    assert unfinished_chunk_messages(host_a[1]) <= set(unacked), "the log and the broker disagree"
    leased = {lease.task_id: lease for lease in (leases.get(batch_id, idx) for idx in range(60))
              if lease}
    held_by_a = [leased[task_id] for task_id in unacked if task_id in leased]
    assert held_by_a, "host A held no chunk message with a lease when it was killed"
    batches = BatchStore(stack.store)
    lost = sorted({idx for idx in unacked.values() if not batches.has_result(batch_id, idx)})
    unleased = sorted(idx for task_id, idx in unacked.items()
                      if task_id not in leased and idx in lost)
    assert stack.job(training_id).stage == "selecting", "the training got past the kill"
    fault_workers("b-training", queues="training", concurrency=1)
    fault_workers("b-inference", queues="inference", concurrency=2)

    def resent() -> bool:
        return stack.job(training_id).task_id != first_task

    wait_until(resent, timeout=DEFAULTS.lease_seconds + 30, interval=0.5,
               what="the lost training to be sent again")
    training_resent_after = time.monotonic() - killed_at
    wait_until(lambda: all(batches.has_result(batch_id, idx) for idx in lost),
               timeout=DEFAULTS.lease_seconds + 30 + 5, interval=0.25,
               what=f"the chunks host A held ({lost}) to be redone")
    redone_after = time.monotonic() - killed_at
    # The rest of the batch is ordinary work for host B (its pace depends on the machine).
    batch = stack.wait_for_end(batch_id, timeout=240)
    batch_done_after = time.monotonic() - killed_at
    assert batch.state == "succeeded", batch.error
    stack.assert_every_row_once(batch_id, names)
    # The leases did it: the chunks host A held were each sent once more.
    for lease in held_by_a:
        left = leases.get(batch_id, lease.idx)
        # done and released; or host A stored the chunk and was killed before it released the
        # lease: then nothing was sent again (a chunk with a result is never re-sent)
        assert left is None or (left.resends == 0 and left.task_id == lease.task_id), left
        if left is not None:
            assert lease.idx not in lost
    logger.warning(f"host killed: training sent again after {training_resent_after:.1f} s, "
                   f"chunks it held redone after {redone_after:.1f} s, batch of {ROWS} rows "
                   f"done {batch_done_after:.1f} s after the kill; {len(unleased)} of them "
                   f"received and never leased ({unleased})")

    training = stack.wait_for_end(training_id, timeout=180)
    assert training.state == "succeeded", training.error
    assert training.attempts == 2
    assert leases.get(training_id, WHOLE_JOB) is None
    assert stack.registry is not None
    experiment = stack.registry.client.get_experiment_by_name(DEFAULTS.experiment_name)
    assert experiment is not None
    runs = stack.registry.client.search_runs(
        [experiment.experiment_id],
        filter_string=f"tags.job_id = '{training_id}'")
    assert len(runs) == 1, "the training ran to MLflow more than once"


# A consumer that takes given messages off their queues without acknowledging them, says each
# task id as it takes it, and waits to be killed: a worker host lost the instant the broker
# delivered to it. Arguments: the broker URL, then queue=task id pairs. Messages of other tasks
# it meets on the way stay unacknowledged as well (ended jobs': nothing leases them).
TAKE = """
import sys, time
from kombu import Connection
with Connection(sys.argv[1]) as connection:
    channel = connection.default_channel
    for pair in sys.argv[2:]:
        queue, wanted = pair.split("=")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            message = channel.basic_get(queue, no_ack=False)
            if message is None:
                time.sleep(0.05)
            elif message.headers["id"] == wanted:
                print(wanted, flush=True)
                break
    sys.stdin.read()
"""


@pytest.mark.timeout(300)
def test_a_host_lost_between_delivery_and_its_lease_costs_a_lease(
    fault_stack: FaultStack, fault_workers: Callable[..., ServiceProcess]
) -> None:
    """Guarantee (production defaults): messages the broker handed to a worker that was lost
    before it leased them (no lease, no result; Redis would hand them back after 2 h) are found
    in the broker's unacknowledged set by the API's lease sweep, leased from their delivery and
    sent again within LEASE_SECONDS + 30 s of it: a chunk (leased on receipt by a live worker)
    and a job's own task (a batch's fan-out, leased when it starts). Both batches end with
    every row exactly once."""
    stack = fault_stack
    assert stack.store is not None
    redis_url = stack.env["REDIS_URL"]
    # Batch A by hand, as its fan-out leaves it: running, pinned, a message per chunk, here on
    # a queue of the test's own so that nothing else waits in it.
    names = batch_names(300)
    chunks = [[InputRow(id=f"sku-{i}", name=name) for i, name in enumerate(names)][at:at + 100]
              for at in range(0, 300, 100)]
    batches = BatchStore(stack.store)
    job, _ = batches.create_batch(chunks)
    assert stack.store.start(job.id, stage="categorizing", model_version=stack.champion_version)
    app = create_celery_app(Settings(_env_file=None, redis_url=redis_url))
    private = f"chunks-{job.id}"
    app.conf.task_routes = {BATCH_CHUNK_TASK: {"queue": private}}
    sent = [TaskQueue(app).enqueue(BATCH_CHUNK_TASK, job.id, idx) for idx in range(3)]
    # Batch B through the API: its fan-out message waits on the inference queue.
    names_b = batch_names(400)
    job_b = stack.submit_batch(names_b)
    start_b = stack.job(job_b).task_id
    assert start_b

    with subprocess.Popen([sys.executable, "-c", TAKE, redis_url, f"{private}={sent[0]}",
                           f"inference={start_b}"],
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) as consumer:
        assert consumer.stdout is not None
        taken = [consumer.stdout.readline().strip() for _ in range(2)]
        delivered = time.monotonic()
        consumer.kill()
    assert taken == [sent[0], start_b]
    assert unacked_chunks(redis_url, job.id) == {sent[0]: 0}
    leases = LeaseStore(stack.store)
    assert leases.get(job.id, 0) is None
    assert leases.get(job_b, WHOLE_JOB) is None

    # The API's sweep sends both again on the inference queue, as any lost work.
    fault_workers("b-inference", queues=f"inference,{private}", concurrency=2)
    wait_until(lambda: batches.has_result(job.id, 1) and batches.has_result(job.id, 2),
               timeout=60, what="the other chunks to be stored")
    assert not batches.has_result(job.id, 0)
    assert stack.job(job_b).state == "queued"
    wait_until(lambda: batches.has_result(job.id, 0) and stack.job(job_b).state != "queued",
               timeout=DEFAULTS.lease_seconds + 30, interval=0.25,
               what="the work of the lost messages to be sent again and started")
    resumed_after = time.monotonic() - delivered
    assert resumed_after <= DEFAULTS.lease_seconds + 30
    for job_id, job_names in ((job.id, names), (job_b, names_b)):
        ended = stack.wait_for_end(job_id, timeout=60)
        assert ended.state == "succeeded", ended.error
        stack.assert_every_row_once(job_id, job_names)
    # The broker did not hand them back (its visibility timeout is 2 h): the sweep sent them.
    assert sent[0] in unacked_chunks(redis_url, job.id)
    assert stack.job(job_b).task_id != start_b
    api_log = next(p for p in stack.processes if p.name == "api").log_text()
    assert f"chunk 0's message {sent[0]} was received at" in api_log
    assert f"the job's task's message {start_b} was received at" in api_log
    assert leases.get(job.id, 0) is None
    logger.warning(f"lost on delivery: a chunk and a batch's fan-out sent again and done "
                   f"{resumed_after:.1f} s after their delivery")
