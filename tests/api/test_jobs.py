"""Training jobs (admin) and the status and cancellation of any job."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from core.config import Settings
from core.data import SAMPLE_CATALOG
from core.jobs import JobStore
from tests.fixtures.app import ADMIN, FakeQueue, stored_jobs

URL = "/v1/training-jobs"
CATALOG_CSV = (
    "category,name\n"
    "Plomería,\"Tubo PVC 1/2\"\"\"\n"
    + "".join(f"Plomería,Codo PVC {i}\"\nElectricos,Foco LED {i}W\n" for i in range(1, 6))
).encode()
NO_SOURCE = {"data": None, "source": None, "table": None, "query": None,
             "include_labels": True}


@pytest.fixture(autouse=True)
def catalog_files(app_settings: Settings) -> Path:
    """Catalog files in DATA_DIR/catalogs, a training data folder by default."""
    folder = app_settings.data_dir / "catalogs"
    folder.mkdir()
    for name in ("catalog.csv", "x.csv"):
        (folder / name).write_bytes(CATALOG_CSV)
    return folder


@pytest.fixture
def erp_source(app_settings: Settings, tmp_path: Path) -> Path:
    """A SQLite database configured as the SQL source 'erp', with a products table."""
    path = tmp_path / "erp.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE products (category TEXT, name TEXT)")
        connection.execute("INSERT INTO products VALUES ('Plomería', 'Tubo PVC')")
    app_settings.training_sources = {"erp": SecretStr(f"sqlite:///{path}")}
    app_settings.training_queries = True
    return path


def _check_queued(response: httpx.Response, store: JobStore, queue: FakeQueue) -> str:
    """A 202 whose job is recorded queued, with 'training.run' enqueued for it alone."""
    assert response.status_code == 202, response.text
    body = response.json()
    job_id = body["job_id"]
    assert body["state"] == "queued"
    assert body["status_url"] == response.headers["Location"] == f"/v1/jobs/{job_id}"
    job = store.get(job_id)
    assert (job.kind, job.state) == ("training", "queued")
    assert queue.sent == [("training.run", [job_id])]
    assert job.task_id == "task-1"
    return job_id


def test_a_job_from_a_csv_path_is_accepted_and_enqueued(
    api_client: TestClient, job_store: JobStore, fake_queue: FakeQueue
) -> None:
    response = api_client.post(URL, json={"data": "catalog.csv"}, headers=ADMIN)

    job_id = _check_queued(response, job_store, fake_queue)
    assert job_store.get(job_id).params == {**NO_SOURCE, "data": "catalog.csv"}


@pytest.mark.parametrize(("request_args", "expected"), [
    ({"json": {"data": "catalog.csv", "include_labels": False}}, False),
    ({"files": {"file": ("c.csv", CATALOG_CSV)}, "params": {"include_labels": "false"}}, False),
    ({"files": {"file": ("c.csv", CATALOG_CSV)}}, True),
], ids=["json-off", "upload-off", "upload-default"])
def test_a_training_job_may_leave_the_stored_labels_out(
    api_client: TestClient, job_store: JobStore, fake_queue: FakeQueue,
    request_args: dict[str, Any], expected: bool,
) -> None:
    response = api_client.post(URL, headers=ADMIN, **request_args)

    job_id = _check_queued(response, job_store, fake_queue)
    assert job_store.get(job_id).params["include_labels"] is expected


@pytest.mark.parametrize("source", [{"table": "products"},
                                    {"table": "main.products"},
                                    {"query": "SELECT category, name FROM products"}])
@pytest.mark.usefixtures("erp_source")
def test_a_job_from_a_named_sql_table_or_query_is_accepted(
    api_client: TestClient, job_store: JobStore, fake_queue: FakeQueue, source: dict[str, str]
) -> None:
    response = api_client.post(URL, json={"source": "erp", **source}, headers=ADMIN)

    job_id = _check_queued(response, job_store, fake_queue)
    assert job_store.get(job_id).params == {**NO_SOURCE, "source": "erp", **source}


def test_an_uploaded_catalog_is_stored_with_the_job(
    api_client: TestClient, job_store: JobStore, fake_queue: FakeQueue
) -> None:
    response = api_client.post(URL, files={"file": ("catalog.csv", CATALOG_CSV, "text/csv")},
                               headers=ADMIN)

    job_id = _check_queued(response, job_store, fake_queue)
    assert job_store.get_upload(job_id) == CATALOG_CSV
    assert job_store.get(job_id).params == {"upload": True, "filename": "catalog.csv",
                                            "include_labels": True}


@pytest.mark.parametrize(("content", "problem"), [
    (b"category,nombre\nPlomeria,Tubo PVC\n", "missing column(s) name"),
    (b"name\nTubo PVC\n", "missing column(s) category"),
    (b"category,name\nPlomeria,\n", "row 2, column 'name': empty product name"),
    ("category,name\nИнструменты,Молоток\n".encode("koi8-r"), "not UTF-8 text; it looks like"),
    (b'category,name\nA,a\nB,"b\nC,c\n', "row 3: a quote opened on line 3 is never closed"),
    ("category,name\n" + "A,a\n" * 12, "needs at least two categories"),
    ("category,name\nA,a\nB,b\nA,c\n", "'A' has 2, 'B' has 1"),
    (b"", "the file is empty"),
], ids=["no-name", "no-category", "empty-name", "koi8-r", "broken-quote", "one-category",
        "too-few-rows", "empty"])
def test_a_bad_uploaded_catalog_is_400_naming_the_problem(
    api_client: TestClient, job_store: JobStore, fake_queue: FakeQueue,
    content: bytes | str, problem: str,
) -> None:
    raw = content.encode() if isinstance(content, str) else content
    response = api_client.post(URL, files={"file": ("mine.csv", raw, "text/csv")},
                               headers=ADMIN)

    assert response.status_code == 400
    assert problem in response.json()["detail"]
    assert "mine.csv" in response.json()["detail"]
    assert stored_jobs(job_store) == []
    assert fake_queue.sent == []


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "cp1252", "latin-1"])
def test_an_uploaded_catalog_in_each_common_encoding_is_accepted(
    api_client: TestClient, job_store: JobStore, fake_queue: FakeQueue, encoding: str
) -> None:
    content = CATALOG_CSV.decode().encode(encoding)

    response = api_client.post(URL, files={"file": ("catalog.csv", content, "text/csv")},
                               headers=ADMIN)

    job_id = _check_queued(response, job_store, fake_queue)
    assert job_store.get_upload(job_id) == content


def test_a_multipart_body_without_a_file_field_is_422(api_client: TestClient) -> None:
    response = api_client.post(URL, data={"data": "catalog.csv"},
                               files={"other": ("x.csv", CATALOG_CSV, "text/csv")},
                               headers=ADMIN)

    assert response.status_code == 422
    assert "'file' field" in response.json()["detail"]


@pytest.mark.parametrize(("body", "problem"), [
    ({"source": "erp"}, "needs a 'table'"),
    ({"data": "catalog.csv", "table": "products"}, "go with a 'source'"),
    ({"data": "catalog.csv", "query": "SELECT 1"}, "go with a 'source'"),
    ({"source": "erp", "table": "products", "query": "SELECT 1"}, "not both"),
    ({"source": "erp", "data": "catalog.csv", "table": "products"}, "not both"),
    ({}, "give 'data'"),
], ids=["sql-without-table", "table-with-csv", "query-with-csv", "table-and-query",
        "file-and-source", "nothing"])
@pytest.mark.usefixtures("erp_source")
def test_inconsistent_sources_are_400(
    api_client: TestClient, job_store: JobStore, fake_queue: FakeQueue,
    body: dict[str, str], problem: str,
) -> None:
    response = api_client.post(URL, json=body, headers=ADMIN)

    assert response.status_code == 400
    assert problem in response.json()["detail"]
    assert stored_jobs(job_store) == []
    assert fake_queue.sent == []


@pytest.mark.parametrize("body", [
    {"data": ""},
    {"data": 5},
    {"data": "catalog.csv", "unknown": 1},
    {"source": "erp", "table": "products; DROP TABLE products"},
    {"source": "erp; DROP TABLE products", "table": "products"},
    {"data": "x" * 1001},
], ids=["empty-data", "data-not-a-string", "extra-field", "table-injection",
        "source-injection", "data-too-long"])
def test_invalid_training_requests_are_422_not_500(
    api_client: TestClient, job_store: JobStore, body: dict[str, object]
) -> None:
    response = api_client.post(URL, json=body, headers=ADMIN)

    assert response.status_code == 422
    assert stored_jobs(job_store) == []


def test_malformed_json_is_422_not_500(api_client: TestClient) -> None:
    response = api_client.post(URL, content=b'{"data": ', headers={
        **ADMIN, "Content-Type": "application/json"})

    assert response.status_code == 422


def test_another_content_type_is_415(api_client: TestClient, job_store: JobStore) -> None:
    response = api_client.post(URL, content=b"data=catalog.csv", headers={
        **ADMIN, "Content-Type": "text/plain"})

    assert response.status_code == 415
    assert stored_jobs(job_store) == []


@pytest.mark.parametrize("request_kwargs", [
    {"json": {"data": "catalog.csv"}},
    {"files": {"file": ("catalog.csv", CATALOG_CSV, "text/csv")}},
], ids=["json", "upload"])
def test_broker_down_is_503_and_the_job_is_failed_not_left_queued(
    api_client: TestClient, job_store: JobStore, fake_queue: FakeQueue,
    request_kwargs: dict[str, object],
) -> None:
    fake_queue.down = True

    response = api_client.post(URL, headers=ADMIN, **request_kwargs)

    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert "queue is unavailable" in response.json()["detail"]
    [job] = stored_jobs(job_store)
    assert job.state == "failed"
    assert "job queue was unavailable" in (job.error or "")


def test_legacy_get_training_queues_a_job_from_the_configured_source(
    api_client: TestClient, job_store: JobStore, fake_queue: FakeQueue
) -> None:
    response = api_client.get("/training", headers=ADMIN)

    job_id = _check_queued(response, job_store, fake_queue)
    assert job_store.get(job_id).params == {**NO_SOURCE, "data": str(SAMPLE_CATALOG)}


# -- job status and cancellation -----------------------------------------------------------------

def test_an_unknown_job_is_404(api_client: TestClient) -> None:
    response = api_client.get("/v1/jobs/0123456789abcdef0123456789abcdef")

    assert response.status_code == 404
    assert response.json()["detail"] == "no such job (unknown id, or expired)"


def test_a_job_reports_every_public_field(api_client: TestClient) -> None:
    job_id = api_client.post(URL, json={"data": "x.csv"}, headers=ADMIN).json()["job_id"]

    body = api_client.get(f"/v1/jobs/{job_id}", headers=ADMIN).json()

    assert set(body) == {"job_id", "kind", "state", "progress", "model_version", "created_at",
                         "started_at", "finished_at", "result", "error", "reason", "links"}
    assert (body["job_id"], body["kind"], body["state"]) == (job_id, "training", "queued")
    assert body["reason"] is None  # queued by a person, not by the retrain check
    assert body["progress"] == {"stage": None, "rows_done": None, "rows_total": None}
    assert body["links"] == {"self": f"/v1/jobs/{job_id}"}
    assert body["created_at"] is not None
    assert body["finished_at"] is None


def test_reports_a_finished_jobs_result_and_version(api_client: TestClient,
                                                    job_store: JobStore) -> None:
    job_id = api_client.post(URL, json={"data": "x.csv"}, headers=ADMIN).json()["job_id"]
    job_store.start(job_id, stage="training")
    job_store.succeed(job_id, {"promoted": True}, model_version=4)

    body = api_client.get(f"/v1/jobs/{job_id}", headers=ADMIN).json()

    assert body["state"] == "succeeded"
    assert body["result"] == {"promoted": True}
    assert body["model_version"] == 4
    assert body["started_at"] is not None
    assert body["finished_at"] is not None


def test_cancelling_a_training_job_revokes_its_task(
    api_client: TestClient, job_store: JobStore, fake_queue: FakeQueue
) -> None:
    job_id = api_client.post(URL, json={"data": "x.csv"}, headers=ADMIN).json()["job_id"]

    response = api_client.delete(f"/v1/jobs/{job_id}", headers=ADMIN)

    assert response.status_code == 200
    assert response.json()["state"] == "cancelled"
    assert response.json()["finished_at"] is not None
    assert job_store.get(job_id).state == "cancelled"
    assert fake_queue.revoked == [("task-1", True)]


def test_cancelling_a_batch_job_needs_no_revoke(
    api_client: TestClient, job_store: JobStore, fake_queue: FakeQueue
) -> None:
    job_id = api_client.post("/v1/batch-jobs",
                             json={"items": [{"name": "foco"}]}).json()["job_id"]

    response = api_client.delete(f"/v1/jobs/{job_id}", headers=ADMIN)

    assert response.status_code == 200
    assert job_store.get(job_id).state == "cancelled"
    assert fake_queue.revoked == []  # its chunks see the state and stop by themselves


@pytest.mark.parametrize("end", ["succeeded", "failed", "cancelled"])
def test_cancelling_an_ended_job_is_409(api_client: TestClient, job_store: JobStore,
                                        end: str) -> None:
    job_id = api_client.post(URL, json={"data": "x.csv"}, headers=ADMIN).json()["job_id"]
    {"succeeded": lambda: job_store.succeed(job_id, {}),
     "failed": lambda: job_store.fail(job_id, "boom"),
     "cancelled": lambda: job_store.cancel(job_id)}[end]()

    response = api_client.delete(f"/v1/jobs/{job_id}", headers=ADMIN)

    assert response.status_code == 409
    assert response.json()["detail"] == f"the job already ended: {end}"
    assert job_store.get(job_id).state == end


def test_cancelling_an_unknown_job_is_404(api_client: TestClient) -> None:
    response = api_client.delete("/v1/jobs/0123456789abcdef0123456789abcdef", headers=ADMIN)

    assert response.status_code == 404


def test_a_training_job_is_readable_with_the_admin_key_only(
    api_client: TestClient, job_store: JobStore
) -> None:
    job_id = api_client.post(URL, json={"data": "x.csv"}, headers=ADMIN).json()["job_id"]
    job_store.fail(job_id, "catalog.csv, row 2, column 'name': empty product name")

    assert api_client.get(f"/v1/jobs/{job_id}").status_code == 401
    wrong = api_client.get(f"/v1/jobs/{job_id}", headers={"X-API-Key": "guess"})
    assert wrong.status_code == 403
    assert "empty product name" not in wrong.text
    assert api_client.get(f"/v1/jobs/{job_id}", headers=ADMIN).json()["state"] == "failed"


def test_a_batch_job_stays_readable_by_id_without_a_key(api_client: TestClient) -> None:
    job_id = api_client.post("/v1/batch-jobs",
                             json={"items": [{"name": "foco"}]}).json()["job_id"]

    response = api_client.get(f"/v1/jobs/{job_id}")

    assert response.status_code == 200
    assert response.json()["kind"] == "batch"


def test_an_over_long_job_id_is_422_naming_the_limit(api_client: TestClient) -> None:
    response = api_client.get("/v1/jobs/" + "a" * 65)

    assert response.status_code == 422
    assert "64" in response.text


def _path_catalog(*categories: str) -> bytes:
    return ("category,name\n" + "".join(
        f"{category},Producto {n} de {i}\n"
        for i, category in enumerate(categories) for n in range(1, 6))).encode()


@pytest.mark.parametrize("content", [
    _path_catalog("Herramientas/Eléctricas/Taladros", "Herramientas/Eléctricas/Sierras",
                  "Herramientas / Manuales", "Plomería"),
    # Under "/" these are two flat names, " > " being no separator: the default separator
    # would refuse them (one would be the other's parent).
    _path_catalog("Ofertas > Verano", "Ofertas > Verano > Piscinas"),
], ids=["slash-paths", "default-separator-is-text"])
def test_an_uploaded_catalog_is_checked_with_the_configured_separator(
    app_settings: Settings, api_client: TestClient, job_store: JobStore, fake_queue: FakeQueue,
    content: bytes,
) -> None:
    app_settings.category_separator = "/"

    response = api_client.post(URL, files={"file": ("paths.csv", content, "text/csv")},
                               headers=ADMIN)

    job_id = _check_queued(response, job_store, fake_queue)
    assert job_store.get_upload(job_id) == content


@pytest.mark.parametrize(("content", "problem"), [
    (_path_catalog("Herramientas/Eléctricas", "Herramientas/Eléctricas/Taladros"),
     "category 'Herramientas/Eléctricas' is used both as a category and as the parent of "
     "'Herramientas/Eléctricas/Taladros'; file the names under 'Herramientas/Eléctricas' in a "
     "child of their own (for example 'Herramientas/Eléctricas/Otros')"),
    (_path_catalog("Herramientas/Taladros", "Herramientas//Sierras"),
     "category 'Herramientas//Sierras' has an empty level (levels are separated by '/') "
     "(data row 6: 'Producto 1 de 1')"),
    (_path_catalog("Herramientas/Taladros", "/Sierras"),
     "category '/Sierras' has an empty level"),
], ids=["leaf-is-a-parent", "empty-level", "empty-top-level"])
def test_a_bad_category_path_under_the_configured_separator_is_400(
    app_settings: Settings, api_client: TestClient, job_store: JobStore, fake_queue: FakeQueue,
    content: bytes, problem: str,
) -> None:
    app_settings.category_separator = "/"

    response = api_client.post(URL, files={"file": ("paths.csv", content, "text/csv")},
                               headers=ADMIN)

    assert response.status_code == 400, response.text
    assert problem in response.json()["detail"]
    assert "paths.csv" in response.json()["detail"]
    assert stored_jobs(job_store) == []
    assert fake_queue.sent == []
