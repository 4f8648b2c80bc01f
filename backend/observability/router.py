"""`/metrics` (Prometheus text; admins or the scraper's token) and `/api/health/ready`."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from pydantic import BaseModel

from backend.api.route import GuardedRoute
from backend.auth.permissions import Permission, requires
from backend.observability import ready

router = APIRouter(route_class=GuardedRoute, tags=["operations"])


class Refusal(BaseModel):
    detail: str  # what to do, e.g. "Log in first: this needs the metrics:read right"


class CheckState(BaseModel):
    state: Literal["ok", "failed", "not used"]
    reason: str | None = None  # why it failed or is not used, for a person
    ms: float | None = None    # how long an answered check took


class ReadyReport(BaseModel):
    """What /api/health/ready answers (200 ready, 503 not ready)."""

    status: Literal["ready", "not ready"]
    checks: dict[Literal["database", "backplane", "gateway", "sip", "mqtt"], CheckState]
    detail: str | None = None  # "Not ready: database (unreachable ...); ..." when 503


@router.get("/metrics", dependencies=[requires(Permission.METRICS_READ)],
            response_class=Response,
            responses={200: {"content": {CONTENT_TYPE_PLAIN_0_0_4: {}},
                             "description": "Prometheus text exposition format 0.0.4"},
                       401: {"model": Refusal,
                             "description": "No credential, or not a valid one: log in as an "
                                            "admin or send the metrics token as a bearer"},
                       403: {"model": Refusal,
                             "description": "The caller's role has no metrics:read right"}})
def get_metrics(request: Request) -> Response:
    """Request counts and latencies by route, ingest accepted/rejected by source and reason,
    the JT/T 808 gateway, the hub, the tile cache and the database pools. A plain `def`: the
    text is built on a worker thread, not on the loop the hub and the gateway share."""
    body = request.app.state.metrics.render()
    return Response(body, media_type=CONTENT_TYPE_PLAIN_0_0_4,
                    headers={"Cache-Control": "no-store"})


@router.get("/api/health/ready", dependencies=[requires(Permission.PUBLIC)],
            responses={200: {"model": ReadyReport},
                       503: {"model": ReadyReport,
                             "description": "Not ready: `detail` names the failed checks"}})
async def get_ready(request: Request) -> JSONResponse:
    """200 when the database, the hub's backplane, the JT/T 808 gateway (when enabled) and
    the MQTT subscriber (when configured) answer; 503 naming each that does not."""
    ok, checks = await request.app.state.readiness.check()
    return JSONResponse(ready.report(ok, checks), status_code=200 if ok else 503,
                        headers={"Cache-Control": "no-store"})
