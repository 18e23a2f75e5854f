"""The console's import, job and jobs pages."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from core.batch_store import BatchStore, InputRow
from core.jobs import JobStore
from tests.api.ui.console import sign_in
from tests.fixtures.app import REVIEWER_KEY

NAMES = ["taladro percutor", "tubo pvc", "foco led", "brocha 2 pulgadas", "llave inglesa"]


def _finished_batch(store: JobStore, n_rows: int) -> str:
    """A succeeded batch of `n_rows`: categories cycle, confidence rises with the row number."""
    rows = [InputRow(id=f"SKU-{i}", name=f"{NAMES[i % 5]} {i}") for i in range(n_rows)]
    chunks = [rows[i:i + 50] for i in range(0, n_rows, 50)]
    job, _ = BatchStore(store).create_batch(chunks)
    store.start(job.id, stage="categorizing")
    for idx, chunk in enumerate(chunks):
        BatchStore(store).put_result(job.id, idx, [
            (("Herramientas", "Plomería")[(idx * 50 + i) % 2], (idx * 50 + i) / n_rows, None)
            for i in range(len(chunk))])
    store.succeed(job.id, {"rows": n_rows, **BatchStore(store).decision_counts(job.id)})
    return job.id


def _rows(html: str) -> list[str]:
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return re.findall(r"<td>(SKU-\d+)</td>", body)


def test_the_import_page_has_a_labelled_file_input_posting_to_the_batch_api(
    api_client: TestClient,
) -> None:
    page = api_client.get("/ui/import").text

    assert 'action="/v1/batch-jobs"' in page
    assert '<label for="import-file"' in page
    assert 'id="import-file" name="file"' in page
    assert "/ui/static/htmx.min.js" in page
    assert api_client.get("/ui/static/htmx.min.js").status_code == 200


def test_a_finished_batch_shows_a_full_bar_and_its_first_page(
    api_client: TestClient, job_store: JobStore,
) -> None:
    job_id = _finished_batch(job_store, 230)

    page = api_client.get(f"/ui/jobs/{job_id}").text

    assert 'max="230" value="230"' in page
    assert "230 of 230 rows" in page
    assert _rows(page) == [f"SKU-{i}" for i in range(100)]
    assert "Rows 1–100 of 230" in page
    assert f'href="/v1/batch-jobs/{job_id}/results.csv"' in page
    assert 'rel="next" href="?offset=100"' in page


def test_results_filter_by_category_and_confidence_and_sort(
    api_client: TestClient, job_store: JobStore,
) -> None:
    job_id = _finished_batch(job_store, 230)

    page = api_client.get(f"/ui/jobs/{job_id}", params={
        "category": "Plomería", "min_confidence": "0.5", "max_confidence": "0.6",
        "sort": "-confidence"}).text

    expected = [i for i in range(230) if i % 2 == 1 and 0.5 <= i / 230 <= 0.6][::-1]
    assert _rows(page) == [f"SKU-{i}" for i in expected]
    assert f"of {len(expected)}" in page
    assert '<option value="Plomería" selected>' in page


def test_the_results_fragment_pages_on(api_client: TestClient, job_store: JobStore) -> None:
    job_id = _finished_batch(job_store, 230)

    fragment = api_client.get(f"/ui/jobs/{job_id}/results", params={"offset": 200}).text

    assert "<html" not in fragment
    assert _rows(fragment) == [f"SKU-{i}" for i in range(200, 230)]
    assert 'rel="prev" href="?offset=100"' in fragment


def test_a_failed_job_says_why(api_client: TestClient, job_store: JobStore) -> None:
    job, _ = BatchStore(job_store).create_batch([[InputRow(id=None, name="taladro")]])
    job_store.fail(job.id, "the model could not be loaded")

    page = api_client.get(f"/ui/jobs/{job.id}").text

    assert "The job failed: the model could not be loaded" in page
    assert "results-table" not in page


def test_a_cancelled_job_says_who_stopped_it(api_client: TestClient,
                                            job_store: JobStore) -> None:
    job, _ = BatchStore(job_store).create_batch([[InputRow(id=None, name="taladro")]])
    job_store.cancel(job.id)

    page = api_client.get(f"/ui/jobs/{job.id}").text
    spanish = api_client.get(f"/ui/jobs/{job.id}", headers={"Accept-Language": "es"}).text

    assert "An admin cancelled the job before it ended: it has no results." in page
    assert "Un administrador canceló el trabajo antes de que terminara" in spanish
    assert "results-table" not in page


def test_an_unknown_job_is_a_404_page(api_client: TestClient) -> None:
    response = api_client.get("/ui/jobs/nope")

    assert response.status_code == 404
    assert "no such job" in response.text


def test_the_jobs_page_lists_batches_and_the_admin_sees_training_too(
    api_client: TestClient, job_store: JobStore,
) -> None:
    batch_id = _finished_batch(job_store, 10)
    training = job_store.create_job(kind="training", params={})[0]

    anonymous = api_client.get("/ui/jobs", follow_redirects=False)
    sign_in(api_client, REVIEWER_KEY)
    reviewer = api_client.get("/ui/jobs").text
    sign_in(api_client)
    everything = api_client.get("/ui/jobs").text
    batches = api_client.get("/ui/jobs", params={"kind": "batch"}).text

    assert anonymous.status_code == 303  # to the sign-in page: ids are never listed to anyone
    assert anonymous.headers["location"].startswith("/ui/sign-in")
    assert f"/ui/jobs/{batch_id}" in reviewer
    assert f"/ui/jobs/{training.id}" not in reviewer
    assert f"/ui/jobs/{training.id}" in everything
    assert f"/ui/jobs/{batch_id}" in batches
    assert f"/ui/jobs/{training.id}" not in batches
    assert f"/v1/batch-jobs/{batch_id}/results.csv" in batches


def test_a_training_job_needs_the_admin_key(api_client: TestClient, job_store: JobStore) -> None:
    training = job_store.create_job(kind="training", params={})[0]

    page = api_client.get(f"/ui/jobs/{training.id}", follow_redirects=False)
    status = api_client.get(f"/ui/jobs/{training.id}/status", follow_redirects=False)
    sign_in(api_client)

    assert page.status_code == status.status_code == 303
    assert page.headers["location"].startswith("/ui/sign-in")
    assert api_client.get(f"/ui/jobs/{training.id}/status").json()["kind"] == "training"


def test_the_status_of_a_batch_is_the_apis(api_client: TestClient, job_store: JobStore) -> None:
    job_id = _finished_batch(job_store, 10)

    assert (api_client.get(f"/ui/jobs/{job_id}/status").json()
            == api_client.get(f"/v1/jobs/{job_id}").json())
