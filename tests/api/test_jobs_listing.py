"""GET /v1/jobs: recent jobs, newest first, filtered by kind and state, a page at a time."""

from __future__ import annotations

from fastapi.testclient import TestClient

from core.batch_store import BatchStore, InputRow
from core.jobs import JobStore
from tests.fixtures.app import ADMIN, REVIEWER


def _batch(store: JobStore, n_rows: int) -> str:
    rows = [InputRow(id=str(i), name=f"taladro {i}") for i in range(n_rows)]
    job, _ = BatchStore(store).create_batch([rows[:3], rows[3:]])
    return job.id


def _jobs(store: JobStore) -> dict[str, str]:
    """Two training jobs (one failed) and two batch jobs (one half done); ids by role."""
    ids = {"training_queued": store.create_job(kind="training", params={})[0].id}
    ids["batch_running"] = _batch(store, 5)
    store.start(ids["batch_running"], stage="categorizing")
    BatchStore(store).put_result(ids["batch_running"], 0, [("Herramientas", 0.9, None)] * 3)
    ids["training_failed"] = store.create_job(kind="training", params={})[0].id
    store.fail(ids["training_failed"], "the catalog has one category")
    ids["batch_queued"] = _batch(store, 4)
    return ids


def test_lists_every_job_newest_first_with_its_progress(
    api_client: TestClient, job_store: JobStore
) -> None:
    ids = _jobs(job_store)

    body = api_client.get("/v1/jobs", headers=ADMIN).json()

    assert body["total"] == 4
    assert (body["offset"], body["limit"]) == (0, 50)
    assert [item["job_id"] for item in body["items"]] == [
        ids["batch_queued"], ids["training_failed"], ids["batch_running"],
        ids["training_queued"]]
    running = body["items"][2]
    assert running["state"] == "running"
    assert running["progress"] == {"stage": "categorizing", "rows_done": 3, "rows_total": 5}
    assert body["items"][1]["error"] == "the catalog has one category"
    assert body["items"][0]["links"] == {"self": f"/v1/jobs/{ids['batch_queued']}"}


def test_filters_by_kind_and_state(api_client: TestClient, job_store: JobStore) -> None:
    ids = _jobs(job_store)

    batches = api_client.get("/v1/jobs", params={"kind": "batch"}, headers=REVIEWER).json()
    failed = api_client.get("/v1/jobs", params={"state": "failed"}, headers=ADMIN).json()
    queued_training = api_client.get("/v1/jobs", params={"kind": "training", "state": "queued"},
                                     headers=ADMIN).json()

    assert [i["job_id"] for i in batches["items"]] == [ids["batch_queued"], ids["batch_running"]]
    assert batches["total"] == 2
    assert [i["job_id"] for i in failed["items"]] == [ids["training_failed"]]
    assert [i["job_id"] for i in queued_training["items"]] == [ids["training_queued"]]


def test_pages_through_the_jobs(api_client: TestClient, job_store: JobStore) -> None:
    ids = _jobs(job_store)

    first = api_client.get("/v1/jobs", params={"limit": 3}, headers=ADMIN).json()
    rest = api_client.get("/v1/jobs", params={"limit": 3, "offset": 3}, headers=ADMIN).json()

    assert (first["total"], rest["total"]) == (4, 4)
    assert len(first["items"]) == 3
    assert [i["job_id"] for i in rest["items"]] == [ids["training_queued"]]


def test_an_empty_store_lists_nothing(api_client: TestClient) -> None:
    assert api_client.get("/v1/jobs", headers=REVIEWER).json() == {
        "total": 0, "offset": 0, "limit": 50, "items": []}


def test_bad_filters_and_paging_are_422(api_client: TestClient) -> None:
    for params in ({"kind": "inference"}, {"state": "done"}, {"limit": 0}, {"limit": 201},
                   {"offset": -1}, {"offset": 2**63 - 1}):
        response = api_client.get("/v1/jobs", params=params, headers=ADMIN)
        assert response.status_code == 422, params


def test_the_listing_needs_a_key_and_training_jobs_the_admin_key(
    api_client: TestClient, job_store: JobStore
) -> None:
    ids = _jobs(job_store)

    anonymous = api_client.get("/v1/jobs")
    wrong_key = api_client.get("/v1/jobs", headers={"X-API-Key": "guess"})
    listed = api_client.get("/v1/jobs", headers=REVIEWER).json()
    training = api_client.get("/v1/jobs", params={"kind": "training"}, headers=REVIEWER)

    # a batch job's id is what lets anyone read its results: no id is listed without a key
    assert anonymous.status_code == 401
    assert ids["batch_queued"] not in anonymous.text
    assert wrong_key.status_code == 403
    assert [i["job_id"] for i in listed["items"]] == [ids["batch_queued"], ids["batch_running"]]
    assert "the catalog has one category" not in str(listed)
    assert training.status_code == 403
