"""Reading the population base: the caller's cells and households (masked as a list for
everyone), search (a purpose required, masked as a list), and one person's record (full only
for a purpose the caller's role may use). Every read is limited by the row scope
(backend.people.scope) and masked by the one policy (backend.privacy.policy.present); a
person outside the scope is "not found", so a search cannot confirm who exists elsewhere.
Recording the looks is backend.people.access's job (the router calls it last)."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import sqlalchemy as sa

from backend.auth.permissions import Principal
from backend.errors import Forbidden, InvalidInput, NotFound
from backend.people.models import CURRENT_STATUSES
from backend.people.scope import Scope, scope_of
from backend.privacy.policy import Kind, View, present
from backend.privacy.purposes import Purpose, allowed_purposes, check_purpose

# A person's personal fields and their kinds in the masking table (issue 13 part 4).
PERSON_PERSONAL: dict[str, Kind] = {
    "citizen_id": Kind.ID_NUMBER, "name": Kind.NAME, "phone": Kind.PHONE,
    "address": Kind.ADDRESS, "address_building": Kind.ADDRESS,
    "registered_address": Kind.ADDRESS,
}
HOUSEHOLD_PERSONAL: dict[str, Kind] = {"address": Kind.ADDRESS, "head_name": Kind.NAME}
_ID = re.compile(r"^\d{17}[\dXx]$")
_CJK_FIRST = re.compile(r"^[\u3400-\u9fff\uf900-\ufaff]")
CURRENT = list(CURRENT_STATUSES)


def age_of(born: date, today: date | None = None) -> int:
    today = today or date.today()
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def purpose_json(p: Purpose) -> dict[str, str]:
    return {"id": p.id, "zh": p.zh, "en": p.en}


def purposes_for(principal: Principal) -> list[dict[str, str]]:
    return [purpose_json(p) for p in allowed_purposes(principal.roles)]


def _address(label: str | None, unit: str | None) -> str | None:
    return None if label is None else label + (unit or "")


# Cells and households (people:cells) -----------------------------------------------------------

def list_cells(conn: sa.Connection, *, principal: Principal,
               township: str | None = None) -> list[dict[str, Any]]:
    """The grid cells of the caller's scope (narrowed to one township when asked), with their
    households and current residents."""
    scope = scope_of(conn, principal)
    where, params = scope.clause("g")
    if township is not None:
        where += " AND g.township_code = :township"
        params["township"] = township
    rows = conn.execute(sa.text(f"""
WITH r AS (SELECT p.grid_code, count(*) AS residents, count(DISTINCT p.household_id) AS households
           FROM persons p WHERE p.status = ANY(:current) GROUP BY p.grid_code)
SELECT g.grid_code, g.name, g.community, g.township_name,
       coalesce(r.households, 0) AS households, coalesce(r.residents, 0) AS residents
FROM grid_cells g LEFT JOIN r ON r.grid_code = g.grid_code
WHERE {where} ORDER BY g.grid_code"""), {**params, "current": CURRENT})  # noqa: S608
    return [dict(r._mapping) for r in rows]


def check_grid(scope: Scope, conn: sa.Connection, grid_code: str) -> None:
    township = conn.execute(sa.text("SELECT township_code FROM grid_cells WHERE grid_code = :g"),
                            {"g": grid_code}).scalar()
    if township is None:
        raise NotFound(f"There is no grid cell {grid_code}")
    if not scope.holds(grid_code, township):
        raise Forbidden(f"Grid cell {grid_code} is outside your area: you may list the "
                        "households of your own cells (GET /api/people/cells)")


# One page of households; {where} is the scope's clause (plus the cell), never user input.
HOUSEHOLDS_SQL = """
SELECT h.id, h.household_no, a.building_label, a.unit, h.grid_code, head.name AS head_name,
       m.members, m.residents
FROM households h
LEFT JOIN addresses a ON a.id = h.address_id
LEFT JOIN persons head ON head.id = h.head_person_id
LEFT JOIN LATERAL (SELECT count(*) AS members,
                          count(*) FILTER (WHERE p.status = ANY(:current)) AS residents
                   FROM persons p WHERE p.household_id = h.id) m ON TRUE
WHERE {where} ORDER BY h.household_no LIMIT :limit OFFSET :offset"""


def list_households(conn: sa.Connection, *, principal: Principal, grid_code: str | None,
                    limit: int, offset: int) -> dict[str, Any]:
    """Households of one cell (or of the whole scope), masked as a list: the address to the
    building, the head's name by its first character. `members` counts everyone on the
    household, `residents` the current ones."""
    scope = scope_of(conn, principal)
    where, params = scope.clause("h")
    if grid_code is not None:
        check_grid(scope, conn, grid_code)
        where += " AND h.grid_code = :grid"
        params["grid"] = grid_code
    total = conn.execute(sa.text(f"SELECT count(*) FROM households h WHERE {where}"),  # noqa: S608
                         params).scalar_one()
    rows = conn.execute(sa.text(HOUSEHOLDS_SQL.format(where=where)),
                        {**params, "current": CURRENT, "limit": limit, "offset": offset})
    items = []
    for r in rows:
        item = {"id": r.id, "household_no": r.household_no, "grid_code": r.grid_code,
                "address": _address(r.building_label, r.unit), "head_name": r.head_name,
                "members": r.members, "residents": r.residents}
        present(item, HOUSEHOLD_PERSONAL, principal.roles, View.LIST)
        items.append(item)
    return {"items": items, "total": total}


def household_detail(conn: sa.Connection, *, principal: Principal,
                     household_id: int) -> dict[str, Any]:
    """One household of the caller's scope, its current residents masked as a list (for
    everyone: the full record of a member is GET /api/people/{id} with a purpose)."""
    scope = scope_of(conn, principal)
    h = conn.execute(sa.text("""
SELECT h.id, h.household_no, h.grid_code, h.township_code, a.building_label, a.unit
FROM households h LEFT JOIN addresses a ON a.id = h.address_id WHERE h.id = :h"""),
                     {"h": household_id}).first()
    if h is None or not scope.holds(h.grid_code, h.township_code):
        raise NotFound(f"There is no household {household_id} in your area")
    out: dict[str, Any] = {"id": h.id, "household_no": h.household_no, "grid_code": h.grid_code,
                           "address": _address(h.building_label, h.unit)}
    present(out, {"address": Kind.ADDRESS}, principal.roles, View.LIST)
    members, others = [], 0
    today = date.today()
    for p in conn.execute(sa.text("""
SELECT id, citizen_id, name, relation, sex, birth_date, status FROM persons
WHERE household_id = :h ORDER BY (relation <> '户主'), birth_date, id"""), {"h": household_id}):
        if p.status not in CURRENT_STATUSES:
            others += 1
            continue
        member = {"id": p.id, "citizen_id": p.citizen_id, "name": p.name,
                  "relation": p.relation, "sex": p.sex, "age": age_of(p.birth_date, today),
                  "status": p.status}
        present(member, PERSON_PERSONAL, principal.roles, View.LIST)
        members.append(member)
    out["members"] = members
    out["others"] = others
    return out


# Search and the record (people:read) ------------------------------------------------------------

def search(conn: sa.Connection, *, principal: Principal, q: str, purpose: str | None,
           limit: int) -> dict[str, Any]:
    """Persons of the caller's scope by citizen ID (exact, 18 characters) or by name (prefix,
    beginning with a Chinese character), whatever their status, for a stated purpose the
    role may use (else Forbidden naming the allowed ones). Masked as a list: the record is
    the one full view."""
    check_purpose(purpose, principal.roles)
    q = q.strip()
    if _ID.match(q):
        match, params = "p.citizen_id = :q", {"q": q.upper()}
    elif _CJK_FIRST.match(q):
        escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        match, params = "p.name LIKE :q", {"q": escaped + "%"}
    else:
        raise InvalidInput("q is an 18-character citizen ID or the beginning of a name "
                           "(at least one Chinese character)")
    where, scope_params = scope_of(conn, principal).clause("p")
    params.update(scope_params)
    total = conn.execute(sa.text(
        f"SELECT count(*) FROM persons p WHERE {match} AND {where}"), params).scalar_one()  # noqa: S608
    rows = conn.execute(sa.text(f"""
SELECT p.id, p.citizen_id, p.name, p.sex, p.birth_date, p.status, p.grid_code, p.township_code,
       h.household_no
FROM persons p LEFT JOIN households h ON h.id = p.household_id
WHERE {match} AND {where} ORDER BY p.name COLLATE "C", p.id LIMIT :limit"""),  # noqa: S608
        {**params, "limit": limit})
    today = date.today()
    items = []
    for r in rows:
        item = dict(r._mapping)
        item["age"] = age_of(r.birth_date, today)
        present(item, PERSON_PERSONAL, principal.roles, View.LIST)
        items.append(item)
    return {"items": items, "total": total, "limit": limit}


PERSON_SQL = sa.text("""
SELECT p.*, a.building_label, a.unit, g.name AS grid_name, g.township_name, d.name AS dataset_name,
       coalesce(d.synthetic, false) AS dataset_synthetic
FROM persons p
LEFT JOIN addresses a ON a.id = p.address_id
LEFT JOIN grid_cells g ON g.grid_code = p.grid_code
LEFT JOIN datasets d ON d.id = p.source_dataset
WHERE p.id = :p""")


def person_record(conn: sa.Connection, *, principal: Principal, person_id: int,
                  purpose: str | None) -> tuple[dict[str, Any], list[str], Purpose | None]:
    """One person of the caller's scope: (the answer, the fields shown in full, the purpose).
    With a purpose the role may use, the fields its masking rule allows go out in full (and
    the caller must record the look: backend.people.access); without one, the record is
    masked as a list. A stated purpose the role may not use is Forbidden."""
    stated = check_purpose(purpose, principal.roles) if purpose else None
    p = conn.execute(PERSON_SQL, {"p": person_id}).first()
    if p is None or not scope_of(conn, principal).holds(p.grid_code, p.township_code):
        raise NotFound(f"There is no person {person_id} in your area")
    today = date.today()
    out: dict[str, Any] = {
        "id": p.id, "citizen_id": p.citizen_id, "name": p.name, "sex": p.sex,
        "birth_date": p.birth_date, "age": age_of(p.birth_date, today),
        "ethnicity": p.ethnicity, "phone": p.phone, "registered_region": p.registered_region,
        "registered_address": p.registered_address, "address": _address(p.building_label, p.unit),
        "address_building": p.building_label, "grid_code": p.grid_code,
        "grid_name": p.grid_name, "township_code": p.township_code,
        "township_name": p.township_name, "status": p.status, "relation": p.relation,
        "source": {"dataset_id": p.source_dataset, "dataset_name": p.dataset_name,
                   "version_id": p.source_version, "synthetic": p.dataset_synthetic},
        "version": p.version, "updated_at": p.updated_at,
    }
    view = View.RECORD if stated else View.LIST
    personal = sum(1 for f in PERSON_PERSONAL if out.get(f) not in (None, ""))
    shown = present(out, PERSON_PERSONAL, principal.roles, view, purposeful=stated is not None)
    out["masked"] = len(shown) < personal   # some personal value went out masked or withheld
    out["purpose"] = purpose_json(stated) if stated else None
    out["household"] = _household_of(conn, principal, p.household_id, today)
    out["versions"] = [dict(v._mapping) for v in conn.execute(sa.text("""
SELECT version, valid_from, made_by, change_id FROM person_versions WHERE person_id = :p
ORDER BY version DESC"""), {"p": person_id})]
    return out, shown, stated


def _household_of(conn: sa.Connection, principal: Principal, household_id: int | None,
                  today: date) -> dict[str, Any] | None:
    """The person's household with its members masked as a list: opening a member is its own
    audited look."""
    if household_id is None:
        return None
    no = conn.execute(sa.text("SELECT household_no FROM households WHERE id = :h"),
                      {"h": household_id}).scalar()
    members = []
    for m in conn.execute(sa.text("""
SELECT id, name, relation, birth_date, sex, status FROM persons WHERE household_id = :h
ORDER BY (relation <> '户主'), birth_date, id"""), {"h": household_id}):
        member = {"id": m.id, "name": m.name, "relation": m.relation,
                  "age": age_of(m.birth_date, today), "sex": m.sex, "status": m.status}
        present(member, PERSON_PERSONAL, principal.roles, View.LIST)
        members.append(member)
    return {"id": household_id, "household_no": no, "members": members}
