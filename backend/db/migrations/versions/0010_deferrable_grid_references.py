"""cases and worker assignments refer to grid cells through deferred foreign keys

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-24 20:40:00

Reloading the county (a full sync of its source, in one transaction) deletes and re-inserts
the grid cells with the same codes. With immediate foreign keys the delete failed as soon as a
case referred to a cell (and a cascade would have dropped the workers' assignments); checked at
commit, a reload that brings every referenced cell back succeeds and keeps both, and one that
would orphan a case still fails.
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
ALTER TABLE incidents DROP CONSTRAINT fk_incidents_grid,
  ADD CONSTRAINT fk_incidents_grid FOREIGN KEY (grid_code) REFERENCES grid_cells (grid_code)
  DEFERRABLE INITIALLY DEFERRED""")
    op.execute("""
ALTER TABLE grid_workers DROP CONSTRAINT fk_grid_workers_grid,
  ADD CONSTRAINT fk_grid_workers_grid FOREIGN KEY (grid_code) REFERENCES grid_cells (grid_code)
  DEFERRABLE INITIALLY DEFERRED""")


def downgrade() -> None:
    op.execute("""
ALTER TABLE grid_workers DROP CONSTRAINT fk_grid_workers_grid,
  ADD CONSTRAINT fk_grid_workers_grid FOREIGN KEY (grid_code) REFERENCES grid_cells (grid_code)
  ON DELETE CASCADE""")
    op.execute("""
ALTER TABLE incidents DROP CONSTRAINT fk_incidents_grid,
  ADD CONSTRAINT fk_incidents_grid FOREIGN KEY (grid_code) REFERENCES grid_cells (grid_code)""")
