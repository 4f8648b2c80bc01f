"""The quarantine of the population base over HTTP: the rows a source department's deliveries
had refused (backend/people/load.py), for that department's officers (people:confirm), with the
check that failed and the reason. The row key is a citizen ID: masked as a list (never in
full); the full row stays in the database for the department's own systems."""

from __future__ import annotations

from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Query

from backend.api.deps import AppState
from backend.api.route import GuardedRoute
from backend.api.types import Offset
from backend.auth.permissions import Caller, Permission, requires
from backend.privacy.policy import Kind, View, present

router = APIRouter(route_class=GuardedRoute, tags=["people"])
DatasetFilter = Annotated[str | None, Query(pattern=r"^[a-z][a-z0-9_]*$", max_length=100,
                                            description="one source dataset")]
Limit = Annotated[int, Query(ge=1, le=500, description="rows per page")]
ROWS_SQL = sa.text("""
SELECT q.id, q.dataset_id, q.version_id, q.row_key, q.check_failed, q.reason, q.created_at
FROM population_quarantine q
WHERE q.resolved_at IS NULL AND q.department_code = :dep
  AND (CAST(:d AS text) IS NULL OR q.dataset_id = :d)
ORDER BY q.created_at DESC, q.id DESC LIMIT :limit OFFSET :offset""")
BY_CHECK_SQL = sa.text("""
SELECT q.check_failed, count(*) FROM population_quarantine q
WHERE q.resolved_at IS NULL AND q.department_code = :dep
  AND (CAST(:d AS text) IS NULL OR q.dataset_id = :d)
GROUP BY 1 ORDER BY 1""")


@router.get("/api/people/quarantine", dependencies=[requires(Permission.PEOPLE_CONFIRM)])
def list_quarantine(state: AppState, principal: Caller, dataset: DatasetFilter = None,
                    limit: Limit = 50, offset: Offset = 0) -> dict[str, Any]:
    """The caller's department's unresolved refused rows, newest first, and their count by
    check. An officer without a department has none."""
    assert principal is not None  # requires() admitted a person
    params = {"dep": principal.department or "", "d": dataset, "limit": limit,
              "offset": offset}
    with state.engine.connect() as conn:
        rows = conn.execute(ROWS_SQL, params).mappings().all()
        by_check = dict(conn.execute(BY_CHECK_SQL, params).all())
    items = []
    for row in rows:
        item = dict(row)
        present(item, {"row_key": Kind.ID_NUMBER}, principal.roles, View.LIST)
        items.append(item)
    return {"items": items, "total": sum(by_check.values()), "by_check": by_check}
