"""pipeline attributes a utility engineer reads: depth at each end, owner, gas pressure class

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-10 10:00:00

`depth_m` (one cover per piece) becomes `depth_start_m` and `depth_end_m`, the cover to the
pipe's top at the line's first and last vertex: a gravity sewer falls along its length, and the
3D view draws each end at its own depth. Existing values go to both ends. `owner` is the
operating unit; `pressure_class` the GB 50028 class of a gas pipe (NULL for the other networks).
Covers outside 0..100 m are refused by a CHECK (a unit or sign mistake); the upgrade stops with
the count of such rows rather than dropping them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

CLASSES = "'low','medium_b','medium_a','sub_high_b','sub_high_a','high'"


def upgrade() -> None:
    bad = op.get_bind().execute(sa.text(
        "SELECT count(*) FROM pipelines WHERE depth_m < 0 OR depth_m > 100")).scalar_one()
    if bad:
        raise RuntimeError(f"{bad} pipelines rows have depth_m outside 0..100 m; correct them "
                           "(UPDATE pipelines SET depth_m = ...) and run the upgrade again.")
    op.execute("""
ALTER TABLE pipelines
  ADD COLUMN depth_start_m double precision,
  ADD COLUMN depth_end_m double precision,
  ADD COLUMN owner text,
  ADD COLUMN pressure_class text""")
    op.execute("UPDATE pipelines SET depth_start_m = depth_m, depth_end_m = depth_m "
               "WHERE depth_m IS NOT NULL")
    op.execute(f"""
ALTER TABLE pipelines
  DROP COLUMN depth_m,
  ADD CONSTRAINT ck_pipelines_depth_start_m CHECK (depth_start_m BETWEEN 0 AND 100),
  ADD CONSTRAINT ck_pipelines_depth_end_m CHECK (depth_end_m BETWEEN 0 AND 100),
  ADD CONSTRAINT ck_pipelines_pressure_class CHECK (pressure_class IN ({CLASSES})),
  ADD CONSTRAINT ck_pipelines_pressure_gas_only CHECK (pressure_class IS NULL OR network = 'gas')
""")


def downgrade() -> None:
    op.execute("ALTER TABLE pipelines ADD COLUMN depth_m double precision")
    # One cover per piece again: the mean of the ends (either end where only one is known).
    op.execute("UPDATE pipelines SET depth_m = coalesce((depth_start_m + depth_end_m) / 2, "
               "depth_start_m, depth_end_m)")
    op.execute("""
ALTER TABLE pipelines
  DROP CONSTRAINT ck_pipelines_pressure_gas_only,
  DROP CONSTRAINT ck_pipelines_pressure_class,
  DROP COLUMN pressure_class,
  DROP COLUMN owner,
  DROP COLUMN depth_end_m,
  DROP COLUMN depth_start_m""")
