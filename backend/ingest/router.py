"""GPS over HTTP: `POST /api/ingest/positions` with `{"positions": [...]}`, a feed of the
position pipeline beside MQTT and JT/T 808.

Each record is checked on its own: bad ones are listed with their index and reason and the
rest are stored (a batch with nothing storable answers 400)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from backend.api.deps import AppState
from backend.api.route import GuardedRoute
from backend.auth.permissions import Permission, requires
from backend.errors import InvalidInput, NotConfigured
from backend.ingest.records import MAX_BATCH, IngestResponse, RejectedRecord, parse_records

router = APIRouter(route_class=GuardedRoute, tags=["vehicles"])


@router.post(
    "/api/ingest/positions",
    dependencies=[requires(Permission.POSITIONS_WRITE)],
    response_model=IngestResponse,
)
async def ingest_positions(state: AppState, body: dict[str, Any] = Body(...)) -> JSONResponse:
    records = body.get("positions")
    if not isinstance(records, list) or not records:
        raise InvalidInput('Send {"positions": [...]} with at least one position record')
    if len(records) > MAX_BATCH:
        raise InvalidInput(f"At most {MAX_BATCH} positions per request, got {len(records)}")
    if state.positions is None:
        raise NotConfigured("The position pipeline is not running")
    positions, indexes, rejected = parse_records(records, source="http")
    state.positions.count_rejects("http", [r.code for r in rejected])
    report = await run_in_threadpool(state.positions.ingest, positions)
    rejected += [RejectedRecord(index=indexes[i], reason=r) for i, r in report.rejected]
    rejected.sort(key=lambda r: r.index)
    answer = IngestResponse(received=len(records), accepted=report.accepted,
                            duplicates=report.duplicates, rejected=rejected,
                            alarms=len(report.alarms))
    status = 400 if rejected and not (report.accepted or report.duplicates) else 200
    return JSONResponse(answer.model_dump(), status_code=status)
