"""Job submission against a real socket: an idempotent replay reads the body first, and a slow
job store or broker stalls only the submission, never the event loop that serves inference."""

from __future__ import annotations

import json
import shutil
import threading
import time
import urllib.request
from typing import Any

import httpx
import pytest

from api.deps import AppState
from core.batch_store import BatchStore
from core.data import SAMPLE_CATALOG
from core.jobs import JobStore
from tests.fixtures.app import ADMIN, LiveServer

URL = "/v1/batch-jobs"
BIG_BODY_ROWS = 100_000  # about 5 MB of JSON: more than the socket buffers hold


@pytest.fixture
def roomy_state(app_state: AppState) -> AppState:
    """Limits large enough for a body that cannot sit unread in socket buffers."""
    app_state.settings = app_state.settings.model_copy(update={
        "max_request_bytes": 64 * 1024 * 1024, "max_batch_rows": 1_000_000,
        "batch_chunk_size": 5000})
    return app_state


def _urllib_post(url: str, body: bytes, key: str) -> dict[str, Any]:
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json", "Idempotency-Key": key})
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 202
        return dict(json.loads(response.read()))


def test_an_idempotent_replay_with_a_big_body_answers_urllib_with_the_same_job(
    roomy_state: AppState, live_server: LiveServer
) -> None:
    """urllib sends the whole body before it reads the answer: answered unread, it got a
    connection reset instead of the job."""
    items = [{"id": f"SKU-{i}", "name": f"Tubo PVC {i}"} for i in range(BIG_BODY_ROWS)]
    body = json.dumps({"items": items}).encode()
    assert len(body) > 1_000_000

    first = _urllib_post(live_server.url + URL, body, "nightly-import")
    again = _urllib_post(live_server.url + URL, body, "nightly-import")

    assert again["job_id"] == first["job_id"]
    assert roomy_state.store.get(first["job_id"]).total_rows == BIG_BODY_ROWS


def test_a_replay_past_the_body_limit_is_still_refused(
    app_state: AppState, live_server: LiveServer
) -> None:
    with httpx.Client(base_url=live_server.url) as client:
        first = client.post(URL, json={"items": [{"name": "tubo"}]},
                            headers={"Idempotency-Key": "k1"})
        assert first.status_code == 202
        huge = b'{"items": [' + b'{"name": "tubo"},' * 10_000 + b'{"name": "x"}]}'
        replay = client.post(URL, content=iter([huge]), headers={  # streamed: no length
            "Idempotency-Key": "k1", "Content-Type": "application/json"})
    assert replay.status_code == 413


class SlowStore(JobStore):
    """The real store, with each lookup and intake taking `delay` seconds (a slow database)."""

    delay = 2.0

    def find_by_key(self, key: str) -> Any:
        time.sleep(self.delay)
        return super().find_by_key(key)

    def create_job(self, *args: Any, **kwargs: Any) -> Any:
        time.sleep(self.delay)
        return super().create_job(*args, **kwargs)


class SlowBatches(BatchStore):
    """The real batch store, its intake taking `SlowStore.delay` seconds."""

    def create_batch(self, *args: Any, **kwargs: Any) -> Any:
        time.sleep(SlowStore.delay)
        return super().create_batch(*args, **kwargs)


def _inference_while(live: LiveServer, submit: Any) -> tuple[float, int]:
    """Run `submit` in a thread and time inference requests made meanwhile: (slowest, count)."""
    started = threading.Event()
    done = threading.Event()

    def run() -> None:
        started.set()
        try:
            submit()
        finally:
            done.set()

    thread = threading.Thread(target=run)
    slowest, count = 0.0, 0
    with httpx.Client(base_url=live.url, timeout=30) as client:
        client.post("/v1/categorizer/inference", json={"product_list": ["tubo"]})  # warm
        thread.start()
        started.wait()
        time.sleep(0.2)  # the submission is inside the store now
        while not done.is_set():
            began = time.monotonic()
            response = client.post("/v1/categorizer/inference",
                                   json={"product_list": ["tubo pvc 1/2"]})
            assert response.status_code == 200
            slowest = max(slowest, time.monotonic() - began)
            count += 1
    thread.join()
    return slowest, count


@pytest.mark.parametrize("route", ["batch", "training"])
def test_a_slow_store_stalls_the_submission_not_inference(
    app_state: AppState, job_store: JobStore, live_server: LiveServer, route: str
) -> None:
    """A job store that takes 2 s per intake: inference requests made meanwhile on the same
    process answer in well under that (they used to wait for the whole intake)."""
    app_state.store = SlowStore(job_store.engine)  # the running app reads this very object
    app_state.batches = SlowBatches(app_state.store)
    folder = app_state.settings.data_dir / "catalogs"  # a training data folder by default
    folder.mkdir(exist_ok=True)
    shutil.copyfile(SAMPLE_CATALOG, folder / "catalog.csv")

    def submit() -> None:
        with httpx.Client(base_url=live_server.url, timeout=30) as client:
            if route == "batch":
                response = client.post(URL, json={"items": [{"name": "tubo"}] * 100},
                                       headers={"Idempotency-Key": "slow-store"})
            else:
                response = client.post("/v1/training-jobs", json={"data": "catalog.csv"},
                                       headers=ADMIN)
        assert response.status_code == 202, response.text

    slowest, count = _inference_while(live_server, submit)

    assert count >= 5
    assert slowest < SlowStore.delay / 2


class SlowQueue:
    """A broker that takes 2 s to refuse each message, as an unreachable Redis does."""

    def __init__(self, real: Any) -> None:
        self.real = real

    def enqueue(self, *args: Any, **kwargs: Any) -> str:
        time.sleep(SlowStore.delay)
        return str(self.real.enqueue(*args, **kwargs))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def test_a_slow_broker_stalls_the_submission_not_inference(
    app_state: AppState, live_server: LiveServer
) -> None:
    app_state.queue = SlowQueue(app_state.queue)

    def submit() -> None:
        with httpx.Client(base_url=live_server.url, timeout=30) as client:
            response = client.post(URL, json={"items": [{"name": "tubo"}] * 100},
                                   headers={"Idempotency-Key": "slow-broker"})
        assert response.status_code == 202, response.text

    slowest, count = _inference_while(live_server, submit)

    assert count >= 5
    assert slowest < SlowStore.delay / 2
