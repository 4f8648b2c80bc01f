"""base map tables

Revision ID: 0001
Revises:
Create Date: 2026-11-24 16:04:01

Every map-feature table has the same frame (identity id, geometry in EPSG:4326 plus a stored
generated EPSG:3857 copy, both GiST-indexed, provenance source + source_key unique, change
time, a statement trigger that bumps the table's data version); `_feature_table` writes it
once and each table adds its own columns.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

from backend.db.versions import BUMP_FUNCTION, bump_trigger_sql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

FEATURE_TABLES: list[str] = []


def _feature_table(name: str, geometry_type: str, *columns: sa.SchemaItem) -> None:
    op.create_table(
        name,
        *columns,
        sa.Column("geom", Geometry(geometry_type, srid=4326, spatial_index=False),
                  nullable=False),
        sa.Column("geom_3857", Geometry(geometry_type, srid=3857, spatial_index=False),
                  sa.Computed("ST_Transform(geom, 3857)", persisted=True), nullable=True),
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("source_key", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
                  nullable=False),
        sa.PrimaryKeyConstraint("id", name=f"pk_{name}"),
        sa.UniqueConstraint("source", "source_key", name=f"uq_{name}_source_key"),
    )
    for column in ("geom", "geom_3857"):
        op.create_index(f"idx_{name}_{column}", name, [column], postgresql_using="gist")
    FEATURE_TABLES.append(name)


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    FEATURE_TABLES.clear()
    _feature_table(
        "county", "MULTIPOLYGON",
        sa.Column("code", sa.String(6), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("name_en", sa.Text()),
        sa.Column("attribution", sa.Text()),
    )
    _feature_table(
        "townships", "MULTIPOLYGON",
        sa.Column("code", sa.String(9), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.UniqueConstraint("code", name="uq_townships_code"),
    )
    _feature_table(
        "roads", "LINESTRING",
        sa.Column("road_class", sa.Text(), nullable=False),
        sa.Column("name", sa.Text()),
        sa.Column("speed_limit", sa.SmallInteger()),
        sa.Column("lanes", sa.SmallInteger()),
        sa.Column("rank", sa.SmallInteger(), server_default="0", nullable=False),
    )
    _feature_table(
        "buildings", "MULTIPOLYGON",
        sa.Column("name", sa.Text()),
        sa.Column("use", sa.Text()),
        sa.Column("floors", sa.SmallInteger(), nullable=False),
        sa.Column("height", sa.Float(), nullable=False),
    )
    _feature_table(
        "parcels", "MULTIPOLYGON",
        sa.Column("parcel_code", sa.String(19), nullable=False),
        sa.Column("land_use", sa.String(4), nullable=False),
        sa.Column("land_use_name", sa.Text()),
        sa.Column("area_m2", sa.Float(), nullable=False),
        sa.Column("ownership", sa.Text(), nullable=False),
        sa.Column("township_code", sa.String(9)),
    )
    _feature_table(
        "pipelines", "LINESTRING",
        sa.Column("network", sa.Text(), nullable=False),
        sa.Column("diameter_mm", sa.Integer()),
        sa.Column("material", sa.Text()),
        sa.Column("depth_m", sa.Float()),
        sa.Column("install_year", sa.SmallInteger()),
        sa.CheckConstraint(
            "network IN ('water_supply','drainage','gas','power','telecom','heating')",
            name=op.f("ck_pipelines_network"),
        ),
    )
    _feature_table(
        "cameras", "POINT",
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("name", sa.Text()),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("direction_deg", sa.Float()),
        sa.Column("fov_deg", sa.Float()),
        sa.Column("status", sa.Text(), server_default="online", nullable=False),
        sa.Column("stream_url", sa.Text()),
        sa.Column("township_code", sa.String(9)),
        sa.CheckConstraint("kind IN ('tianwang','xueliang','traffic')", name=op.f("ck_cameras_kind")),
        sa.CheckConstraint("status IN ('online','offline','fault')", name=op.f("ck_cameras_status")),
        sa.UniqueConstraint("code", name="uq_cameras_code"),
    )
    _feature_table(
        "bus_lines", "LINESTRING",
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("color", sa.String(7)),
        sa.Column("operator", sa.Text()),
        sa.Column("length_m", sa.Float()),
        sa.UniqueConstraint("code", name="uq_bus_lines_code"),
    )
    _feature_table(
        "bus_stops", "POINT",
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.UniqueConstraint("code", name="uq_bus_stops_code"),
    )
    _feature_table(
        "grid_cells", "MULTIPOLYGON",
        sa.Column("grid_code", sa.String(15), nullable=False),
        sa.Column("name", sa.Text()),
        sa.Column("township_code", sa.String(9), nullable=False),
        sa.Column("township_name", sa.Text()),
        sa.Column("community", sa.Text()),
        sa.CheckConstraint("grid_code ~ '^[0-9]{15}$'", name=op.f("ck_grid_cells_grid_code_15_digits")),
        sa.UniqueConstraint("grid_code", name="uq_grid_cells_grid_code"),
    )
    _feature_table(
        "pilot_segments", "LINESTRING",
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("road_name", sa.Text()),
        sa.Column("direction", sa.Text()),
        sa.Column("speed_limit", sa.SmallInteger()),
        sa.Column("length_m", sa.Float()),
        sa.UniqueConstraint("code", name="uq_pilot_segments_code"),
    )
    op.create_table(
        "bus_line_stops",
        sa.Column("line_id", sa.BigInteger(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("stop_id", sa.BigInteger(), nullable=False),
        sa.Column("distance_m", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["line_id"], ["bus_lines.id"], ondelete="CASCADE",
                                name="fk_bus_line_stops_line_id_bus_lines"),
        sa.ForeignKeyConstraint(["stop_id"], ["bus_stops.id"], ondelete="CASCADE",
                                name="fk_bus_line_stops_stop_id_bus_stops"),
        sa.PrimaryKeyConstraint("line_id", "seq", name="pk_bus_line_stops"),
    )
    op.create_table(
        "layer_versions",
        sa.Column("table_name", sa.Text(), nullable=False),
        sa.Column("version", sa.BigInteger(), server_default="1", nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
                  nullable=False),
        sa.PrimaryKeyConstraint("table_name", name="pk_layer_versions"),
    )
    op.execute(BUMP_FUNCTION)
    for table in FEATURE_TABLES:
        for stmt in bump_trigger_sql(table):
            op.execute(stmt)


def downgrade() -> None:
    for table in ("bus_line_stops", "layer_versions", "pilot_segments", "grid_cells",
                  "bus_stops", "bus_lines", "cameras", "pipelines", "parcels", "buildings",
                  "roads", "townships", "county"):
        op.drop_table(table)
    op.execute("DROP FUNCTION IF EXISTS cityops_bump_version()")
