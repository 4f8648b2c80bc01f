"""Data requests between departments: made, reviewed by the data bureau, answered by the
provider, escalated, withdrawn; the clocks' sweep; the grant an approval makes. The flow is
backend.sharing.rules; every step is a data_request_steps row and an audit chain entry, in the
caller's transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from backend.audit.chain import append as audit
from backend.auth.permissions import Permission, Principal, Role
from backend.errors import Conflict, Forbidden, NotFound, Unprocessable
from backend.incidents.calendar import WorkCalendar
from backend.sharing import grants, rules

BOXES = ("mine", "review", "answer")
SYSTEM = "system"

_SELECT = """
SELECT r.id, r.dataset_id, d.name AS dataset_name, d.department_code AS provider_department,
  d.share_type, r.requester, r.requester_department, r.purpose, r.fields, r.period_days,
  r.status, r.created_at, r.bureau_due_at, r.provider_due_at, r.decided_at, r.decided_by,
  r.reason, r.escalated_at, g.valid_from, g.valid_until,
  (d.storage = 'layer' OR d.current_version_id IS NOT NULL) AS on_platform
FROM data_requests r JOIN datasets d ON d.id = r.dataset_id
LEFT JOIN LATERAL (SELECT valid_from, valid_until FROM data_grants x WHERE x.request_id = r.id
                   ORDER BY x.id DESC LIMIT 1) g ON true"""


def _read(conn: sa.Connection, rows: Sequence[Any], now: datetime) -> list[dict[str, Any]]:
    """RequestRead for each row, with its steps."""
    ids = [r.id for r in rows]
    steps: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
    if ids:
        for s in conn.execute(sa.text(
                "SELECT request_id, at, actor, action, note FROM data_request_steps "
                "WHERE request_id = ANY(:ids) ORDER BY at, id"), {"ids": ids}):
            steps[s.request_id].append({"at": s.at, "actor": s.actor, "action": s.action,
                                        "note": s.note})
    out = []
    for r in rows:
        item = {k: v for k, v in r._mapping.items()
                if k not in ("valid_from", "valid_until", "on_platform")}
        item["fields"] = list(r.fields or [])
        item["overdue"] = rules.is_overdue(r.status, r.bureau_due_at, r.provider_due_at, now)
        item["steps"] = steps[r.id]
        item["grant"] = (None if r.valid_from is None else
                         {"valid_from": r.valid_from, "valid_until": r.valid_until})
        out.append(item)
    return out


def _one(conn: sa.Connection, request_id: int, now: datetime, lock: bool = False) -> Any:
    row = conn.execute(sa.text(_SELECT + " WHERE r.id = :id" +  # noqa: S608 (constants)
                               (" FOR UPDATE OF r" if lock else "")), {"id": request_id}).first()
    if row is None:
        raise NotFound(f"no data request {request_id}")
    return row


def record_step(conn: sa.Connection, request_id: int, actor: str, action: str,
                note: str | None, at: datetime) -> None:
    """One step: a data_request_steps row and an audit chain entry."""
    conn.execute(sa.text("INSERT INTO data_request_steps (request_id, at, actor, action, note) "
                         "VALUES (:r, :at, :actor, :action, :note)"),
                 {"r": request_id, "at": at, "actor": actor, "action": action, "note": note})
    # the platform's own steps are audited as whoever's act caused them (None: the bound
    # caller, 'system' in the sweep); the step row says 'system'
    audit(conn, None if actor == SYSTEM else actor, f"data_request.{action}", "data_request",
          request_id, {"note": note, "by": actor})


def create_request(conn: sa.Connection, *, dataset_id: str, principal: Principal,
                   purpose: str | None, fields: Sequence[str], period_days: int,
                   calendar: WorkCalendar, now: datetime | None = None) -> dict[str, Any]:
    now = now or datetime.now(UTC)
    if not (purpose or "").strip():
        raise Unprocessable("a data request must state its purpose (purpose): what the data "
                            "is for and which work it serves")
    if not 1 <= period_days <= 1830:
        raise Unprocessable("period_days must be between 1 and 1830")
    dataset = conn.execute(sa.text("SELECT share_type, share_condition, department_code "
                                   "FROM datasets WHERE id = :d"), {"d": dataset_id}).first()
    if dataset is None:
        raise NotFound(f"no dataset {dataset_id!r}")
    if principal.department is not None and principal.department == dataset.department_code:
        raise Conflict(f"dataset {dataset_id} is your own department's: read it at "
                       f"/api/datasets/{dataset_id}/rows, no request needed")
    known = set(conn.execute(sa.text("SELECT name FROM dataset_fields WHERE dataset_id = :d"),
                             {"d": dataset_id}).scalars())
    known.add("geometry")  # the rows' geometry (backend.sharing.access), asked for by name
    wanted = list(dict.fromkeys(f.strip() for f in fields if f.strip()))
    unknown = [f for f in wanted if f not in known]
    if unknown:
        raise Unprocessable(f"not fields of dataset {dataset_id}: {', '.join(unknown[:20])} "
                            f"(its fields: {', '.join(sorted(known)) or 'none described'})",
                            unknown=unknown)
    outcome = rules.on_create(dataset.share_type, dataset.share_condition)
    # users.department is free text: only a catalogued department is recorded as the requester's
    department = conn.execute(sa.text("SELECT code FROM departments WHERE code = :c"),
                              {"c": principal.department}).scalar()
    request_id = conn.execute(sa.text(
        "INSERT INTO data_requests (dataset_id, requester, requester_department, purpose, "
        "fields, period_days, status, created_at, bureau_due_at, decided_at, decided_by, reason)"
        " VALUES (:d, :who, :dept, :purpose, :fields, :days, :status, :now, :due, :decided, "
        ":by, :reason) RETURNING id"),
        {"d": dataset_id, "who": principal.username, "dept": department,
         "purpose": purpose.strip(), "fields": wanted, "days": period_days,  # type: ignore[union-attr]
         "status": outcome.status, "now": now,
         "due": rules.due(calendar, now, rules.BUREAU_DAYS),
         "decided": now if outcome.decided else None, "by": SYSTEM if outcome.decided else None,
         "reason": outcome.note}).scalar_one()
    record_step(conn, request_id, principal.username, "created", purpose.strip(), now)  # type: ignore[union-attr]
    if outcome.step != "created":
        record_step(conn, request_id, SYSTEM, outcome.step, outcome.note, now)
    return _read(conn, [_one(conn, request_id, now)], now)[0]


def _may_act(principal: Principal, action: str, row: Any) -> None:
    if Role.ADMIN in principal.roles:
        return
    if action in ("review_pass", "review_refuse", "escalate"):
        ok = principal.may(Permission.DATASETS_GOVERN)
        who = "the data bureau (数据资源管理局)"
    elif action in ("approve", "answer_refuse"):
        ok = (principal.may(Permission.DATASETS_STEWARD)
              and principal.department == row.provider_department)
        who = f"the data steward of the providing department {row.provider_department}"
    else:
        ok = principal.username == row.requester
        who = "the requester"
    if not ok:
        raise Forbidden(f"only {who} may do this to request {row.id}")


def act(conn: sa.Connection, *, request_id: int, action: str, reason: str | None,
        principal: Principal, calendar: WorkCalendar,
        now: datetime | None = None) -> dict[str, Any]:
    """One person's step on a request (rules.ACTIONS)."""
    now = now or datetime.now(UTC)
    row = _one(conn, request_id, now, lock=True)
    _may_act(principal, action, row)
    state = rules.State(row.status, row.share_type, row.escalated_at is not None,
                        row.status == "refused" and row.decided_by == SYSTEM)
    outcome = rules.step(state, action, reason)
    values: dict[str, Any] = {"status": outcome.status}
    if outcome.provider_clock:
        values["provider_due_at"] = rules.due(calendar, now,
                                              rules.provider_days(row.on_platform))
    if outcome.escalated:
        values["escalated_at"] = now
    if outcome.decided:
        values.update(decided_at=now, decided_by=principal.username, reason=outcome.note)
    elif outcome.status == "provider_review":
        values.update(decided_at=None, decided_by=None)
    sets = ", ".join(f"{k} = :{k}" for k in values)
    conn.execute(sa.text(f"UPDATE data_requests SET {sets} WHERE id = :id"),  # noqa: S608 (own keys)
                 {**values, "id": request_id})
    record_step(conn, request_id, principal.username, outcome.step, outcome.note, now)
    if outcome.grant:
        valid_until = now + timedelta(days=row.period_days)
        grants.make_grant(conn, request_id=request_id, dataset_id=row.dataset_id,
                          grantee=row.requester, department=row.requester_department,
                          fields=list(row.fields or []), valid_from=now, valid_until=valid_until)
        record_step(conn, request_id, SYSTEM, "granted",
                    f"授权至 {valid_until.astimezone(calendar.tz):%Y-%m-%d %H:%M}", now)
    return _read(conn, [_one(conn, request_id, now)], now)[0]


def _visible(principal: Principal, row: Any) -> bool:
    return (Role.ADMIN in principal.roles or principal.may(Permission.DATASETS_GOVERN)
            or principal.username == row.requester
            or (principal.may(Permission.DATASETS_STEWARD)
                and principal.department == row.provider_department))


def get_request(conn: sa.Connection, *, request_id: int, principal: Principal,
                now: datetime | None = None) -> dict[str, Any]:
    now = now or datetime.now(UTC)
    row = _one(conn, request_id, now)
    if not _visible(principal, row):
        raise Forbidden(f"request {request_id} is seen by its requester, the providing "
                        "department's steward and the data bureau")
    return _read(conn, [row], now)[0]


def list_requests(conn: sa.Connection, *, principal: Principal, box: str = "mine",
                  limit: int = 200, now: datetime | None = None) -> list[dict[str, Any]]:
    """mine: the caller's requests; review: the bureau's (open at its step, or escalated);
    answer: open at the provider's step for the caller's department."""
    now = now or datetime.now(UTC)
    params: dict[str, Any] = {"limit": limit}
    if box == "mine":
        where = "r.requester = :who"
        params["who"] = principal.username
    elif box == "review":
        if not principal.may(Permission.DATASETS_GOVERN):
            raise Forbidden("the review box is the data bureau's (datasets:govern)")
        where = ("(r.status = 'bureau_review' OR (r.status = 'provider_review' "
                 "AND r.escalated_at IS NOT NULL))")
    elif box == "answer":
        if not principal.may(Permission.DATASETS_STEWARD):
            raise Forbidden("the answer box is a data steward's (datasets:steward)")
        where = "r.status = 'provider_review'"
        if Role.ADMIN not in principal.roles:
            where += " AND d.department_code = :dept"
            params["dept"] = principal.department
    else:
        raise Unprocessable(f"box must be one of {', '.join(BOXES)}")
    rows = conn.execute(sa.text(_SELECT + f" WHERE {where} "  # noqa: S608 (constants)
                                "ORDER BY r.created_at DESC, r.id DESC LIMIT :limit"),
                        params).all()
    return _read(conn, rows, now)


def open_requests(conn: sa.Connection, *, department: str | None = None,
                  overdue_only: bool = False, limit: int = 200,
                  now: datetime | None = None) -> list[dict[str, Any]]:
    """Open requests (of datasets of `department`), oldest first; the overdue ones only."""
    now = now or datetime.now(UTC)
    where = "r.status IN ('bureau_review', 'provider_review')"
    params: dict[str, Any] = {"limit": limit, "now": now}
    if department:
        where += " AND d.department_code = :dept"
        params["dept"] = department
    if overdue_only:
        where += (" AND ((r.status = 'bureau_review' AND r.bureau_due_at < :now) OR "
                  "(r.status = 'provider_review' AND r.provider_due_at < :now))")
    rows = conn.execute(sa.text(_SELECT + f" WHERE {where} "  # noqa: S608 (constants)
                                "ORDER BY r.created_at, r.id LIMIT :limit"), params).all()
    return _read(conn, rows, now)


def sweep(engine: sa.Engine, now: datetime | None = None) -> list[dict[str, Any]]:
    """Flag overdue open steps once ('overdue') and escalate an overdue provider step to the
    bureau ('escalated', escalated_at). Blocking; the wiring runs it every few minutes."""
    now = now or datetime.now(UTC)
    changes = []
    with engine.begin() as conn:
        rows = conn.execute(sa.text(
            "SELECT r.id, r.status, r.bureau_due_at, r.provider_due_at, EXISTS (SELECT 1 FROM "
            "data_request_steps s WHERE s.request_id = r.id AND s.action = 'overdue' "
            "AND s.note = r.status) AS flagged FROM data_requests r "
            "WHERE r.status IN ('bureau_review', 'provider_review') "
            "AND ((r.status = 'bureau_review' AND r.bureau_due_at < :now) OR "
            "(r.status = 'provider_review' AND r.provider_due_at < :now)) FOR UPDATE OF r"),
            {"now": now}).all()
        for r in rows:
            due = rules.due_of(r.status, r.bureau_due_at, r.provider_due_at)
            steps = rules.sweep_steps(r.status, True, r.flagged)
            for name in steps:
                note = r.status if name == "overdue" else (
                    f"the provider's answer was due {due.isoformat() if due else ''}: "
                    "escalated to the data bureau")
                record_step(conn, r.id, SYSTEM, name, note, now)
            if "escalated" in steps:
                conn.execute(sa.text("UPDATE data_requests SET escalated_at = :now "
                                     "WHERE id = :id"), {"now": now, "id": r.id})
            if steps:
                changes.append({"request_id": r.id, "steps": steps})
    return changes
