"""Request-size limits and multipart uploads."""

from __future__ import annotations

from typing import IO, Any, TypeVar

from fastapi import HTTPException, Request, status
from pydantic import BaseModel, ValidationError
from starlette.datastructures import UploadFile
from starlette.types import ASGIApp, Message, Receive, Scope, Send

M = TypeVar("M", bound=BaseModel)


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(status.HTTP_413_CONTENT_TOO_LARGE,
                         f"request body larger than the {limit}-byte limit")


class BodySizeLimit:
    """Refuse bodies over a limit with 413, whether or not Content-Length was declared."""

    def __init__(self, app: ASGIApp, *, max_json: int, max_upload: int) -> None:
        self.app = app
        self.max_json = max_json
        self.max_upload = max_upload

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        is_upload = headers.get(b"content-type", b"").startswith(b"multipart/")
        limit = self.max_upload if is_upload else self.max_json
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _too_large(send, limit)
            return
        seen = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await _too_large(send, limit)


async def _too_large(send: Send, limit: int) -> None:
    body = f'{{"detail":"request body larger than the {limit}-byte limit"}}'.encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def is_json(content_type: str | None) -> bool:
    """`application/json` or `application/<something>+json`, parameters aside."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/")
                                           and media.endswith("+json"))


async def json_body(request: Request, model: type[M]) -> M:
    """The request's JSON body as `model`: 415 unless declared JSON, 422 saying why if invalid."""
    if not is_json(request.headers.get("content-type")):
        raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
                            "send the body as application/json")
    return parse_json(await request.body(), model)


def parse_json(body: bytes, model: type[M]) -> M:
    """A JSON body as `model`, 422 saying why if invalid (run big ones on the thread pool)."""
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            exc.errors(include_url=False, include_input=False)) from None


async def drain_body(request: Request) -> None:
    """Read the rest of the body and drop it (BodySizeLimit still refuses it past the limit).

    Answering before the body is read leaves it in the client's socket: the server closes the
    connection with data unread, and some clients (Python's urllib) get a reset, not the answer.
    """
    async for _ in request.stream():
        pass


async def upload_file(request: Request) -> tuple[str, IO[bytes], Any]:
    """The multipart 'file' field: (filename, its spooled binary stream, the form to close)."""
    try:
        form = await request.form(max_files=1, max_fields=20)
    except BodyTooLarge:
        raise
    except Exception as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST,
                            f"unreadable multipart body: {exc}") from None
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        await form.close()
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            "multipart body needs a 'file' field holding the CSV")
    return upload.filename or "upload.csv", upload.file, form


async def read_upload(request: Request, limit: int) -> tuple[str, bytes]:
    """The multipart 'file' field's name and bytes."""
    filename, stream, form = await upload_file(request)
    try:
        content = stream.read(limit + 1)
    finally:
        await form.close()
    if len(content) > limit:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE,
                            f"upload larger than the {limit}-byte limit")
    return filename, content
