"""Changes from the field over HTTP (thin: parse, call backend.people.changes, answer). The
body is bounded at the edge (backend.api.limits: settings.people_change_max_bytes, 413 before
parsing) and checked by backend.people.change_schemas (422 naming what to fix)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, BackgroundTasks, Request, Response

from backend.api.deps import AppState
from backend.api.route import GuardedRoute
from backend.api.types import Id
from backend.auth.permissions import Caller, Permission, Principal, requires
from backend.errors import Unprocessable
from backend.people import changes
from backend.people.change_schemas import ChangeIn, ChangeRead, DecisionIn

router = APIRouter(route_class=GuardedRoute, tags=["people"])


def _who(principal: Principal | None) -> Principal:
    assert principal is not None  # requires() admitted a person
    return principal


def _counted(request: Request, what: str) -> None:
    """A change refused by the service (a bad ID, a person elsewhere) on the edge counters
    (/metrics), as body validation errors are."""
    counters = getattr(request.app.state, "edge", None)
    if counters is not None:
        counters.count("invalid_input", what)


@router.post("/api/people/changes", status_code=201, response_model=ChangeRead,
             dependencies=[requires(Permission.PEOPLE_REPORT)])
def report_change(body: ChangeIn, state: AppState, principal: Caller, request: Request,
                  response: Response) -> dict:
    """Report a visit (recorded at once) or a move out / move in / correction / death (pending
    for the person's source department) in one of your cells. 201 when made; 200 with the
    same change when its client_id was sent before (an offline draft sent again)."""
    try:
        with state.engine.begin() as conn:
            made, new = changes.report(conn, principal=_who(principal), body=body)
    except Unprocessable:
        _counted(request, f"people_change.{body.kind}")
        raise
    if not new:
        response.status_code = 200
    return made


@router.get("/api/people/changes/mine", response_model=list[ChangeRead],
            dependencies=[requires(Permission.PEOPLE_REPORT)])
def my_changes(state: AppState, principal: Caller) -> list[dict]:
    """Your last 100 changes, newest first, with their status."""
    with state.engine.connect() as conn:
        return changes.mine(conn, principal=_who(principal))


@router.get("/api/people/changes", response_model=list[ChangeRead],
            dependencies=[requires(Permission.PEOPLE_CONFIRM)])
def department_changes(state: AppState, principal: Caller,
                       status: Literal["pending", "accepted", "rejected", "recorded"] = "pending"
                       ) -> list[dict]:
    """The changes your department confirms (oldest first)."""
    with state.engine.connect() as conn:
        return changes.for_department(conn, principal=_who(principal), status=status)


@router.post("/api/people/changes/{change_id}/decision", response_model=ChangeRead,
             dependencies=[requires(Permission.PEOPLE_CONFIRM)])
def decide_change(change_id: Id, body: DecisionIn, state: AppState, principal: Caller,
                  background: BackgroundTasks) -> dict:
    """Accept (applied at once: a new version of the person) or reject (a note is required)
    a pending change of your department. 409 when the person changed since the report."""
    with state.engine.begin() as conn:
        out = changes.decide(conn, principal=_who(principal), change_id=change_id,
                             decision=body.decision, note=body.note)
    if body.decision == "accept":  # the counts moved: recounted after the answer is sent
        background.add_task(changes.refresh_stats, state.engine, state.settings.population_k)
    return out
