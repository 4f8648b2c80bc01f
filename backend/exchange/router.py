"""Arrivals over HTTP: a steward's file upload, a department system's push, the rollback of the
current pointer and the table exchange's link. Thin: parse, call the service in a thread,
publish the change notice after the commit (backend.exchange.notify.after_version)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, Request, Response
from pydantic import BaseModel, ConfigDict
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from backend.api.deps import AppState, get_hub
from backend.api.route import GuardedRoute
from backend.api.uploads import buffered_form, is_multipart, read_capped
from backend.auth.permissions import Actor, Caller, Permission, requires
from backend.errors import InvalidInput, Unprocessable
from backend.exchange import service, tables
from backend.exchange.counters import refused
from backend.exchange.notify import after_version
from backend.realtime.hub import Hub

router = APIRouter(route_class=GuardedRoute, tags=["datasets"])
HubDep = Annotated[Hub, Depends(get_hub)]
MULTIPART_SLACK = 64 * 1024
CHUNK = 1 << 16


def _too_large(what: str, limit: int, setting: str, path: str) -> HTTPException:
    refused(path, "too_large")
    size = f"{limit / (1024 * 1024):.0f} MiB" if limit >= 1 << 20 else f"{limit} bytes"
    return HTTPException(413, f"The {what} is larger than {size} "
                              f"(CITYOPS_{setting.upper()}): split it into smaller versions "
                              "(incremental) or ask the operator to raise the limit")


async def _read_capped(request: Request, limit: int, what: str, setting: str,
                       path: str) -> bytes:
    return await read_capped(request, limit, lambda: _too_large(what, limit, setting, path))


async def _save_upload(request: Request, limit: int, folder: Path) -> tuple[Path, str]:
    body = await _read_capped(request, limit + MULTIPART_SLACK, "file",
                              "dataset_upload_max_bytes", "upload")
    if not is_multipart(request):
        refused("upload", "not_multipart")
        raise InvalidInput("Send the file as multipart/form-data in the field 'file'")
    try:
        async with buffered_form(request, body) as form:
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                refused("upload", "no_file")
                raise InvalidInput("No file in the upload: send it in the multipart field "
                                   "'file'")
            filename = Path(upload.filename or "upload.csv").name
            target = folder / f"upload{Path(filename).suffix.lower()}"
            size = 0
            with target.open("wb") as out:
                while chunk := await upload.read(CHUNK):
                    size += len(chunk)
                    if size > limit:
                        raise _too_large("file", limit, "dataset_upload_max_bytes", "upload")
                    out.write(chunk)
    except StarletteHTTPException as exc:
        if exc.status_code == 413:
            raise
        refused("upload", "multipart")
        raise InvalidInput(f"The multipart upload could not be read: {exc.detail}") from exc
    return target, filename


def _refused_version(state: AppState, outcome: Any) -> Unprocessable:
    read = service.outcome_read(state.engine, outcome)
    rules = ", ".join(str(f.get("rule")) for f in outcome.report.get("blocking", []))
    return Unprocessable(f"Version {outcome.version_id} was refused by blocking quality rules "
                         f"({rules}): it is kept as rejected and never becomes current",
                         report={**read["report"], "version_id": outcome.version_id,
                                 "status": outcome.status})


@router.post("/api/datasets/{dataset_id}/upload", status_code=201,
             dependencies=[requires(Permission.DATASETS_STEWARD)])
async def upload(dataset_id: str, request: Request, state: AppState, actor: Actor,
                 caller: Caller, hub: HubDep) -> dict[str, Any]:
    """A new version from a file (multipart `file`: CSV UTF-8/GBK, XLSX, GeoJSON, GeoPackage,
    zipped Shapefile) of the caller's own department's dataset: 201 with the version and its
    report; 422 {detail, report} when refused (columns, encoding, too many bad rows: nothing
    stored; blocking rules: the version is kept as rejected); 413 over the size limit."""
    await run_in_threadpool(service.dataset_for, state.engine, dataset_id, caller)
    limits = service.Limits(state.settings.dataset_report_rows)
    with tempfile.TemporaryDirectory(prefix="cityops-upload-") as folder:
        path, filename = await _save_upload(
            request, state.settings.dataset_upload_max_bytes, Path(folder))
        outcome = await run_in_threadpool(
            lambda: service.upload_file(state.engine, dataset_id=dataset_id, path=path,
                                        filename=filename, actor=actor, principal=caller,
                                        limits=limits))
    if outcome.status != "accepted":
        raise _refused_version(state, outcome)
    spec = await run_in_threadpool(service.dataset_for, state.engine, dataset_id, caller)
    await after_version(hub, outcome, name=spec.name, changed=state.data_changed)
    return await run_in_threadpool(service.outcome_read, state.engine, outcome,
                                   {"notes": outcome.report.get("notes", [])})


@router.post("/api/datasets/{dataset_id}/versions", status_code=201,
             dependencies=[requires(Permission.DATASETS_PUSH)])
async def push(dataset_id: str, request: Request, response: Response, state: AppState,
               caller: Caller, hub: HubDep, mode: str = "full",
               idempotency_key: Annotated[str | None, Header(max_length=200)] = None
               ) -> dict[str, Any]:
    """A department system's version: JSON `{mode, rows: [{field: value, geometry?}],
    deletes: [key]}` or `text/csv` (mode from `?mode=`); `Idempotency-Key`: the same key and
    body -> the same version (200), another body -> 409; 403 for another department's
    dataset; 422 with the row reasons."""
    body = await _read_capped(request, state.settings.dataset_push_max_bytes, "push body",
                              "dataset_push_max_bytes", "push")
    kind = request.headers.get("content-type", "application/json").lower()
    limits = service.Limits(state.settings.dataset_report_rows)
    assert caller is not None  # requires(DATASETS_PUSH) resolved the credential
    outcome = await run_in_threadpool(
        lambda: service.push_rows(state.engine, dataset_id=dataset_id, principal=caller,
                                  body=body, content_type=kind, mode=mode,
                                  idempotency_key=idempotency_key, limits=limits))
    if outcome.replayed:
        response.status_code = 200
    elif outcome.status != "accepted":
        raise _refused_version(state, outcome)
    else:
        spec = await run_in_threadpool(service.dataset_for, state.engine, dataset_id, caller)
        await after_version(hub, outcome, name=spec.name, changed=state.data_changed)
    return await run_in_threadpool(service.version_read, state.engine, outcome.version_id)


class CurrentBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version_id: int


@router.post("/api/datasets/{dataset_id}/current",
             dependencies=[requires(Permission.DATASETS_STEWARD)])
async def move_current(dataset_id: str, body: CurrentBody, state: AppState, actor: Actor,
                       caller: Caller, hub: HubDep) -> dict[str, Any]:
    """Make an accepted version current again (a rollback, or forward): the version."""
    assert caller is not None
    outcome = await run_in_threadpool(
        lambda: service.move_current(state.engine, dataset_id=dataset_id,
                                     version_id=body.version_id, principal=caller, actor=actor))
    spec = await run_in_threadpool(service.dataset_for, state.engine, dataset_id, caller)
    await after_version(hub, outcome, name=spec.name, changed=state.data_changed)
    return await run_in_threadpool(service.version_read, state.engine, outcome.version_id)


# The table exchange: steward of the dataset's department, or the bureau. catalog:read is the
# route's floor; tables.link_for checks the department.
@router.get("/api/datasets/{dataset_id}/exchange",
            dependencies=[requires(Permission.CATALOG_READ)])
def get_exchange(dataset_id: str, state: AppState, caller: Caller) -> dict[str, Any]:
    """The dataset's table exchange link (without its DSN's password) and its last run."""
    return tables.link_read(state.engine, dataset_id, caller)


@router.post("/api/datasets/{dataset_id}/exchange/run",
             dependencies=[requires(Permission.CATALOG_READ)])
async def run_exchange(dataset_id: str, state: AppState, caller: Caller,
                       hub: HubDep) -> dict[str, Any]:
    """Pull the link now (incremental); the link with its last status and error."""
    await run_in_threadpool(tables.link_read, state.engine, dataset_id, caller)
    outcome = await run_in_threadpool(tables.run_link, state.engine, dataset_id,
                                      actor=caller.username if caller else "exchange")
    if outcome is not None:
        name = await run_in_threadpool(tables.dataset_name, state.engine, dataset_id)
        await after_version(hub, outcome, name=name, changed=state.data_changed)
    return await run_in_threadpool(tables.link_read, state.engine, dataset_id, caller)
