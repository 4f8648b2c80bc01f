"""Case photos over HTTP: upload (multipart field `file`, or the raw bytes as the body) and
fetch by content hash. A case or a step then names its photos by their `sha256`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import FileResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from backend.api.deps import AppState
from backend.api.route import GuardedRoute
from backend.api.uploads import buffered_form, is_multipart, read_capped
from backend.auth.permissions import Actor, Permission, requires
from backend.errors import InvalidInput
from backend.incidents import photos
from backend.incidents.photo_files import PhotoFiles

router = APIRouter(route_class=GuardedRoute, tags=["incidents"])
MULTIPART_SLACK = 64 * 1024  # room for the multipart envelope around the file
IMMUTABLE = "private, max-age=86400, immutable"


def _too_large(limit: int) -> HTTPException:
    return HTTPException(413, f"The photo is larger than {limit / 1024 / 1024:.0f} MB: send a "
                              "smaller one (the camera's normal size is fine)")


async def _photo_bytes(request: Request, max_bytes: int) -> bytes:
    body = await read_capped(request, max_bytes + MULTIPART_SLACK,
                             lambda: _too_large(max_bytes))
    if not is_multipart(request):
        data = body  # the raw bytes; whatever type was declared, the content decides
    else:
        try:
            async with buffered_form(request, body) as form:
                upload = form.get("file")
                if not isinstance(upload, UploadFile):
                    upload = next((v for v in form.values() if isinstance(v, UploadFile)), None)
                if upload is None:
                    raise InvalidInput("No file in the upload: send the photo in the multipart "
                                       "field 'file'")
                data = await upload.read()
        except StarletteHTTPException as exc:  # a bad envelope, too many files
            raise InvalidInput(f"The multipart upload could not be read: {exc.detail}") from exc
    if len(data) > max_bytes:
        raise _too_large(max_bytes)
    return data


@router.post("/api/photos", status_code=201, dependencies=[requires(Permission.INCIDENTS_ACT)])
async def upload_photo(request: Request, state: AppState, actor: Actor,
                       response: Response) -> dict[str, Any]:
    """Upload one photo (JPEG, PNG or WebP, checked by content; at most `photo_max_bytes`).
    Its EXIF GPS position is read, then all metadata is stripped; 201 with its `sha256` (200
    when the same photo was stored before). 415 for anything else, 413 when too large (bytes,
    or pixels: `photo_max_pixels`, read from the header before decoding), 503 when
    `photo_max_decodes` photos are being decoded for longer than `photo_decode_wait_s`."""
    data = await _photo_bytes(request, state.settings.photo_max_bytes)
    decoder: photos.PhotoDecoder = request.app.state.photo_decoder

    def work() -> tuple[dict[str, Any], bool]:
        clean = decoder.clean(data)
        with state.engine.begin() as conn:
            return photos.store_photo(conn, PhotoFiles(state.settings.photos_dir), clean, actor)

    try:
        await run_in_threadpool(decoder.check, data)  # from the header: no slot, no decoding
        async with decoder.slot():
            out, created = await run_in_threadpool(work)
    except photos.UnsupportedPhoto as exc:
        raise HTTPException(415, exc.message) from exc
    except photos.PhotoTooLarge as exc:
        raise HTTPException(413, exc.message) from exc
    except photos.PhotosBusy as exc:
        raise HTTPException(503, exc.message, headers={"Retry-After": "5"}) from exc
    if not created:
        response.status_code = 200
    response.headers["Cache-Control"] = "no-store"
    return out


@router.get("/api/photos/{sha256}", dependencies=[requires(Permission.INCIDENTS_READ)])
def get_photo(sha256: str, state: AppState, request: Request) -> Response:
    """A stored photo's bytes (they never change: the name is their hash)."""
    headers = {"Cache-Control": IMMUTABLE, "ETag": f'"{sha256}"',
               "X-Content-Type-Options": "nosniff", "Vary": "Authorization, Cookie"}
    with state.engine.connect() as conn:
        path, content_type = photos.photo_path(conn, PhotoFiles(state.settings.photos_dir),
                                               sha256)
    if request.headers.get("if-none-match", "").strip() == headers["ETag"]:
        return Response(status_code=304, headers=headers)
    return FileResponse(path, media_type=content_type, headers=headers)
