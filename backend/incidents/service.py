"""Cases in the database: reporting, moving through the flow, reading them back, and the
automatic supervision of overdue cases. Every write stores who, when, where, the note and the
photos as an event, recomputes the clocks, and appends to the audit log in one transaction.
The caller publishes the returned change on `incidents.changes` after the commit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import sqlalchemy as sa

from backend.audit.chain import append as audit
from backend.auth.permissions import Permission, Principal
from backend.errors import Conflict, Forbidden, InvalidInput, NotFound, Unprocessable
from backend.incidents.calendar import WorkCalendar
from backend.incidents.clocks import Clocks, FlowEvent, Limits, replay
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


@dataclass
class Change:
    """What happened, for the hub (`incidents.changes`) and the caller."""

    incident_id: int
    action: str
    data: dict[str, Any] = field(default_factory=dict)


# Reading ------------------------------------------------------------------------------------

CASE_COLUMNS = """i.id, i.case_no, i.category_code, c.name AS category_name, c.kind,
  c.major_name, c.sensitive, i.urgency, i.description, i.address, i.lon, i.lat, i.grid_code,
  g.name AS grid_name, g.township_name, g.community, i.department_code, d.name AS department_name,
  au.username AS assignee, vu.username AS verifier, i.state, i.extension_pending, i.supervised,
  i.source, ru.username AS reporter, i.reporter_name, i.reporter_phone, i.reporter_email,
  i.reported_at, i.filed_at, i.dispatched_at, i.handled_at, i.closed_at, i.stage_due_at,
  i.due_at, i.overdue, i.on_time, i.rework_count, i.extension_count, i.return_count,
  i.updated_at, i.assignee_id, i.verifier_id, i.reporter_id"""
CASE_FROM = """incidents i JOIN case_categories c ON c.code = i.category_code
  LEFT JOIN grid_cells g ON g.grid_code = i.grid_code
  LEFT JOIN departments d ON d.code = i.department_code
  LEFT JOIN users au ON au.id = i.assignee_id LEFT JOIN users vu ON vu.id = i.verifier_id
  LEFT JOIN users ru ON ru.id = i.reporter_id"""


def mask_phone(phone: str | None) -> str | None:
    if not phone:
        return phone
    return phone[:3] + "*" * max(0, len(phone) - 7) + phone[-4:] if len(phone) > 7 else "****"


def mask_email(email: str | None) -> str | None:
    if not email or "@" not in email:
        return email
    name, _, domain = email.partition("@")
    return f"{name[:1]}***@{domain}"


def public_row(row: sa.Row, principal: Principal | None) -> dict[str, Any]:
    """A case as JSON; contact details masked unless the caller may see personal data."""
    out = dict(row._mapping)
    for key in ("assignee_id", "verifier_id", "reporter_id"):
        out.pop(key, None)
    if principal is None or not principal.may(Permission.PERSONAL_DATA):
        out["reporter_phone"] = mask_phone(out.get("reporter_phone"))
        out["reporter_email"] = mask_email(out.get("reporter_email"))
    for key, value in out.items():
        if isinstance(value, datetime):
            out[key] = value.isoformat()
    return out


@dataclass(frozen=True)
class Scope:
    """Which cases a caller may see: everyone's, or their department's / their own."""

    department: str | None = None   # a handler: cases dispatched to their department
    user_id: int | None = None      # a grid worker: reported by, assigned to or verifying
    everything: bool = False


def scope_of(conn: sa.Connection, principal: Principal) -> Scope:
    roles = principal.roles
    if roles & {"admin", "commander", "supervisor", "dispatcher", "viewer"}:
        return Scope(everything=True)
    department = None
    if "department_handler" in roles and principal.user_id is not None:
        department = conn.execute(sa.text("SELECT department FROM users WHERE id = :id"),
                                  {"id": principal.user_id}).scalar()
    return Scope(department=department, user_id=principal.user_id)


def scope_sql(scope: Scope) -> tuple[str, dict[str, Any]]:
    if scope.everything:
        return "TRUE", {}
    parts, params = [], {}
    if scope.department:
        parts.append("i.department_code = :scope_dept")
        params["scope_dept"] = scope.department
    if scope.user_id is not None:
        parts.append("(i.reporter_id = :scope_uid OR i.assignee_id = :scope_uid "
                     "OR i.verifier_id = :scope_uid)")
        params["scope_uid"] = scope.user_id
    return ("(" + " OR ".join(parts) + ")") if parts else "FALSE", params


def _row(conn: sa.Connection, incident_id: int, *, lock: bool = False) -> sa.Row:
    query = f"SELECT {CASE_COLUMNS} FROM {CASE_FROM} WHERE i.id = :id"  # noqa: S608
    if lock:
        query += " FOR UPDATE OF i"  # the case row only, not the joined reference rows
    row = conn.execute(sa.text(query), {"id": incident_id}).first()
    if row is None:
        raise NotFound(f"No case {incident_id}")
    return row


def visible(conn: sa.Connection, row: sa.Row, principal: Principal) -> bool:
    scope = scope_of(conn, principal)
    if scope.everything:
        return True
    m = row._mapping
    return bool((scope.department and m["department_code"] == scope.department)
                or (scope.user_id is not None and scope.user_id in (
                    m["reporter_id"], m["assignee_id"], m["verifier_id"])))


def limits_of(conn: sa.Connection, category_code: str, urgency: str) -> Limits:
    raw = conn.execute(sa.text("SELECT limits FROM case_categories WHERE code = :c"),
                       {"c": category_code}).scalar_one()
    return Limits(**raw[urgency])


def history(conn: sa.Connection, incident_id: int) -> list[sa.Row]:
    return list(conn.execute(sa.text("""
SELECT e.id, e.at, e.action, e.from_state, e.to_state, e.actor, e.actor_role, e.note, e.lon,
  e.lat, e.data, coalesce(array_agg(p.sha256) FILTER (WHERE p.sha256 IS NOT NULL), '{}')
  AS photos
FROM incident_events e LEFT JOIN incident_photos p ON p.event_id = e.id
WHERE e.incident_id = :id GROUP BY e.id ORDER BY e.at, e.id"""), {"id": incident_id}))


def clocks_of(conn: sa.Connection, row: sa.Row, calendar: WorkCalendar, now: datetime,
              events: Sequence[sa.Row] | None = None) -> Clocks:
    """The case's clocks from its history (read here unless the caller has it already)."""
    flow = [FlowEvent(e.at, e.action, State(e.to_state),
                      float(e.data.get("extension_hours", 0.0)))
            for e in (history(conn, row.id) if events is None else events)]
    return replay(flow, limits_of(conn, row.category_code, row.urgency), calendar, now)


def clocks_json(clocks: Clocks) -> dict[str, Any]:
    def one(c: Any) -> dict[str, Any]:
        return {"elapsed_h": c.elapsed_h, "limit_h": c.limit_h, "left_h": c.left_h,
                "running": c.running, "started": c.started, "overdue": c.overdue,
                "due_at": c.due_at.isoformat() if c.due_at else None}

    return {"stages": {k: one(v) for k, v in clocks.stages.items()}, "case": one(clocks.case),
            "on_time": clocks.on_time}


def incident_detail(conn: sa.Connection, incident_id: int, principal: Principal,
                    calendar: WorkCalendar, now: datetime) -> dict[str, Any]:
    row = _row(conn, incident_id)
    if not visible(conn, row, principal):
        raise Forbidden(f"Case {incident_id} is not one of yours")
    out = public_row(row, principal)
    events = history(conn, incident_id)
    out["clocks"] = clocks_json(clocks_of(conn, row, calendar, now, events))
    out["timeline"] = [{
        "id": e.id, "at": e.at.isoformat(), "action": e.action, "from_state": e.from_state,
        "to_state": e.to_state, "actor": e.actor, "actor_role": e.actor_role, "note": e.note,
        "lon": e.lon, "lat": e.lat, "data": e.data, "photos": list(e.photos),
    } for e in events]
    out["photos"] = sorted({h for e in events for h in e.photos})
    status = CaseStatus(State(row.state), row.extension_pending, row.supervised)
    out["actions"] = [a.value for a in allowed_actions(status, principal.roles)]
    return out


def list_incidents(conn: sa.Connection, principal: Principal, *, states: Sequence[str] = (),
                   department: str | None = None, grid: str | None = None,
                   category: str | None = None, overdue: bool | None = None,
                   mine: bool = False, bbox: Sequence[float] | None = None,
                   limit: int = 100, offset: int = 0) -> dict[str, Any]:
    """The queue: urgent first, then the least time left on the running stage, then oldest."""
    where, params = [], {"limit": limit, "offset": offset}
    clause, scope_params = scope_sql(scope_of(conn, principal))
    where.append(clause)
    params.update(scope_params)
    if states:
        where.append("i.state = ANY(:states)")
        params["states"] = list(states)
    for name, value in (("department_code", department), ("grid_code", grid),
                        ("category_code", category)):
        if value:
            where.append(f"i.{name} = :{name}")
            params[name] = value
    if overdue is not None:
        where.append("i.overdue = :overdue")
        params["overdue"] = overdue
    if mine:
        where.append("(i.assignee_id = :me OR i.verifier_id = :me OR i.reporter_id = :me)")
        params["me"] = principal.user_id
    if bbox:
        where.append("i.geom && ST_MakeEnvelope(:w, :s, :e, :n, 4326)")
        params.update(dict(zip("wsen", bbox, strict=True)))
    cond = " AND ".join(where)
    total = conn.execute(sa.text(f"SELECT count(*) FROM incidents i WHERE {cond}"),  # noqa: S608
                         params).scalar_one()
    rows = conn.execute(sa.text(
        f"SELECT {CASE_COLUMNS} FROM {CASE_FROM} WHERE {cond} "  # noqa: S608
        "ORDER BY (i.state IN ('closed', 'voided')), (i.urgency = 'urgent') DESC, "
        "i.stage_due_at NULLS LAST, i.reported_at LIMIT :limit OFFSET :offset"), params).all()
    return {"total": total, "incidents": [public_row(r, principal) for r in rows]}


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
    row = _row(conn, incident_id, lock=True)
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
    row = _row(conn, incident_id)
    late = clocks_of(conn, row, calendar, now).overdue_now()
    if not late:
        _refresh_clocks(conn, row, calendar, now, State(row.state))
        return None
    return transition(conn, incident_id, Action.SUPERVISE, SYSTEM_PRINCIPAL,
                      StepParams(note=f"超时自动督办 · overdue: {', '.join(late)}"),
                      calendar, now)
