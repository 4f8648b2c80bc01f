"""`export.csv`: the current residents of the caller's scope (or of one grid cell of it), for a
stated purpose the role may use, masked by the one policy as a record would be and audited
like reads (kind export: one chain row, a person_access row per person). Bounded: past
EXPORT_MAX_ROWS the caller is told to narrow it to one grid cell."""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Any

import sqlalchemy as sa

from backend.auth.permissions import Principal
from backend.errors import Unprocessable
from backend.people.models import CURRENT_STATUSES
from backend.people.scope import scope_of
from backend.people.service import PERSON_PERSONAL, age_of, check_grid
from backend.privacy.policy import View, present
from backend.privacy.purposes import Purpose, check_purpose

EXPORT_MAX_ROWS = 20_000  # a township's largest grid cells fit many times over
COLUMNS = ("id", "citizen_id", "name", "sex", "birth_date", "age", "ethnicity", "phone",
           "registered_region", "registered_address", "address", "household_no", "relation",
           "status", "grid_code", "township_code")


def export_csv(conn: sa.Connection, *, principal: Principal, grid_code: str | None,
               purpose: str | None) -> tuple[str, list[int], list[str], Purpose]:
    """(the CSV text, the person ids in it, the fields shown in full, the purpose)."""
    stated = check_purpose(purpose, principal.roles)
    scope = scope_of(conn, principal)
    where, params = scope.clause("p")
    if grid_code is not None:
        check_grid(scope, conn, grid_code)
        where += " AND p.grid_code = :grid"
        params["grid"] = grid_code
    rows = conn.execute(sa.text(f"""
SELECT p.id, p.citizen_id, p.name, p.sex, p.birth_date, p.ethnicity, p.phone,
       p.registered_region, p.registered_address, a.building_label || coalesce(a.unit, '')
       AS address, h.household_no, p.relation, p.status, p.grid_code, p.township_code
FROM persons p LEFT JOIN addresses a ON a.id = p.address_id
LEFT JOIN households h ON h.id = p.household_id
WHERE p.status = ANY(:current) AND {where}
ORDER BY p.grid_code, h.household_no, p.id LIMIT :cap"""),  # noqa: S608
        {**params, "current": list(CURRENT_STATUSES), "cap": EXPORT_MAX_ROWS + 1}).all()
    if len(rows) > EXPORT_MAX_ROWS:
        raise Unprocessable(f"The export would hold more than {EXPORT_MAX_ROWS} persons: "
                            "narrow it to one grid cell (?grid_code=...)")
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, extrasaction="ignore")
    writer.writeheader()
    shown: set[str] = set()
    today = date.today()
    for r in rows:
        record: dict[str, Any] = dict(r._mapping)
        record["age"] = age_of(r.birth_date, today)
        shown.update(present(record, PERSON_PERSONAL, principal.roles, View.RECORD,
                             purposeful=True))
        writer.writerow(record)
    return out.getvalue(), [r.id for r in rows], sorted(shown), stated
