"""Training jobs under faults: a worker killed or stopped mid-training, two trainings at once.

The champion registered before the processes start was trained on shuffled labels, so any real
training beats it; PROMOTION_ALPHA=1 leaves the decision to the macro-F1 difference alone, so
two identical trainings cannot both win.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from pathlib import Path

import pytest

from core.registry import CHALLENGER, CHAMPION
from tests.fixtures.faults import FaultStack, kill, training_csv, wait_gone
from tests.fixtures.services import ADMIN_KEY, ServiceProcess, wait_until

pytestmark = pytest.mark.integration

FAULT_ENV = {"TRAINING_TIME_LIMIT": "120", "PROMOTION_ALPHA": "1"}
FAULT_CHAMPION = "shuffled"


@pytest.fixture(scope="module")
def catalog_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """60 rows, 10 per category: a training of a second or two, readable by the workers."""
    return training_csv(tmp_path_factory.mktemp("training") / "catalog.csv", per_category=10)


def submit_training(stack: FaultStack, data: Path) -> str:
    with stack.client(admin=True) as client:
        response = client.post("/v1/training-jobs", json={"data": str(data)})
    assert response.status_code == 202, response.text
    return str(response.json()["job_id"])


def wait_for_stage(stack: FaultStack, job_id: str, stage: str) -> None:
    wait_until(lambda: stack.job(job_id).stage == stage, timeout=120, interval=0.02,
               what=f"job {job_id} to reach the stage {stage!r}")


def assert_registry_whole(stack: FaultStack) -> None:
    """Every alias points at a version that loads and whose gate decision was recorded."""
    registry = stack.registry
    assert registry is not None
    versions = registry.list_versions()
    assert sum(CHAMPION in v.aliases for v in versions) == 1
    for info in versions:
        for alias in info.aliases:
            assert alias in (CHAMPION, CHALLENGER)
            tags = registry.client.get_model_version(registry.model_name, str(info.version)).tags
            assert "gate_decision" in tags, f"v{info.version} is {alias} without a gate decision"
            model = registry.load(info.version)
            assert len(model.pipeline.predict(["taladro percutor"])) == 1


def test_a_training_killed_while_it_writes_to_mlflow_is_retried_and_the_registry_stays_whole(
    fault_stack: FaultStack, fault_workers: Callable[..., ServiceProcess], catalog_csv: Path
) -> None:
    """Guarantee: SIGKILL of the pool process running a training job, here while it logs and
    registers the model in MLflow, hands the task back: the job is retried and ends succeeded
    (or failed with a reason), and the registry is never left half-written: exactly one
    champion, and every alias points at a version whose model loads and whose gate decision is
    recorded."""
    worker = fault_workers(concurrency=1)
    job_id = submit_training(fault_stack, catalog_csv)
    wait_for_stage(fault_stack, job_id, "logging to MLflow")

    [child] = fault_stack.pool_children(worker)
    kill(child.pid)
    wait_gone(child.pid)
    wait_until(lambda: "WorkerLostError" in worker.log_text(), timeout=10,
               what="the worker to report the training it lost")

    job = fault_stack.wait_for_end(job_id, timeout=180)
    assert job.state in ("succeeded", "failed")
    assert job.attempts >= 2, "the killed training was not tried again"
    if job.state == "failed":
        assert job.error
    else:
        assert job.model_version is not None
        assert job.result["version"] == job.model_version
    assert_registry_whole(fault_stack)


@pytest.mark.parametrize("target", ["main process", "process group"])
def test_sigterm_mid_training_finishes_or_hands_the_training_back(
    fault_stack: FaultStack, fault_workers: Callable[..., ServiceProcess], catalog_csv: Path,
    target: str,
) -> None:
    """Guarantee: SIGTERM while a worker trains never drops the job. Sent to the main process
    (docker stop, Kubernetes), the worker finishes the training before it exits; sent to the
    process group (systemd's default KillMode), the pool process dies at once and the task is
    handed back, so a worker started afterwards trains it to the end."""
    first = fault_workers(concurrency=1)
    job_id = submit_training(fault_stack, catalog_csv)
    wait_for_stage(fault_stack, job_id, "selecting")
    assert first.process is not None

    if target == "main process":
        os.kill(first.process.pid, signal.SIGTERM)
    else:
        first.signal(signal.SIGTERM)
    first.process.wait(timeout=120)

    if target == "main process":
        job = fault_stack.job(job_id)
        assert job.state == "succeeded", f"{job.state}: {job.error}"
        assert job.attempts == 1
    else:
        fault_workers(concurrency=1)
        job = fault_stack.wait_for_end(job_id, timeout=fault_stack.redelivery_deadline)
        assert job.state == "succeeded", f"{job.state}: {job.error}"
        assert job.attempts == 2
    assert_registry_whole(fault_stack)


def test_two_trainings_at_once_leave_one_champion_decided_against_the_right_one(
    fault_stack: FaultStack, fault_workers: Callable[..., ServiceProcess], catalog_csv: Path
) -> None:
    """Guarantee: two training jobs gated at the same moment leave the registry consistent: both
    runs and versions are recorded, there is exactly one champion, and the second decision is
    made against the champion the first one left (the promotion lock), not against the one
    both started with. The two models are identical, so only the first can win."""
    registry = fault_stack.registry
    assert registry is not None
    with fault_stack.client(admin=True) as client:
        promoted = client.post(f"/v1/models/{fault_stack.champion_version}/promote")
    assert promoted.status_code == 200, promoted.text
    fault_workers(concurrency=2)

    job_ids = [submit_training(fault_stack, catalog_csv) for _ in range(2)]
    jobs = [fault_stack.wait_for_end(job_id, timeout=180) for job_id in job_ids]

    assert [job.state for job in jobs] == ["succeeded"] * 2, [job.error for job in jobs]
    results = [job.result for job in jobs]
    weak = fault_stack.champion_version
    first, second = sorted(results, key=lambda r: r["champion_version"] != weak)
    assert first["champion_version"] == weak
    assert first["promoted"] is True, first["reason"]
    assert second["champion_version"] == first["version"], (
        "the second decision was made against a stale champion")
    assert second["promoted"] is False, second["reason"]
    assert registry.champion_version() == first["version"]
    assert {r["version"] for r in results} <= {v.version for v in registry.list_versions()}
    for result in results:
        run = registry.client.get_run(result["run_id"])
        assert run.info.status == "FINISHED"
        assert run.data.tags.get("job_id") in job_ids
    assert_registry_whole(fault_stack)
    with fault_stack.client() as client:
        assert client.get("/v1/models", headers={"X-API-Key": ADMIN_KEY}).json()["champion"] \
            == first["version"]
