"""Open311 over our cases: the services (active case categories), service requests read back
for the public, and requests submitted by api clients, which become cases through the
incidents service (source "open311", audited there)."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from backend.incidents.service import (
    NewIncident,
    create_incident,
    report_change,
    reported_case,
)
from backend.open311.keys import ApiClient, count_use
from backend.open311.rules import (
    CLOSED_STATES,
    MAX_RECORDS,
    Open311Error,
    Search,
    Submission,
    public_request,
    public_service,
)

TOKEN_PREFIX = "open311:"  # the case's idempotency key holds the token GeoReport clients use
# Only what a public reader may see: no reporter, phone, e-mail, assignee or verifier.
PUBLIC_COLUMNS = """i.id, i.state, i.category_code AS service_code, c.name AS service_name,
  c.sensitive, i.description, i.source, d.name AS agency_responsible, i.reported_at,
  i.updated_at, i.due_at, i.address, i.lon, i.lat"""
PUBLIC_FROM = """incidents i JOIN case_categories c ON c.code = i.category_code
  LEFT JOIN departments d ON d.code = i.department_code"""


def services(conn: sa.Connection) -> list[dict[str, Any]]:
    rows = conn.execute(sa.text(
        "SELECT code, kind, major_name, name FROM case_categories WHERE active ORDER BY code"))
    return [public_service(r._mapping) for r in rows]


def service_definition(conn: sa.Connection, code: str) -> dict[str, Any]:
    """Our services take no extra attributes (metadata false): an empty definition."""
    found = conn.execute(sa.text(
        "SELECT code FROM case_categories WHERE code = :c AND active"), {"c": code}).scalar()
    if found is None:
        raise Open311Error(404, f"No service {code[:40]!r}: GET services.json lists them")
    return {"service_code": found, "attributes": []}


def search(conn: sa.Connection, query: Search, *, limit: int = MAX_RECORDS
           ) -> list[dict[str, Any]]:
    """Requests newest first, at most `limit`. Ids, when given, override every other filter."""
    where: list[str] = []
    params: dict[str, Any] = {"limit": limit, "closed": sorted(CLOSED_STATES)}
    if query.ids:
        where.append("i.id = ANY(:ids)")
        params["ids"] = list(query.ids)
    else:
        where.append("i.reported_at BETWEEN :start AND :end")
        params.update(start=query.start, end=query.end)
        if query.codes:
            where.append("i.category_code = ANY(:codes)")
            params["codes"] = list(query.codes)
        statuses = set(query.statuses)
        if statuses == {"open"}:
            where.append("i.state <> ALL(:closed)")
        elif statuses == {"closed"}:
            where.append("i.state = ANY(:closed)")
    rows = conn.execute(sa.text(
        f"SELECT {PUBLIC_COLUMNS} FROM {PUBLIC_FROM} WHERE {' AND '.join(where)} "  # noqa: S608
        "ORDER BY i.reported_at DESC, i.id DESC LIMIT :limit"), params)
    return [public_request(r._mapping) for r in rows]


def one(conn: sa.Connection, request_id: str) -> dict[str, Any]:
    found = search(conn, Search(ids=(int(request_id),)), limit=1) \
        if request_id.isdigit() and len(request_id) < 19 else []
    if not found:
        raise Open311Error(404, f"No service request {request_id[:40]!r}")
    return found[0]


def by_token(conn: sa.Connection, token: str) -> dict[str, Any]:
    found = conn.execute(sa.text(
        "SELECT id FROM incidents WHERE idempotency_key = :k AND source = 'open311'"),
        {"k": TOKEN_PREFIX + token}).scalar() if len(token) <= 100 else None
    if found is None:
        raise Open311Error(404, f"No service request has the token {token[:40]!r}")
    return {"service_request_id": str(found), "token": token}


def submit(conn: sa.Connection, client: ApiClient, sub: Submission, now: datetime
           ) -> tuple[int, str]:
    """Report the request as a case for `client`: (case id, token). Contact details go to the
    case (reporter_*), never out again. The incidents service audits it, last."""
    category = conn.execute(sa.text(
        "SELECT code, name FROM case_categories WHERE code = :c AND active"),
        {"c": sub.service_code}).first()
    if category is None:
        raise Open311Error(400, f"service_code {sub.service_code!r} is not a service: "
                                "GET services.json lists them")
    token = secrets.token_urlsafe(16)
    count_use(conn, client, now)
    incident_id, _ = create_incident(conn, NewIncident(
        category_code=category.code, description=sub.case_description(category.name),
        lon=sub.lon, lat=sub.lat, source="open311", address=sub.address,
        idempotency_key=TOKEN_PREFIX + token, reporter_name=sub.reporter_name,
        reporter_phone=sub.reporter_phone, reporter_email=sub.reporter_email),
        client.principal(), now)
    return incident_id, token


def receipt(conn: sa.Connection, incident_id: int, token: str, actor: str
            ) -> tuple[dict[str, Any], dict[str, Any]]:
    """What the client is told, and the change the consoles are sent (incidents.changes)."""
    row = reported_case(conn, incident_id)
    case_no = row["case_no"]
    reply = {"service_request_id": str(incident_id), "token": token,
             "service_notice": f"已受理,案卷号 {case_no} · received as case {case_no}",
             "account_id": None}
    return reply, report_change(row, actor)
