"""Changes from the field (issue 13 part 8): a grid worker reports a visit, a move out or in, a
correction or a death for the people of their cells; a visit is recorded at once, the others
wait for the person's source department (persons.source_dataset -> datasets.department_code),
whose population officers accept or reject them. Accepting applies the change in the same
transaction: persons.version + 1 and a person_versions row naming the change (a move_in makes
a new person, version 1). Every write is audited, last in its transaction.

Offline drafts are sent once: client_id is the draft's uuid, and a second send answers the row
the first one made."""

from __future__ import annotations

import logging
from typing import Any
from uuid import UUID

import orjson
import sqlalchemy as sa

from backend.audit.chain import append as audit
from backend.auth.permissions import Principal
from backend.errors import Conflict, Forbidden, NotFound, Unprocessable
from backend.people.change_schemas import ChangeIn
from backend.people.idcheck import check_id
from backend.people.models import CURRENT_STATUSES
from backend.people.scope import Scope, scope_of
from backend.privacy.policy import Kind, mask

log = logging.getLogger("cityops.people")
# A new resident's record, and a visit to no one in particular, go to the department of the
# household register (户籍人口信息: 公安局).
REGISTER_DATASET = "household_population"
MINE_LIMIT = 100
OUTSIDE = "outside your cells: you report for the people of the grid cells you work"

READ_SQL = """
SELECT c.id, c.client_id, c.kind, c.status, c.grid_code, c.person_id, p.name AS person_name,
       c.household_id, h.household_no, c.payload, c.note, c.department_code, c.reported_by,
       c.reported_at, c.decided_by, c.decided_at, c.decision_note, c.person_version
FROM population_changes c
LEFT JOIN persons p ON p.id = c.person_id
LEFT JOIN households h ON h.id = c.household_id"""


def _masked(row: sa.Row) -> dict[str, Any]:
    """A ChangeRead: the name and the payload's ID and name masked for everyone (a change is
    a list item; the full record is one audited look away, backend.people.service)."""
    out = dict(row._mapping)
    out["person_name"] = mask(Kind.NAME, out["person_name"])
    payload = dict(out["payload"] or {})
    if "citizen_id" in payload:
        payload["citizen_id"] = mask(Kind.ID_NUMBER, payload["citizen_id"])
    if "name" in payload:
        payload["name"] = mask(Kind.NAME, payload["name"])
    if payload.get("field") in ("name", "phone") and "value" in payload:
        kind = Kind.NAME if payload["field"] == "name" else Kind.PHONE
        payload["value"] = mask(kind, payload["value"])
    out["payload"] = payload
    return out


def read_change(conn: sa.Connection, change_id: int) -> dict[str, Any]:
    row = conn.execute(sa.text(f"{READ_SQL} WHERE c.id = :id"), {"id": change_id}).first()
    if row is None:
        raise NotFound(f"No change {change_id}")
    return _masked(row)


def _department_of(conn: sa.Connection, dataset_id: str) -> str:
    code = conn.execute(sa.text("SELECT department_code FROM datasets WHERE id = :d"),
                        {"d": dataset_id}).scalar()
    if code is None:
        raise Unprocessable(f"The dataset {dataset_id} is not in the catalog, so no department "
                            "can confirm this change: ask the data bureau to sync the catalog")
    return str(code)


def _cell_township(conn: sa.Connection, grid_code: str) -> str:
    township = conn.execute(sa.text("SELECT township_code FROM grid_cells WHERE grid_code = :g"),
                            {"g": grid_code}).scalar()
    if township is None:
        raise Unprocessable(f"No grid cell {grid_code}: choose one of your cells")
    return str(township)


def _person(conn: sa.Connection, person_id: int, scope: Scope, grid_code: str) -> sa.Row:
    row = conn.execute(sa.text(
        "SELECT id, grid_code, township_code, status, source_dataset, household_id "
        "FROM persons WHERE id = :p"), {"p": person_id}).first()
    if row is None:
        raise NotFound(f"No person {person_id}")
    if not scope.holds(row.grid_code, row.township_code):
        raise Forbidden(f"This person lives {OUTSIDE}")
    if row.grid_code != grid_code:
        raise Unprocessable(f"The person lives in cell {row.grid_code}, not {grid_code}: "
                            "report from the person's own cell")
    if row.status not in CURRENT_STATUSES:
        raise Unprocessable(f"The person's status is already {row.status}: only current "
                            "residents can be changed")
    return row


def _household(conn: sa.Connection, household_id: int, scope: Scope, grid_code: str) -> sa.Row:
    row = conn.execute(sa.text(
        "SELECT id, grid_code, township_code FROM households WHERE id = :h"),
        {"h": household_id}).first()
    if row is None:
        raise NotFound(f"No household {household_id}")
    if not scope.holds(row.grid_code, row.township_code):
        raise Forbidden(f"This household is {OUTSIDE}")
    if row.grid_code != grid_code:
        raise Unprocessable(f"The household is in cell {row.grid_code}, not {grid_code}")
    return row


def _check_move_in(conn: sa.Connection, payload: dict[str, Any]) -> None:
    failed = check_id(payload["citizen_id"], payload["sex"])  # the loads' check, the same list
    if failed is not None:
        raise Unprocessable(f"The citizen ID failed the {failed.check} check: {failed.reason}",
                            check=failed.check)
    cid = payload["citizen_id"].upper()
    if f"{cid[6:10]}-{cid[10:12]}-{cid[12:14]}" != payload["birth_date"]:
        raise Unprocessable("birth_date differs from the date in the citizen ID (characters "
                            "7-14): correct one of them", check="birth_date")
    payload["citizen_id"] = cid
    status = conn.execute(sa.text("SELECT status FROM persons WHERE citizen_id = :c"),
                          {"c": cid}).scalar()
    if status in CURRENT_STATUSES:
        raise Unprocessable("A current resident already has this citizen ID: report a "
                            "correction or a move out instead", check="duplicate")


def report(conn: sa.Connection, *, principal: Principal, body: ChangeIn
           ) -> tuple[dict[str, Any], bool]:
    """Record a change from the field; (the change, True when made now). A client_id seen
    before answers its row (False), for that reporter only."""
    seen = _by_client(conn, body.client_id)
    if seen is not None:
        if seen["reported_by"] != principal.username:
            raise Conflict("This client_id belongs to another reporter's change: make a new "
                           "draft (a new uuid)")
        return seen, False
    scope = scope_of(conn, principal)
    if not scope.holds(body.grid_code, _cell_township(conn, body.grid_code)):
        raise Forbidden(f"Cell {body.grid_code} is {OUTSIDE}")
    payload = dict(body.payload)
    dataset = REGISTER_DATASET
    if body.person_id is not None:
        person = _person(conn, body.person_id, scope, body.grid_code)
        dataset = person.source_dataset
        if body.household_id is None:
            body.household_id = person.household_id
    if body.household_id is not None:
        _household(conn, body.household_id, scope, body.grid_code)
    if body.kind == "move_in":
        _check_move_in(conn, payload)
    status = "recorded" if body.kind == "visit" else "pending"
    change_id = conn.execute(sa.text("""
INSERT INTO population_changes (client_id, kind, person_id, household_id, grid_code, payload,
  note, department_code, status, reported_by)
VALUES (:client, :kind, :person, :household, :grid, CAST(:payload AS jsonb), :note, :dept,
  :status, :by)
ON CONFLICT (client_id) DO NOTHING RETURNING id"""), {
        "client": body.client_id, "kind": body.kind, "person": body.person_id,
        "household": body.household_id, "grid": body.grid_code,
        "payload": orjson.dumps(payload).decode(), "note": body.note,
        "dept": _department_of(conn, dataset), "status": status,
        "by": principal.username}).scalar()
    if change_id is None:  # the same draft sent twice at once: the other request made it
        seen = _by_client(conn, body.client_id)
        assert seen is not None
        return seen, False
    audit(conn, principal.username, f"people.change_{status}", "population_changes", change_id,
          {"kind": body.kind, "grid_code": body.grid_code, "person_id": body.person_id})
    return read_change(conn, change_id), True


def _by_client(conn: sa.Connection, client_id: UUID) -> dict[str, Any] | None:
    row = conn.execute(sa.text(f"{READ_SQL} WHERE c.client_id = :c"), {"c": client_id}).first()
    return None if row is None else _masked(row)


def mine(conn: sa.Connection, *, principal: Principal) -> list[dict[str, Any]]:
    rows = conn.execute(sa.text(
        f"{READ_SQL} WHERE c.reported_by = :u ORDER BY c.reported_at DESC, c.id DESC LIMIT :n"),
        {"u": principal.username, "n": MINE_LIMIT}).all()
    return [_masked(r) for r in rows]


def for_department(conn: sa.Connection, *, principal: Principal, status: str
                   ) -> list[dict[str, Any]]:
    """The changes of the caller's department (none for a caller without one)."""
    rows = conn.execute(sa.text(
        f"{READ_SQL} WHERE c.department_code = :d AND c.status = :s "
        "ORDER BY c.reported_at, c.id LIMIT 500"),
        {"d": principal.department, "s": status}).all()
    return [_masked(r) for r in rows]


# Decisions -------------------------------------------------------------------------------

# The person's fields a version records (all but the key), as the loader's first version does.
VERSION_SQL = """
INSERT INTO person_versions (person_id, version, data, source_dataset, source_version,
  change_id, made_by)
SELECT id, version, to_jsonb(p) - 'id', source_dataset, source_version, :change, :by
FROM persons p WHERE id = :p"""
# What each accepted kind does to the person: fixed statements (a correction's field picks
# one of them, never text from the payload).
_SET = {
    "move_out": "status = 'moved', address_id = NULL",
    "death": "status = 'deceased'",
    "correction.name": "name = :value",
    "correction.phone": "phone = :value",
    "correction.ethnicity": "ethnicity = :value",
    "correction.relation": "relation = :value",
}
APPLY = {what: sa.text("UPDATE persons SET " + sets  # noqa: S608 (constants above)
                       + ", version = version + 1, updated_at = now() WHERE id = :p")
         for what, sets in _SET.items()}


def decide(conn: sa.Connection, *, principal: Principal, change_id: int, decision: str,
           note: str | None) -> dict[str, Any]:
    """Accept (apply) or reject a pending change of the caller's department."""
    row = conn.execute(sa.text(
        "SELECT * FROM population_changes WHERE id = :id FOR UPDATE"), {"id": change_id}).first()
    if row is None:
        raise NotFound(f"No change {change_id}")
    if principal.department != row.department_code:
        raise Forbidden(f"This change is confirmed by the officers of {row.department_code}; "
                        f"you confirm changes for {principal.department or 'no department'}")
    if row.status != "pending":
        raise Conflict(f"This change is {row.status} already: nothing to decide")
    version = None
    person_id = row.person_id
    if decision == "accept":
        person_id, version = _apply(conn, row, principal.username)
    conn.execute(sa.text("""
UPDATE population_changes SET status = :s, decided_by = :by, decided_at = now(),
  decision_note = :note, person_version = :v, person_id = :p WHERE id = :id"""), {
        "s": "accepted" if decision == "accept" else "rejected", "by": principal.username,
        "note": note, "v": version, "p": person_id, "id": change_id})
    audit(conn, principal.username, f"people.change_{decision}ed", "population_changes",
          change_id, {"kind": row.kind, "person_id": person_id, "person_version": version})
    return read_change(conn, change_id)


def _apply(conn: sa.Connection, change: sa.Row, actor: str) -> tuple[int, int]:
    """The change made real: (person id, the version it made)."""
    payload = change.payload or {}
    if change.kind == "move_in":
        return _move_in(conn, change, actor)
    person = conn.execute(sa.text(
        "SELECT id, version, status FROM persons WHERE id = :p FOR UPDATE"),
        {"p": change.person_id}).first()
    assert person is not None  # a foreign key
    moved_on = conn.execute(sa.text(
        "SELECT max(version) FROM person_versions WHERE person_id = :p AND valid_from > :at"),
        {"p": person.id, "at": change.reported_at}).scalar()
    if moved_on is not None or person.status not in CURRENT_STATUSES:
        raise Conflict(f"The person was changed after this report (now version "
                       f"{person.version}, {person.status}): reject it, and ask for a new "
                       "report if it still applies")
    what = f"correction.{payload['field']}" if change.kind == "correction" else change.kind
    conn.execute(APPLY[what], {"p": person.id, "value": payload.get("value")})
    conn.execute(sa.text(VERSION_SQL), {"p": person.id, "change": change.id, "by": actor})
    return person.id, person.version + 1


def _move_in(conn: sa.Connection, change: sa.Row, actor: str) -> tuple[int, int]:
    """A new resident of the household: a new person (version 1), or a person who had moved
    away or was listed elsewhere coming back (their next version)."""
    p = change.payload
    household = conn.execute(sa.text(
        "SELECT address_id, grid_code, township_code FROM households WHERE id = :h"),
        {"h": change.household_id}).one()
    known = conn.execute(sa.text(
        "SELECT id, version, status FROM persons WHERE citizen_id = :c FOR UPDATE"),
        {"c": p["citizen_id"]}).first()
    values = {"name": p["name"], "sex": p["sex"], "born": p["birth_date"],
              "rel": p["relation"], "h": change.household_id, "a": household.address_id,
              "g": household.grid_code, "t": household.township_code}
    if known is not None:
        if known.status in CURRENT_STATUSES:
            raise Conflict("A current resident has this citizen ID now: reject this move_in")
        conn.execute(sa.text("""
UPDATE persons SET name = :name, sex = :sex, birth_date = :born, relation = :rel,
  household_id = :h, address_id = :a, grid_code = :g, township_code = :t, status = 'resident',
  version = version + 1, updated_at = now() WHERE id = :p"""), {**values, "p": known.id})
        person_id, version = known.id, known.version + 1
    else:
        person_id = conn.execute(sa.text("""
INSERT INTO persons (citizen_id, name, sex, birth_date, household_id, address_id, relation,
  status, grid_code, township_code, source_dataset, version)
VALUES (:cid, :name, :sex, :born, :h, :a, :rel, 'resident', :g, :t, :ds, 1) RETURNING id"""),
            {**values, "cid": p["citizen_id"], "ds": REGISTER_DATASET}).scalar_one()
        version = 1
    conn.execute(sa.text(VERSION_SQL), {"p": person_id, "change": change.id, "by": actor})
    return person_id, version


def refresh_stats(engine: sa.Engine, k: int) -> None:
    """After an accepted change the counts moved: recount (run after the answer is sent; the
    change is committed whatever happens here, and the next refresh catches up on failure)."""
    from backend.people.aggregates import refresh

    try:
        with engine.begin() as conn:
            refresh(conn, k)
    except Exception:
        log.exception("population stats refresh failed after an accepted change")
