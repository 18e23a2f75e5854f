"""Inputs meant to break the service, against the real processes: poison rows, pickles, keys.

The worker here is `celery -A tests.faults.poison_worker worker`: the project's worker, with a
model that raises on any name containing POISON-ROW.
"""

from __future__ import annotations

import pickle
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from core.batch_store import BatchStore
from tests.fixtures.faults import FaultStack, batch_names
from tests.fixtures.services import ADMIN_KEY, ServiceProcess

pytestmark = pytest.mark.integration

FAULT_ENV = {"BATCH_CHUNK_SIZE": "2000"}  # the stack test_worker_loss.py uses
# What tests/faults/poison_worker.py's model raises on (not imported: importing it would patch
# the Classifier of this test process too).
POISON = "POISON-ROW"


@pytest.fixture(scope="module")
def poison_worker(fault_stack: FaultStack) -> Iterator[ServiceProcess]:
    """One pool process, warmed by a first batch: its stores are open before a test times it."""
    worker = fault_stack.start_worker("poisoned", app="tests.faults.poison_worker",
                                      concurrency=1)
    warm_up = fault_stack.submit_batch(["taladro"])
    assert fault_stack.wait_for_end(warm_up, timeout=90).state == "succeeded"
    yield worker
    worker.stop()
    fault_stack.processes.remove(worker)


class _OpensAFile:
    """Unpickling this creates a file: proof that something unpickled it."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return open, (str(self.marker), "w")


def test_a_poison_row_gets_its_own_error_and_the_other_rows_succeed(
    fault_stack: FaultStack, poison_worker: ServiceProcess
) -> None:
    """Guarantee: a row that makes the model raise comes back in its place with an error of its
    own; every other row, in its chunk and in the job, is categorized, and the job succeeds."""
    names = batch_names(3_000)
    poisoned = {0, 777, 1_500, 2_999}
    for i in poisoned:
        names[i] = f"{POISON} {names[i]}"
    job_id = fault_stack.submit_batch(names)

    job = fault_stack.wait_for_end(job_id, timeout=90)

    assert job.state == "succeeded", job.error
    assert fault_stack.store is not None
    rows = list(BatchStore(fault_stack.store).iter_results(job_id))
    assert [row.row for row in rows] == list(range(len(names)))
    for row in rows:
        if row.row in poisoned:
            assert (row.category, row.error) == (None, "prediction failed: ValueError"), row
        else:
            assert row.error is None, row
            assert row.category, row
    assert poison_worker.alive()


def test_a_pickle_named_by_a_request_is_never_unpickled(
    fault_stack: FaultStack, poison_worker: ServiceProcess, tmp_path: Path
) -> None:
    """Guarantee: models are loaded only from the configured registry. A request that names or
    sends a pickle (a training source path, whatever its extension; a training or batch upload;
    a model "version" that is a file name) is refused or its job fails with a reason, the
    registry is unchanged, and the file is never unpickled."""
    marker = tmp_path / "unpickled"
    payload = pickle.dumps(_OpensAFile(marker))
    paths = [tmp_path / name for name in ("model.pkl", "catalog.csv", "model.joblib")]
    for path in paths:
        path.write_bytes(payload)
    assert fault_stack.registry is not None
    versions = [v.version for v in fault_stack.registry.list_versions()]
    champion = fault_stack.registry.champion_version()

    with fault_stack.client(admin=True) as client:
        job_ids = []
        for path in paths:
            response = client.post("/v1/training-jobs", json={"data": str(path)})
            assert response.status_code == 202, response.text
            job_ids.append(response.json()["job_id"])
        upload = client.post("/v1/training-jobs",
                             files={"file": ("model.pkl", payload, "application/octet-stream")})
        batch = client.post("/v1/batch-jobs",
                            files={"file": ("model.pkl", payload, "application/octet-stream")})
        promote = client.post(f"/v1/models/{paths[0]}/promote")
        promote_name = client.post("/v1/models/model.pkl/promote")

    assert upload.status_code == 400, upload.text
    assert batch.status_code == 400, batch.text
    assert promote.status_code in (404, 405, 422), promote.text
    assert promote_name.status_code == 422, promote_name.text
    for job_id in job_ids:
        job = fault_stack.wait_for_end(job_id, timeout=90)
        assert job.state == "failed"
        assert "UTF-8" in (job.error or ""), job.error
    assert not marker.exists(), "a file named by a request was unpickled"
    assert [v.version for v in fault_stack.registry.list_versions()] == versions
    assert fault_stack.registry.champion_version() == champion


def test_admin_keys_are_checked_and_never_logged(
    fault_stack: FaultStack, poison_worker: ServiceProcess
) -> None:
    """Guarantee: on the real API process admin endpoints answer 401 without a key and 403 with
    a wrong one (and do nothing), the right key is let through, and neither the right key nor a
    wrong one appears in the API's or the worker's log."""
    wrong = f"wrong-key-{uuid.uuid4().hex}"
    promote = f"/v1/models/{fault_stack.champion_version}/promote"
    with httpx.Client(base_url=fault_stack.api_url, timeout=30) as client:
        for method, path in (("POST", promote), ("POST", "/v1/models/rollback"),
                             ("GET", "/training"), ("DELETE", f"/v1/jobs/{uuid.uuid4().hex}")):
            assert client.request(method, path).status_code == 401, path
            assert client.request(method, path, headers={"X-API-Key": wrong}).status_code \
                == 403, path
            assert client.request(method, path, headers={"X-API-Key": ""}).status_code \
                == 401, path
        assert client.post(promote, headers={"X-API-Key": ADMIN_KEY}).status_code == 200
        refused = client.post("/v1/training-jobs", json={"data": "/nonexistent.csv"},
                              headers={"X-API-Key": ADMIN_KEY})
        assert refused.status_code == 400  # past the key check: the source is refused
        assert "training data folders" in refused.json()["detail"]

    logs = sorted(fault_stack.tmp.glob("*.log"))
    assert {"api.log", "poisoned.log"} <= {path.name for path in logs}
    for log in logs:
        text = log.read_text(errors="replace")
        assert ADMIN_KEY not in text, f"the admin key is in {log.name}"
        assert wrong not in text, f"a wrong key is in {log.name}"
