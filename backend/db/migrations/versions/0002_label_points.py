"""label points for townships and grid cells

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 17:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TABLES = ("townships", "grid_cells")


def upgrade() -> None:
    for table in TABLES:
        op.add_column(table, sa.Column(
            "label_point", Geometry("POINT", srid=4326, spatial_index=False),
            sa.Computed("ST_PointOnSurface(geom)", persisted=True),
        ))
        op.add_column(table, sa.Column(
            "label_point_3857", Geometry("POINT", srid=3857, spatial_index=False),
            sa.Computed("ST_Transform(ST_PointOnSurface(geom), 3857)", persisted=True),
        ))
        op.create_index(f"idx_{table}_label_point_3857", table, ["label_point_3857"],
                        postgresql_using="gist")


def downgrade() -> None:
    for table in TABLES:
        op.drop_index(f"idx_{table}_label_point_3857", table_name=table)
        op.drop_column(table, "label_point_3857")
        op.drop_column(table, "label_point")
