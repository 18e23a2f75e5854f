"""Batch jobs: intake from JSON or CSV, idempotent submission, and results in input order."""

from __future__ import annotations

import csv
import io
import math

import pytest
from fastapi.testclient import TestClient
from sklearn.pipeline import Pipeline

from core.batch_store import BatchStore
from core.data import SAMPLE_CATALOG
from core.jobs import JobStore
from core.serving import ChampionHolder
from core.training import TrainResult
from tests.fixtures.app import (
    CHUNK_SIZE,
    FAKE_THRESHOLD,
    MAX_BATCH_ROWS,
    REVIEWER,
    FakeQueue,
    FakeRegistry,
    TaskHarness,
    stored_jobs,
)

URL = "/v1/batch-jobs"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x06\x00\x00\x00"


def _csv_upload(content: bytes, filename: str = "items.csv") -> dict[str, tuple[str, bytes, str]]:
    return {"file": (filename, content, "text/csv")}


def _all_rows(store: JobStore, job_id: str) -> list[tuple[str | None, str, str | None]]:
    job = store.get(job_id)
    return [(row.id, row.name, row.error)
            for idx in range(job.n_chunks or 0)
            for row in BatchStore(store).get_chunk(job_id, idx)]


def _run_to_completion(tasks: TaskHarness, job_id: str) -> None:
    """Do what the inference workers would: start the job, then process every chunk it sent."""
    tasks.task("batch.start").run(job_id)
    for name, args, _ in list(tasks.sent):
        assert name == "batch.chunk"
        tasks.task(name).run(*args)


# -- intake --------------------------------------------------------------------------------------

def test_json_items_are_stored_in_chunks_and_enqueued(
    api_client: TestClient, job_store: JobStore, fake_queue: FakeQueue
) -> None:
    items = [{"id": f"SKU-{i}", "name": f"Tubo PVC {i}/2\""} for i in range(20)]

    response = api_client.post(URL, json={"items": items})

    assert response.status_code == 202
    job_id = response.json()["job_id"]
    assert response.headers["Location"] == f"/v1/jobs/{job_id}"
    job = job_store.get(job_id)
    assert (job.kind, job.state, job.total_rows) == ("batch", "queued", 20)
    assert job.n_chunks == math.ceil(20 / CHUNK_SIZE) == 3
    assert [len(BatchStore(job_store).get_chunk(job_id, i)) for i in range(3)] == [7, 7, 6]
    assert _all_rows(job_store, job_id) == [(i["id"], i["name"], None) for i in items]
    assert fake_queue.sent == [("batch.start", [job_id])]


def test_numeric_and_missing_ids_are_kept_as_sent(api_client: TestClient,
                                                  job_store: JobStore) -> None:
    items = [{"id": 17, "name": "foco"}, {"name": "tubo"}, {"id": None, "name": "codo"}]

    job_id = api_client.post(URL, json={"items": items}).json()["job_id"]

    assert [row[0] for row in _all_rows(job_store, job_id)] == ["17", None, None]


def test_the_batch_job_reports_its_progress(api_client: TestClient) -> None:
    job_id = api_client.post(URL, json={"items": [{"name": "foco"}] * 9}).json()["job_id"]

    body = api_client.get(f"{URL}/{job_id}").json()

    assert (body["kind"], body["state"]) == ("batch", "queued")
    assert body["progress"] == {"stage": None, "rows_done": 0, "rows_total": 9}


def test_a_csv_upload_keeps_its_id_column(api_client: TestClient, job_store: JobStore,
                                          fake_queue: FakeQueue) -> None:
    content = b"sku,nombre\nA-1,Tubo PVC 1/2\"\nA-2,Foco LED 9W\n"

    response = api_client.post(URL, files=_csv_upload(content))

    assert response.status_code == 202
    job_id = response.json()["job_id"]
    assert _all_rows(job_store, job_id) == [("A-1", "Tubo PVC 1/2\"", None),
                                            ("A-2", "Foco LED 9W", None)]
    assert fake_queue.sent == [("batch.start", [job_id])]


def test_a_semicolon_delimited_csv_is_accepted(api_client: TestClient,
                                               job_store: JobStore) -> None:
    content = "id;name\n1;Tubo PVC 1/2\"\n2;\"Codo 90°; cobre\"\n".encode()

    response = api_client.post(URL, files=_csv_upload(content))

    assert response.status_code == 202
    assert _all_rows(job_store, response.json()["job_id"]) == [
        ("1", "Tubo PVC 1/2\"", None), ("2", "Codo 90°; cobre", None)]


@pytest.mark.parametrize(("content", "problem"), [
    (b"id,product\n1,Tubo PVC\n", "the CSV has no 'name' column (header: id, product)"),
    (PNG, "not CSV text (it contains binary data)"),
    (b"", "the CSV file is empty"),
    (b"\n\n", "the CSV file is empty"),
    (b"\xef\xbb\xbf", "empty"),
    # Starts with the UTF-16 byte-order mark: read as UTF-16, one character and no name column.
    (b"\xff\xfe\xfd\xfc", "the CSV has no 'name' column (header: \ufcfd)"),
    # A Windows-1252 export, as spreadsheets in Spanish make them, without a name column.
    (b"c\xf3digo;descripci\xf3n\n1;Foco\n", "no 'name' column (header: código;descripción)"),
], ids=["no-name-column", "binary", "empty", "blank", "bom-only", "undecodable", "latin-1"])
def test_an_unreadable_upload_is_400_naming_the_problem(
    api_client: TestClient, job_store: JobStore, fake_queue: FakeQueue,
    content: bytes, problem: str,
) -> None:
    response = api_client.post(URL, files=_csv_upload(content))

    assert response.status_code == 400
    assert problem in response.json()["detail"]
    assert stored_jobs(job_store) == []
    assert fake_queue.sent == []


def test_a_csv_with_only_a_header_is_422(api_client: TestClient, job_store: JobStore) -> None:
    response = api_client.post(URL, files=_csv_upload(b"id,name\n"))

    assert response.status_code == 422
    assert response.json()["detail"] == "the batch has no rows"
    assert stored_jobs(job_store) == []


@pytest.mark.parametrize("body", [
    {"items": []},
    {"items": "foco"},
    {"items": [{"id": "1"}]},
    {"items": [{"name": 5}]},
    {"items": [{"name": "foco", "price": 3}]},
    {},
], ids=["empty", "not-a-list", "no-name", "name-not-a-string", "extra-field", "no-items"])
def test_invalid_json_batches_are_422(api_client: TestClient, job_store: JobStore,
                                      body: dict[str, object]) -> None:
    response = api_client.post(URL, json=body)

    assert response.status_code == 422
    assert stored_jobs(job_store) == []


def test_another_content_type_is_415(api_client: TestClient) -> None:
    response = api_client.post(URL, content=b"foco\ntubo\n", headers={"Content-Type": "text/csv"})

    assert response.status_code == 415


def test_more_rows_than_allowed_is_413_and_leaves_nothing_behind(
    api_client: TestClient, job_store: JobStore, fake_queue: FakeQueue
) -> None:
    lines = "".join(f"{i},foco\n" for i in range(MAX_BATCH_ROWS + 1))

    response = api_client.post(URL, files=_csv_upload(f"id,name\n{lines}".encode()))

    assert response.status_code == 413
    assert f"more than {MAX_BATCH_ROWS} rows" in response.json()["detail"]
    assert stored_jobs(job_store) == []
    assert fake_queue.sent == []


def test_exactly_the_allowed_rows_are_accepted(
    api_client: TestClient, job_store: JobStore
) -> None:
    lines = "".join(f"{i},foco\n" for i in range(MAX_BATCH_ROWS))

    response = api_client.post(URL, files=_csv_upload(f"id,name\n{lines}".encode()))

    assert response.status_code == 202
    assert job_store.get(response.json()["job_id"]).total_rows == MAX_BATCH_ROWS


def test_the_same_idempotency_key_gives_the_same_job_enqueued_once(
    api_client: TestClient, job_store: JobStore, fake_queue: FakeQueue
) -> None:
    headers = {"Idempotency-Key": "import-2026-11-26"}
    first = api_client.post(URL, json={"items": [{"name": "foco"}]}, headers=headers)
    again = api_client.post(URL, json={"items": [{"name": "foco"}]}, headers=headers)

    assert first.status_code == again.status_code == 202
    assert again.json()["job_id"] == first.json()["job_id"]
    assert len(stored_jobs(job_store)) == 1
    assert fake_queue.sent == [("batch.start", [first.json()["job_id"]])]


def test_broker_down_is_503_and_the_job_is_failed(
    api_client: TestClient, job_store: JobStore, fake_queue: FakeQueue
) -> None:
    fake_queue.down = True

    response = api_client.post(URL, json={"items": [{"name": "foco"}]})

    assert response.status_code == 503
    [job] = stored_jobs(job_store)
    assert job.state == "failed"
    assert "job queue was unavailable" in (job.error or "")


def test_retrying_with_the_same_key_after_a_503_queues_the_job(
    api_client: TestClient, job_store: JobStore, fake_queue: FakeQueue
) -> None:
    headers = {"Idempotency-Key": "import-2026-11-27"}
    fake_queue.down = True
    assert api_client.post(URL, json={"items": [{"name": "foco"}]},
                           headers=headers).status_code == 503
    fake_queue.down = False

    # The retry an idempotency key exists for must not be answered 202 with a dead job.
    response = api_client.post(URL, json={"items": [{"name": "foco"}]}, headers=headers)

    assert response.status_code == 202
    job_id = response.json()["job_id"]
    assert response.json()["state"] == "queued"
    assert job_store.get(job_id).state == "queued"
    assert fake_queue.sent == [("batch.start", [job_id])]


def test_a_training_job_is_not_a_batch_job(api_client: TestClient) -> None:
    job_id = api_client.post("/v1/training-jobs", json={"data": str(SAMPLE_CATALOG)},
                             headers={"X-API-Key": "test-key"}).json()["job_id"]

    assert api_client.get(f"{URL}/{job_id}").status_code == 404
    assert api_client.get(f"{URL}/{job_id}/results").status_code == 404


def test_an_unknown_batch_job_is_404(api_client: TestClient) -> None:
    for path in ("", "/results", "/results.csv"):
        response = api_client.get(f"{URL}/0123456789abcdef0123456789abcdef{path}")
        assert response.status_code == 404, path


# -- results -------------------------------------------------------------------------------------

def test_results_before_the_job_is_done_are_409(api_client: TestClient) -> None:
    job_id = api_client.post(URL, json={"items": [{"name": "foco"}]}).json()["job_id"]

    for path in ("/results", "/results.csv"):
        response = api_client.get(f"{URL}/{job_id}{path}")
        assert response.status_code == 409
        assert response.json()["detail"] == (
            "results are ready when the job has succeeded; it is queued")


def test_results_of_a_failed_job_say_why(api_client: TestClient, job_store: JobStore) -> None:
    job_id = api_client.post(URL, json={"items": [{"name": "foco"}]}).json()["job_id"]
    job_store.fail(job_id, "no champion model yet: train one first")

    response = api_client.get(f"{URL}/{job_id}/results")

    assert response.status_code == 409
    assert response.json()["detail"].endswith(
        "it is failed: no champion model yet: train one first")


def test_results_page_in_input_order_with_every_row_once(
    api_client: TestClient, tasks: TaskHarness, app_pipeline: Pipeline
) -> None:
    names = [f"Tubo PVC {i}/2\"" if i % 2 else f"Foco LED {i}W" for i in range(20)]
    items = [{"id": f"R{i}", "name": name} for i, name in enumerate(names)]
    job_id = api_client.post(URL, json={"items": items}).json()["job_id"]

    _run_to_completion(tasks, job_id)

    job = api_client.get(f"{URL}/{job_id}").json()
    assert job["state"] == "succeeded"
    assert job["progress"]["rows_done"] == 20
    assert job["links"]["results"] == f"{URL}/{job_id}/results"
    seen = []
    for offset in range(0, 20, 6):  # pages of 6 straddle the chunks of 7
        page = api_client.get(f"{URL}/{job_id}/results",
                              params={"offset": offset, "limit": 6}).json()
        assert (page["total"], page["offset"], page["limit"]) == (20, offset, 6)
        assert page["model_version"] == 1
        seen.extend(page["items"])
    assert [item["row"] for item in seen] == list(range(20))
    assert [item["id"] for item in seen] == [f"R{i}" for i in range(20)]
    assert [item["name"] for item in seen] == names
    assert [item["category"] for item in seen] == app_pipeline.predict(names).tolist()
    assert all(item["error"] is None and 0 < item["confidence"] <= 1 for item in seen)
    for item in seen:  # the decision against the version's threshold, and the runners-up
        filed = item["known"] and item["confidence"] >= FAKE_THRESHOLD
        assert item["decision"] == ("auto" if filed else "review")
        assert len(item["top_k"]) == 3
        assert item["top_k"][0] == {"category": item["category"],
                                    "confidence": item["confidence"]}
    summary = job["result"]
    assert summary["auto"] == sum(item["decision"] == "auto" for item in seen)
    assert summary["auto"] + summary["review"] == 20
    assert sum(c["auto"] + c["review"] for c in summary["per_category"].values()) == 20


def test_a_page_past_the_end_is_empty(api_client: TestClient, tasks: TaskHarness) -> None:
    job_id = api_client.post(URL, json={"items": [{"name": "foco"}] * 3}).json()["job_id"]
    _run_to_completion(tasks, job_id)

    page = api_client.get(f"{URL}/{job_id}/results", params={"offset": 3}).json()

    assert page["total"] == 3
    assert page["items"] == []


@pytest.mark.parametrize("params", [{"offset": -1}, {"limit": 0}, {"limit": 10_001},
                                    {"offset": "x"}])
def test_bad_paging_parameters_are_422(api_client: TestClient, tasks: TaskHarness,
                                       params: dict[str, object]) -> None:
    job_id = api_client.post(URL, json={"items": [{"name": "foco"}]}).json()["job_id"]
    _run_to_completion(tasks, job_id)

    assert api_client.get(f"{URL}/{job_id}/results", params=params).status_code == 422


def test_bad_rows_get_their_own_error_and_keep_their_place(
    api_client: TestClient, tasks: TaskHarness
) -> None:
    content = b"id,name\n1,Tubo PVC 1/2\n2,\n3,Foco \xff\xfe 9W\n4," + b"x" * 501 + b"\n5,Codo\n"
    job_id = api_client.post(URL, files=_csv_upload(content)).json()["job_id"]

    _run_to_completion(tasks, job_id)

    items = api_client.get(f"{URL}/{job_id}/results").json()["items"]
    assert [item["id"] for item in items] == ["1", "2", "3", "4", "5"]
    errors = [item["error"] for item in items]
    assert errors[0] is None
    assert errors[4] is None
    assert errors[1] == "empty name"
    assert errors[2] == "name is not valid UTF-8 text"
    assert errors[3] == "name is 501 characters long; the limit is 500"
    assert [item["category"] is None for item in items] == [False, True, True, True, False]
    assert items[2]["name"] == "Foco \ufffd\ufffd 9W"  # shown replaced, not as raw bytes


def test_the_csv_download_neutralises_formulas_and_keeps_ids(
    api_client: TestClient, tasks: TaskHarness
) -> None:
    items = [{"id": "=HYPERLINK(\"x\")", "name": "=CMD()"}, {"id": "A-2", "name": "+foco"},
             {"id": 3, "name": "-tubo"}, {"id": "4", "name": "@SUM(A1)"},
             {"id": "5", "name": "Tubo PVC 1/2\""}]
    job_id = api_client.post(URL, json={"items": items}).json()["job_id"]
    _run_to_completion(tasks, job_id)

    response = api_client.get(f"{URL}/{job_id}/results.csv")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert f'filename="{job_id}.csv"' in response.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == ["row", "id", "name", "category", "confidence", "decision", "known",
                       "filed_under", "error", "source"]
    assert [r[1] for r in rows[1:]] == ["'=HYPERLINK(\"x\")", "A-2", "3", "4", "5"]
    assert [r[2] for r in rows[1:]] == ["'=CMD()", "'+foco", "'-tubo", "'@SUM(A1)",
                                        "Tubo PVC 1/2\""]
    assert [r[0] for r in rows[1:]] == ["0", "1", "2", "3", "4"]
    assert all(r[3] for r in rows[1:])


def test_a_path_model_s_results_say_where_each_row_can_be_filed(
    api_client: TestClient, tasks: TaskHarness, fake_registry: FakeRegistry,
    champion_holder: ChampionHolder, path_result: TrainResult,
) -> None:
    fake_registry.promote(fake_registry.add_version(path_result.model, threshold=0.9))
    assert champion_holder.refresh()
    names = path_result.test_names[:40]
    job_id = api_client.post(URL, json={"items": [{"name": n} for n in names]}).json()["job_id"]
    _run_to_completion(tasks, job_id)

    items = api_client.get(f"{URL}/{job_id}/results").json()["items"]
    rows = list(csv.DictReader(io.StringIO(api_client.get(f"{URL}/{job_id}/results.csv").text)))

    expected = {n: p.filed_under for n, p in zip(
        names, champion_holder.classifier.predict_batch(names), strict=True)}
    assert [item["filed_under"] for item in items] == [expected[n] for n in names]
    assert [row["filed_under"] for row in rows] == [expected[n] or "" for n in names]
    filed = [item for item in items if item["filed_under"]]
    assert filed  # some rows are sure at some level
    for item in filed:
        assert item["category"] == item["filed_under"] or item["category"].startswith(
            item["filed_under"] + " > ")
        assert (item["decision"] == "auto") == (item["filed_under"] == item["category"])


def test_review_rows_become_items_and_results_show_the_reviewers_category(
    api_client: TestClient, tasks: TaskHarness
) -> None:
    names = ["taladro", "tubo pvc", "foco led", "brocha", "llave", "zzz qqq", "xyzzy"]
    job_id = api_client.post(URL, json={"items": [{"name": n} for n in names]}).json()["job_id"]
    _run_to_completion(tasks, job_id)
    model = api_client.get(f"{URL}/{job_id}/results").json()["items"]
    to_review = [r["row"] for r in model if r["decision"] == "review"]
    assert len(to_review) >= 2

    queue = api_client.get("/v1/review-items", params={"job_id": job_id},
                           headers=REVIEWER).json()
    assert sorted(i["row"] for i in queue["items"]) == to_review
    items = {i["row"]: i for i in queue["items"]}
    first, second = to_review[:2]
    other = next(c for c in ("Electricos", "Plomería") if c != items[first]["category"])
    api_client.post(f"/v1/review-items/{items[first]['id']}", json={"category": other},
                    headers=REVIEWER)
    api_client.post("/v1/review-items/accept", json={"ids": [items[second]["id"]]},
                    headers=REVIEWER)

    final = api_client.get(f"{URL}/{job_id}/results").json()["items"]
    expected = [(r["category"], "model") for r in model]
    expected[first] = (other, "review")
    expected[second] = (model[second]["category"], "review")
    assert [(i["category"], i["source"]) for i in final] == expected
    page = api_client.get(f"{URL}/{job_id}/results", params={"offset": first, "limit": 1}).json()
    assert [(i["row"], i["category"], i["source"]) for i in page["items"]] == [
        (first, other, "review")]
    rows = list(csv.DictReader(io.StringIO(
        api_client.get(f"{URL}/{job_id}/results.csv").text)))
    assert [(r["category"], r["source"]) for r in rows] == expected
