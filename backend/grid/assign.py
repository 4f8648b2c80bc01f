"""The demo's grid assignment: the demo grid worker `grid01` (网格员（泗城镇01）) works the grid
cells of 泗城镇. Called by `cityops demo` after the county and the demo users exist."""

from __future__ import annotations

import sqlalchemy as sa

from backend.audit.chain import append as audit

DEMO_WORKER = "grid01"
DEMO_TOWNSHIP = "泗城镇"


def assign_demo_grid_workers(conn: sa.Connection, username: str = DEMO_WORKER,
                             township_name: str = DEMO_TOWNSHIP) -> int:
    """Put `username` on every grid cell of `township_name` it is not on yet; returns how many
    cells were added (0 on a second run). Nothing happens (0) when the user does not exist.
    Audited as grid.assign_workers by `demo` when something changed."""
    user_id = conn.execute(sa.text("SELECT id FROM users WHERE username = :u"),
                           {"u": username}).scalar()
    if user_id is None:
        return 0
    added = list(conn.execute(sa.text("""
INSERT INTO grid_workers (grid_code, user_id)
SELECT grid_code, :u FROM grid_cells WHERE township_name = :t ORDER BY grid_code
ON CONFLICT DO NOTHING RETURNING grid_code"""), {"u": user_id, "t": township_name}).scalars())
    if added:
        audit(conn, "demo", "grid.assign_workers", "user", username,
              {"township": township_name, "cells_added": len(added)})
    return len(added)
