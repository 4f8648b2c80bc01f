"""Uploads read safely, for every route that takes a file: the body read in chunks and refused
(413) as soon as it passes its limit, declared or not; then, for multipart, the buffered body
parsed as one form (one file, a few fields) without reading the socket again."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import HTTPException, Request
from starlette.datastructures import FormData
from starlette.types import Message


async def read_capped(request: Request, limit: int,
                      too_large: Callable[[], HTTPException]) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large()
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large()
        chunks.append(chunk)
    return b"".join(chunks)


def is_multipart(request: Request) -> bool:
    return request.headers.get("content-type", "").lower().startswith("multipart/form-data")


@asynccontextmanager
async def buffered_form(request: Request, body: bytes) -> AsyncIterator[FormData]:
    """The multipart form of an already read `body` (one file, at most ten fields); a bad
    envelope raises starlette's HTTPException (400), for the caller to word."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async with Request(request.scope, replay).form(max_files=1, max_fields=10) as form:
        yield form
