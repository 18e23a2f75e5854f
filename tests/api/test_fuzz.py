"""The HTTP API fuzzed from its own OpenAPI schema, and hostile input it must refuse cleanly.

The app is the real one over the fakes of tests/fixtures/app.py (a SQLite job store, a queue
that records, a registry serving a small trained model).
"""

from __future__ import annotations

import csv
import io
import logging
import string
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.core.errors import InvalidSchema
from schemathesis.core.result import Err, Ok
from schemathesis.python.asgi import shutdown_lifespans
from schemathesis.schemas import APIOperation
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.deps import AppState
from api.main import create_app
from core.batch_store import BatchStore, InputRow
from core.config import Settings
from core.jobs import JobStore
from tests.fixtures.app import (
    ADMIN,
    MAX_REQUEST_BYTES,
    MAX_UPLOAD_BYTES,
    FakeQueue,
    TaskHarness,
    stored_jobs,
)

# -- fuzzing from the schema ---------------------------------------------------------------------

FUZZ_EXAMPLES = 100  # per operation, positive and negative: ~15 operations in ~15 s

# The schema as the app publishes it; building the app runs nothing (no lifespan, no stores).
# Schemathesis' lazy `from_fixture` loader needs pytest < 9 (it sets `Node._nodeid`), so the
# schema is loaded here and each test calls the app its fixtures built.
schema = schemathesis.openapi.from_dict(
    create_app(Settings(_env_file=None, admin_api_key="unused")).openapi())


@pytest.fixture
def fuzz_app(app_state: AppState) -> Iterator[FastAPI]:
    yield create_app(app_state.settings, state=app_state)
    shutdown_lifespans()  # the ASGI client started the app's lifespan; end it with the test


@schema.parametrize()
@settings(max_examples=FUZZ_EXAMPLES, deadline=None, database=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_no_generated_request_gets_a_server_error_or_an_answer_the_schema_does_not_describe(
    case: schemathesis.Case, fuzz_app: FastAPI,
) -> None:
    """Guarantee: for requests generated from the OpenAPI schema (valid and invalid, with the
    admin key so admin routes are reached past the key check), the API never answers 5xx, and
    every answer has a status code, content type and body that the schema documents."""
    case.call_and_validate(app=fuzz_app, headers=ADMIN, checks=[
        not_a_server_error, status_code_conformance, content_type_conformance,
        response_schema_conformance,
    ])


# Numbers and strings far past what the schema generator tries by itself: 64-bit and larger
# integers, negative ones, and strings of kilobytes, put in every path and query parameter and
# every JSON field of a generated request. Each must be refused (4xx) or served, never a 5xx.
LARGE_INTEGERS = st.one_of(
    st.sampled_from([2**31, 2**63 - 1, 2**63, -(2**63) - 1, 10**30, -1]),
    st.integers(min_value=2**31, max_value=2**256), st.integers(max_value=-(2**31)))
LONG_STRINGS = st.one_of(st.text(min_size=1_000, max_size=5_000),
                         st.sampled_from(["x" * 20_000, "../" * 2_000, "9" * 5_000]))
# In a path, a long segment (a "/" would route the request elsewhere).
LONG_SEGMENTS = st.one_of(
    st.text(alphabet=string.ascii_letters + string.digits + "-_.~", min_size=65, max_size=5_000),
    st.sampled_from(["f" * 20_000, "9" * 5_000]))
BOUNDS_EXAMPLES = 30  # per operation
# Operations with a parameter or a JSON body to enlarge.


def _operation(result: Ok[APIOperation] | Err[InvalidSchema]) -> APIOperation:
    if isinstance(result, Err):
        raise result.err()
    return result.ok()


OPERATIONS = [op for op in map(_operation, schema.get_all_operations())
              if op.path_parameters or op.query or op.body]


@pytest.fixture
def finished_batch(job_store: JobStore, batch_store: BatchStore) -> str:
    """A succeeded batch job, so that paging its results reaches the store."""
    job, _ = batch_store.create_batch([[InputRow(id="1", name="taladro")]])
    job_store.start(job.id, stage="categorizing", model_version=1)
    batch_store.put_result(job.id, 0, [("Herramientas", 0.9, None)])
    job_store.succeed(job.id, {"rows": 1})
    return job.id


def _enlarge(value: object, data: st.DataObject,
             strings: st.SearchStrategy[str] = LONG_STRINGS) -> object:
    """`value` with integers and strings in it replaced by large or long ones (each one or not,
    so that a bad value is not hidden behind another one the API refuses first)."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | str) and data.draw(st.booleans()):
        return value
    if isinstance(value, int):
        return data.draw(LARGE_INTEGERS)
    if isinstance(value, str):
        return data.draw(strings)
    if isinstance(value, list):
        return [_enlarge(item, data, strings) for item in value]
    if isinstance(value, dict):
        return {key: _enlarge(item, data, strings) for key, item in value.items()}
    return value


@pytest.mark.parametrize("operation", OPERATIONS, ids=[op.label for op in OPERATIONS])
@given(data=st.data())
@settings(max_examples=BOUNDS_EXAMPLES, deadline=None, database=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_large_integers_and_long_strings_anywhere_are_refused_or_served_never_a_5xx(
    operation: Any, data: st.DataObject, fuzz_app: FastAPI, finished_batch: str,
) -> None:
    """Guarantee: a generated request with huge integers and long strings in its path, query
    and JSON body never gets a 5xx (a 64-bit offset was a 500, a 23-digit version a 503)."""
    case = data.draw(operation.as_strategy())
    if case.path_parameters:
        case.path_parameters = _enlarge(
            case.path_parameters, data, LONG_SEGMENTS)
        if "job_id" in case.path_parameters and data.draw(st.booleans()):
            case.path_parameters["job_id"] = finished_batch  # past the lookup, to the store
    query = dict(case.query or {})
    for parameter in case.operation.query:  # optional ones too, which the case may omit
        kind = parameter.definition.get("schema", {}).get("type")
        query.setdefault(parameter.name, 0 if kind == "integer" else "x")
    if query:
        case.query = _enlarge(query, data)
    if isinstance(case.body, dict | list):
        case.body = _enlarge(case.body, data)
    case.call_and_validate(app=fuzz_app, headers=ADMIN, checks=[
        not_a_server_error, status_code_conformance])


# -- hostile input, named ------------------------------------------------------------------------

INFERENCE = "/v1/categorizer/inference"
BATCH = "/v1/batch-jobs"
TRAINING = "/v1/training-jobs"


def _run_batch(tasks: TaskHarness, job_id: str) -> None:
    """Do what the inference workers would: start the job, then process every chunk it sent."""
    tasks.task("batch.start").run(job_id)
    for name, args, _ in list(tasks.sent):
        tasks.task(name).run(*args)


def _streamed(body: bytes) -> Iterator[bytes]:
    """A body sent in pieces with no Content-Length, as a client streaming it would."""
    for start in range(0, len(body), 4096):
        yield body[start:start + 4096]


def _nested(depth: int) -> bytes:
    return b'{"product_list": ' + b"[" * depth + b"]" * depth + b"}"


@pytest.mark.parametrize(("path", "body"), [
    (INFERENCE, b'{"product_list": ["' + b"x" * MAX_REQUEST_BYTES + b'"]}'),
    (BATCH, b'{"items": [' + b'{"name": "foco led"},' * 1500 + b'{"name": "x"}]}'),
    (TRAINING, b'{"data": "' + b"x" * MAX_REQUEST_BYTES + b'"}'),
], ids=["inference", "batch", "training"])
@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "streamed"])
def test_a_json_body_over_the_limit_is_413_and_stores_nothing(
    api_client: TestClient, job_store: JobStore, fake_queue: FakeQueue, path: str, body: bytes,
    declared: bool,
) -> None:
    """Guarantee: a JSON body larger than MAX_REQUEST_BYTES is refused with 413, whether its
    size is declared or it is streamed without a Content-Length, and nothing is stored."""
    assert len(body) > MAX_REQUEST_BYTES
    response = api_client.post(path, content=body if declared else _streamed(body),
                               headers={**ADMIN, "Content-Type": "application/json"})

    assert response.status_code == 413, response.text
    assert stored_jobs(job_store) == []
    assert fake_queue.sent == []


@pytest.mark.parametrize("path", [BATCH, TRAINING])
def test_an_upload_over_the_limit_is_413_and_stores_nothing(
    api_client: TestClient, job_store: JobStore, fake_queue: FakeQueue, path: str
) -> None:
    """Guarantee: a multipart upload larger than MAX_UPLOAD_BYTES is refused with 413."""
    content = b"category,name\n" + b"Herramientas,taladro percutor\n" * 2000
    assert len(content) > MAX_UPLOAD_BYTES

    response = api_client.post(path, files={"file": ("big.csv", content, "text/csv")},
                               headers=ADMIN)

    assert response.status_code == 413, response.text
    assert stored_jobs(job_store) == []
    assert fake_queue.sent == []


def test_a_huge_single_name_is_refused_for_inference_and_an_error_row_in_a_batch(
    api_client: TestClient, tasks: TaskHarness
) -> None:
    """Guarantee: one name longer than MAX_NAME_LENGTH is a 422 naming its index in synchronous
    inference, and in a batch a row of its own with an error (stored shortened), while the
    rows around it are categorized."""
    huge = "taladro " * 1500  # 12,000 characters, under the body limit
    refused = api_client.post(INFERENCE, json={"product_list": ["foco", huge]})
    assert refused.status_code == 422
    assert "product_list[1]" in refused.json()["detail"]

    job_id = api_client.post(BATCH, json={"items": [{"name": "foco"}, {"name": huge},
                                                    {"name": "tubo pvc"}]}).json()["job_id"]
    _run_batch(tasks, job_id)
    items = api_client.get(f"{BATCH}/{job_id}/results").json()["items"]
    assert [item["error"] is None for item in items] == [True, False, True]
    assert items[1]["error"] == f"name is {len(huge)} characters long; the limit is 500"
    assert len(items[1]["name"]) <= 501


@pytest.mark.parametrize("path", [INFERENCE, BATCH, TRAINING])
@pytest.mark.parametrize("depth", [100, 5_000])
def test_deeply_nested_json_is_a_client_error_not_a_crash(
    api_client: TestClient, job_store: JobStore, path: str, depth: int
) -> None:
    """Guarantee: JSON nested thousands deep (under the size limit) is answered 4xx, never 500
    (no recursion error escapes), and nothing is stored."""
    response = api_client.post(path, content=_nested(depth),
                               headers={**ADMIN, "Content-Type": "application/json"})

    assert 400 <= response.status_code < 500, response.text
    assert stored_jobs(job_store) == []


@pytest.mark.parametrize("content_type", [
    "text/plain", "text/csv", "application/xml", "application/x-www-form-urlencoded",
    "application/octet-stream", None,
])
@pytest.mark.parametrize("path", [BATCH, TRAINING])
def test_a_wrong_content_type_is_415(
    api_client: TestClient, job_store: JobStore, path: str, content_type: str | None
) -> None:
    """Guarantee: a submission that is neither JSON nor multipart is 415, and stores nothing."""
    headers = {**ADMIN, **({"Content-Type": content_type} if content_type else {})}
    response = api_client.post(path, content=b"name\ntaladro\n", headers=headers)

    assert response.status_code == 415, response.text
    assert stored_jobs(job_store) == []


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", None])
def test_inference_in_a_wrong_content_type_is_refused_not_guessed(
    api_client: TestClient, content_type: str | None
) -> None:
    """Guarantee: synchronous inference with a body that is not declared JSON is a 4xx."""
    headers = {"Content-Type": content_type} if content_type else {}
    response = api_client.post(INFERENCE, content=b'{"product_list": ["taladro"]}',
                               headers=headers)

    assert 400 <= response.status_code < 500, response.text


def test_a_csv_whose_header_uses_an_unknown_delimiter_is_400_naming_the_header(
    api_client: TestClient, job_store: JobStore
) -> None:
    """Guarantee: a CSV whose header splits on no known delimiter (, ; tab |) has no name
    column: 400 naming what the header held; nothing stored."""
    response = api_client.post(BATCH, files={"file": ("x.csv", b"id:name\n1:taladro\n",
                                                      "text/csv")})

    assert response.status_code == 400
    assert "id:name" in response.json()["detail"]
    assert stored_jobs(job_store) == []


def test_rows_in_another_delimiter_than_the_header_come_back_as_row_errors(
    api_client: TestClient, tasks: TaskHarness
) -> None:
    """Guarantee: rows that use another delimiter than the header (so have no name cell) keep
    their place with an error; the well-formed rows are categorized."""
    content = b"id,name\n1,taladro\n2;tubo pvc\n3,foco led\n"
    job_id = api_client.post(BATCH, files={"file": ("x.csv", content, "text/csv")}).json()[
        "job_id"]
    _run_batch(tasks, job_id)

    items = api_client.get(f"{BATCH}/{job_id}/results").json()["items"]
    assert [item["id"] for item in items] == ["1", "2;tubo pvc", "3"]
    assert [item["error"] for item in items] == [None, "empty name", None]


def test_mixed_encodings_mark_the_undecodable_rows_and_keep_the_rest(
    api_client: TestClient, tasks: TaskHarness
) -> None:
    """Guarantee: a CSV mostly UTF-8 with some rows in cp1252 categorizes the UTF-8 rows and
    gives each undecodable row its own error, shown with replacement characters."""
    content = ("id,name\n1,Tubo PVC 1/2\" hidráulico\n".encode()
               + "2,Llave de paso cromada ½\"\n".encode("cp1252")
               + "3,Foco LED 9W luz cálida\n".encode())
    job_id = api_client.post(BATCH, files={"file": ("x.csv", content, "text/csv")}).json()[
        "job_id"]
    _run_batch(tasks, job_id)

    items = api_client.get(f"{BATCH}/{job_id}/results").json()["items"]
    assert [item["error"] for item in items] == [None, "name is not valid UTF-8 text", None]
    assert "\ufffd" in items[1]["name"]
    assert items[0]["category"]
    assert items[2]["category"]


def test_a_utf16_upload_is_read_not_garbage_rows(api_client: TestClient,
                                                 job_store: JobStore) -> None:
    """Guarantee: a UTF-16 CSV (zero bytes throughout, as Excel's "Unicode text" writes it) is
    read as written, not as rows of garbage."""
    content = "id,name\n1,taladro\n2,baño\n".encode("utf-16")
    response = api_client.post(BATCH, files={"file": ("x.csv", content, "text/csv")})

    assert response.status_code == 202
    [job] = stored_jobs(job_store)
    assert [(r.id, r.name, r.error) for r in BatchStore(job_store).get_chunk(job.id, 0)] == [
        ("1", "taladro", None), ("2", "baño", None)]


FORMULAS = ["=CMD()", "=cmd|' /C calc'!A0", "+SUM(A1:A9)", "-2+3", "@SUM(A1)",
            "\t=CMD()", "\r=CMD()"]


@pytest.mark.parametrize("intake", ["json", "csv"])
def test_formula_cells_come_back_neutralised_in_the_csv_download(
    api_client: TestClient, tasks: TaskHarness, intake: str
) -> None:
    """Guarantee: a cell a spreadsheet would run as a formula (= + - @ tab CR first), in the id
    or the name, whether the batch came as JSON or as a CSV upload, is downloaded with a
    leading apostrophe, so it is shown as text; other cells are untouched."""
    rows = [(f"=ID{i}()" if i % 2 else str(i), formula) for i, formula in enumerate(FORMULAS)]
    rows.append(("plain-id", "Tubo PVC 1/2\""))
    if intake == "json":
        response = api_client.post(BATCH, json={"items": [{"id": i, "name": n} for i, n in rows]})
    else:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(["id", "name"])
        writer.writerows(rows)
        response = api_client.post(BATCH, files={"file": ("x.csv", buffer.getvalue().encode(),
                                                          "text/csv")})
    job_id = response.json()["job_id"]
    _run_batch(tasks, job_id)

    download = api_client.get(f"{BATCH}/{job_id}/results.csv")
    lines = list(csv.reader(io.StringIO(download.text, newline="")))
    assert [(line[1], line[2]) for line in lines[1:]] == [
        (("'" + i) if i.startswith("=") else i, "'" + n) for i, n in rows[:-1]
    ] + [("plain-id", "Tubo PVC 1/2\"")]
    assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r"))
                   for line in lines[1:] for cell in line)


def test_admin_keys_are_compared_in_constant_time_and_never_logged(
    api_client: TestClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Guarantee: the admin key check goes through `secrets.compare_digest` (constant time), for
    a wrong key as for the right one, and no log record at any level carries either key."""
    import api.deps

    compared: list[tuple[bytes, bytes]] = []
    real = api.deps.secrets.compare_digest

    def recording(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(api.deps.secrets, "compare_digest", recording)
    wrong = "wrong-key-0123456789"
    caplog.set_level(logging.DEBUG)

    assert api_client.post("/v1/models/rollback", headers={"X-API-Key": wrong}).status_code \
        == 403
    assert api_client.post("/v1/models/1/promote", headers=ADMIN).status_code == 200

    assert [a for a, _ in compared] == [wrong.encode(), ADMIN["X-API-Key"].encode()]
    assert wrong not in caplog.text
    assert ADMIN["X-API-Key"] not in caplog.text
