"""Reading cases back: the case columns and joins, who may see which cases (scope), the
reporter's contact under the masking policy (backend.privacy.policy), the event history, the
clocks replayed from it, one case's detail and the queue. Nothing here writes but the audit
row of a full view of a person; backend.incidents.service does the writing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from backend.auth.permissions import Principal
from backend.errors import Forbidden, NotFound
from backend.incidents.calendar import WorkCalendar
from backend.incidents.clocks import Clocks, FlowEvent, Limits, replay
from backend.incidents.flow import CaseStatus, State, allowed_actions
from backend.privacy.looks import record_look
from backend.privacy.policy import Kind, View, present

# Who is assigned, verifying and reporting are looked up per returned row (scalar
# subqueries): as three more LEFT JOINs, PostgreSQL searched the join orders of seven tables
# for every queue read, ~30 ms of planning for ~2 ms of execution (issue 8, defect 15).
CASE_COLUMNS = """i.id, i.case_no, i.category_code, c.name AS category_name, c.kind,
  c.major_name, c.sensitive, i.urgency, i.description, i.address, i.lon, i.lat, i.grid_code,
  g.name AS grid_name, g.township_name, g.community, i.department_code, d.name AS department_name,
  (SELECT u.username FROM users u WHERE u.id = i.assignee_id) AS assignee,
  (SELECT u.username FROM users u WHERE u.id = i.verifier_id) AS verifier,
  i.state, i.extension_pending, i.supervised, i.source,
  (SELECT u.username FROM users u WHERE u.id = i.reporter_id) AS reporter,
  i.reporter_name, i.reporter_phone, i.reporter_email,
  i.reported_at, i.filed_at, i.dispatched_at, i.handled_at, i.closed_at, i.stage_due_at,
  i.due_at, i.overdue, i.on_time, i.rework_count, i.extension_count, i.return_count,
  i.updated_at, i.assignee_id, i.verifier_id, i.reporter_id"""
CASE_FROM = """incidents i JOIN case_categories c ON c.code = i.category_code
  LEFT JOIN grid_cells g ON g.grid_code = i.grid_code
  LEFT JOIN departments d ON d.code = i.department_code"""


# The personal fields of a case (the reporter's contact), by kind for the masking policy.
CASE_PERSONAL = {"reporter_name": Kind.NAME, "reporter_phone": Kind.PHONE,
                 "reporter_email": Kind.EMAIL}


# The queue's order: open cases first, urgent first, the least time left on the running
# stage, the oldest, then the id (stable pages). Migration 0013's idx_incidents_queue has
# exactly these expressions, so a page is read in index order: no sort of every case.
QUEUE_ORDER = ("(i.state IN ('closed', 'voided')), (i.urgency = 'urgent') DESC, "
               "i.stage_due_at NULLS LAST, i.reported_at, i.id")
COUNT_CAP = 10_000
_INTERNAL = ("assignee_id", "verifier_id", "reporter_id")


def case_json(row: sa.Row, principal: Principal, view: View = View.RECORD, *,
              iso: bool = True) -> tuple[dict[str, Any], list[str]]:
    """A case as JSON with its reporter's contact under the masking policy, and the fields
    that went out in full (for the audit). `iso=False` leaves datetimes to orjson (the same
    ISO 8601 text, without a Python call per value)."""
    out = dict(row._mapping)
    for key in _INTERNAL:
        del out[key]
    shown = present(out, CASE_PERSONAL, principal.roles, view)
    if iso:
        for key, value in out.items():
            if isinstance(value, datetime):
                out[key] = value.isoformat()
    return out, shown


@dataclass(frozen=True)
class Scope:
    """Which cases a caller may see: everyone's, or their department's / their own."""

    department: str | None = None   # a handler or 交警: cases dispatched to their unit
    user_id: int | None = None      # a grid worker: reported by, assigned to or verifying
    everything: bool = False


def scope_of(conn: sa.Connection, principal: Principal) -> Scope:
    roles = principal.roles
    if roles & {"admin", "commander", "supervisor", "dispatcher", "viewer"}:
        return Scope(everything=True)
    department = None
    # A unit's people read the cases routed to their unit (交警 read 交警大队's accidents).
    if roles & {"department_handler", "traffic_police"} and principal.user_id is not None:
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


def case_row(conn: sa.Connection, incident_id: int, *, lock: bool = False) -> sa.Row:
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
  AS photos,
  (SELECT u.display_name FROM users u WHERE u.username = e.actor) AS actor_name,
  (SELECT u.department FROM users u WHERE u.username = e.actor) AS actor_unit
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
    """One case for the caller: its fields (the reporter's contact by the masking policy;
    a full view appends an audit row the caller must commit), clocks, timeline, photos and
    the actions the caller may take now."""
    row = case_row(conn, incident_id)
    if not visible(conn, row, principal):
        raise Forbidden(f"Case {incident_id} is not one of yours")
    out, shown = case_json(row, principal)
    # A full view of the reporter's contact is audited, in this connection's transaction:
    # the caller commits it.
    record_look(conn, principal.username, "incident", [incident_id], shown)
    events = history(conn, incident_id)
    out["clocks"] = clocks_json(clocks_of(conn, row, calendar, now, events))
    out["timeline"] = [{
        "id": e.id, "at": e.at.isoformat(), "action": e.action, "from_state": e.from_state,
        "to_state": e.to_state, "actor": e.actor, "actor_role": e.actor_role,
        "actor_name": e.actor_name, "actor_unit": e.actor_unit, "note": e.note,
        "lon": e.lon, "lat": e.lat, "data": e.data, "photos": list(e.photos),
    } for e in events]
    out["photos"] = sorted({h for e in events for h in e.photos})
    status = CaseStatus(State(row.state), row.extension_pending, row.supervised)
    out["actions"] = [a.value for a in allowed_actions(status, principal.roles)]
    return out


def queue_where(conn: sa.Connection, principal: Principal, *, states: Sequence[str] = (),
                department: str | None = None, grid: str | None = None,
                category: str | None = None, overdue: bool | None = None,
                mine: bool = False, bbox: Sequence[float] | None = None
                ) -> tuple[str, dict[str, Any]]:
    """The queue's WHERE (over `incidents i`): the caller's scope and the filters."""
    where, params = [], {}
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
    return " AND ".join(where), params


def queue_sql(cond: str) -> tuple[str, str]:
    """(the capped count, the page) for a queue_where condition."""
    count = (f"SELECT count(*) FROM (SELECT 1 FROM incidents i WHERE {cond} "  # noqa: S608
             "LIMIT :cap) t")
    page = (f"SELECT {CASE_COLUMNS} FROM {CASE_FROM} WHERE {cond} "  # noqa: S608
            f"ORDER BY {QUEUE_ORDER} LIMIT :limit OFFSET :offset")
    return count, page


def list_incidents(conn: sa.Connection, principal: Principal, *, limit: int = 100,
                   offset: int = 0, **filters: Any) -> dict[str, Any]:
    """The queue (QUEUE_ORDER), a page of `limit` from `offset`, with the total (exact up to
    COUNT_CAP: past it, "total" is a lower bound and total_exact false; counting 100,000
    closed cases on every poll cost more than the page). Filters: see queue_where.
    Reporters' contacts are masked for everyone: a list never shows a person."""
    cond, params = queue_where(conn, principal, **filters)
    count_sql, page_sql = queue_sql(cond)
    total = conn.execute(sa.text(count_sql), {**params, "cap": COUNT_CAP}).scalar_one()
    rows = conn.execute(sa.text(page_sql), {**params, "limit": limit, "offset": offset}).all()
    return {"total": total, "total_exact": total < COUNT_CAP,
            "incidents": [case_json(r, principal, View.LIST, iso=False)[0] for r in rows]}
