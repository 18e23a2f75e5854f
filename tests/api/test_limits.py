"""Body size limits: 413 whether or not Content-Length was declared, before anything is stored."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.types import Message, Receive, Scope, Send

from api.uploads import BodySizeLimit
from core.jobs import JobStore
from tests.fixtures.app import (
    ADMIN,
    MAX_REQUEST_BYTES,
    MAX_UPLOAD_BYTES,
    FakeQueue,
    stored_jobs,
)

BIG_NAME = "Tubo PVC hidráulico " * 20  # ~400 bytes
JSON_ENDPOINTS = [
    ("/v1/categorizer/inference", {"product_list": [BIG_NAME] * 50}),
    ("/v1/batch-jobs", {"items": [{"name": BIG_NAME}] * 50}),
    ("/v1/training-jobs", {"data": "/data/" + "x" * 1990, "query": "x" * MAX_REQUEST_BYTES}),
]
JSON_IDS = ["inference", "batch", "training"]
UPLOAD_ENDPOINTS = ["/v1/batch-jobs", "/v1/training-jobs"]


def _in_pieces(body: bytes, size: int = 1024) -> Iterator[bytes]:
    """A streamed body: httpx sends it chunked, without Content-Length."""
    for start in range(0, len(body), size):
        yield body[start:start + size]


def _oversized_csv() -> bytes:
    line = "Plomería,Tubo PVC 1/2 hidráulico cédula 40\n".encode()
    return b"category,name\n" + line * (MAX_UPLOAD_BYTES // len(line) + 10)


@pytest.mark.parametrize(("path", "body"), JSON_ENDPOINTS, ids=JSON_IDS)
def test_a_declared_json_body_over_the_limit_is_413(
    api_client: TestClient, job_store: JobStore, fake_queue: FakeQueue,
    path: str, body: dict[str, Any],
) -> None:
    content = json.dumps(body).encode()
    assert len(content) > MAX_REQUEST_BYTES

    response = api_client.post(path, content=content, headers={
        **ADMIN, "Content-Type": "application/json"})

    assert response.status_code == 413
    assert response.json()["detail"] == (
        f"request body larger than the {MAX_REQUEST_BYTES}-byte limit")
    assert stored_jobs(job_store) == []
    assert fake_queue.sent == []


@pytest.mark.parametrize(("path", "body"), JSON_ENDPOINTS, ids=JSON_IDS)
def test_a_streamed_json_body_over_the_limit_is_413(
    api_client: TestClient, job_store: JobStore, fake_queue: FakeQueue,
    path: str, body: dict[str, Any],
) -> None:
    response = api_client.post(path, content=_in_pieces(json.dumps(body).encode()),
                               headers={**ADMIN, "Content-Type": "application/json"})

    assert "content-length" not in response.request.headers
    assert response.status_code == 413
    assert stored_jobs(job_store) == []
    assert fake_queue.sent == []


@pytest.mark.parametrize("path", UPLOAD_ENDPOINTS)
def test_an_upload_over_the_limit_is_413(api_client: TestClient, job_store: JobStore,
                                         fake_queue: FakeQueue, path: str) -> None:
    response = api_client.post(path, files={"file": ("big.csv", _oversized_csv(), "text/csv")},
                               headers=ADMIN)

    assert response.status_code == 413
    assert f"{MAX_UPLOAD_BYTES}-byte limit" in response.json()["detail"]
    assert stored_jobs(job_store) == []
    assert fake_queue.sent == []


@pytest.mark.parametrize("path", UPLOAD_ENDPOINTS)
def test_a_streamed_upload_over_the_limit_is_413(api_client: TestClient, job_store: JobStore,
                                                 path: str) -> None:
    boundary = "limit-test-boundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"big.csv\"\r\nContent-Type: text/csv\r\n\r\n").encode()
    body += _oversized_csv() + f"\r\n--{boundary}--\r\n".encode()

    response = api_client.post(path, content=_in_pieces(body), headers={
        **ADMIN, "Content-Type": f"multipart/form-data; boundary={boundary}"})

    assert "content-length" not in response.request.headers
    assert response.status_code == 413
    assert stored_jobs(job_store) == []


def test_an_upload_may_be_larger_than_a_json_body(api_client: TestClient) -> None:
    rows = "".join(f"SKU-{i},Tubo PVC 1/2 hidráulico cédula 40 marca Rotoplas número {i}\n"
                   for i in range(280))
    content = f"id,name\n{rows}".encode()
    assert MAX_REQUEST_BYTES < len(content) < MAX_UPLOAD_BYTES

    response = api_client.post("/v1/batch-jobs",
                               files={"file": ("ok.csv", content, "text/csv")})

    assert response.status_code == 202


# -- the middleware on its own: a body that arrives in many messages ------------------------------

async def _echo_length(scope: Scope, receive: Receive, send: Send) -> None:
    """An app that reads its whole body, then answers with its length."""
    size = 0
    more = True
    while more:
        message = await receive()
        size += len(message.get("body", b""))
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": str(size).encode()})


async def _call(middleware: BodySizeLimit, pieces: list[bytes],
                headers: list[tuple[bytes, bytes]]) -> tuple[int, bytes]:
    messages: list[Message] = [
        {"type": "http.request", "body": piece, "more_body": i < len(pieces) - 1}
        for i, piece in enumerate(pieces)]
    sent: list[Message] = []

    async def receive() -> Message:
        return messages.pop(0)

    async def send(message: Message) -> None:
        sent.append(message)

    await middleware({"type": "http", "headers": headers}, receive, send)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, body


@pytest.mark.parametrize(("pieces", "status"), [
    ([b"x" * 400] * 2, 200),  # 800 bytes: under both limits
    ([b"x" * 400] * 3, 413),  # 1,200 bytes in three messages, none over the limit alone
])
def test_undeclared_bodies_are_counted_across_messages(pieces: list[bytes], status: int) -> None:
    import anyio

    middleware = BodySizeLimit(_echo_length, max_json=1000, max_upload=5000)

    got, body = anyio.run(_call, middleware, pieces, [(b"content-type", b"application/json")])

    assert got == status
    if status == 413:
        assert b"1000-byte limit" in body


def test_multipart_bodies_get_the_upload_limit() -> None:
    import anyio

    middleware = BodySizeLimit(_echo_length, max_json=1000, max_upload=5000)
    headers = [(b"content-type", b"multipart/form-data; boundary=x")]

    assert anyio.run(_call, middleware, [b"x" * 1000] * 4, headers) == (200, b"4000")
    assert anyio.run(_call, middleware, [b"x" * 1000] * 6, headers)[0] == 413
