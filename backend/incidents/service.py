"""Writing cases: reporting, moving through the flow and the automatic supervision of overdue
cases (reading them back is backend.incidents.queries). Every write stores who, when, where,
the note and the photos as an event, recomputes the clocks, and appends to the audit log in one
transaction. The caller publishes the returned change on `incidents.changes` after the
commit."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import sqlalchemy as sa

from backend.audit.chain import append as audit
from backend.auth.permissions import Principal
from backend.errors import Conflict, Forbidden, InvalidInput, Unprocessable
from backend.incidents.calendar import WorkCalendar
from backend.incidents.flow import (
    FINAL_STATES,
    SYSTEM,
    Action,
    CaseStatus,
    FlowError,
    State,
    allowed_actions,
    step,
)
from backend.incidents.queries import case_row, clocks_of, list_incidents

CASE_NO_PREFIX = "SX"  # 泗县
LOCAL = ZoneInfo("Asia/Shanghai")
MAX_PHOTOS = 9


@dataclass(frozen=True)
class NewIncident:
    category_code: str
    description: str
    lon: float
    lat: float
    source: str = "grid_worker"
    urgency: str = "normal"
    address: str | None = None
    photos: Sequence[str] = ()
    idempotency_key: str | None = None
    reporter_name: str | None = None
    reporter_phone: str | None = None
    reporter_email: str | None = None


@dataclass(frozen=True)
class StepParams:
    note: str | None = None
    department_code: str | None = None   # dispatch
    assignee: str | None = None          # dispatch: a user name (worker or handler)
    verifier: str | None = None          # send_to_verify: a grid worker's user name
    extension_hours: float | None = None  # grant_extension
    photos: Sequence[str] = ()
    lon: float | None = None             # where the actor was
    lat: float | None = None


def reported_case(conn: sa.Connection, incident_id: int) -> Mapping[str, Any]:
    """What `report_change` needs of a case."""
    return conn.execute(sa.text(
        "SELECT id, case_no, state, category_code, lon, lat, reported_at FROM incidents "
        "WHERE id = :id"), {"id": incident_id}).mappings().one()


def report_change(case: Mapping[str, Any], actor: str) -> dict[str, Any]:
    """The `incidents.changes` data of a case just filed, however it came (the report form,
    Open311, a camera alarm)."""
    at = case["reported_at"]
    return {"id": case["id"], "case_no": case["case_no"], "action": "report",
            "state": case["state"], "category_code": case["category_code"], "lon": case["lon"],
            "lat": case["lat"], "actor": actor,
            "at": at.isoformat() if isinstance(at, datetime) else at}


@dataclass
class Change:
    """What happened, for the hub (`incidents.changes`) and the caller."""

    incident_id: int
    action: str
    data: dict[str, Any] = field(default_factory=dict)


# Writing ------------------------------------------------------------------------------------

def _check_photos(conn: sa.Connection, photos: Sequence[str]) -> list[str]:
    photos = list(dict.fromkeys(photos))
    if len(photos) > MAX_PHOTOS:
        raise InvalidInput(f"At most {MAX_PHOTOS} photos per step, got {len(photos)}")
    if photos:
        known = set(conn.execute(sa.text("SELECT sha256 FROM photos WHERE sha256 = ANY(:h)"),
                                 {"h": photos}).scalars())
        missing = [p for p in photos if p not in known]
        if missing:
            raise InvalidInput(f"Photo(s) {', '.join(missing)} are not uploaded: "
                               "POST each to /api/photos first")
    return photos


def _event(conn: sa.Connection, incident_id: int, at: datetime, action: str,
           from_state: str | None, to_state: str, principal: Principal, note: str | None,
           lon: float | None, lat: float | None, data: dict[str, Any],
           photos: Sequence[str]) -> int:
    event_id = conn.execute(sa.text("""
INSERT INTO incident_events (incident_id, at, action, from_state, to_state, actor, actor_role,
  note, lon, lat, data)
VALUES (:i, :at, :action, :f, :t, :actor, :role, :note, :lon, :lat, CAST(:data AS jsonb))
RETURNING id"""), {"i": incident_id, "at": at, "action": action, "f": from_state, "t": to_state,
                   "actor": principal.username, "role": ",".join(sorted(principal.roles)),
                   "note": note, "lon": lon, "lat": lat,
                   "data": orjson.dumps(data).decode()}).scalar_one()
    if photos:
        conn.execute(sa.text(
            "INSERT INTO incident_photos (incident_id, sha256, event_id) VALUES (:i, :h, :e) "
            "ON CONFLICT DO NOTHING"),
            [{"i": incident_id, "h": h, "e": event_id} for h in photos])
    return event_id


def create_incident(conn: sa.Connection, new: NewIncident, principal: Principal,
                    now: datetime) -> tuple[int, bool]:
    """(case id, created). A repeated idempotency key returns the first case, unchanged."""
    if new.idempotency_key:
        existing = conn.execute(sa.text(
            "SELECT id FROM incidents WHERE idempotency_key = :k"),
            {"k": new.idempotency_key}).scalar()
        if existing is not None:
            return existing, False
    category = conn.execute(sa.text(
        "SELECT code, department_code FROM case_categories WHERE code = :c AND active"),
        {"c": new.category_code}).first()
    if category is None:
        codes = list(conn.execute(sa.text(
            "SELECT code FROM case_categories WHERE active ORDER BY code")).scalars())
        raise Unprocessable(f"Unknown case category {new.category_code!r}; valid codes: "
                            f"{', '.join(codes)} (GET /api/case-categories names them)",
                            valid_codes=codes)
    grid = conn.execute(sa.text(
        "SELECT grid_code FROM grid_cells WHERE ST_Intersects(geom, "
        "ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)) ORDER BY grid_code LIMIT 1"),
        {"lon": new.lon, "lat": new.lat}).scalar()
    if grid is None:
        raise Unprocessable(f"The location {new.lon:.6f}, {new.lat:.6f} is outside the county's "
                            "grid: check the position (WGS-84 longitude, latitude)")
    photos = _check_photos(conn, new.photos)
    incident_id = conn.execute(sa.text(
        "SELECT nextval(pg_get_serial_sequence('incidents', 'id'))")).scalar_one()
    case_no = f"{CASE_NO_PREFIX}{now.astimezone(LOCAL).strftime('%Y%m%d')}-{incident_id:06d}"
    reporter_id = principal.user_id
    try:
        with conn.begin_nested():
            conn.execute(sa.text("""
INSERT INTO incidents (id, case_no, category_code, urgency, description, address, lon, lat,
  grid_code, department_code, state, source, reporter_id, reporter_name, reporter_phone,
  reporter_email, idempotency_key, reported_at, updated_at)
VALUES (:id, :case_no, :cat, :urgency, :description, :address, :lon, :lat, :grid, :dept,
  'reported', :source, :reporter_id, :rname, :rphone, :remail, :key, :now, :now)"""), {
                "id": incident_id, "case_no": case_no, "cat": category.code,
                "urgency": new.urgency, "description": new.description,
                "address": new.address, "lon": new.lon, "lat": new.lat, "grid": grid,
                "dept": category.department_code, "source": new.source,
                "reporter_id": reporter_id, "rname": new.reporter_name,
                "rphone": new.reporter_phone, "remail": new.reporter_email,
                "key": new.idempotency_key, "now": now})
    except sa.exc.IntegrityError as exc:
        if new.idempotency_key and "idempotency" in str(exc.orig):
            # The same draft arrived twice at once: the other request created it.
            return conn.execute(sa.text("SELECT id FROM incidents WHERE idempotency_key = :k"),
                                {"k": new.idempotency_key}).scalar_one(), False
        raise
    _event(conn, incident_id, now, "report", None, State.REPORTED, principal, new.description,
           new.lon, new.lat, {"source": new.source}, photos)
    audit(conn, principal.username, "incident.report", "incident", incident_id,
          {"case_no": case_no, "category": category.code, "grid": grid, "photos": photos})
    return incident_id, True


def _user_id(conn: sa.Connection, username: str, what: str) -> tuple[int, list[str], str | None]:
    row = conn.execute(sa.text(
        "SELECT id, roles, department FROM users WHERE username = :u AND active"),
        {"u": username}).first()
    if row is None:
        raise InvalidInput(f"No active user {username!r} to be the {what}")
    return row.id, list(row.roles), row.department


def _check_actor_scope(conn: sa.Connection, row: sa.Row, action: Action,
                       principal: Principal) -> None:
    """Role rules are the flow table's; this is "is it yours": a handler acts on cases of their
    department, a grid worker on cases assigned to them (or verifies cases sent to them)."""
    roles = principal.roles
    if roles & {"admin", SYSTEM, "commander", "supervisor", "dispatcher"}:
        return
    if action in (Action.CONFIRM, Action.REWORK):
        if principal.user_id in (row.verifier_id,) or (
                row.verifier_id is None and principal.user_id == row.reporter_id):
            return
        raise Forbidden(f"Case {row.case_no} was sent to someone else to verify")
    if "department_handler" in roles:
        dept = conn.execute(sa.text("SELECT department FROM users WHERE id = :id"),
                            {"id": principal.user_id}).scalar()
        if dept and dept == row.department_code:
            return
    if principal.user_id is not None and principal.user_id == row.assignee_id:
        return
    raise Forbidden(f"Case {row.case_no} is assigned to another unit or worker")


def transition(conn: sa.Connection, incident_id: int, action: Action, principal: Principal,
               params: StepParams, calendar: WorkCalendar, now: datetime) -> Change:
    row = case_row(conn, incident_id, lock=True)
    before = CaseStatus(State(row.state), row.extension_pending, row.supervised)
    try:
        after = step(before, action, principal.roles, note=params.note)
    except FlowError as exc:
        allowed = [a.value for a in allowed_actions(before, principal.roles)]
        if exc.reason == "role":
            raise Forbidden(exc.message, actions=allowed) from exc
        raise Conflict(exc.message, reason=exc.reason, actions=allowed) from exc
    _check_actor_scope(conn, row, action, principal)
    photos = _check_photos(conn, params.photos)
    sets: dict[str, Any] = {"state": after.state.value, "pending": after.extension_pending,
                            "supervised": after.supervised}
    data: dict[str, Any] = {}
    extra_sql = []
    if action is Action.FILE:
        extra_sql.append("filed_at = :now")
    elif action is Action.DISPATCH:
        dept = params.department_code or row.department_code
        if not conn.execute(sa.text("SELECT 1 FROM departments WHERE code = :c"), {"c": dept}
                            ).first():
            raise InvalidInput(f"Unknown department {dept!r}: GET /api/departments lists them")
        assignee_id = None
        if params.assignee:
            assignee_id, roles, user_dept = _user_id(conn, params.assignee, "assignee")
            if not {"grid_worker", "department_handler"} & set(roles):
                raise InvalidInput(f"{params.assignee} is not a grid worker or a handler")
            if "department_handler" in roles and user_dept != dept:
                raise InvalidInput(f"{params.assignee} works for {user_dept}, not {dept}")
        sets.update(dept=dept, assignee=assignee_id)
        extra_sql += ["department_code = :dept", "assignee_id = :assignee",
                      "dispatched_at = COALESCE(dispatched_at, :now)"]
        data.update(department_code=dept, assignee=params.assignee)
    elif action is Action.RETURN:
        extra_sql.append("return_count = return_count + 1")
    elif action is Action.GRANT_EXTENSION:
        hours = params.extension_hours
        if hours is None or not 0 < hours <= 240:
            raise InvalidInput("Granting an extension needs extension_hours between 0 and 240 "
                               "(working hours)")
        data["extension_hours"] = hours
        extra_sql.append("extension_count = extension_count + 1")
    elif action is Action.HANDLE:
        extra_sql.append("handled_at = :now")
    elif action is Action.SEND_TO_VERIFY:
        verifier_id = row.reporter_id
        if params.verifier:
            verifier_id, roles, _ = _user_id(conn, params.verifier, "verifier")
            if "grid_worker" not in roles and "supervisor" not in roles:
                raise InvalidInput(f"{params.verifier} is not a grid worker or supervisor")
            data["verifier"] = params.verifier
        sets["verifier"] = verifier_id
        extra_sql.append("verifier_id = :verifier")
    elif action is Action.REWORK:
        extra_sql.append("rework_count = rework_count + 1")
    elif action is Action.CONFIRM:
        extra_sql.append("closed_at = :now")
    if principal.roles == {SYSTEM}:
        data["automatic"] = True
    _event(conn, incident_id, now, action.value, before.state.value, after.state.value,
           principal, params.note, params.lon, params.lat, data, photos)
    assignments = ", ".join(["state = :state", "extension_pending = :pending",
                             "supervised = :supervised", "updated_at = :now", *extra_sql])
    conn.execute(sa.text(f"UPDATE incidents SET {assignments} WHERE id = :id"),  # noqa: S608
                 {**sets, "now": now, "id": incident_id})
    summary = _refresh_clocks(conn, row, calendar, now, after.state)
    audit(conn, principal.username, f"incident.{action.value}", "incident", incident_id,
          {"case_no": row.case_no, "from": before.state.value, "to": after.state.value,
           "note": params.note, **data})
    return Change(incident_id, action.value, {
        "id": incident_id, "case_no": row.case_no, "action": action.value,
        "state": after.state.value, "supervised": after.supervised,
        "extension_pending": after.extension_pending, "category_code": row.category_code,
        "department_code": sets.get("dept", row.department_code), "lon": row.lon,
        "lat": row.lat, "actor": principal.username, "at": now.isoformat(), **summary})


def _refresh_clocks(conn: sa.Connection, row: sa.Row, calendar: WorkCalendar,
                    now: datetime, state: State) -> dict[str, Any]:
    """Store what the queue sorts and filters on: the running stage's due time, the case's
    due time, overdue now, and on time once closed. `row` gives the case's category and
    urgency (which no step changes); `state` is the case's state after the step."""
    clocks = clocks_of(conn, row, calendar, now)
    running = [c for c in clocks.stages.values() if c.running]
    stage_due = running[0].due_at if running else None
    overdue = bool(clocks.overdue_now()) and state not in FINAL_STATES
    conn.execute(sa.text(
        "UPDATE incidents SET stage_due_at = :sd, due_at = :d, overdue = :o, on_time = :t "
        "WHERE id = :id"), {"sd": stage_due, "d": clocks.case.due_at, "o": overdue,
                            "t": clocks.on_time, "id": row.id})
    return {"overdue": overdue, "stage_due_at": stage_due.isoformat() if stage_due else None,
            "on_time": clocks.on_time}


SYSTEM_PRINCIPAL = Principal("system", "系统", frozenset({SYSTEM}), frozenset())


def overdue_candidates(conn: sa.Connection, now: datetime) -> list[int]:
    """Open, unsupervised cases whose stored due times say a clock may have run out."""
    return list(conn.execute(sa.text(
        "SELECT id FROM incidents WHERE NOT supervised AND state = ANY(:open) "
        "AND (stage_due_at <= :now OR due_at <= :now OR overdue) ORDER BY id"),
        {"open": [s.value for s in (State.DISPATCHED, State.ACCEPTED, State.IN_PROGRESS,
                                    State.HANDLED, State.VERIFYING)], "now": now}).scalars())


def supervise_case(conn: sa.Connection, incident_id: int, calendar: WorkCalendar,
                   now: datetime) -> Change | None:
    """督办 one case if its clocks (replayed, not just the stored due times) have run out: the
    server's own act, recorded like any other. A case another transaction holds is skipped
    (the next sweep sees it), so a sweep never waits on, or deadlocks with, a user's step."""
    locked = conn.execute(sa.text(
        "SELECT supervised FROM incidents WHERE id = :id FOR UPDATE SKIP LOCKED"),
        {"id": incident_id}).first()
    if locked is None or locked.supervised:
        return None
    row = case_row(conn, incident_id)
    late = clocks_of(conn, row, calendar, now).overdue_now()
    if not late:
        _refresh_clocks(conn, row, calendar, now, State(row.state))
        return None
    return transition(conn, incident_id, Action.SUPERVISE, SYSTEM_PRINCIPAL,
                      StepParams(note=f"超时自动督办 · overdue: {', '.join(late)}"),
                      calendar, now)


@dataclass(frozen=True, slots=True)
class OpenCase:
    id: int
    category_code: str
    lon: float
    lat: float
    reported_at: datetime


def open_cases_of(conn: sa.Connection, category_codes: Sequence[str],
                  limit: int = 1000) -> list[OpenCase]:
    """Cases of these categories that are not closed or voided, newest first (the traffic
    slice raises accident alerts from them)."""
    if not category_codes:
        return []
    return [OpenCase(*r) for r in conn.execute(sa.text(
        "SELECT id, category_code, lon, lat, reported_at FROM incidents "
        "WHERE category_code = ANY(:codes) AND NOT (state = ANY(:final)) "
        "ORDER BY reported_at DESC, id DESC LIMIT :limit"),
        {"codes": list(category_codes), "final": [s.value for s in FINAL_STATES],
         "limit": limit})]


def open_cases(conn: sa.Connection, principal: Principal, *,
               bbox: Sequence[float] | None = None, limit: int = 500) -> dict[str, Any]:
    """The caller's open cases (not closed or voided) as the queue lists them: in its order,
    within its scope, reporters' contacts masked (a snapshot of the wall's view reads them)."""
    states = [s.value for s in State if s not in FINAL_STATES]
    return list_incidents(conn, principal, states=states, bbox=bbox, limit=limit)
