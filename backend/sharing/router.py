"""Requests, approvals, subscriptions, the changes feed and data access over HTTP (thin: parse,
call the service, answer). Permissions are declared on each route; the object-level checks
(own department, the requester, a grant) are the services'."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import StreamingResponse

from backend.api.deps import AppState
from backend.api.route import GuardedRoute
from backend.api.types import Id, Offset
from backend.auth.permissions import Caller, Permission, Principal, requires
from backend.errors import NotConfigured, NotFound, Unprocessable
from backend.incidents.calendar import WorkCalendar
from backend.sharing import access, feeds, grants, service
from backend.sharing.schemas import (
    AnswerIn,
    ChangesRead,
    ReasonIn,
    RequestIn,
    RequestRead,
    ReviewIn,
    RowsRead,
    SubscriptionRead,
)

router = APIRouter(route_class=GuardedRoute, tags=["sharing"])
DatasetId = Annotated[str, Path(pattern=r"^[a-z][a-z0-9_]*$", max_length=100,
                                description="the dataset's id")]
Seq = Annotated[int, Query(ge=0, le=2_147_483_647, description="the last seq already seen")]


def _who(principal: Principal | None) -> Principal:
    assert principal is not None  # requires() admitted a person
    return principal


def _counted(request: Request, what: str) -> None:
    """A refused request body (no purpose, no reason, unknown fields) on the edge counters
    (/metrics), as validation errors are."""
    counters = getattr(request.app.state, "edge", None)
    if counters is not None:
        counters.count("invalid_input", what)


def _calendar(state: AppState) -> WorkCalendar:
    if state.calendar is None:
        raise NotConfigured("the work calendar is not loaded (settings.work_calendars)")
    return state.calendar


@router.post("/api/datasets/{dataset_id}/requests", status_code=201, response_model=RequestRead,
             dependencies=[requires(Permission.DATA_REQUEST)])
def make_request(dataset_id: DatasetId, body: RequestIn, state: AppState,
                 principal: Caller, request: Request) -> dict:
    """Request another department's dataset: the purpose is required (422 without), fields
    must be the dataset's (or `geometry`). 无条件/有条件共享 go to the data bureau (2 working
    days); 不予共享 is refused at once, citing the share condition."""
    try:
        with state.engine.begin() as conn:
            return service.create_request(
                conn, dataset_id=dataset_id, principal=_who(principal), purpose=body.purpose,
                fields=body.fields, period_days=body.period_days, calendar=_calendar(state))
    except Unprocessable:
        _counted(request, "data_request")
        raise


@router.get("/api/requests", response_model=list[RequestRead],
            dependencies=[requires(Permission.DATA_REQUEST)])
def list_requests(state: AppState, principal: Caller,
                  box: Literal["mine", "review", "answer"] = "mine") -> list[dict]:
    """mine: your requests; review: the bureau's queue (datasets:govern); answer: requests
    waiting for your department's answer (datasets:steward)."""
    with state.engine.connect() as conn:
        return service.list_requests(conn, principal=_who(principal), box=box)


@router.get("/api/requests/{request_id}", response_model=RequestRead,
            dependencies=[requires(Permission.DATA_REQUEST)])
def get_request(request_id: Id, state: AppState, principal: Caller) -> dict:
    with state.engine.connect() as conn:
        return service.get_request(conn, request_id=request_id, principal=_who(principal))


def _act(state: AppState, principal: Principal | None, request_id: int, action: str,
         reason: str | None, request: Request) -> dict:
    try:
        with state.engine.begin() as conn:
            return service.act(conn, request_id=request_id, action=action, reason=reason,
                               principal=_who(principal), calendar=_calendar(state))
    except Unprocessable:
        _counted(request, f"data_request.{action}")
        raise


@router.post("/api/requests/{request_id}/review", response_model=RequestRead,
             dependencies=[requires(Permission.DATASETS_GOVERN)])
def review(request: Request, request_id: Id, body: ReviewIn, state: AppState,
           principal: Caller) -> dict:
    """The data bureau's check: pass (无条件共享: granted; 有条件共享: to the provider, 5
    working days) or refuse (a reason is required)."""
    action = "review_pass" if body.decision == "pass" else "review_refuse"
    return _act(state, principal, request_id, action, body.reason, request)


@router.post("/api/requests/{request_id}/answer", response_model=RequestRead,
             dependencies=[requires(Permission.DATASETS_STEWARD)])
def answer(request: Request, request_id: Id, body: AnswerIn, state: AppState,
           principal: Caller) -> dict:
    """The providing department's steward approves (granted) or refuses (reason required)."""
    action = "approve" if body.decision == "approve" else "answer_refuse"
    return _act(state, principal, request_id, action, body.reason, request)


@router.post("/api/requests/{request_id}/escalate", response_model=RequestRead,
             dependencies=[requires(Permission.DATASETS_GOVERN)])
def escalate(request: Request, request_id: Id, body: ReasonIn, state: AppState,
             principal: Caller) -> dict:
    """The bureau sends a request refused by the 不予共享 rule to the provider (reason
    required)."""
    return _act(state, principal, request_id, "escalate", body.reason, request)


@router.post("/api/requests/{request_id}/withdraw", response_model=RequestRead,
             dependencies=[requires(Permission.DATA_REQUEST)])
def withdraw(request: Request, request_id: Id, state: AppState, principal: Caller,
             body: ReasonIn | None = None) -> dict:
    """The requester withdraws a request that is still open."""
    return _act(state, principal, request_id, "withdraw",
                body.reason if body else None, request)


@router.put("/api/datasets/{dataset_id}/subscription", response_model=SubscriptionRead,
            dependencies=[requires(Permission.DATA_REQUEST)])
def subscribe(dataset_id: DatasetId, state: AppState, principal: Caller) -> dict:
    """Be told of the dataset's new versions (data.updates channel, the changes feed)."""
    with state.engine.begin() as conn:
        return feeds.subscribe(conn, dataset_id=dataset_id, username=_who(principal).username)


@router.delete("/api/datasets/{dataset_id}/subscription", status_code=204,
               dependencies=[requires(Permission.DATA_REQUEST)])
def unsubscribe(dataset_id: DatasetId, state: AppState, principal: Caller) -> Response:
    with state.engine.begin() as conn:
        feeds.unsubscribe(conn, dataset_id=dataset_id, username=_who(principal).username)
    return Response(status_code=204)


@router.get("/api/subscriptions", response_model=list[SubscriptionRead],
            dependencies=[requires(Permission.DATA_REQUEST)])
def my_subscriptions(state: AppState, principal: Caller) -> list[dict]:
    with state.engine.connect() as conn:
        return feeds.subscriptions(conn, username=_who(principal).username)


@router.get("/api/datasets/{dataset_id}/changes", response_model=ChangesRead,
            dependencies=[requires(Permission.CATALOG_READ)])
def changes(dataset_id: DatasetId, state: AppState, since: Seq = 0) -> dict:
    """Accepted versions after `since`, oldest first, at most 500; ask again with last_seq."""
    with state.engine.connect() as conn:
        return feeds.changes(conn, dataset_id=dataset_id, since=since)


@router.get("/api/datasets/{dataset_id}/access", dependencies=[requires(Permission.CATALOG_READ)])
def data_access(dataset_id: DatasetId, state: AppState, principal: Caller) -> dict:
    """Whether you may read the dataset's rows (own department, the data bureau, or an active
    grant) and which fields (null: all): what the dataset page asks before it shows rows."""
    with state.engine.connect() as conn:
        allowed, why, fields = grants.may_read(conn, _who(principal), dataset_id)
    if why == "no such dataset":
        raise NotFound(f"no dataset {dataset_id!r}")
    return {"dataset_id": dataset_id, "may_read": allowed, "why": why, "fields": fields}


@router.get("/api/datasets/{dataset_id}/rows", response_model=RowsRead,
            dependencies=[requires(Permission.CATALOG_READ)])
def rows(dataset_id: DatasetId, state: AppState, principal: Caller, offset: Offset = 0,
         limit: Annotated[int, Query(ge=1, le=access.MAX_PAGE)] = 100) -> dict:
    """A page of the current version: own department, the data bureau, or an active grant
    (the granted fields only); personal fields masked for your roles."""
    who = _who(principal)
    with state.engine.begin() as conn:
        plan = access.plan(conn, dataset_id=dataset_id, principal=who)
        return access.page(conn, plan, actor=who.username, limit=limit, offset=offset)


@router.get("/api/datasets/{dataset_id}/download",
            dependencies=[requires(Permission.CATALOG_READ)],
            responses={200: {"content": {"text/csv": {}, "application/geo+json": {}},
                             "description": "the current version as a file"}})
def download(dataset_id: DatasetId, state: AppState, principal: Caller,
             format: Literal["csv", "geojson"] = "csv") -> StreamingResponse:  # noqa: A002
    """The whole current version, streamed, with the same access and masking as /rows."""
    who = _who(principal)
    with state.engine.begin() as conn:
        plan = access.plan(conn, dataset_id=dataset_id, principal=who)
        access.record_download(conn, plan, actor=who.username, fmt=format)
    if format == "csv":
        body, media = access.stream_csv(state.engine, plan), "text/csv; charset=utf-8"
    else:
        body, media = access.stream_geojson(state.engine, plan), "application/geo+json"
    name = f"{dataset_id}-v{plan.seq or 0}.{format}"
    return StreamingResponse(body, media_type=media, headers={
        "Content-Disposition": f'attachment; filename="{name}"'})
