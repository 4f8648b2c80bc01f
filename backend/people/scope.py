"""Row scope: which people a caller may see at all, whatever the masking. A grid worker sees
the people of their own grid cells (grid_workers), township staff (users.township_code) their
township, county-level roles the county. Every path that reads persons or households (lists,
search, one record, exports, changes) asks `scope_of` once and filters with `clause`: one
indexed predicate on grid_code or township_code (idx_persons_counts, idx_persons_township).

Why one query layer rather than PostgreSQL row-level security: the scope is three simple
predicates on columns the tables carry anyway, every read already goes through this slice's
service, and the pool's connections are shared by every caller (RLS would need the caller set
per transaction with SET LOCAL and policies on four tables). tests/perf/bench_people.py
measures the predicate's overhead against the unscoped query on the same rows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import sqlalchemy as sa

from backend.auth.permissions import Principal

GRID_WORKER = "grid_worker"


@dataclass(frozen=True)
class Scope:
    level: Literal["cells", "township", "county"]
    cells: tuple[str, ...] = ()        # grid codes (level cells)
    township: str | None = None        # 9-digit township code (level township)

    def clause(self, alias: str = "p") -> tuple[str, dict[str, object]]:
        """SQL for a WHERE (on a table with grid_code and township_code) and its parameters.
        `alias` is a fixed identifier of the caller's query, never user input."""
        if self.level == "county":
            return "TRUE", {}
        if self.level == "township":
            return f"{alias}.township_code = :scope_township", {"scope_township": self.township}
        return f"{alias}.grid_code = ANY(:scope_cells)", {"scope_cells": list(self.cells)}

    def holds(self, grid_code: str | None, township_code: str | None) -> bool:
        """Whether one row (its residence's grid and township) is in scope."""
        if self.level == "county":
            return True
        if self.level == "township":
            return township_code == self.township
        return grid_code in self.cells


def scope_of(conn: sa.Connection, principal: Principal) -> Scope:
    """The widest scope the caller's roles give: a role other than grid worker reads the
    county, or the township set on the user; a grid worker only their cells (none assigned:
    an empty scope that matches nothing)."""
    if principal.user_id is None:
        return Scope("cells")
    if set(principal.roles) - {GRID_WORKER}:
        township = conn.execute(sa.text("SELECT township_code FROM users WHERE id = :u"),
                                {"u": principal.user_id}).scalar()
        return Scope("township", township=township) if township else Scope("county")
    cells = conn.execute(sa.text(
        "SELECT grid_code FROM grid_workers WHERE user_id = :u ORDER BY grid_code"),
        {"u": principal.user_id}).scalars()
    return Scope("cells", cells=tuple(cells))
